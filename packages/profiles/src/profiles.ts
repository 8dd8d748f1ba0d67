/**
 * The built-in guest OS profiles (`win2008`, `win7`, `win8`, `win81`, `win10`, `win11`, `linux`,
 * `max`), their lookup by name or alias, and their translation into an `@hv/compose` request.
 *
 * Sources, abbreviated in the `source` fields:
 * - Proxmox: proxmox/qemu-server `CPUConfig.pm::get_hyperv_enlightenments` (9.2.6); "P6" is its
 *   Vista/2008 set (spinlocks 0x1fff, vapic, time, reset, vpindex, runtime), "W7" what it adds from
 *   Windows 7 (relaxed, synic, stimer, ipi).
 * - virt-install: virt-manager `virtinst/domain/features.py::_set_hyperv_defaults` (v5.x).
 * - Nova: openstack/nova `nova/virt/libvirt/driver.py::_set_features` (26.0.0 Zed and later).
 * - Requirements PDF: Microsoft, "Requirements for Implementing the Microsoft Hypervisor Interface".
 * - linux-guest.md: the Debian 12 Linux 6.1.192 source read for what a Linux guest uses.
 * Research notes: `/work/shared/reference/profiles.md` and `linux-guest.md`.
 * @module
 */
import { Schema } from "effect";
import { type HvVersion, QEMU_DEFAULT_VERSION } from "@hv/compose";
import { Profile } from "./profile.ts";

/** Spinlock retries every Windows profile uses: 0x1fff = 8191 (Proxmox, virt-install and Nova agree). */
export const DEFAULT_SPINLOCK_RETRIES = 0x1fff;

type Entry = { readonly name: string; readonly why: string; readonly source: string };

const PVE = "Proxmox CPUConfig.pm";
const VI = "virt-install";
const NV = "Nova";

/** The Windows entries, shared by every Windows profile that includes them. */
const WIN: Readonly<Record<string, Entry>> = {
  relaxed: {
    name: "relaxed",
    why: "Windows stops treating a late timer tick or a slow IPI as a hang, so a vCPU the host deschedules no longer bugchecks with CLOCK_WATCHDOG_TIMEOUT; honoured from Windows 7/2008 R2, and from 8/2012 assumed whenever any hypervisor is present",
    source: `${PVE} (winversion >= 7); ${VI}; ${NV}; Requirements PDF footnote 3`,
  },
  vapic: {
    name: "vapic",
    why: "EOI, ICR and TPR through the synthetic APIC MSRs (and lazy EOI through the VP assist page) instead of trapped APIC MMIO accesses",
    source: `${PVE} P6 (machine >= 2.3); ${VI}; ${NV}`,
  },
  spinlocks: {
    name: "spinlocks",
    why: "after 0x1fff (8191) failed spins Windows calls HvCallNotifyLongSpinWait, so the host can run the preempted lock holder instead of letting the waiter burn its slice",
    source: `${PVE} P6 hv_spinlocks=0x1fff (machine >= 2.3); ${VI} and ${NV} retries=8191`,
  },
  vpindex: {
    name: "vpindex",
    why: "VP_INDEX MSR: PV IPI and the SynIC address processors by VP index; part of hv's base, since the Requirements PDF demands AccessVpIndex",
    source: `${PVE} P6 (machine >= 2.6); ${VI}; ${NV}; Requirements PDF`,
  },
  runtime: {
    name: "runtime",
    why: "VP_RUNTIME MSR: Windows can account for the time its vCPU was not running (host preemption)",
    source: `${PVE} P6 (machine >= 2.6); ${VI}; ${NV}`,
  },
  time: {
    name: "time",
    why: "partition reference counter and reference TSC page: a 100 ns clock Windows reads without exiting (with only the counter MSR every read is an exit)",
    source: `${PVE} P6 (machine >= 2.3); ${VI} and ${NV} <timer name='hypervclock'>; Requirements PDF (reference TSC page on 7/2008 R2 and later)`,
  },
  reset: {
    name: "reset",
    why: "HV_X64_MSR_RESET: Windows can reset the partition with one MSR write; a CPUID bit and one MSR, so keeping it costs nothing",
    source: `${PVE} P6 (machine >= 2.6); ${NV} (virt-install leaves it out)`,
  },
  synic: {
    name: "synic",
    why: "synthetic interrupt controller (SINTs, message and event pages): how synthetic timer expiries (and VMBus) reach Windows; QEMU makes stimer require it",
    source: `${PVE} W7 (winversion >= 7, machine >= 2.12); ${VI}; ${NV}`,
  },
  stimer: {
    name: "stimer",
    why: "synthetic timers: Windows stops driving its clock from the emulated HPET/RTC/LAPIC timer; users report idle load falling from 30-40% to 1-3% (OpenNebula addon-storpool #79)",
    source: `${PVE} W7 (winversion >= 7, machine >= 2.12); ${VI} (Nova never sets it)`,
  },
  ipi: {
    name: "ipi",
    why: "PV IPI: one HvCallSendSyntheticClusterIpi(Ex) hypercall reaches a whole processor set instead of one trapped ICR write per destination",
    source: `${PVE} W7 (winversion >= 7, machine >= 3.1); ${VI}; ${NV}`,
  },
};

/** Proxmox's Vista/2008 set. */
const P6 = ["vapic", "spinlocks", "vpindex", "runtime", "time", "reset"];
/** Proxmox's Windows 7+ set (P6 + W7), in the order the plugins are usually registered. */
const P6_W7 = ["relaxed", "vapic", "spinlocks", "vpindex", "runtime", "time", "reset", "synic", "stimer", "ipi"];

const win = (names: readonly string[]): Entry[] => names.map((n) => WIN[n]!);

const VERSION_NOTE =
  "0x40000002 reports QEMU's default 10.0.14393 (Windows Server 2016) rather than this OS's own version: libvirt and KubeVirt cannot change it, so the QEMU, libvirt and KubeVirt renderings all agree, and every Windows from Vista on accepts it. (Proxmox machine types <= 6.1 report 6.1.7100.)";

const GUEST_OS_ID_UNTRACED =
  "GUEST_OS_ID values are computed from the TLFS encoding (vendor 1 Microsoft, OS 4 Windows NT, major.minor, service pack, build), not yet checked against a trace of a real guest (kvm_msr tracepoint or KVM_GET_MSRS).";

const PROXMOX_TIMERS =
  "Proxmox's other Windows settings (hpet=off, -rtc driftfix=slew,base=localtime, kvm-pit.lost_tick_policy=discard) and its hv_vendor_id=proxmox GPU workaround are machine settings, not enlightenments, and are not part of a profile.";

/** Notes shared by win8, win81, win10 and win11 (all Proxmox's P6 + W7, exactly). */
const modernWindowsNotes = (ostype: string): string[] => [
  `Exactly Proxmox's set for ostype ${ostype} (P6 + W7: relaxed, vapic, spinlocks=0x1fff, time, reset, vpindex, runtime, synic, stimer, ipi), the default every Proxmox Windows VM has run with since machine 3.1. It composes to 0x40000003 EAX=0x2FF EBX=0x30 EDX=0x8 and 0x40000004 EAX=0xC28 EBX=0x1FFF (profiles.md section c, column A). Everything below is one --with away.`,
  "frequencies: left out (virt-install and Nova add it). It only spares Windows a TSC/APIC calibration at boot, no source names a Windows version that needs it, and the reported TSC frequency must equal KVM's guest TSC frequency on whichever host runs the VM. Add with --with frequencies.",
  "tlbflush: left out (virt-install and Nova add it). Proxmox keeps it opt-in with the warning 'May lead to guest bluescreens on old CPUs', after defaulting it on in 2019 (392dfbf5) and reverting (3a040a0e). Also, QEMU's hv-tlbflush sets 0x40000004.EAX[2] UseHypercallForRemoteFlush while 0x40000005.EAX = 0xFFFFFFFF, which the Requirements PDF says a hypervisor 'must not recommend' together, and Windows 8/2012 and later do honour the unlimited VP count. A wrong flush corrupts guest memory, so this should be earned by testing on the target hosts. Add with --with tlbflush.",
  "stimer-direct: left out (virt-install adds it; Proxmox and Nova do not). No source says which Windows versions use direct-mode timers; message-mode stimer through the SynIC is what Proxmox's field record covers. (The linux profile has it: direct mode is Linux's clockevent.)",
  "evmcs: never in a default profile. It is Intel-only (VMX), matters only when the guest runs a hypervisor itself (Hyper-V role, WSL2, VBS), needs L0 support for enlightened VMCS that hv's userspace emulator cannot provide, and raises the max leaf to 0x4000000A. A profile is host-independent data and cannot say 'Intel only'. Add with --with evmcs on an Intel host with nested virtualization.",
  "avic: left out (virt-install adds it when <apic/> is present). It needs APICv/AVIC hardware and clears vapic's UseApicMsrs hint, so it is a host decision, not an OS one.",
  "reset: kept, as Proxmox and Nova do; virt-install drops it ('modern Hyper-V versions don't export it'). stimer: kept, as Proxmox and virt-install do; Nova never enables it, but it is the single largest idle-load win.",
  "vapic: kept for parity with all three tools, but on hv's userspace emulator it costs one userspace exit per EOI (userspace cannot EOI the in-kernel LAPIC directly); the KVM passthrough backend handles it in the kernel. Worth measuring before changing.",
  VERSION_NOTE,
  PROXMOX_TIMERS,
];

const raw: readonly (typeof Profile.Encoded)[] = [
  {
    name: "win2008",
    aliases: ["winvista"],
    title: "Windows Vista / Server 2008",
    enlightenments: win(P6),
    spinlockRetries: DEFAULT_SPINLOCK_RETRIES,
    version: QEMU_DEFAULT_VERSION,
    guestOsId: "0x0001040600011771",
    notes: [
      "Exactly Proxmox's winversion 6 set (P6: vapic, time, reset, vpindex, runtime, spinlocks=0x1fff). virt-install and Nova do not distinguish Windows versions and would give Vista/2008 their full sets.",
      "relaxed: left out, as Proxmox does (winversion >= 7 only); the Requirements PDF says Vista RTM ignores relaxed timing.",
      "synic, stimer, ipi: left out, as Proxmox does (Windows 7 and later); no source says Vista/2008 uses them. virt-install sets all three and Nova synic and ipi, regardless of version.",
      "time: kept (Proxmox from machine 2.3). The Requirements PDF lists the reference TSC page for Windows 7/2008 R2 and later only, so Vista/2008 may use just the reference counter MSR; both come with this enlightenment.",
      "Proxmox gives Windows older than 8 no enlightenments at all when booted with OVMF; hv's profiles do not depend on firmware.",
      "GUEST_OS_ID: Windows Server 2008 shipped as 6.0.6001 SP1, the same build as Vista SP1, so 0x0001040600011771 represents both; Vista RTM (6.0.6000, no service pack) writes 0x0001040600001770.",
      GUEST_OS_ID_UNTRACED,
      VERSION_NOTE,
      PROXMOX_TIMERS,
    ],
  },
  {
    name: "win7",
    aliases: ["win2008r2"],
    title: "Windows 7 / Server 2008 R2",
    enlightenments: win(P6_W7),
    spinlockRetries: DEFAULT_SPINLOCK_RETRIES,
    version: QEMU_DEFAULT_VERSION,
    guestOsId: "0x0001040601011DB1",
    notes: [
      "Exactly Proxmox's set for ostype win7 (P6 + W7). Proxmox's commit 392dfbf5 calls it 'not entirely clear' whether Windows 7 uses stimer/ipi, and keeps them because the guest has to opt in; we follow it.",
      "frequencies, tlbflush, stimer-direct, evmcs and avic are left out for the same reasons as in win8..win11 (see those profiles' notes); in particular evmcs is never in a default profile (Intel-only, nested-only, needs L0 support).",
      "Windows 7/2008 R2 uses at most 64 VPs whatever 0x40000005 reports (Requirements PDF).",
      "Proxmox gives Windows 7 no enlightenments at all when booted with OVMF, and virt-install skipped Hyper-V for UEFI win7/win2k8r2 until v4.0 (RHBZ 1185253, LP 1593605); hv's profiles do not depend on firmware. If a UEFI Windows 7 guest misbehaves, that history is the first lead.",
      "GUEST_OS_ID: 6.1.7601 SP1 (Windows 7 SP1 / 2008 R2 SP1), the release still in use; RTM 7600 writes 0x0001040601001DB0.",
      GUEST_OS_ID_UNTRACED,
      "vapic: kept for parity, but on hv's userspace emulator it costs one userspace exit per EOI.",
      VERSION_NOTE,
      PROXMOX_TIMERS,
    ],
  },
  {
    name: "win8",
    aliases: ["win2012"],
    title: "Windows 8 / Server 2012",
    enlightenments: win(P6_W7),
    spinlockRetries: DEFAULT_SPINLOCK_RETRIES,
    version: QEMU_DEFAULT_VERSION,
    guestOsId: "0x00010406020023F0",
    notes: [
      ...modernWindowsNotes("win8"),
      "From Windows 8/2012, 0x40000005.EAX = 0xFFFFFFFF (QEMU's default) lets the guest use more than 64 VPs, and relaxed timing is used whenever any hypervisor is present (Requirements PDF).",
      "GUEST_OS_ID: 6.2.9200.",
      GUEST_OS_ID_UNTRACED,
    ],
  },
  {
    name: "win81",
    aliases: ["win2012r2"],
    title: "Windows 8.1 / Server 2012 R2",
    enlightenments: win(P6_W7),
    spinlockRetries: DEFAULT_SPINLOCK_RETRIES,
    version: QEMU_DEFAULT_VERSION,
    guestOsId: "0x0001040603002580",
    notes: [
      ...modernWindowsNotes("win8 (Proxmox's win8 covers 8, 2012 and 2012 R2)"),
      "GUEST_OS_ID: 6.3.9600.",
      GUEST_OS_ID_UNTRACED,
    ],
  },
  {
    name: "win10",
    aliases: ["win2016", "win2019"],
    title: "Windows 10 / Server 2016 / Server 2019",
    enlightenments: win(P6_W7),
    spinlockRetries: DEFAULT_SPINLOCK_RETRIES,
    version: QEMU_DEFAULT_VERSION,
    guestOsId: "0x0001040A00003839",
    notes: [
      ...modernWindowsNotes("win10"),
      "GUEST_OS_ID: 10.0.14393 (Server 2016 / Windows 10 1607), the same build QEMU's default version reports. Others in this profile write other builds: Server 2019 / 1809 17763 (0x0001040A00004563), Windows 10 22H2 19045 (0x0001040A00004A65), 1507 10240 (0x0001040A00002800). All are 10.0 with a build below 22000, which is how a VMM tells Windows 10 from 11.",
      GUEST_OS_ID_UNTRACED,
    ],
  },
  {
    name: "win11",
    aliases: ["win2022", "win2025"],
    title: "Windows 11 / Server 2022 / Server 2025",
    enlightenments: win(P6_W7),
    spinlockRetries: DEFAULT_SPINLOCK_RETRIES,
    version: QEMU_DEFAULT_VERSION,
    guestOsId: "0x0001040A000065F4",
    notes: [
      ...modernWindowsNotes("win11"),
      "Differs from Proxmox on Intel hosts: Proxmox adds hv_evmcs for win11 on GenuineIntel hosts with machine >= 11.0+pve2 (commit 30531026: nested Hyper-V/VBS avoids the APICv freeze), plus -cet-ibt,-cet-ss with QEMU >= 11. hv's profile is host-independent, so evmcs stays opt-in (--with evmcs) for guests that run Hyper-V, WSL2 or VBS on Intel.",
      "GUEST_OS_ID: 10.0.26100 (Windows 11 24H2 and Server 2025 share this build), chosen because it is the current release of both client and server and decodes as Windows 11 (build >= 22000). Server 2022 writes 10.0.20348 (0x0001040A00004F7C), which by build number alone looks like the Windows 10 family; Windows 11 21H2 writes 22000 (0x0001040A000055F0).",
      GUEST_OS_ID_UNTRACED,
    ],
  },
  {
    name: "linux",
    aliases: [],
    title: "Linux (what a Debian 12 Linux 6.1 guest uses when it sees only a Hyper-V interface)",
    enlightenments: [
      {
        name: "vpindex",
        why: "Linux requires AccessVpIndex to detect Hyper-V at all and reads VP_INDEX in hv_cpu_init to address processors in PV IPI and TLB-flush hypercalls; part of hv's base",
        source: "linux-guest.md sections 1 and 2 (arch/x86/kernel/cpu/mshyperv.c, arch/x86/hyperv/hv_init.c)",
      },
      {
        name: "time",
        why: "reference TSC page: hyperv_clocksource_tsc_page (rating 500) and the vDSO read time without exiting; TIME_REF_COUNT is its fallback",
        source: "linux-guest.md sections 3 and 5 (drivers/clocksource/hyperv_timer.c)",
      },
      {
        name: "frequencies",
        why: "TSC and APIC frequencies from MSRs 0x40000022/0x40000023: Linux skips TSC calibration and marks the frequency known (Debian 6.1.112+), and sets the LAPIC timer period from the APIC frequency",
        source: "linux-guest.md section 1 (mshyperv.c ms_hyperv_init_platform) and section 7",
      },
      {
        name: "synic",
        why: "not used by Linux here (SynIC messages need hv_vmbus, which loads only with a VMBus ACPI device); present because QEMU makes stimer require synic, so the QEMU and libvirt renderings stay valid",
        source: "QEMU hv_feature_check_deps (hv-stimer requires hv-synic); linux-guest.md section 6 (direct mode needs no SynIC)",
      },
      {
        name: "stimer",
        why: "synthetic timers: with stimer-direct they become the 'Hyper-V clockevent' (rating 1000), replacing the LAPIC timer",
        source: "linux-guest.md section 3 (drivers/clocksource/hyperv_timer.c)",
      },
      {
        name: "stimer-direct",
        why: "direct mode is the only stimer mode Linux can use without VMBus: STIMER0_CONFIG = 0x1ED9 raises vector 0xED directly (the HVS line in /proc/interrupts); message mode would leave the LAPIC timer in charge",
        source: "linux-guest.md section 2 row 16 and section 3",
      },
      {
        name: "ipi",
        why: "PV IPI: HvCallSendSyntheticClusterIpi (0x0B, fast) and its Ex form (0x15, for VP indexes >= 64) replace per-destination ICR writes ('Hyper-V: Using IPI hypercalls')",
        source: "linux-guest.md section 3 (arch/x86/hyperv/hv_apic.c)",
      },
      {
        name: "tlbflush",
        why: "remote TLB flush hypercalls (0x02/0x03/0x13/0x14) replace flush IPIs in flush_tlb_multi ('Hyper-V: Using hypercall for remote TLB flush'); a call hv answers with status 2 falls back to native IPIs",
        source: "linux-guest.md section 3 (arch/x86/hyperv/mmu.c) and section 4",
      },
      {
        name: "crash",
        why: "crash MSRs: on panic Linux hands the host its panic message (or registers) through CRASH_P0..P4/CTL, so the host can tell why the guest died; built in since Debian 6.1.147, dead but harmless before (it needed VMBus)",
        source: "linux-guest.md section 3 (drivers/hv/hv_common.c) and section 7",
      },
    ],
    version: QEMU_DEFAULT_VERSION,
    guestOsId: "0x8100000601C00000",
    notes: [
      "Proxmox (ostype l26), virt-install and Nova give Linux no hv-* enlightenments at all and rely on kvmclock and KVM PV features. This profile is for hv's Hyper-V-only identity: Linux uses these enlightenments only when no KVM signature is visible at any base. Under QEMU's layout (Hyper-V at 0x40000000, KVM at 0x40000100) Linux picks KVM (the larger base wins) and ignores every bit here, so the QEMU/libvirt rendering of this profile changes nothing for a Linux guest unless the KVM signature is hidden.",
      "vapic: left out. Hint 0x40000004.EAX[3] makes Linux EOI through MSR 0x40000070, one userspace exit per EOI in hv's emulator, and in xAPIC mode also sends ICR (INIT/SIPI, IPIs) and TPR through MSRs the emulator would then have to emulate.",
      "spinlocks: left out. Linux never calls HvCallNotifyLongSpinWait; its PV spinlocks (pv_wait via the guest-idle MSR) are gated on ipi plus AccessGuestIdleReg, which no hv enlightenment advertises.",
      "reenlightenment: left out. Linux uses it only when kvm_intel loads inside the guest (nested KVM).",
      "relaxed, runtime, reset and xmm-input: left out because Linux 6.1 never reads them. relaxed and xmm-input are harmless CPUID bits and runtime/reset one MSR each; add them with --with when a guest needs them.",
      "evmcs, tlbflush-direct and emsr-bitmap: left out; they only serve a nested hypervisor, and L0 KVM cannot honour eVMCS without CONFIG_KVM_HYPERV.",
      "Root-partition privileges (AccessPartitionId, CpuManagement, Isolation) must never be shown to Linux (BUG() paths); none of these enlightenments sets them and @hv/compose rejects them.",
      "GUEST_OS_ID: Debian 12's 6.1.192 writes 0x8100 << 48 | LINUX_VERSION_CODE << 16 = 0x8100000601C00000 (open-source encoding, OS type 1 Linux; sublevel clamped to 255). Other kernels write other values (6.8.0: 0x8100000608000000).",
      "0x40000002 reports QEMU's default 10.0.14393 like every other profile; Linux only prints it ('Hyper-V: Host Build').",
    ],
  },
  {
    name: "max",
    aliases: [],
    title: "Everything hv's emulator can serve (testing, not a recommendation)",
    enlightenments: [
      { name: "relaxed", why: "relaxed timing hint (0x40000004.EAX[5])", source: "hv emulator; QEMU hv-relaxed" },
      { name: "vapic", why: "APIC access MSRs and the VP assist page (costs a userspace exit per EOI)", source: "hv emulator; QEMU hv-vapic" },
      { name: "spinlocks", why: "spinlock retry count 0x1fff and HvCallNotifyLongSpinWait", source: "hv emulator; QEMU hv-spinlocks" },
      { name: "vpindex", why: "VP_INDEX MSR; part of hv's base", source: "hv emulator; Requirements PDF" },
      { name: "runtime", why: "VP_RUNTIME MSR: time the vCPU was not running", source: "hv emulator; QEMU hv-runtime" },
      { name: "crash", why: "guest crash MSRs CRASH_P0..P4/CTL", source: "hv emulator; QEMU hv-crash" },
      { name: "time", why: "reference counter MSR and reference TSC page", source: "hv emulator; QEMU hv-time" },
      { name: "synic", why: "synthetic interrupt controller: SINTs, message and event pages", source: "hv emulator; QEMU hv-synic" },
      { name: "stimer", why: "synthetic timers (requires synic and time)", source: "hv emulator; QEMU hv-stimer" },
      { name: "stimer-direct", why: "direct-mode synthetic timers (requires stimer)", source: "hv emulator; QEMU hv-stimer-direct" },
      { name: "frequencies", why: "TSC and APIC frequency MSRs, so the guest skips calibration", source: "hv emulator; QEMU hv-frequencies" },
      { name: "reenlightenment", why: "reenlightenment MSRs (meaningful with frequencies, which is included)", source: "hv emulator; QEMU hv-reenlightenment" },
      { name: "reset", why: "HV_X64_MSR_RESET: the guest can reset the partition", source: "hv emulator; QEMU hv-reset" },
      { name: "tlbflush", why: "remote TLB flush hypercalls (requires vpindex)", source: "hv emulator; QEMU hv-tlbflush" },
      { name: "tlbflush-ext", why: "extended GVA ranges for flush (requires tlbflush)", source: "hv emulator; QEMU hv-tlbflush-ext" },
      { name: "ipi", why: "PV IPI hypercalls (requires vpindex)", source: "hv emulator; QEMU hv-ipi" },
      { name: "xmm-input", why: "fast hypercalls may pass up to 112 bytes of input in XMM0-5", source: "hv emulator; QEMU hv-xmm-input" },
    ],
    spinlockRetries: DEFAULT_SPINLOCK_RETRIES,
    version: QEMU_DEFAULT_VERSION,
    notes: [
      "For exercising hv's emulator, not for guests: it includes vapic (an exit per EOI) and spinlocks, which the linux profile deliberately leaves out.",
      "evmcs: left out. Intel VMX only, serves only a nested hypervisor, needs L0 enlightened-VMCS support (KVM_CAP_HYPERV_ENLIGHTENED_VMCS per vCPU) that a userspace emulator cannot provide, and raises the max leaf to 0x4000000A.",
      "emsr-bitmap and tlbflush-direct: left out. They are nested-virtualization features (0x4000000A) for an L1 hypervisor's L2 guests; on VMX they depend on evmcs, and tlbflush-direct needs vapic plus evmcs in practice.",
      "avic: left out. It needs APICv/AVIC hardware and clears vapic's UseApicMsrs hint: a host property, not something an emulator serves.",
      "no-nonarch-coresharing: left out. It promises the guest that its vCPUs never share a core with foreign threads, which is only true with pinned vCPUs; a false promise weakens the guest's SMT side-channel mitigations.",
      "syndbg: left out. It needs a vmbus-bridge device and QEMU built with CONFIG_SYNDBG, even hv-passthrough skips it, and it is a debugging transport, not a feature to turn on by default.",
      "vendor-id: left out. It is an identity parameter, not an enlightenment; Windows and Linux detection both require the default 'Microsoft Hv'.",
      "No GUEST_OS_ID: max is not one OS.",
    ],
  },
];

/**
 * Every built-in profile, decoded through the {@link Profile} schema when this module loads (a
 * malformed entry throws at import). Order: Windows oldest first, then `linux`, then `max`.
 */
export const profiles: readonly Profile[] = Object.freeze(raw.map((p) => Schema.decodeUnknownSync(Profile)(p)));

/**
 * The profile named `nameOrAlias` (its name or one of its aliases, case-insensitive, surrounding
 * whitespace ignored), or `undefined`.
 */
export const findProfile = (nameOrAlias: string): Profile | undefined => {
  const key = nameOrAlias.trim().toLowerCase();
  return profiles.find((p) => p.name === key || p.aliases.includes(key));
};

/** Every name and alias that {@link findProfile} accepts, each profile's name before its aliases (for error messages). */
export const profileNames = (): string[] => profiles.flatMap((p) => [p.name, ...p.aliases]);

/**
 * The part of an `@hv/compose` `ComposeRequest` a profile determines:
 * - `requested`: each enlightenment with reason `"profile <as>: <why>"`;
 * - `set`: `{ spinlocks: "0x1fff" }` (hex, as QEMU spells it) when the profile has spinlocks, else `{}`;
 * - `version`: the profile's 0x40000002 identity.
 * `as` is the name the user typed (an alias such as `win2012`); it defaults to the profile's name.
 */
export const profileRequest = (
  p: Profile,
  as: string = p.name,
): { requested: { name: string; reason: string }[]; set: Record<string, string>; version: HvVersion } => ({
  requested: p.enlightenments.map((e) => ({ name: e.name, reason: `profile ${as.trim().toLowerCase()}: ${e.why}` })),
  set: p.spinlockRetries === undefined ? {} : { spinlocks: `0x${p.spinlockRetries.toString(16)}` },
  version: p.version,
});
