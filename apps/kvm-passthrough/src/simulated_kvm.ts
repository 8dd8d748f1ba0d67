/**
 * A simulated KVM for tests: answers capabilities and `KVM_GET_SUPPORTED_HV_CPUID` from a configurable
 * {@link SimulatedHost}, behaves like KVM where the backend could get it wrong (KVM_ENABLE_CAP of an
 * absent capability, KVM_CREATE_IRQCHIP after a vCPU, VP_INDEX without KVM_CAP_HYPERV_VP_INDEX,
 * CRASH_CTL keeping only bit 63), produces scripted `KVM_EXIT_HYPERV` / `KVM_EXIT_SYSTEM_EVENT` exits
 * through a real `KvmRun` buffer (so the real decoder runs), and records every call as
 * "IOCTL target args" in {@link SimulatedKvm.calls}.
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
  HV_X64_MSR_SINT0,
  HV_X64_MSR_SINT15,
  HV_SYNIC_SINT_RESET,
  HV_X64_MSR_VP_INDEX,
  type CpuidBit,
  HvFeatureEdx,
  HvNestedEax,
  HvPrivilegeEax,
  HvPrivilegeEbx,
  HvRecommendationEax,
  HvSyndbgEax,
} from "@hv/tlfs";
import {
  KVM_CAPS,
  KVM_EXIT_HYPERV_HCALL,
  KVM_EXIT_HYPERV_SYNIC,
  KVM_EXIT_IO,
  KVM_EXIT_IO_OUT,
  KVM_EXIT_SHUTDOWN,
  KVM_EXIT_SYSTEM_EVENT,
  KVM_SYSTEM_EVENT,
  type KvmCapName,
  KvmIoctlError,
  KvmRun,
} from "@hv/kvm";
import { type CpuidLeaf, encodeVendor } from "@hv/x86";
import {
  decodeHypervExit,
  encodeHypervExit,
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
  KVM_CAP_X86_USER_SPACE_MSR: 1, KVM_CAP_X86_MSR_FILTER: 1, KVM_CAP_SYSTEM_EVENT_DATA: 1,
};

/**
 * What the simulated kernel answers:
 * - `name`: for messages;
 * - `unavailable`: when set, /dev/kvm "cannot be opened" with this reason;
 * - `caps`: KVM_CHECK_EXTENSION by KVM name (absent = 0);
 * - `hvCpuid`: KVM_GET_SUPPORTED_HV_CPUID (undefined: the ioctl fails, as without KVM_CAP_SYS_HYPERV_CPUID);
 * - `supportedCpuid`: KVM_GET_SUPPORTED_CPUID;
 * - `evmcsVersion`: the u16 KVM_ENABLE_CAP(KVM_CAP_HYPERV_ENLIGHTENED_VMCS) writes back (0x0101: 1..1).
 */
export interface SimulatedHost {
  readonly name: string;
  readonly unavailable?: string;
  readonly caps: Readonly<Partial<Record<KvmCapName, number>>>;
  readonly hvCpuid?: readonly CpuidLeaf[];
  readonly supportedCpuid: readonly CpuidLeaf[];
  readonly evmcsVersion: number;
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

/** A Hyper-V-capable host edited: `caps` overrides (0 removes one), `hvCpuid` replaced or edited per leaf. */
export function hostWith(
  base: SimulatedHost,
  edit: {
    readonly name?: string;
    readonly caps?: Readonly<Partial<Record<KvmCapName, number>>>;
    readonly hvCpuid?: (leaves: readonly CpuidLeaf[]) => readonly CpuidLeaf[] | undefined;
    readonly evmcsVersion?: number;
  },
): SimulatedHost {
  return {
    ...base,
    name: edit.name ?? `${base.name} (edited)`,
    caps: { ...base.caps, ...edit.caps },
    hvCpuid: edit.hvCpuid && base.hvCpuid ? edit.hvCpuid(base.hvCpuid) : base.hvCpuid,
    evmcsVersion: edit.evmcsVersion ?? base.evmcsVersion,
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
  | { readonly kind: "shutdown" };

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
  cpuid?: readonly CpuidLeaf[];
}

/**
 * The simulated kernel (see the module doc). Besides the {@link KvmService} methods:
 * - `calls`/`log()`: every call, in order (`log()` renders "KVM_ENABLE_CAP vcpu0 KVM_CAP_HYPERV_SYNIC2");
 * - `queueExit(vcpuId, ...exits)`: what the next KVM_RUNs of that vCPU return (scriptable before the vCPU exists);
 * - `hypercallResults`: every `hcall.result` userspace wrote, per vCPU id;
 * - `vcpuState(id)`: the CPUID, MSRs and enabled capabilities KVM holds for a vCPU.
 * KVM's crash MSRs are per VM (`struct kvm_hv`); the simulation keeps them on the VM too.
 */
export class SimulatedKvm implements KvmService {
  readonly kind = "simulated";
  readonly host: SimulatedHost;
  readonly calls: KvmCall[] = [];
  readonly hypercallResults = new Map<number, number[]>();
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
  }
  createVcpu(vm: VmRef, id: number): VcpuRef {
    this.#record("KVM_CREATE_VCPU", "vm", id);
    if (!this.#vm || this.#vm.fd !== vm.fd) throw KvmIoctlError.of("KVM_CREATE_VCPU", 9);
    if ([...this.#vcpus.values()].some((v) => v.id === id)) throw KvmIoctlError.of("KVM_CREATE_VCPU", EEXIST, `vCPU ${id}`);
    const fd = this.#nextFd++;
    this.#vcpus.set(fd, { id, run: new KvmRun(new Uint8Array(8192)), msrs: new Map(), exits: this.#pending.get(id) ?? [], caps: new Set() });
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
    const e = v.exits.shift();
    if (!e) throw new Error(`simulated vCPU ${vcpu.id} has no scripted exit left`);
    const view = v.run.view;
    const ex: HypervExit = newHypervExit();
    switch (e.kind) {
      case "synic":
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
  }
}
