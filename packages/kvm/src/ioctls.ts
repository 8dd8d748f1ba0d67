/**
 * KVM ioctl request numbers, by KVM's names, computed the way `<asm-generic/ioctl.h>` does:
 * `dir << 30 | size << 16 | type << 8 | nr` with `type` = KVMIO (0xAE), `_IOC_WRITE` = 1 and
 * `_IOC_READ` = 2, and `size` the byte size of the argument struct on x86-64.
 *
 * Source: include/uapi/linux/kvm.h (ioctl definitions), arch/x86/include/uapi/asm/kvm.h (struct sizes),
 * Documentation/virt/kvm/api.rst §4 (which fd each ioctl goes to).
 * @module
 */

/** KVM's ioctl type byte (`#define KVMIO 0xAE`). */
export const KVMIO = 0xae;

const IOC_NONE = 0;
const IOC_WRITE = 1;
const IOC_READ = 2;

/** `_IOC(dir, type, nr, size)`: the request number as an unsigned 32-bit number. */
export function _IOC(dir: number, type: number, nr: number, size: number): number {
  if (size < 0 || size >= 1 << 14) throw new RangeError(`ioctl size ${size} does not fit in 14 bits`);
  return ((dir << 30) | (size << 16) | (type << 8) | nr) >>> 0;
}
/** `_IO(type, nr)`: no argument struct (the argument, if any, is a plain integer). */
export const _IO = (type: number, nr: number): number => _IOC(IOC_NONE, type, nr, 0);
/** `_IOR(type, nr, size)`: the kernel writes a struct of `size` bytes to userspace. */
export const _IOR = (type: number, nr: number, size: number): number => _IOC(IOC_READ, type, nr, size);
/** `_IOW(type, nr, size)`: the kernel reads a struct of `size` bytes from userspace. */
export const _IOW = (type: number, nr: number, size: number): number => _IOC(IOC_WRITE, type, nr, size);
/** `_IOWR(type, nr, size)`: both directions. */
export const _IOWR = (type: number, nr: number, size: number): number => _IOC(IOC_READ | IOC_WRITE, type, nr, size);

/**
 * Byte sizes of the ioctl argument structs on x86-64 (what `sizeof` gives; flexible array members
 * count 0). The struct codecs in `structs/` use the same numbers.
 */
export const STRUCT_SIZE = {
  kvm_msr_list: 4,
  kvm_cpuid2: 8,
  kvm_userspace_memory_region: 32,
  kvm_pit_config: 64,
  kvm_regs: 144,
  kvm_sregs: 312,
  kvm_msrs: 8,
  kvm_fpu: 416,
  kvm_lapic_state: 1024,
  kvm_mp_state: 4,
  kvm_irq_level: 8,
  kvm_msi: 32,
  kvm_vcpu_events: 64,
  kvm_interrupt: 4,
  kvm_enable_cap: 104,
  kvm_msr_filter: 392,
  kvm_xcrs: 392,
  kvm_clock_data: 48,
  kvm_signal_mask: 4,
  kvm_irq_routing: 8,
  kvm_irqfd: 32,
  kvm_hyperv_eventfd: 24,
  kvm_debugregs: 128,
  kvm_xsave: 4096,
  u64: 8,
} as const;

const S = STRUCT_SIZE;

/** `/dev/kvm` ioctl: returns KVM_API_VERSION (12). */
export const KVM_GET_API_VERSION = _IO(KVMIO, 0x00);
/** `/dev/kvm` ioctl: argument = machine type (0); returns a VM fd. */
export const KVM_CREATE_VM = _IO(KVMIO, 0x01);
/** `/dev/kvm` ioctl: `struct kvm_msr_list` in/out; E2BIG with the needed count when too small. */
export const KVM_GET_MSR_INDEX_LIST = _IOWR(KVMIO, 0x02, S.kvm_msr_list);
/** `/dev/kvm` or VM ioctl: argument = KVM_CAP_*; returns 0 (absent) or a positive value. */
export const KVM_CHECK_EXTENSION = _IO(KVMIO, 0x03);
/** `/dev/kvm` ioctl: returns the byte size of the vCPU fd's mmap (kvm_run + PIO/coalesced pages). */
export const KVM_GET_VCPU_MMAP_SIZE = _IO(KVMIO, 0x04);
/** `/dev/kvm` ioctl: `struct kvm_cpuid2` in/out; E2BIG when `nent` is too small. */
export const KVM_GET_SUPPORTED_CPUID = _IOWR(KVMIO, 0x05, S.kvm_cpuid2);
/** `/dev/kvm` ioctl: `struct kvm_msr_list` of feature MSRs (KVM_CAP_GET_MSR_FEATURES). */
export const KVM_GET_MSR_FEATURE_INDEX_LIST = _IOWR(KVMIO, 0x0a, S.kvm_msr_list);
/** `/dev/kvm` (KVM_CAP_SYS_HYPERV_CPUID) or vCPU (KVM_CAP_HYPERV_CPUID) ioctl: `struct kvm_cpuid2` of Hyper-V leaves. */
export const KVM_GET_SUPPORTED_HV_CPUID = _IOWR(KVMIO, 0xc1, S.kvm_cpuid2);

/** VM ioctl: argument = vCPU id; returns a vCPU fd. */
export const KVM_CREATE_VCPU = _IO(KVMIO, 0x41);
/** VM ioctl: `struct kvm_userspace_memory_region` (0x4020AE46). */
export const KVM_SET_USER_MEMORY_REGION = _IOW(KVMIO, 0x46, S.kvm_userspace_memory_region);
/** VM ioctl: argument = GPA of a 3-page region KVM uses for the real-mode TSS (Intel). */
export const KVM_SET_TSS_ADDR = _IO(KVMIO, 0x47);
/** VM ioctl: pointer to a u64 GPA of the 1-page EPT identity map (Intel). */
export const KVM_SET_IDENTITY_MAP_ADDR = _IOW(KVMIO, 0x48, S.u64);
/** VM ioctl: creates the in-kernel PIC, IOAPIC and per-vCPU LAPICs (before any vCPU). */
export const KVM_CREATE_IRQCHIP = _IO(KVMIO, 0x60);
/** VM ioctl: `struct kvm_irq_level` (GSI, level) for the in-kernel irqchip. */
export const KVM_IRQ_LINE = _IOW(KVMIO, 0x61, S.kvm_irq_level);
/** VM ioctl: `struct kvm_pit_config`; creates the in-kernel i8254 PIT. */
export const KVM_CREATE_PIT2 = _IOW(KVMIO, 0x77, S.kvm_pit_config);
/** VM ioctl: `struct kvm_clock_data` (kvmclock base). */
export const KVM_SET_CLOCK = _IOW(KVMIO, 0x7b, S.kvm_clock_data);
/** VM ioctl: `struct kvm_clock_data` out. */
export const KVM_GET_CLOCK = _IOR(KVMIO, 0x7c, S.kvm_clock_data);
/** VM (KVM_CAP_VM_TSC_CONTROL) or vCPU (KVM_CAP_TSC_CONTROL) ioctl: argument = TSC frequency in kHz. */
export const KVM_SET_TSC_KHZ = _IO(KVMIO, 0xa2);
/** VM or vCPU ioctl (KVM_CAP_GET_TSC_KHZ): returns the TSC frequency in kHz. */
export const KVM_GET_TSC_KHZ = _IO(KVMIO, 0xa3);
/** VM ioctl: `struct kvm_msi`; injects an MSI (KVM_CAP_SIGNAL_MSI); returns >0 delivered, 0 blocked. */
export const KVM_SIGNAL_MSI = _IOW(KVMIO, 0xa5, S.kvm_msi);
/** KVM_GET_VCPU_EVENTS (vCPU): pending exceptions, interrupts, NMI and SIPI state (`struct kvm_vcpu_events`, 64 bytes). */
export const KVM_GET_VCPU_EVENTS = _IOR(KVMIO, 0x9f, S.kvm_vcpu_events);
/** KVM_SET_VCPU_EVENTS (vCPU): sets them, e.g. to inject an exception. */
export const KVM_SET_VCPU_EVENTS = _IOW(KVMIO, 0xa0, S.kvm_vcpu_events);
/**
 * VM ioctl (KVM_CAP_IRQ_ROUTING): `struct kvm_irq_routing` (header + `nr` 48-byte entries) replaces
 * the whole GSI routing table (0x4008AE6A). EINVAL for a bad entry (an unknown type, e.g.
 * KVM_IRQ_ROUTING_HV_SINT on a kernel without CONFIG_KVM_HYPERV; a GSI >= KVM_MAX_IRQ_ROUTES; two
 * non-irqchip routes on one GSI) or `nr` > KVM_MAX_IRQ_ROUTES.
 */
export const KVM_SET_GSI_ROUTING = _IOW(KVMIO, 0x6a, S.kvm_irq_routing);
/**
 * VM ioctl (KVM_CAP_IRQFD): `struct kvm_irqfd`; binds an eventfd to a GSI (signalling it raises the
 * GSI), or with KVM_IRQFD_FLAG_DEASSIGN unbinds it (0x4020AE76). EBUSY when the eventfd is already
 * bound; EINVAL without an in-kernel irqchip (resample needs the full one).
 */
export const KVM_IRQFD = _IOW(KVMIO, 0x76, S.kvm_irqfd);
/**
 * VM ioctl (KVM_CAP_HYPERV_EVENTFD): `struct kvm_hyperv_eventfd`; KVM signals the eventfd when the
 * guest's HvSignalEvent names `conn_id` (flag number 0), without a userspace exit (0x4018AEBD).
 * EEXIST when `conn_id` has one, ENOENT deassigning one that has none, EINVAL for bits above 23.
 */
export const KVM_HYPERV_EVENTFD = _IOW(KVMIO, 0xbd, S.kvm_hyperv_eventfd);
/** VM ioctl: `struct kvm_msr_filter` (KVM_CAP_X86_MSR_FILTER). */
export const KVM_X86_SET_MSR_FILTER = _IOW(KVMIO, 0xc6, S.kvm_msr_filter);

/** vCPU ioctl: enters the guest until an exit; the exit is described in the mmapped `kvm_run`. */
export const KVM_RUN = _IO(KVMIO, 0x80);
/** vCPU ioctl: `struct kvm_regs` out. */
export const KVM_GET_REGS = _IOR(KVMIO, 0x81, S.kvm_regs);
/** vCPU ioctl: `struct kvm_regs` in (0x4090AE82). */
export const KVM_SET_REGS = _IOW(KVMIO, 0x82, S.kvm_regs);
/** vCPU ioctl: `struct kvm_sregs` out (0x8138AE83). */
export const KVM_GET_SREGS = _IOR(KVMIO, 0x83, S.kvm_sregs);
/** vCPU ioctl: `struct kvm_sregs` in (0x4138AE84). */
export const KVM_SET_SREGS = _IOW(KVMIO, 0x84, S.kvm_sregs);
/** vCPU ioctl: `struct kvm_interrupt`; queues an external interrupt (only without in-kernel irqchip). */
export const KVM_INTERRUPT = _IOW(KVMIO, 0x86, S.kvm_interrupt);
/** vCPU (or `/dev/kvm` for feature MSRs) ioctl: `struct kvm_msrs` in/out; returns the number of MSRs read. */
export const KVM_GET_MSRS = _IOWR(KVMIO, 0x88, S.kvm_msrs);
/** vCPU ioctl: `struct kvm_msrs` in; returns the number of MSRs written (stops at the first failure). */
export const KVM_SET_MSRS = _IOW(KVMIO, 0x89, S.kvm_msrs);
/** vCPU ioctl: `struct kvm_signal_mask` (signals unblocked only while in KVM_RUN). */
export const KVM_SET_SIGNAL_MASK = _IOW(KVMIO, 0x8b, S.kvm_signal_mask);
/** vCPU ioctl: `struct kvm_fpu` out. */
export const KVM_GET_FPU = _IOR(KVMIO, 0x8c, S.kvm_fpu);
/** vCPU ioctl: `struct kvm_fpu` in. */
export const KVM_SET_FPU = _IOW(KVMIO, 0x8d, S.kvm_fpu);
/** vCPU ioctl: `struct kvm_lapic_state` out (in-kernel LAPIC only). */
export const KVM_GET_LAPIC = _IOR(KVMIO, 0x8e, S.kvm_lapic_state);
/** vCPU ioctl: `struct kvm_lapic_state` in. */
export const KVM_SET_LAPIC = _IOW(KVMIO, 0x8f, S.kvm_lapic_state);
/** vCPU ioctl: `struct kvm_cpuid2` in; E2BIG when `nent` exceeds KVM_MAX_CPUID_ENTRIES. */
export const KVM_SET_CPUID2 = _IOW(KVMIO, 0x90, S.kvm_cpuid2);
/** vCPU ioctl: `struct kvm_mp_state` out. */
export const KVM_GET_MP_STATE = _IOR(KVMIO, 0x98, S.kvm_mp_state);
/** vCPU ioctl: `struct kvm_mp_state` in. */
export const KVM_SET_MP_STATE = _IOW(KVMIO, 0x99, S.kvm_mp_state);
/** vCPU ioctl: injects an NMI (KVM_CAP_USER_NMI). */
export const KVM_NMI = _IO(KVMIO, 0x9a);
/** vCPU or VM (KVM_CAP_ENABLE_CAP_VM) ioctl: `struct kvm_enable_cap`. */
export const KVM_ENABLE_CAP = _IOW(KVMIO, 0xa3, S.kvm_enable_cap);
/** vCPU ioctl (KVM_CAP_DEBUGREGS): `struct kvm_debugregs` out, DR0-3, DR6, DR7 (0x8080AEA1). */
export const KVM_GET_DEBUGREGS = _IOR(KVMIO, 0xa1, S.kvm_debugregs);
/** vCPU ioctl: `struct kvm_debugregs` in (0x4080AEA2); EINVAL for nonzero `flags` or DR6/DR7 bits 63:32 set. */
export const KVM_SET_DEBUGREGS = _IOW(KVMIO, 0xa2, S.kvm_debugregs);
/**
 * vCPU ioctl (KVM_CAP_XSAVE): `struct kvm_xsave` out, the 4096-byte XSAVE area (0x9000AEA4). EINVAL
 * when the vCPU's area is larger (dynamically enabled features): use KVM_GET_XSAVE2.
 */
export const KVM_GET_XSAVE = _IOR(KVMIO, 0xa4, S.kvm_xsave);
/**
 * vCPU ioctl: `struct kvm_xsave` in (0x5000AEA5). KVM reads the vCPU's whole area: 4096 bytes, or
 * KVM_CHECK_EXTENSION(KVM_CAP_XSAVE2) bytes when that is larger. EINVAL for XSTATE_BV bits KVM does not support.
 */
export const KVM_SET_XSAVE = _IOW(KVMIO, 0xa5, S.kvm_xsave);
/**
 * vCPU ioctl (KVM_CAP_XSAVE2): the whole XSAVE area out, KVM_CHECK_EXTENSION(KVM_CAP_XSAVE2) bytes
 * (the request encodes sizeof(struct kvm_xsave) = 4096 regardless: 0x9000AECF).
 */
export const KVM_GET_XSAVE2 = _IOR(KVMIO, 0xcf, S.kvm_xsave);
/** vCPU ioctl: `struct kvm_xcrs` out (KVM_CAP_XCRS). */
export const KVM_GET_XCRS = _IOR(KVMIO, 0xa6, S.kvm_xcrs);
/** vCPU ioctl: `struct kvm_xcrs` in. */
export const KVM_SET_XCRS = _IOW(KVMIO, 0xa7, S.kvm_xcrs);

/**
 * Every ioctl above by name, for error messages and diagnostics (`IOCTL_NAME.get(req)`).
 * Some share an nr (0xa2: KVM_SET_TSC_KHZ, KVM_SET_DEBUGREGS; 0xa3: KVM_GET_TSC_KHZ, KVM_ENABLE_CAP;
 * 0xa5: KVM_SIGNAL_MSI, KVM_SET_XSAVE) but differ in direction or size, so the numbers are unique.
 */
export const IOCTLS: Readonly<Record<string, number>> = {
  KVM_GET_API_VERSION,
  KVM_CREATE_VM,
  KVM_GET_MSR_INDEX_LIST,
  KVM_CHECK_EXTENSION,
  KVM_GET_VCPU_MMAP_SIZE,
  KVM_GET_SUPPORTED_CPUID,
  KVM_GET_MSR_FEATURE_INDEX_LIST,
  KVM_GET_SUPPORTED_HV_CPUID,
  KVM_CREATE_VCPU,
  KVM_SET_USER_MEMORY_REGION,
  KVM_SET_TSS_ADDR,
  KVM_SET_IDENTITY_MAP_ADDR,
  KVM_CREATE_IRQCHIP,
  KVM_IRQ_LINE,
  KVM_CREATE_PIT2,
  KVM_SET_CLOCK,
  KVM_GET_CLOCK,
  KVM_SET_TSC_KHZ,
  KVM_GET_TSC_KHZ,
  KVM_SIGNAL_MSI,
  KVM_SET_GSI_ROUTING,
  KVM_IRQFD,
  KVM_HYPERV_EVENTFD,
  KVM_X86_SET_MSR_FILTER,
  KVM_RUN,
  KVM_GET_REGS,
  KVM_SET_REGS,
  KVM_GET_SREGS,
  KVM_SET_SREGS,
  KVM_INTERRUPT,
  KVM_GET_MSRS,
  KVM_SET_MSRS,
  KVM_SET_SIGNAL_MASK,
  KVM_GET_FPU,
  KVM_SET_FPU,
  KVM_GET_LAPIC,
  KVM_SET_LAPIC,
  KVM_SET_CPUID2,
  KVM_GET_MP_STATE,
  KVM_SET_MP_STATE,
  KVM_NMI,
  KVM_ENABLE_CAP,
  KVM_GET_XCRS,
  KVM_SET_XCRS,
  KVM_GET_DEBUGREGS,
  KVM_SET_DEBUGREGS,
  KVM_GET_XSAVE,
  KVM_SET_XSAVE,
  KVM_GET_XSAVE2,
  KVM_GET_VCPU_EVENTS,
  KVM_SET_VCPU_EVENTS,
};

/** Reverse map of {@link IOCTLS}: request number to KVM name. */
export const IOCTL_NAME: ReadonlyMap<number, string> = new Map(Object.entries(IOCTLS).map(([k, v]) => [v, k]));
