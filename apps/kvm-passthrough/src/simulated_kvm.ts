/**
 * A simulated KVM for tests: answers capabilities and `KVM_GET_SUPPORTED_HV_CPUID` from a configurable
 * {@link SimulatedHost}, behaves like KVM where the backend could get it wrong (KVM_ENABLE_CAP of an
 * absent capability, KVM_CREATE_IRQCHIP after a vCPU, VP_INDEX without KVM_CAP_HYPERV_VP_INDEX,
 * CRASH_CTL keeping only bit 63), produces scripted `KVM_EXIT_HYPERV` / `KVM_EXIT_SYSTEM_EVENT` exits
 * through a real `KvmRun` buffer (so the real decoder runs), and records every call as
 * "IOCTL target args" in {@link SimulatedKvm.calls}.
 *
 * Interrupt routing is modelled as KVM does it (virt/kvm/irqchip.c, eventfd.c, arch/x86/kvm/hyperv.c):
 * KVM_CREATE_IRQCHIP installs the default routing; KVM_SET_GSI_ROUTING replaces it (validated:
 * irqchip needed, HV_SINT entries only with in-kernel Hyper-V, one non-irqchip route per GSI) and
 * records SINT -> GSI for VPs whose SynIC is active; writing an eventfd bound with KVM_IRQFD consumes
 * its counter and injects the GSI (an HV_SINT route delivers the SINT's vector unless KVM holds the
 * SINT masked: {@link SimulatedKvm.deliveries}); the guest's EOM or SINT-vector EOI (scripted, no
 * exit) signals the resamplefds of the acked SINTs' GSIs; HvSignalEvent on a connection bound with
 * KVM_HYPERV_EVENTFD signals its eventfd in-kernel (no exit). `SimulatedHost.fail` makes a named
 * ioctl fail with a given errno.
 *
 * Two host descriptions: {@link HYPERV_CAPABLE_HOST} (an Intel host whose kernel has
 * CONFIG_KVM_HYPERV, answering as Linux 6.6 `kvm_get_hv_cpuid` does) and
 * {@link HOST_WITHOUT_HYPERV} (this kind of host: KVM without in-kernel Hyper-V).
 * @module
 */
import {
  HV_CPUID_ENLIGHTMENT_INFO,
  HV_CPUID_FEATURES,
  HV_CPUID_IMPLEMENT_LIMITS,
  HV_CPUID_INTERFACE,
  HV_CPUID_NESTED_FEATURES,
  HV_CPUID_SIGNATURE_HV1,
  HV_CPUID_SIGNATURE_VS1,
  HV_CPUID_SYNDBG_INTERFACE,
  HV_CPUID_SYNDBG_PLATFORM_CAPABILITIES,
  HV_CPUID_SYNDBG_VENDOR_AND_MAX_FUNCTIONS,
  HV_CPUID_VENDOR_AND_MAX_FUNCTIONS,
  HV_CPUID_VERSION,
  HV_CRASH_CTL_CRASH_NOTIFY,
  HV_CRASH_PARAMETER_COUNT,
  HV_X64_MSR_CRASH_CTL,
  HV_X64_MSR_CRASH_P0,
  HV_X64_MSR_SCONTROL,
  HV_X64_MSR_SIEFP,
  HV_X64_MSR_SIMP,
  HV_X64_MSR_SINT0,
  HV_X64_MSR_SINT15,
  HV_STATUS_INVALID_HYPERCALL_INPUT,
  HV_STATUS_SUCCESS,
  HV_SYNIC_SINT_COUNT,
  HV_SYNIC_SINT_RESET,
  HV_X64_MSR_VP_INDEX,
  HvCallSignalEvent,
  type CpuidBit,
  HvFeatureEdx,
  HvNestedEax,
  HvPrivilegeEax,
  HvPrivilegeEbx,
  HvRecommendationEax,
  HvSyndbgEax,
} from "@hv/tlfs";
import {
  defaultIrqchipRoutes,
  type IrqRoute,
  irqRouteTypeName,
  KVM_CAPS,
  KVM_EXIT_HYPERV_HCALL,
  KVM_EXIT_HYPERV_SYNIC,
  KVM_EXIT_IO,
  KVM_EXIT_IO_OUT,
  KVM_EXIT_SHUTDOWN,
  KVM_EXIT_SYSTEM_EVENT,
  KVM_HYPERV_CONN_ID_MASK,
  KVM_IRQ_ROUTING_HV_SINT,
  KVM_IRQ_ROUTING_IRQCHIP,
  KVM_IRQ_ROUTING_MSI,
  KVM_IRQCHIP_IOAPIC,
  KVM_IRQCHIP_PIC_MASTER,
  KVM_IRQCHIP_PIC_SLAVE,
  KVM_MAX_IRQ_ROUTES,
  KVM_SYSTEM_EVENT,
  type KvmCapName,
  KvmIoctlError,
  type KvmIrqRouting,
  KvmRun,
} from "@hv/kvm";
import { type CpuidLeaf, encodeVendor } from "@hv/x86";
import {
  decodeHypervExit,
  encodeHypervExit,
  type EventfdRef,
  type HypervExit,
  type IoExit,
  ioExitOf,
  type KvmService,
  type MsrEntry,
  newHypervExit,
  type VcpuRef,
  type VmRef,
} from "./kvm_service.ts";

const leaf = (fn: number, eax = 0, ebx = 0, ecx = 0, edx = 0, index = 0): CpuidLeaf => ({ function: fn, index, eax, ebx, ecx, edx });
const mask = (bits: readonly CpuidBit[]) => bits.reduce((m, b) => (m | (1 << b.bit)) >>> 0, 0);
const vendor = (s: string) => encodeVendor(s);

const KVM_HV = vendor("Linux KVM Hv");
/** KVM_MAX_VCPUS on x86 (Linux 6.6), what KVM puts in 0x40000005.EAX. */
const KVM_MAX_VCPUS = 1024;

/**
 * `KVM_GET_SUPPORTED_HV_CPUID` as Linux 6.6 `kvm_get_hv_cpuid` answers it on an Intel host with nested
 * VMX (eVMCS available) where SMT is possible (tlfs-conformance.md "CPUID that KVM advertises": exactly
 * 10 leaves, 0x40000000..05, 0x4000000A, 0x40000080..82):
 * - 0x40000000: max leaf 0x40000082, "Linux KVM Hv"; 0x40000001 "Hv#1"; 0x40000002 0x3839/0xA0000;
 * - 0x40000003.EAX: VP runtime, ref counter, SynIC, stimers, APIC MSRs, hypercall MSRs, VP index,
 *   reset, reference TSC, frequencies, reenlightenment, TSC invariant control (0xAAFF);
 *   EBX: PostMessages, SignalEvents, Debugging, EnableExtendedHypercalls (0x100830);
 *   EDX: guest debugging, XMM fast input, frequency MSRs, crash MSRs, debug MSRs, extended GVA
 *   ranges for flush, direct synthetic timers (0x84D12);
 * - 0x40000004.EAX: remote TLB flush, APIC MSRs, relaxed timing, deprecating AutoEOI, cluster IPI,
 *   ExProcessorMasks, eVMCS (0x4E2C; no NoNonArchitecturalCoreSharing: SMT is possible); EBX 0xFFF;
 * - 0x40000005: KVM_MAX_VCPUS, 64;
 * - 0x4000000A.EAX: eVMCS versions 1..1 (0x0101), DirectVirtualFlush (17), EnlightenedMsrBitmap (19);
 *   EBX bit 0 (eVMCS PERF_GLOBAL_CTRL);
 * - 0x40000080..82: syndbg vendor, "VS#1", SyndbgCapAllowKernelDebugging.
 */
export const KVM_HV_CPUID_LINUX_6_6: readonly CpuidLeaf[] = Object.freeze([
  leaf(HV_CPUID_VENDOR_AND_MAX_FUNCTIONS, HV_CPUID_SYNDBG_PLATFORM_CAPABILITIES, KVM_HV.ebx, KVM_HV.ecx, KVM_HV.edx),
  leaf(HV_CPUID_INTERFACE, HV_CPUID_SIGNATURE_HV1),
  leaf(HV_CPUID_VERSION, 0x00003839, 0x000a0000),
  leaf(
    HV_CPUID_FEATURES,
    mask([
      HvPrivilegeEax.AccessVpRunTimeReg,
      HvPrivilegeEax.AccessPartitionReferenceCounter,
      HvPrivilegeEax.AccessSynicRegs,
      HvPrivilegeEax.AccessSyntheticTimerRegs,
      HvPrivilegeEax.AccessIntrCtrlRegs,
      HvPrivilegeEax.AccessHypercallMsrs,
      HvPrivilegeEax.AccessVpIndex,
      HvPrivilegeEax.AccessResetReg,
      HvPrivilegeEax.AccessPartitionReferenceTsc,
      HvPrivilegeEax.AccessFrequencyRegs,
      HvPrivilegeEax.AccessReenlightenmentControls,
      HvPrivilegeEax.AccessTscInvariantControls,
    ]),
    mask([HvPrivilegeEbx.PostMessages, HvPrivilegeEbx.SignalEvents, HvPrivilegeEbx.Debugging, HvPrivilegeEbx.EnableExtendedHypercalls]),
    0,
    mask([
      HvFeatureEdx.GuestDebuggingAvailable,
      HvFeatureEdx.XmmRegistersForFastHypercallAvailable,
      HvFeatureEdx.FrequencyRegsAvailable,
      HvFeatureEdx.GuestCrashRegsAvailable,
      HvFeatureEdx.DebugRegsAvailable,
      HvFeatureEdx.ExtendedGvaRangesForFlushVirtualAddressListAvailable,
      HvFeatureEdx.DirectSyntheticTimers,
    ]),
  ),
  leaf(
    HV_CPUID_ENLIGHTMENT_INFO,
    mask([
      HvRecommendationEax.UseHypercallForRemoteFlush,
      HvRecommendationEax.UseApicMsrs,
      HvRecommendationEax.UseRelaxedTiming,
      HvRecommendationEax.DeprecateAutoEoi,
      HvRecommendationEax.UseSyntheticClusterIpi,
      HvRecommendationEax.UseExProcessorMasks,
      HvRecommendationEax.UseVmcsEnlightenments,
    ]),
    0x00000fff,
  ),
  leaf(HV_CPUID_IMPLEMENT_LIMITS, KVM_MAX_VCPUS, 64),
  leaf(HV_CPUID_NESTED_FEATURES, (0x0101 | mask([HvNestedEax.DirectVirtualFlush, HvNestedEax.EnlightenedMsrBitmap])) >>> 0, 1),
  leaf(HV_CPUID_SYNDBG_VENDOR_AND_MAX_FUNCTIONS, 0, KVM_HV.ebx, KVM_HV.ecx, KVM_HV.edx),
  leaf(HV_CPUID_SYNDBG_INTERFACE, HV_CPUID_SIGNATURE_VS1),
  leaf(HV_CPUID_SYNDBG_PLATFORM_CAPABILITIES, mask([HvSyndbgEax.SyndbgCapAllowKernelDebugging])),
]);

/** A small `KVM_GET_SUPPORTED_CPUID` of an Intel host (KVM's own signature at 0x40000000/01 included, as KVM reports it). */
export const SIMULATED_SUPPORTED_CPUID: readonly CpuidLeaf[] = Object.freeze([
  leaf(0, 0x1f, 0x756e6547, 0x6c65746e, 0x49656e69), // "GenuineIntel"
  leaf(1, 0x000806f8, 0x00000800, 0x7ffaf203, 0x178bfbff),
  leaf(0xb, 1, 1, 0x100, 0, 0),
  leaf(0xb, 4, 2, 0x201, 0, 1),
  leaf(0x40000000, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d), // "KVMKVMKVM"
  leaf(0x40000001, 0x01007afb),
  leaf(0x80000000, 0x80000008),
  leaf(0x80000007, 0, 0, 0, 0x100),
]);

/** KVM_CHECK_EXTENSION answers of an x86 host whatever its Hyper-V support (values from this host's KVM). */
const COMMON_CAPS: Readonly<Partial<Record<KvmCapName, number>>> = {
  KVM_CAP_IRQCHIP: 1, KVM_CAP_HLT: 1, KVM_CAP_USER_MEMORY: 1, KVM_CAP_SET_TSS_ADDR: 1, KVM_CAP_EXT_CPUID: 1,
  KVM_CAP_NR_VCPUS: 8, KVM_CAP_NR_MEMSLOTS: 32764, KVM_CAP_MP_STATE: 1, KVM_CAP_SYNC_MMU: 1, KVM_CAP_USER_NMI: 1,
  KVM_CAP_IRQ_ROUTING: 4096, KVM_CAP_IRQFD: 1, KVM_CAP_PIT2: 1, KVM_CAP_IOEVENTFD: 1, KVM_CAP_SET_IDENTITY_MAP_ADDR: 1,
  KVM_CAP_ADJUST_CLOCK: 14, KVM_CAP_VCPU_EVENTS: 1, KVM_CAP_ENABLE_CAP: 1, KVM_CAP_XSAVE: 1, KVM_CAP_XCRS: 1,
  KVM_CAP_GET_TSC_KHZ: 1, KVM_CAP_MAX_VCPUS: 1024, KVM_CAP_SYNC_REGS: 7, KVM_CAP_SIGNAL_MSI: 1,
  KVM_CAP_ENABLE_CAP_VM: 1, KVM_CAP_CHECK_EXTENSION_VM: 1, KVM_CAP_SPLIT_IRQCHIP: 1, KVM_CAP_X2APIC_API: 15,
  KVM_CAP_IMMEDIATE_EXIT: 1, KVM_CAP_X86_DISABLE_EXITS: 14, KVM_CAP_GET_MSR_FEATURES: 1,
  KVM_CAP_X86_USER_SPACE_MSR: 1, KVM_CAP_X86_MSR_FILTER: 1, KVM_CAP_SYSTEM_EVENT_DATA: 1, KVM_CAP_IRQFD_RESAMPLE: 1,
};

/**
 * What the simulated kernel answers:
 * - `name`: for messages;
 * - `unavailable`: when set, /dev/kvm "cannot be opened" with this reason;
 * - `caps`: KVM_CHECK_EXTENSION by KVM name (absent = 0);
 * - `hvCpuid`: KVM_GET_SUPPORTED_HV_CPUID (undefined: the ioctl fails, as without KVM_CAP_SYS_HYPERV_CPUID);
 * - `supportedCpuid`: KVM_GET_SUPPORTED_CPUID;
 * - `evmcsVersion`: the u16 KVM_ENABLE_CAP(KVM_CAP_HYPERV_ENLIGHTENED_VMCS) writes back (0x0101: 1..1);
 * - `fail`: ioctls (by KVM name, or "eventfd") that fail with the given errno, whatever their
 *   arguments (a kernel refusing for reasons the simulation does not model).
 */
export interface SimulatedHost {
  readonly name: string;
  readonly unavailable?: string;
  readonly caps: Readonly<Partial<Record<KvmCapName, number>>>;
  readonly hvCpuid?: readonly CpuidLeaf[];
  readonly supportedCpuid: readonly CpuidLeaf[];
  readonly evmcsVersion: number;
  readonly fail?: Readonly<Record<string, number>>;
}

/**
 * An Intel host whose kernel has in-kernel Hyper-V (CONFIG_KVM_HYPERV): every capability QEMU's
 * hv-* flags look for (profiles.md (a): KVM_CAP_HYPERV, _TIME, _SYNIC2, _VP_INDEX, _TLBFLUSH,
 * _SEND_IPI, _ENLIGHTENED_VMCS), KVM_CAP_SYS_HYPERV_CPUID and KVM_CAP_HYPERV_ENFORCE_CPUID, and
 * {@link KVM_HV_CPUID_LINUX_6_6}.
 */
export const HYPERV_CAPABLE_HOST: SimulatedHost = Object.freeze({
  name: "simulated Intel host, Linux 6.6 with CONFIG_KVM_HYPERV",
  caps: {
    ...COMMON_CAPS,
    KVM_CAP_HYPERV: 1,
    KVM_CAP_HYPERV_VAPIC: 1,
    KVM_CAP_HYPERV_SPIN: 1,
    KVM_CAP_HYPERV_TIME: 1,
    KVM_CAP_HYPERV_SYNIC: 1,
    KVM_CAP_HYPERV_SYNIC2: 1,
    KVM_CAP_HYPERV_VP_INDEX: 1,
    KVM_CAP_HYPERV_EVENTFD: 1,
    KVM_CAP_HYPERV_TLBFLUSH: 1,
    KVM_CAP_HYPERV_SEND_IPI: 1,
    KVM_CAP_HYPERV_ENLIGHTENED_VMCS: 1,
    KVM_CAP_HYPERV_CPUID: 1,
    KVM_CAP_SYS_HYPERV_CPUID: 1,
    KVM_CAP_HYPERV_ENFORCE_CPUID: 1,
  },
  hvCpuid: KVM_HV_CPUID_LINUX_6_6,
  supportedCpuid: SIMULATED_SUPPORTED_CPUID,
  evmcsVersion: 0x0101,
});

/** A host like this one: KVM without in-kernel Hyper-V (every KVM_CAP_HYPERV* 0, no HV CPUID). */
export const HOST_WITHOUT_HYPERV: SimulatedHost = Object.freeze({
  name: "simulated host, KVM without CONFIG_KVM_HYPERV",
  caps: COMMON_CAPS,
  supportedCpuid: SIMULATED_SUPPORTED_CPUID,
  evmcsVersion: 0,
});

/**
 * A Hyper-V-capable host edited: `caps` overrides (0 removes one), `hvCpuid` replaced or edited per
 * leaf, `fail` ioctls added (see {@link SimulatedHost}).
 */
export function hostWith(
  base: SimulatedHost,
  edit: {
    readonly name?: string;
    readonly caps?: Readonly<Partial<Record<KvmCapName, number>>>;
    readonly hvCpuid?: (leaves: readonly CpuidLeaf[]) => readonly CpuidLeaf[] | undefined;
    readonly evmcsVersion?: number;
    readonly fail?: Readonly<Record<string, number>>;
  },
): SimulatedHost {
  return {
    ...base,
    name: edit.name ?? `${base.name} (edited)`,
    caps: { ...base.caps, ...edit.caps },
    hvCpuid: edit.hvCpuid && base.hvCpuid ? edit.hvCpuid(base.hvCpuid) : base.hvCpuid,
    evmcsVersion: edit.evmcsVersion ?? base.evmcsVersion,
    fail: { ...base.fail, ...edit.fail },
  };
}

/** One recorded call: the ioctl's KVM name, the fd it went to ("system", "vm", "vcpu0"...) and its arguments. */
export interface KvmCall {
  readonly ioctl: string;
  readonly target: string;
  readonly args: readonly (string | number)[];
}

/** A scripted exit for {@link SimulatedKvm.queueExit}. */
export type SimulatedExit =
  /** KVM_EXIT_HYPERV / SYNIC: the guest wrote `msr` (SCONTROL, SIEFP or SIMP); the three current values. */
  | { readonly kind: "synic"; readonly msr: number; readonly control: bigint; readonly evtPage: bigint; readonly msgPage: bigint }
  /** KVM_EXIT_HYPERV / HCALL: the input value and params (see `HypervExit`); the result is recorded. */
  | { readonly kind: "hcall"; readonly input: bigint; readonly params: readonly [bigint, bigint] }
  /** The guest wrote CRASH_P0..P4 then CRASH_CTL with bit 63: KVM_EXIT_SYSTEM_EVENT / CRASH. */
  | { readonly kind: "crash"; readonly parameters: readonly bigint[] }
  /** The guest wrote HV_X64_MSR_RESET: KVM_EXIT_SYSTEM_EVENT / RESET. */
  | { readonly kind: "reset" }
  /** An `OUT` of `value` to `port` (e.g. isa-debug-exit 0xF4): KVM_EXIT_IO. */
  | { readonly kind: "io-out"; readonly port: number; readonly value: number }
  /** A triple fault: KVM_EXIT_SHUTDOWN. */
  | { readonly kind: "shutdown" }
  /** No exit: the guest writes HV_X64_MSR_EOM; KVM acks every SINT (`kvm_hv_notify_acked_sint`), signalling resamplefds. */
  | { readonly kind: "eom" }
  /** No exit: the guest EOIs `vector`; KVM acks the unmasked SINTs with that vector (`kvm_hv_synic_send_eoi`). */
  | { readonly kind: "eoi"; readonly vector: number }
  /** No exit: the guest writes SINT `sint` (KVM keeps it in-kernel). */
  | { readonly kind: "sint"; readonly sint: number; readonly value: bigint };

/**
 * One injection of a GSI bound to an eventfd (KVM_IRQFD), as the simulated KVM resolved it:
 * `route` the entry's type name; for HV_SINT `vp`/`sint` and `outcome` "delivered" (`vector` to
 * the VP's LAPIC), "masked" (KVM holds the SINT masked: `synic_set_irq` -ENOENT) or "synic
 * inactive" (no active SynIC with that VP index: -EINVAL); for MSI the destination `apicId` and
 * `vector`; for a GSI without a route "no route".
 */
export interface SimulatedDelivery {
  readonly gsi: number;
  readonly route: string;
  readonly outcome: "delivered" | "masked" | "synic inactive" | "no route" | "irqchip";
  readonly vp?: number;
  readonly sint?: number;
  readonly apicId?: number;
  readonly vector?: number;
}

/** A hypercall the simulated KVM completed in-kernel (no exit): the vCPU, the code and the status it put in RAX. */
export interface KernelHypercall {
  readonly vcpu: number;
  readonly code: number;
  readonly status: number;
}

const EINVAL = 22;
const EEXIST = 17;
const lo = (v: bigint) => Number(v & 0xffffffffn);
const hi = (v: bigint) => Number((v >> 32n) & 0xffffffffn);
const hex = (n: number) => `0x${n.toString(16)}`;

interface SimVcpu {
  readonly id: number;
  readonly run: KvmRun;
  readonly msrs: Map<number, bigint>;
  readonly exits: SimulatedExit[];
  readonly caps: Set<string>;
  /** KVM's `synic->sint_to_gsi` (-1: none), set by KVM_SET_GSI_ROUTING while the SynIC is active. */
  readonly sintToGsi: Int32Array;
  cpuid?: readonly CpuidLeaf[];
}

interface SimIrqfd {
  readonly fd: number;
  readonly gsi: number;
  readonly resamplefd?: number;
}

const SINT_MASKED = 0x10000n;

/**
 * The simulated kernel (see the module doc). Besides the {@link KvmService} methods:
 * - `calls`/`log()`: every call, in order (`log()` renders "KVM_ENABLE_CAP vcpu0 KVM_CAP_HYPERV_SYNIC2");
 * - `queueExit(vcpuId, ...exits)`: what the next KVM_RUNs of that vCPU return (scriptable before the vCPU exists);
 * - `hypercallResults`: every `hcall.result` userspace wrote, per vCPU id;
 * - `vcpuState(id)`: the CPUID, MSRs and enabled capabilities KVM holds for a vCPU;
 * - `deliveries`: every GSI injection through an irqfd ({@link SimulatedDelivery});
 * - `kernelHypercalls`: hypercalls completed in-kernel (HvSignalEvent through KVM_HYPERV_EVENTFD);
 * - `gsiRoutes()`, `irqfds()`, `hypervEventfds()`, `eventfdCount(fd)`, `sintToGsi(id)`: the routing
 *   state KVM holds.
 * KVM's crash MSRs are per VM (`struct kvm_hv`); the simulation keeps them on the VM too.
 */
export class SimulatedKvm implements KvmService {
  readonly kind = "simulated";
  readonly host: SimulatedHost;
  readonly calls: KvmCall[] = [];
  readonly hypercallResults = new Map<number, number[]>();
  /** Every GSI injection through an irqfd, in order. */
  readonly deliveries: SimulatedDelivery[] = [];
  /** Hypercalls completed in-kernel (no exit), in order. */
  readonly kernelHypercalls: KernelHypercall[] = [];
  readonly #eventfds = new Map<number, { counter: number }>();
  #routes: IrqRoute[] = [];
  readonly #irqfds: SimIrqfd[] = [];
  readonly #hvEventfds = new Map<number, number>();
  #nextFd = 10;
  #vm: { fd: number; irqchip: boolean; crash: bigint[]; crashCtl: bigint } | undefined;
  readonly #vcpus = new Map<number, SimVcpu>();
  readonly #pending = new Map<number, SimulatedExit[]>();

  constructor(host: SimulatedHost = HYPERV_CAPABLE_HOST) {
    this.host = host;
  }

  #record(ioctl: string, target: string, ...args: (string | number)[]): void {
    this.calls.push({ ioctl, target, args });
  }
  #vcpu(ref: VcpuRef): SimVcpu {
    const v = this.#vcpus.get(ref.fd);
    if (!v) throw KvmIoctlError.of("ioctl", 9, `fd ${ref.fd} is not a vCPU of this VM`); // EBADF
    return v;
  }
  #cap(name: KvmCapName): number {
    return this.host.caps[name] ?? 0;
  }
  /** Throws the configured failure of `ioctl` (SimulatedHost.fail). */
  #maybeFail(ioctl: string): void {
    const errno = this.host.fail?.[ioctl];
    if (errno) throw KvmIoctlError.of(ioctl, errno);
  }
  #byId(id: number): SimVcpu | undefined {
    for (const v of this.#vcpus.values()) if (v.id === id) return v;
    return undefined;
  }
  /** The vCPU whose VP index (HV_X64_MSR_VP_INDEX, default its id) is `vpIndex` (KVM `get_vcpu_by_vpidx`). */
  #byVpIndex(vpIndex: number): SimVcpu | undefined {
    for (const v of this.#vcpus.values()) if (Number(v.msrs.get(HV_X64_MSR_VP_INDEX) ?? BigInt(v.id)) === vpIndex) return v;
    return undefined;
  }
  /** KVM's `synic->active`: KVM_CAP_HYPERV_SYNIC(2) enabled on the vCPU. */
  #synicActive(v: SimVcpu): boolean {
    return v.caps.has("KVM_CAP_HYPERV_SYNIC2") || v.caps.has("KVM_CAP_HYPERV_SYNIC");
  }
  #sint(v: SimVcpu, n: number): bigint {
    return v.msrs.get(HV_X64_MSR_SINT0 + n) ?? BigInt(HV_SYNIC_SINT_RESET);
  }

  /** Every call rendered "IOCTL target arg arg" (system-fd queries dropped when `withSystem` is false). */
  log(withSystem = true): string[] {
    return this.calls
      .filter((c) => withSystem || c.target !== "system")
      .map((c) => [c.ioctl, c.target, ...c.args.map(String)].join(" "));
  }

  /** Scripts the next exits of vCPU `id` (FIFO); before the vCPU exists they wait for its KVM_CREATE_VCPU. */
  queueExit(id: number, ...exits: SimulatedExit[]): void {
    const v = [...this.#vcpus.values()].find((x) => x.id === id);
    if (v) v.exits.push(...exits);
    else this.#pending.set(id, [...(this.#pending.get(id) ?? []), ...exits]);
  }

  /** What KVM holds for vCPU `id`: its CPUID, MSRs, enabled capabilities. */
  vcpuState(id: number): { cpuid?: readonly CpuidLeaf[]; msrs: ReadonlyMap<number, bigint>; caps: ReadonlySet<string> } {
    const v = [...this.#vcpus.values()].find((x) => x.id === id);
    if (!v) throw new RangeError(`no simulated vCPU ${id}`);
    return { cpuid: v.cpuid, msrs: v.msrs, caps: v.caps };
  }

  unavailable(): string | undefined {
    this.#record("open", "/dev/kvm");
    return this.host.unavailable;
  }
  checkExtension(cap: KvmCapName): number {
    this.#record("KVM_CHECK_EXTENSION", "system", cap);
    return this.#cap(cap);
  }
  supportedHvCpuid(): readonly CpuidLeaf[] | undefined {
    this.#record("KVM_GET_SUPPORTED_HV_CPUID", "system");
    return this.host.hvCpuid?.map((l) => ({ ...l }));
  }
  supportedCpuid(): readonly CpuidLeaf[] {
    this.#record("KVM_GET_SUPPORTED_CPUID", "system");
    return this.host.supportedCpuid.map((l) => ({ ...l }));
  }
  createVm(): VmRef {
    this.#record("KVM_CREATE_VM", "system", 0);
    if (this.host.unavailable) throw KvmIoctlError.of("KVM_CREATE_VM", 19); // ENODEV
    const fd = this.#nextFd++;
    this.#vm = { fd, irqchip: false, crash: Array(HV_CRASH_PARAMETER_COUNT).fill(0n), crashCtl: 0n };
    return { kind: "vm", fd };
  }
  createIrqchip(vm: VmRef): void {
    this.#record("KVM_CREATE_IRQCHIP", "vm");
    if (!this.#vm || this.#vm.fd !== vm.fd) throw KvmIoctlError.of("KVM_CREATE_IRQCHIP", 9);
    if (this.#vm.irqchip) throw KvmIoctlError.of("KVM_CREATE_IRQCHIP", EEXIST);
    if (this.#vcpus.size > 0) throw KvmIoctlError.of("KVM_CREATE_IRQCHIP", EINVAL, "vCPUs already exist");
    this.#vm.irqchip = true;
    this.#routes = defaultIrqchipRoutes(); // kvm_setup_default_irq_routing
  }
  createVcpu(vm: VmRef, id: number): VcpuRef {
    this.#record("KVM_CREATE_VCPU", "vm", id);
    if (!this.#vm || this.#vm.fd !== vm.fd) throw KvmIoctlError.of("KVM_CREATE_VCPU", 9);
    if ([...this.#vcpus.values()].some((v) => v.id === id)) throw KvmIoctlError.of("KVM_CREATE_VCPU", EEXIST, `vCPU ${id}`);
    const fd = this.#nextFd++;
    this.#vcpus.set(fd, {
      id,
      run: new KvmRun(new Uint8Array(8192)),
      msrs: new Map(),
      exits: this.#pending.get(id) ?? [],
      caps: new Set(),
      sintToGsi: new Int32Array(HV_SYNIC_SINT_COUNT).fill(-1),
    });
    this.#pending.delete(id);
    return { kind: "vcpu", fd, id };
  }
  enableVmCap(_vm: VmRef, cap: KvmCapName, args: readonly number[] = []): void {
    this.#record("KVM_ENABLE_CAP", "vm", cap, ...args);
    if (this.#cap(cap) <= 0) throw KvmIoctlError.of("KVM_ENABLE_CAP", EINVAL, `VM capability ${KVM_CAPS[cap]}`);
  }
  enableVcpuCap(vcpu: VcpuRef, cap: KvmCapName, args: readonly number[] = []): void {
    this.#record("KVM_ENABLE_CAP", `vcpu${vcpu.id}`, cap, ...args);
    const v = this.#vcpu(vcpu);
    if (this.#cap(cap) <= 0) throw KvmIoctlError.of("KVM_ENABLE_CAP", EINVAL, `vCPU capability ${KVM_CAPS[cap]}`);
    v.caps.add(cap);
  }
  enableEnlightenedVmcs(vcpu: VcpuRef): number {
    this.#record("KVM_ENABLE_CAP", `vcpu${vcpu.id}`, "KVM_CAP_HYPERV_ENLIGHTENED_VMCS", "&version");
    const v = this.#vcpu(vcpu);
    // KVM: -ENOTTY without nested_ops->enable_evmcs (AMD, or nested off).
    if (this.#cap("KVM_CAP_HYPERV_ENLIGHTENED_VMCS") <= 0) throw KvmIoctlError.of("KVM_ENABLE_CAP", 25, "KVM_CAP_HYPERV_ENLIGHTENED_VMCS");
    v.caps.add("KVM_CAP_HYPERV_ENLIGHTENED_VMCS");
    return this.host.evmcsVersion;
  }
  setCpuid2(vcpu: VcpuRef, leaves: readonly CpuidLeaf[]): void {
    this.#record("KVM_SET_CPUID2", `vcpu${vcpu.id}`, `${leaves.length} entries`);
    if (leaves.length > 256) throw KvmIoctlError.of("KVM_SET_CPUID2", 7); // E2BIG
    this.#vcpu(vcpu).cpuid = leaves.map((l) => ({ ...l }));
  }
  setMsrs(vcpu: VcpuRef, msrs: readonly MsrEntry[]): void {
    this.#record("KVM_SET_MSRS", `vcpu${vcpu.id}`, ...msrs.map((m) => `${hex(m.index)}=0x${m.value.toString(16)}`));
    const v = this.#vcpu(vcpu);
    for (const m of msrs) {
      if (!this.#hostWrite(v, m.index, m.value)) throw KvmIoctlError.of("KVM_SET_MSRS", EINVAL, `vCPU ${vcpu.id}: KVM refused MSR ${hex(m.index)}`);
    }
  }
  /** KVM's host-initiated write rules for the MSRs the backend writes (`kvm_hv_set_msr[_pw]`, host = true). */
  #hostWrite(v: SimVcpu, index: number, value: bigint): boolean {
    if (index === HV_X64_MSR_VP_INDEX) {
      if (this.#cap("KVM_CAP_HYPERV_VP_INDEX") <= 0 || value >= BigInt(KVM_MAX_VCPUS)) return false;
      v.msrs.set(index, value);
      return true;
    }
    if (index === HV_X64_MSR_CRASH_CTL) {
      if (this.#cap("KVM_CAP_HYPERV") <= 0) return false;
      this.#vm!.crashCtl = value & HV_CRASH_CTL_CRASH_NOTIFY; // kvm_hv_msr_set_crash_ctl keeps only bit 63
      return true;
    }
    if (index >= HV_X64_MSR_CRASH_P0 && index < HV_X64_MSR_CRASH_P0 + HV_CRASH_PARAMETER_COUNT) {
      this.#vm!.crash[index - HV_X64_MSR_CRASH_P0] = value;
      return true;
    }
    v.msrs.set(index, value);
    return true;
  }
  getMsrs(vcpu: VcpuRef, indices: readonly number[]): bigint[] {
    this.#record("KVM_GET_MSRS", `vcpu${vcpu.id}`, ...indices.map(hex));
    const v = this.#vcpu(vcpu);
    return indices.map((i) => {
      if (i === HV_X64_MSR_CRASH_CTL) return this.#vm!.crashCtl;
      if (i >= HV_X64_MSR_CRASH_P0 && i < HV_X64_MSR_CRASH_P0 + HV_CRASH_PARAMETER_COUNT) return this.#vm!.crash[i - HV_X64_MSR_CRASH_P0];
      const x = v.msrs.get(i);
      if (x === undefined) {
        if (i >= HV_X64_MSR_SINT0 && i <= HV_X64_MSR_SINT15) return BigInt(HV_SYNIC_SINT_RESET); // SINTn power-on: masked
        throw KvmIoctlError.of("KVM_GET_MSRS", EINVAL, `vCPU ${vcpu.id}: KVM cannot read MSR ${hex(i)}`);
      }
      return x;
    });
  }
  signalMsi(_vm: VmRef, apicId: number, vector: number): void {
    this.#record("KVM_SIGNAL_MSI", "vm", hex(0xfee00000 + apicId * 4096), hex(vector));
  }
  /** Test helper: what the guest wrote to SINTn (KVM keeps it in-kernel; no exit). */
  guestWroteSint(id: number, sint: number, value: bigint): void {
    const v = [...this.#vcpus.values()].find((x) => x.id === id);
    if (!v) throw new RangeError(`no simulated vCPU ${id}`);
    v.msrs.set(HV_X64_MSR_SINT0 + sint, value);
  }
  run(vcpu: VcpuRef): number {
    this.#record("KVM_RUN", `vcpu${vcpu.id}`);
    const v = this.#vcpu(vcpu);
    let e: SimulatedExit | undefined;
    for (;;) {
      e = v.exits.shift();
      if (!e) throw new Error(`simulated vCPU ${vcpu.id} has no scripted exit left`);
      if (!this.#inKernel(v, e)) break;
    }
    const view = v.run.view;
    const ex: HypervExit = newHypervExit();
    switch (e.kind) {
      case "synic":
        v.msrs.set(HV_X64_MSR_SCONTROL, e.control);
        v.msrs.set(HV_X64_MSR_SIEFP, e.evtPage);
        v.msrs.set(HV_X64_MSR_SIMP, e.msgPage);
        Object.assign(ex, {
          type: KVM_EXIT_HYPERV_SYNIC,
          msr: e.msr,
          controlLo: lo(e.control),
          controlHi: hi(e.control),
          evtPageLo: lo(e.evtPage),
          evtPageHi: hi(e.evtPage),
          msgPageLo: lo(e.msgPage),
          msgPageHi: hi(e.msgPage),
        });
        encodeHypervExit(v.run, ex);
        break;
      case "hcall":
        Object.assign(ex, {
          type: KVM_EXIT_HYPERV_HCALL,
          inputLo: lo(e.input),
          inputHi: hi(e.input),
          param0Lo: lo(e.params[0]),
          param0Hi: hi(e.params[0]),
          param1Lo: lo(e.params[1]),
          param1Hi: hi(e.params[1]),
        });
        encodeHypervExit(v.run, ex);
        view.setUint32(48, 0xdead, true); // stale result: userspace must overwrite it
        break;
      case "crash":
        e.parameters.forEach((p, i) => (this.#vm!.crash[i] = p));
        view.setUint32(8, KVM_EXIT_SYSTEM_EVENT, true);
        view.setUint32(32, KVM_SYSTEM_EVENT.CRASH, true);
        break;
      case "reset":
        view.setUint32(8, KVM_EXIT_SYSTEM_EVENT, true);
        view.setUint32(32, KVM_SYSTEM_EVENT.RESET, true);
        break;
      case "io-out":
        view.setUint32(8, KVM_EXIT_IO, true);
        view.setUint8(32, KVM_EXIT_IO_OUT);
        view.setUint8(33, 4);
        view.setUint16(34, e.port, true);
        view.setUint32(36, 1, true);
        view.setUint32(40, 4096, true); // data_offset
        view.setUint32(4096, e.value >>> 0, true);
        break;
      case "shutdown":
        view.setUint32(8, KVM_EXIT_SHUTDOWN, true);
        break;
    }
    return v.run.exitReason;
  }
  /**
   * What KVM handles without exiting: the guest's EOM, EOI and SINT writes, and HvSignalEvent when
   * `kvm_hvcall_signal_event` completes it (bad input, or a connection with a KVM_HYPERV_EVENTFD).
   * True when `e` was consumed in-kernel.
   */
  #inKernel(v: SimVcpu, e: SimulatedExit): boolean {
    switch (e.kind) {
      case "eom":
        if (this.#synicActive(v)) for (let n = 0; n < HV_SYNIC_SINT_COUNT; n++) this.#acked(v, n);
        return true;
      case "eoi":
        for (let n = 0; n < HV_SYNIC_SINT_COUNT; n++) {
          const x = this.#sint(v, n);
          if ((x & SINT_MASKED) === 0n && Number(x & 0xffn) === (e.vector & 0xff)) this.#acked(v, n);
        }
        return true;
      case "sint":
        v.msrs.set(HV_X64_MSR_SINT0 + e.sint, e.value);
        return true;
      case "hcall":
        return this.#signalEventInKernel(v, e.input, e.params[0]);
      default:
        return false;
    }
  }
  /** KVM `kvm_hv_hypercall` HVCALL_SIGNAL_EVENT -> `kvm_hvcall_signal_event`; false: exit to userspace. */
  #signalEventInKernel(v: SimVcpu, input: bigint, param: bigint): boolean {
    if (Number(input & 0xffffn) !== HvCallSignalEvent || this.#cap("KVM_CAP_HYPERV") <= 0) return false;
    const done = (status: number) => {
      this.kernelHypercalls.push({ vcpu: v.id, code: HvCallSignalEvent, status });
      return true;
    };
    if (((input >> 32n) & 0xfffn) !== 0n || ((input >> 17n) & 0x1ffn) !== 0n) return done(HV_STATUS_INVALID_HYPERCALL_INPUT); // rep or varhead
    if ((param & 0xffff00000000n) !== 0n) return false; // flag number: INVALID_PORT_ID -> userspace
    if ((param & ~BigInt(KVM_HYPERV_CONN_ID_MASK)) !== 0n) return done(HV_STATUS_INVALID_HYPERCALL_INPUT);
    const fd = this.#hvEventfds.get(Number(param));
    if (fd === undefined) return false; // no eventfd: userspace
    this.#write(fd);
    return done(HV_STATUS_SUCCESS);
  }
  /** `kvm_hv_notify_acked_sint` -> `kvm_notify_acked_gsi`: the resamplefds of irqfds on the SINT's GSI. */
  #acked(v: SimVcpu, sint: number): void {
    const gsi = v.sintToGsi[sint];
    if (gsi < 0) return;
    for (const f of this.#irqfds) {
      if (f.gsi === gsi && f.resamplefd !== undefined) {
        const r = this.#eventfds.get(f.resamplefd);
        if (r) r.counter++;
      }
    }
  }
  /** An eventfd write: the counter grows; an irqfd on it consumes it and injects its GSI. */
  #write(fd: number): boolean {
    const e = this.#eventfds.get(fd);
    if (!e) return false;
    e.counter++;
    for (const f of this.#irqfds) {
      if (f.fd !== fd) continue;
      e.counter = 0;
      this.#inject(f.gsi);
    }
    return true;
  }
  /** `kvm_set_irq` on `gsi` through the current routing. */
  #inject(gsi: number): void {
    const routes = this.#routes.filter((r) => r.gsi === gsi);
    if (routes.length === 0) this.deliveries.push({ gsi, route: "none", outcome: "no route" });
    for (const r of routes) {
      const route = irqRouteTypeName(r.type);
      if (r.type === KVM_IRQ_ROUTING_HV_SINT) {
        const v = this.#byVpIndex(r.vcpu);
        if (!v || !this.#synicActive(v)) {
          this.deliveries.push({ gsi, route, outcome: "synic inactive", vp: r.vcpu, sint: r.sint });
          continue;
        }
        const x = this.#sint(v, r.sint);
        if ((x & SINT_MASKED) !== 0n) this.deliveries.push({ gsi, route, outcome: "masked", vp: r.vcpu, sint: r.sint });
        else this.deliveries.push({ gsi, route, outcome: "delivered", vp: r.vcpu, sint: r.sint, vector: Number(x & 0xffn) });
      } else if (r.type === KVM_IRQ_ROUTING_MSI) {
        this.deliveries.push({ gsi, route, outcome: "delivered", apicId: (r.addressLo >>> 12) & 0xff, vector: r.data & 0xff });
      } else this.deliveries.push({ gsi, route, outcome: "irqchip" });
    }
  }
  createEventfd(): EventfdRef {
    this.#maybeFail("eventfd");
    const fd = this.#nextFd++;
    this.#eventfds.set(fd, { counter: 0 });
    this.#record("eventfd", "host", `fd=${fd}`);
    return { kind: "eventfd", fd };
  }
  /** An eventfd write (not recorded in `calls`: it is no ioctl); see `deliveries` for what it raised. */
  signalEventfd(e: EventfdRef): boolean {
    return this.#write(e.fd);
  }
  readEventfd(e: EventfdRef): number {
    const x = this.#eventfds.get(e.fd);
    if (!x) throw KvmIoctlError.of("read", 9, `eventfd ${e.fd}`); // EBADF
    const n = x.counter;
    x.counter = 0;
    return n;
  }
  closeEventfd(e: EventfdRef): void {
    this.#record("close", "host", `fd=${e.fd}`);
    this.#eventfds.delete(e.fd);
    // KVM drops an irqfd whose eventfd goes away (irqfd_wakeup on EPOLLHUP).
    for (let i = this.#irqfds.length - 1; i >= 0; i--) if (this.#irqfds[i].fd === e.fd) this.#irqfds.splice(i, 1);
  }
  /**
   * KVM_SET_GSI_ROUTING as `kvm_vm_ioctl` + `kvm_set_irq_routing` check it: in-kernel irqchip, flags 0,
   * at most KVM_MAX_IRQ_ROUTES entries each with a GSI below it; irqchip entries name a PIC/IOAPIC pin,
   * never twice the same chip per GSI; an MSI or HV_SINT entry is the only one of its GSI; HV_SINT only
   * with in-kernel Hyper-V (KVM_CAP_HYPERV_SYNIC). Then `kvm_hv_irq_routing_update`.
   */
  setGsiRouting(_vm: VmRef, routing: KvmIrqRouting): void {
    const nr = routing.nr;
    const types = new Map<string, number>();
    for (let i = 0; i < nr; i++) {
      const t = irqRouteTypeName(routing.raw(i).type);
      types.set(t, (types.get(t) ?? 0) + 1);
    }
    this.#record("KVM_SET_GSI_ROUTING", "vm", `${nr} entries`, ...[...types].map(([t, n]) => `${n} ${t}`));
    this.#maybeFail("KVM_SET_GSI_ROUTING");
    const einval = (why: string) => KvmIoctlError.of("KVM_SET_GSI_ROUTING", EINVAL, why);
    if (!this.#vm?.irqchip) throw einval("no in-kernel irqchip");
    const max = this.#cap("KVM_CAP_IRQ_ROUTING") || KVM_MAX_IRQ_ROUTES;
    if (routing.flags !== 0 || nr > max) throw einval(`${nr} entries`);
    const byGsi = new Map<number, IrqRoute[]>();
    for (let i = 0; i < nr; i++) {
      const raw = routing.raw(i);
      if (raw.gsi >= max || raw.flags !== 0) throw einval(`entry ${i}`);
      if (raw.type === KVM_IRQ_ROUTING_HV_SINT && this.#cap("KVM_CAP_HYPERV_SYNIC") <= 0) throw einval(`entry ${i}: KVM_IRQ_ROUTING_HV_SINT`);
      if (raw.type !== KVM_IRQ_ROUTING_IRQCHIP && raw.type !== KVM_IRQ_ROUTING_MSI && raw.type !== KVM_IRQ_ROUTING_HV_SINT) {
        throw einval(`entry ${i}: ${irqRouteTypeName(raw.type)}`);
      }
    }
    const entries = routing.entries();
    for (const r of entries) {
      const same = byGsi.get(r.gsi) ?? [];
      if (r.type === KVM_IRQ_ROUTING_IRQCHIP) {
        const pins = r.irqchip === KVM_IRQCHIP_IOAPIC ? 24 : r.irqchip === KVM_IRQCHIP_PIC_MASTER || r.irqchip === KVM_IRQCHIP_PIC_SLAVE ? 8 : 0;
        if (r.pin >= pins) throw einval(`GSI ${r.gsi}: irqchip ${r.irqchip} pin ${r.pin}`);
        if (same.some((x) => x.type !== KVM_IRQ_ROUTING_IRQCHIP || x.irqchip === r.irqchip)) throw einval(`GSI ${r.gsi} routed twice`);
      } else if (same.length > 0) throw einval(`GSI ${r.gsi} routed twice`);
      same.push(r);
      byGsi.set(r.gsi, same);
    }
    this.#routes = entries;
    // kvm_hv_irq_routing_update -> kvm_hv_set_sint_gsi: only for VPs whose SynIC is active (else -EINVAL, ignored).
    for (const r of entries) {
      if (r.type !== KVM_IRQ_ROUTING_HV_SINT || r.sint >= HV_SYNIC_SINT_COUNT) continue;
      const v = this.#byVpIndex(r.vcpu);
      if (v && this.#synicActive(v)) v.sintToGsi[r.sint] = r.gsi;
    }
  }
  /** KVM_IRQFD assign (`kvm_irqfd_assign`): in-kernel irqchip (the full one for a resamplefd), a live eventfd not bound already. */
  irqfd(_vm: VmRef, e: EventfdRef, gsi: number, resample?: EventfdRef): void {
    this.#record("KVM_IRQFD", "vm", `fd=${e.fd}`, `gsi=${gsi}`, ...(resample ? [`resamplefd=${resample.fd}`] : []));
    this.#maybeFail("KVM_IRQFD");
    if (this.#cap("KVM_CAP_IRQFD") <= 0) throw KvmIoctlError.of("KVM_IRQFD", 25); // ENOTTY
    if (resample && this.#cap("KVM_CAP_IRQFD_RESAMPLE") <= 0) throw KvmIoctlError.of("KVM_IRQFD", EINVAL, "no KVM_CAP_IRQFD_RESAMPLE");
    if (!this.#vm?.irqchip) throw KvmIoctlError.of("KVM_IRQFD", EINVAL, "no in-kernel irqchip");
    if (!this.#eventfds.has(e.fd) || (resample && !this.#eventfds.has(resample.fd))) throw KvmIoctlError.of("KVM_IRQFD", 9); // EBADF
    if (this.#irqfds.some((f) => f.fd === e.fd)) throw KvmIoctlError.of("KVM_IRQFD", 16); // EBUSY
    this.#irqfds.push({ fd: e.fd, gsi, ...(resample ? { resamplefd: resample.fd } : {}) });
  }
  /** KVM_IRQFD deassign (`kvm_irqfd_deassign`): removes (fd, gsi); 0 even when absent. */
  irqfdDeassign(_vm: VmRef, e: EventfdRef, gsi: number): void {
    this.#record("KVM_IRQFD", "vm", `fd=${e.fd}`, `gsi=${gsi}`, "deassign");
    for (let i = this.#irqfds.length - 1; i >= 0; i--) if (this.#irqfds[i].fd === e.fd && this.#irqfds[i].gsi === gsi) this.#irqfds.splice(i, 1);
  }
  /** KVM_HYPERV_EVENTFD assign (`kvm_hv_eventfd_assign`): ENOTTY without in-kernel Hyper-V, EINVAL above 24 bits, EEXIST when bound. */
  hypervEventfd(_vm: VmRef, connId: number, e: EventfdRef): void {
    this.#record("KVM_HYPERV_EVENTFD", "vm", `conn=0x${connId.toString(16)}`, `fd=${e.fd}`);
    this.#maybeFail("KVM_HYPERV_EVENTFD");
    if (this.#cap("KVM_CAP_HYPERV_EVENTFD") <= 0) throw KvmIoctlError.of("KVM_HYPERV_EVENTFD", 25); // ENOTTY
    if ((connId & ~KVM_HYPERV_CONN_ID_MASK) !== 0) throw KvmIoctlError.of("KVM_HYPERV_EVENTFD", EINVAL);
    if (!this.#eventfds.has(e.fd)) throw KvmIoctlError.of("KVM_HYPERV_EVENTFD", 9);
    if (this.#hvEventfds.has(connId)) throw KvmIoctlError.of("KVM_HYPERV_EVENTFD", EEXIST);
    this.#hvEventfds.set(connId, e.fd);
  }
  /** KVM_HYPERV_EVENTFD deassign: ENOENT when `connId` has no eventfd. */
  hypervEventfdDeassign(_vm: VmRef, connId: number): void {
    this.#record("KVM_HYPERV_EVENTFD", "vm", `conn=0x${connId.toString(16)}`, "deassign");
    if (this.#cap("KVM_CAP_HYPERV_EVENTFD") <= 0) throw KvmIoctlError.of("KVM_HYPERV_EVENTFD", 25);
    if (!this.#hvEventfds.delete(connId)) throw KvmIoctlError.of("KVM_HYPERV_EVENTFD", 2); // ENOENT
  }
  /** The GSI routing table KVM holds (KVM's default after KVM_CREATE_IRQCHIP). */
  gsiRoutes(): readonly IrqRoute[] {
    return this.#routes;
  }
  /** The irqfds bound: eventfd, GSI, resamplefd. */
  irqfds(): readonly { readonly fd: number; readonly gsi: number; readonly resamplefd?: number }[] {
    return this.#irqfds.map((f) => ({ ...f }));
  }
  /** KVM_HYPERV_EVENTFD bindings: connection id -> eventfd. */
  hypervEventfds(): ReadonlyMap<number, number> {
    return new Map(this.#hvEventfds);
  }
  /** Eventfd `fd`'s counter without taking it (undefined: not open). */
  eventfdCount(fd: number): number | undefined {
    return this.#eventfds.get(fd)?.counter;
  }
  /** vCPU `id`'s SINT -> GSI map as KVM recorded it (-1: none). */
  sintToGsi(id: number): number[] {
    const v = this.#byId(id);
    if (!v) throw new RangeError(`no simulated vCPU ${id}`);
    return [...v.sintToGsi];
  }
  readHypervExit(vcpu: VcpuRef, into: HypervExit): HypervExit {
    return decodeHypervExit(this.#vcpu(vcpu).run, into);
  }
  setHypercallResult(vcpu: VcpuRef, status: number): void {
    const v = this.#vcpu(vcpu);
    v.run.view.setUint32(48, status & 0xffff, true);
    v.run.view.setUint32(52, 0, true);
    const list = this.hypercallResults.get(vcpu.id) ?? [];
    list.push(v.run.view.getUint32(48, true));
    this.hypercallResults.set(vcpu.id, list);
  }
  systemEventType(vcpu: VcpuRef): number {
    return this.#vcpu(vcpu).run.systemEventType;
  }
  ioExit(vcpu: VcpuRef): IoExit {
    return ioExitOf(this.#vcpu(vcpu).run);
  }
  /** The vCPU's simulated `kvm_run` (to read what userspace wrote back). */
  kvmRun(id: number): KvmRun {
    const v = [...this.#vcpus.values()].find((x) => x.id === id);
    if (!v) throw new RangeError(`no simulated vCPU ${id}`);
    return v.run;
  }
  close(): void {
    this.#record("close", "system");
    this.#vcpus.clear();
    this.#vm = undefined;
    this.#eventfds.clear();
    this.#irqfds.length = 0;
    this.#hvEventfds.clear();
    this.#routes = [];
  }
}
