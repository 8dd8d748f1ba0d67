/**
 * KVM capability numbers (`KVM_CAP_*`, include/uapi/linux/kvm.h) and the capability report
 * `hv doctor --json` prints: the API version and the KVM_CHECK_EXTENSION answer for every
 * capability listed in {@link KVM_CAPS}.
 *
 * KVM_CHECK_EXTENSION returns 0 when a capability is absent and a positive value when present; for some
 * the value is a number (KVM_CAP_NR_VCPUS: recommended vCPUs, KVM_CAP_MAX_VCPUS, KVM_CAP_X86_DISABLE_EXITS:
 * a bitmask of exits that may be disabled, KVM_CAP_X86_USER_SPACE_MSR: 1, ...), see
 * Documentation/virt/kvm/api.rst §8.
 * @module
 */
import { Schema } from "effect";

/** Every capability this VMM looks at, by KVM name, with its number. */
export const KVM_CAPS = {
  KVM_CAP_IRQCHIP: 0,
  KVM_CAP_HLT: 1,
  KVM_CAP_USER_MEMORY: 3,
  KVM_CAP_SET_TSS_ADDR: 4,
  KVM_CAP_EXT_CPUID: 7,
  KVM_CAP_NR_VCPUS: 9,
  KVM_CAP_NR_MEMSLOTS: 10,
  KVM_CAP_MP_STATE: 14,
  KVM_CAP_SYNC_MMU: 16,
  KVM_CAP_USER_NMI: 22,
  KVM_CAP_IRQ_ROUTING: 25,
  KVM_CAP_IRQFD: 32,
  KVM_CAP_PIT2: 33,
  KVM_CAP_IOEVENTFD: 36,
  KVM_CAP_SET_IDENTITY_MAP_ADDR: 37,
  KVM_CAP_ADJUST_CLOCK: 39,
  KVM_CAP_INTERNAL_ERROR_DATA: 40,
  KVM_CAP_VCPU_EVENTS: 41,
  KVM_CAP_HYPERV: 44,
  KVM_CAP_HYPERV_VAPIC: 45,
  KVM_CAP_HYPERV_SPIN: 46,
  KVM_CAP_DEBUGREGS: 50,
  KVM_CAP_ENABLE_CAP: 54,
  KVM_CAP_XSAVE: 55,
  KVM_CAP_XCRS: 56,
  KVM_CAP_TSC_CONTROL: 60,
  KVM_CAP_GET_TSC_KHZ: 61,
  KVM_CAP_MAX_VCPUS: 66,
  KVM_CAP_ONE_REG: 70,
  KVM_CAP_TSC_DEADLINE_TIMER: 72,
  KVM_CAP_SYNC_REGS: 74,
  KVM_CAP_KVMCLOCK_CTRL: 76,
  KVM_CAP_SIGNAL_MSI: 77,
  KVM_CAP_READONLY_MEM: 81,
  KVM_CAP_IRQFD_RESAMPLE: 82,
  KVM_CAP_HYPERV_TIME: 96,
  KVM_CAP_ENABLE_CAP_VM: 98,
  KVM_CAP_CHECK_EXTENSION_VM: 105,
  KVM_CAP_DISABLE_QUIRKS: 116,
  KVM_CAP_X86_SMM: 117,
  KVM_CAP_SPLIT_IRQCHIP: 121,
  KVM_CAP_HYPERV_SYNIC: 123,
  KVM_CAP_MAX_VCPU_ID: 128,
  KVM_CAP_X2APIC_API: 129,
  KVM_CAP_IMMEDIATE_EXIT: 136,
  KVM_CAP_X86_DISABLE_EXITS: 143,
  KVM_CAP_HYPERV_SYNIC2: 148,
  KVM_CAP_HYPERV_VP_INDEX: 149,
  KVM_CAP_GET_MSR_FEATURES: 153,
  KVM_CAP_HYPERV_EVENTFD: 154,
  KVM_CAP_HYPERV_TLBFLUSH: 155,
  KVM_CAP_NESTED_STATE: 157,
  KVM_CAP_MSR_PLATFORM_INFO: 159,
  KVM_CAP_HYPERV_SEND_IPI: 161,
  KVM_CAP_COALESCED_PIO: 162,
  KVM_CAP_HYPERV_ENLIGHTENED_VMCS: 163,
  KVM_CAP_EXCEPTION_PAYLOAD: 164,
  KVM_CAP_HYPERV_CPUID: 167,
  KVM_CAP_HYPERV_DIRECT_TLBFLUSH: 175,
  KVM_CAP_HALT_POLL: 182,
  KVM_CAP_STEAL_TIME: 187,
  KVM_CAP_X86_USER_SPACE_MSR: 188,
  KVM_CAP_X86_MSR_FILTER: 189,
  KVM_CAP_ENFORCE_PV_FEATURE_CPUID: 190,
  KVM_CAP_SYS_HYPERV_CPUID: 191,
  KVM_CAP_X86_BUS_LOCK_EXIT: 193,
  KVM_CAP_HYPERV_ENFORCE_CPUID: 199,
  KVM_CAP_SREGS2: 200,
  KVM_CAP_EXIT_HYPERCALL: 201,
  KVM_CAP_BINARY_STATS_FD: 203,
  KVM_CAP_EXIT_ON_EMULATION_FAILURE: 204,
  KVM_CAP_XSAVE2: 208,
  KVM_CAP_SYS_ATTRIBUTES: 209,
  KVM_CAP_VM_TSC_CONTROL: 214,
  KVM_CAP_SYSTEM_EVENT_DATA: 215,
  KVM_CAP_X86_TRIPLE_FAULT_EVENT: 218,
  KVM_CAP_X86_NOTIFY_VMEXIT: 219,
  KVM_CAP_X86_APIC_BUS_CYCLES_NS: 237,
} as const;

/** A capability name from {@link KVM_CAPS}. */
export type KvmCapName = keyof typeof KVM_CAPS;

/** `KVM_CAP_IRQCHIP` (0): in-kernel PIC/IOAPIC/LAPIC (KVM_CREATE_IRQCHIP). */
export const KVM_CAP_IRQCHIP = 0;
/** `KVM_CAP_HLT` (1). */
export const KVM_CAP_HLT = 1;
/** `KVM_CAP_USER_MEMORY` (3): KVM_SET_USER_MEMORY_REGION. */
export const KVM_CAP_USER_MEMORY = 3;
/** `KVM_CAP_SET_TSS_ADDR` (4). */
export const KVM_CAP_SET_TSS_ADDR = 4;
/** `KVM_CAP_EXT_CPUID` (7): KVM_GET_SUPPORTED_CPUID / KVM_SET_CPUID2. */
export const KVM_CAP_EXT_CPUID = 7;
/** `KVM_CAP_NR_VCPUS` (9): recommended maximum vCPUs per VM. */
export const KVM_CAP_NR_VCPUS = 9;
/** `KVM_CAP_IRQFD` (32): KVM_IRQFD. */
export const KVM_CAP_IRQFD = 32;
/** `KVM_CAP_IRQFD_RESAMPLE` (82): KVM_IRQFD with KVM_IRQFD_FLAG_RESAMPLE (needs the full in-kernel irqchip). */
export const KVM_CAP_IRQFD_RESAMPLE = 82;
/** `KVM_CAP_HYPERV_SYNIC` (123): KVM's in-kernel SynIC (and KVM_IRQ_ROUTING_HV_SINT routes). */
export const KVM_CAP_HYPERV_SYNIC = 123;
/** `KVM_CAP_HYPERV_SYNIC2` (148): SynIC without zeroing the message/event pages on enable. */
export const KVM_CAP_HYPERV_SYNIC2 = 148;
/** `KVM_CAP_HYPERV_EVENTFD` (154): KVM_HYPERV_EVENTFD. */
export const KVM_CAP_HYPERV_EVENTFD = 154;
/** `KVM_CAP_PIT2` (33): KVM_CREATE_PIT2. */
export const KVM_CAP_PIT2 = 33;
/** `KVM_CAP_IRQ_ROUTING` (25): KVM_SET_GSI_ROUTING; the value is KVM_MAX_IRQ_ROUTES (4096 on x86). */
export const KVM_CAP_IRQ_ROUTING = 25;
/** `KVM_CAP_HYPERV` (44): KVM's own Hyper-V MSR emulation (0 when unsupported, e.g. under PVM). */
export const KVM_CAP_HYPERV = 44;
/** `KVM_CAP_HYPERV_VAPIC` (45). */
export const KVM_CAP_HYPERV_VAPIC = 45;
/** `KVM_CAP_HYPERV_SPIN` (46). */
export const KVM_CAP_HYPERV_SPIN = 46;
/** `KVM_CAP_XSAVE` (55). */
export const KVM_CAP_XSAVE = 55;
/**
 * `KVM_CAP_XSAVE2` (208): KVM_GET_XSAVE2; the value is the byte size of the vCPU XSAVE area
 * (at least 4096, sizeof(struct kvm_xsave); larger with dynamically enabled features such as AMX).
 */
export const KVM_CAP_XSAVE2 = 208;
/** `KVM_CAP_DEBUGREGS` (50): KVM_GET/SET_DEBUGREGS. */
export const KVM_CAP_DEBUGREGS = 50;
/** `KVM_CAP_VCPU_EVENTS` (41): KVM_GET/SET_VCPU_EVENTS. */
export const KVM_CAP_VCPU_EVENTS = 41;
/** `KVM_CAP_XCRS` (56): KVM_GET/SET_XCRS. */
export const KVM_CAP_XCRS = 56;
/** `KVM_CAP_TSC_CONTROL` (60): per-vCPU KVM_SET_TSC_KHZ. */
export const KVM_CAP_TSC_CONTROL = 60;
/** `KVM_CAP_GET_TSC_KHZ` (61). */
export const KVM_CAP_GET_TSC_KHZ = 61;
/** `KVM_CAP_MAX_VCPUS` (66): hard maximum vCPUs per VM. */
export const KVM_CAP_MAX_VCPUS = 66;
/** `KVM_CAP_SIGNAL_MSI` (77): KVM_SIGNAL_MSI. */
export const KVM_CAP_SIGNAL_MSI = 77;
/** `KVM_CAP_SPLIT_IRQCHIP` (121): in-kernel LAPIC only, PIC/IOAPIC in userspace. */
export const KVM_CAP_SPLIT_IRQCHIP = 121;
/** `KVM_CAP_X2APIC_API` (129). */
export const KVM_CAP_X2APIC_API = 129;
/** `KVM_CAP_SYNC_REGS` (74): value = the KVM_SYNC_X86_* mask `kvm_run.kvm_valid_regs`/`kvm_dirty_regs` accept (7 on x86). */
export const KVM_CAP_SYNC_REGS = 74;
/** `KVM_CAP_IMMEDIATE_EXIT` (136): `kvm_run.immediate_exit`. */
export const KVM_CAP_IMMEDIATE_EXIT = 136;
/** `KVM_CAP_X86_DISABLE_EXITS` (143): value = bitmask of disableable exits (MWAIT 1, HLT 2, PAUSE 4, CSTATE 8). */
export const KVM_CAP_X86_DISABLE_EXITS = 143;
/** `KVM_CAP_X86_USER_SPACE_MSR` (188): enable with args[0] = KVM_MSR_EXIT_REASON_* mask. */
export const KVM_CAP_X86_USER_SPACE_MSR = 188;
/** `KVM_CAP_X86_MSR_FILTER` (189): KVM_X86_SET_MSR_FILTER. */
export const KVM_CAP_X86_MSR_FILTER = 189;
/** `KVM_CAP_HYPERV_CPUID` (167): vCPU KVM_GET_SUPPORTED_HV_CPUID. */
export const KVM_CAP_HYPERV_CPUID = 167;
/** `KVM_CAP_SYS_HYPERV_CPUID` (191): system KVM_GET_SUPPORTED_HV_CPUID. */
export const KVM_CAP_SYS_HYPERV_CPUID = 191;
/** `KVM_CAP_VM_TSC_CONTROL` (214): VM-wide KVM_SET_TSC_KHZ. */
export const KVM_CAP_VM_TSC_CONTROL = 214;

/** Bits of `KVM_ENABLE_CAP(KVM_CAP_X86_USER_SPACE_MSR)` args[0]: which failed RDMSR/WRMSRs exit to userspace. */
export const KVM_MSR_EXIT_REASON_INVAL = 1 << 0;
/** The MSR is unknown to KVM. */
export const KVM_MSR_EXIT_REASON_UNKNOWN = 1 << 1;
/** The MSR filter denied the access. */
export const KVM_MSR_EXIT_REASON_FILTER = 1 << 2;

/**
 * The capability report document (`hv doctor --json` embeds it):
 * - `apiVersion`: KVM_GET_API_VERSION (12);
 * - `caps`: every name in {@link KVM_CAPS} with the KVM_CHECK_EXTENSION value on the system fd
 *   (0 = absent; positive = present, some with a numeric meaning).
 */
export const CapabilityReport = Schema.Struct({
  apiVersion: Schema.Int,
  caps: Schema.Record(Schema.String, Schema.Int),
});
/** The decoded {@link CapabilityReport}. */
export type CapabilityReport = typeof CapabilityReport.Type;

/** What {@link probeCapabilities} needs from a KVM system (or VM) fd wrapper. */
export interface ExtensionSource {
  readonly apiVersion: number;
  checkExtension(cap: number): number;
}

/**
 * Asks KVM_CHECK_EXTENSION for every capability in {@link KVM_CAPS}. A capability KVM does not know
 * answers 0 (KVM returns 0, not an error, for unknown numbers). Throws KvmIoctlError only if the
 * ioctl itself fails (bad fd).
 */
export function probeCapabilities(kvm: ExtensionSource): CapabilityReport {
  const caps: Record<string, number> = {};
  for (const [name, n] of Object.entries(KVM_CAPS)) caps[name] = kvm.checkExtension(n);
  return { apiVersion: kvm.apiVersion, caps };
}
