import { HV_CRASH_PARAMETER_COUNT, HV_X64_MSR_CRASH_CTL, HvFeatureEdx, hvMsrCrashP } from "@hv/tlfs";
import { definePlugin, type MsrClaim } from "@hv/x86";
import { CRASH, crashHandlers, crashPartitionState, type CrashViews } from "./behaviour.ts";

const gate = HvFeatureEdx.GuestCrashRegsAvailable;

/** The six crash MSRs: CRASH_P0..P4 (0x40000100..0x40000104) and CRASH_CTL (0x40000105). */
const msrs: MsrClaim[] = [
  ...Array.from({ length: HV_CRASH_PARAMETER_COUNT }, (_, n) => ({ index: hvMsrCrashP(n), name: `HV_X64_MSR_CRASH_P${n}`, access: "rw" as const, gate })),
  { index: HV_X64_MSR_CRASH_CTL, name: "HV_X64_MSR_CRASH_CTL", access: "rw", gate },
];

/**
 * `hv-crash`: 0x40000003.EDX[10] GuestCrashRegsAvailable. Claims HV_X64_MSR_CRASH_P0..P4
 * (0x40000100..0x40000104, read/write, any value accepted) and HV_X64_MSR_CRASH_CTL (0x40000105,
 * read/write: reads return the advertised capabilities, CrashNotify | CrashMessage; a guest write
 * with bit 63 set reports a guest crash with P0..P4, and with bit 62 also the message at GPA P3 of
 * P4 bytes, to the host (`PartitionEvents.crash`), like QEMU's GUEST_PANICKED event; never #GP on
 * value). State: {@link crashPartitionState}, per partition; behaviour: `crashHandlers`.
 * Every access without the gate bit -> #GP. Source: TLFS "Guest crash enlightenment" (crash MSRs);
 * KVM `kvm_hv_msr_set_crash_ctl`/`kvm_hv_msr_set_crash_data`; QEMU `HYPERV_FEAT_CRASH` and
 * libvirt `<panic model='hyperv'/>`.
 */
export const crash = definePlugin({
  name: CRASH,
  summary: "Guest crash MSRs: the guest reports its bugcheck code and parameters to the host on panic",
  requires: [],
  cpuid: { set: [HvFeatureEdx.GuestCrashRegsAvailable] },
  msrs,
  hypercalls: [],
  state: { partition: crashPartitionState },
  emulator: { supported: true },
  passthrough: { capabilities: ["KVM_CAP_HYPERV"] },
  formats: {
    qemu: { property: "hv-crash" },
    libvirt: { panicModel: "hyperv" },
    kubevirt: { unsupported: "KubeVirt's spec.domain.features.hyperv has no key for the crash MSRs (libvirt's <panic model='hyperv'/> device is not exposed)" },
  },
  docs: {
    description: "Advertises the guest crash MSRs (0x40000003.EDX[10]): on a bugcheck the guest writes the code and four parameters into CRASH_P0..P4, then sets bit 63 of CRASH_CTL, and the host records a guest-panicked event.",
    guestGains: "The host learns that and why the guest crashed (bugcheck code and parameters in the VM log or event) without a crash dump.",
    windows: "Windows guests use it when advertised; no Proxmox, virt-install or Nova default enables it (QEMU docs: enable it only if something consumes the GUEST_PANICKED event). Linux 6.1 reports panics through it from Debian 6.1.147.",
    sources: [
      "TLFS §2.4.4 GuestCrashRegsAvailable; guest crash MSRs HV_X64_MSR_CRASH_P0..P4, CRASH_CTL",
      "QEMU hv-crash (HYPERV_FEAT_CRASH); libvirt <panic model='hyperv'/>",
      "KVM arch/x86/kvm/hyperv.c kvm_hv_msr_set_crash_ctl",
      "Linux drivers/hv/hv_common.c hyperv_report_panic, hv_kmsg_dump (CrashMessage: P3 = GPA, P4 = length)",
    ],
  },
  create: ({ partition }) => crashHandlers(partition.state(CRASH) as unknown as CrashViews),
});
