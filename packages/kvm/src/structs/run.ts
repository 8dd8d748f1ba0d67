/**
 * `struct kvm_run` (include/uapi/linux/kvm.h), the page KVM shares with userspace through
 * `mmap(vcpu_fd, 0)`: the request flags userspace sets before KVM_RUN, and after it the exit reason
 * with its union of exit details (api.rst §5 "The kvm_run structure").
 *
 * Layout (x86-64): request_interrupt_window @0, immediate_exit @1, exit_reason @8 (u32),
 * ready_for_interrupt_injection @12, if_flag @13, flags @14 (u16), cr8 @16, apic_base @24, the exit
 * union @32 (256 bytes), kvm_valid_regs @288, kvm_dirty_regs @296, sync regs @304. IO data lives
 * elsewhere in the mapping, at `io.data_offset` (usually the next page, KVM_PIO_PAGE_OFFSET).
 *
 * Sync regs (KVM_CAP_SYNC_REGS, api.rst "kvm_valid_regs/kvm_dirty_regs"): `s` is a 2048-byte union
 * holding `struct kvm_sync_regs { struct kvm_regs regs; struct kvm_sregs sregs; struct kvm_vcpu_events
 * events; }` (arch/x86/include/uapi/asm/kvm.h), so regs @304 (144 bytes), sregs @448 (312 bytes),
 * events @760 (64 bytes). For each KVM_SYNC_X86_* bit set in `kvm_valid_regs`, KVM copies that state
 * into `s` whenever KVM_RUN returns; for each bit set in `kvm_dirty_regs`, KVM loads it from `s` at the
 * next KVM_RUN (before completing the exit) and clears the bit.
 * @module
 */
import { KVM_REGS_SIZE, KvmRegs } from "./regs.ts";
import { KVM_SREGS_SIZE, KvmSregs } from "./sregs.ts";
import { getU64, KvmStruct, setU64, setU64Halves } from "./struct.ts";

/** `KVM_EXIT_*`: `kvm_run.exit_reason` values, by KVM name. */
export const KVM_EXIT = {
  KVM_EXIT_UNKNOWN: 0,
  KVM_EXIT_EXCEPTION: 1,
  KVM_EXIT_IO: 2,
  KVM_EXIT_HYPERCALL: 3,
  KVM_EXIT_DEBUG: 4,
  KVM_EXIT_HLT: 5,
  KVM_EXIT_MMIO: 6,
  KVM_EXIT_IRQ_WINDOW_OPEN: 7,
  KVM_EXIT_SHUTDOWN: 8,
  KVM_EXIT_FAIL_ENTRY: 9,
  KVM_EXIT_INTR: 10,
  KVM_EXIT_SET_TPR: 11,
  KVM_EXIT_TPR_ACCESS: 12,
  KVM_EXIT_NMI: 16,
  KVM_EXIT_INTERNAL_ERROR: 17,
  KVM_EXIT_SYSTEM_EVENT: 24,
  KVM_EXIT_IOAPIC_EOI: 26,
  KVM_EXIT_HYPERV: 27,
  KVM_EXIT_X86_RDMSR: 29,
  KVM_EXIT_X86_WRMSR: 30,
  KVM_EXIT_DIRTY_RING_FULL: 31,
  KVM_EXIT_AP_RESET_HOLD: 32,
  KVM_EXIT_X86_BUS_LOCK: 33,
  KVM_EXIT_NOTIFY: 37,
  KVM_EXIT_MEMORY_FAULT: 39,
} as const;

/** `KVM_EXIT_UNKNOWN` (0): `hw.hardware_exit_reason` says why. */
export const KVM_EXIT_UNKNOWN = 0;
/** `KVM_EXIT_EXCEPTION` (1). */
export const KVM_EXIT_EXCEPTION = 1;
/** `KVM_EXIT_IO` (2): port IO; see {@link KvmRun.ioDirection} and friends. */
export const KVM_EXIT_IO = 2;
/** `KVM_EXIT_HYPERCALL` (3). */
export const KVM_EXIT_HYPERCALL = 3;
/** `KVM_EXIT_DEBUG` (4). */
export const KVM_EXIT_DEBUG = 4;
/** `KVM_EXIT_HLT` (5): the guest executed HLT (only without in-kernel LAPIC). */
export const KVM_EXIT_HLT = 5;
/** `KVM_EXIT_MMIO` (6): an access to a GPA not backed by a memory slot. */
export const KVM_EXIT_MMIO = 6;
/** `KVM_EXIT_IRQ_WINDOW_OPEN` (7): the guest can take an interrupt (after request_interrupt_window). */
export const KVM_EXIT_IRQ_WINDOW_OPEN = 7;
/** `KVM_EXIT_SET_TPR` (11): the guest wrote CR8 without an in-kernel LAPIC; `kvm_run.cr8` has the value. */
export const KVM_EXIT_SET_TPR = 11;
/** `KVM_EXIT_SHUTDOWN` (8): triple fault. */
export const KVM_EXIT_SHUTDOWN = 8;
/** `KVM_EXIT_FAIL_ENTRY` (9): VM entry failed; `fail_entry.hardware_entry_failure_reason`. */
export const KVM_EXIT_FAIL_ENTRY = 9;
/** `KVM_EXIT_INTR` (10): a signal interrupted KVM_RUN (the ioctl also fails with EINTR). */
export const KVM_EXIT_INTR = 10;
/** `KVM_EXIT_INTERNAL_ERROR` (17): KVM could not handle something (emulation failure...); see `internal`. */
export const KVM_EXIT_INTERNAL_ERROR = 17;
/** `KVM_EXIT_SYSTEM_EVENT` (24): shutdown/reset/crash request; see `system_event`. */
export const KVM_EXIT_SYSTEM_EVENT = 24;
/** `KVM_EXIT_HYPERV` (27): SynIC MSR write or Hyper-V hypercall (KVM's own Hyper-V emulation). */
export const KVM_EXIT_HYPERV = 27;
/** `KVM_EXIT_X86_RDMSR` (29): RDMSR forwarded to userspace (KVM_CAP_X86_USER_SPACE_MSR). */
export const KVM_EXIT_X86_RDMSR = 29;
/** `KVM_EXIT_X86_WRMSR` (30): WRMSR forwarded to userspace. */
export const KVM_EXIT_X86_WRMSR = 30;

/** Reverse map: exit reason number to KVM name (for logs; "KVM_EXIT_<n>" for others via {@link exitReasonName}). */
export const KVM_EXIT_NAME: ReadonlyMap<number, string> = new Map(Object.entries(KVM_EXIT).map(([k, v]) => [v, k]));

/** The KVM name of exit reason `n`, or `KVM_EXIT_<n>` when unknown here. */
export function exitReasonName(n: number): string {
  return KVM_EXIT_NAME.get(n) ?? `KVM_EXIT_${n}`;
}

/** `kvm_run.io.direction`: IN (guest reads from the port; userspace fills the data). */
export const KVM_EXIT_IO_IN = 0;
/** `kvm_run.io.direction`: OUT (guest writes to the port). */
export const KVM_EXIT_IO_OUT = 1;

/** `kvm_run.hyperv.type`: SynIC MSR write. */
export const KVM_EXIT_HYPERV_SYNIC = 1;
/** `kvm_run.hyperv.type`: hypercall. */
export const KVM_EXIT_HYPERV_HCALL = 2;
/** `kvm_run.hyperv.type`: synthetic debugger MSR write. */
export const KVM_EXIT_HYPERV_SYNDBG = 3;

/** `kvm_run.system_event.type` values. */
export const KVM_SYSTEM_EVENT = {
  SHUTDOWN: 1,
  RESET: 2,
  CRASH: 3,
  WAKEUP: 4,
  SUSPEND: 5,
  SEV_TERM: 6,
  TDX_FATAL: 7,
} as const;

/** `kvm_run.internal.suberror` values. */
export const KVM_INTERNAL_ERROR = { EMULATION: 1, SIMUL_EX: 2, DELIVERY_EV: 3, UNEXPECTED_EXIT_REASON: 4 } as const;

const U = 32; // start of the exit union

/** `KVM_SYNC_X86_REGS`: `kvm_valid_regs`/`kvm_dirty_regs` bit for `s.regs.regs` (struct kvm_regs). */
export const KVM_SYNC_X86_REGS = 1 << 0;
/** `KVM_SYNC_X86_SREGS`: bit for `s.regs.sregs` (struct kvm_sregs). */
export const KVM_SYNC_X86_SREGS = 1 << 1;
/** `KVM_SYNC_X86_EVENTS`: bit for `s.regs.events` (struct kvm_vcpu_events). */
export const KVM_SYNC_X86_EVENTS = 1 << 2;
/** `KVM_SYNC_X86_VALID_FIELDS`: every bit KVM accepts; others make KVM_RUN fail with EINVAL. */
export const KVM_SYNC_X86_VALID_FIELDS = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS | KVM_SYNC_X86_EVENTS;

/** Byte offset of `kvm_run.kvm_valid_regs` (u64). */
export const KVM_RUN_VALID_REGS_OFFSET = 288;
/** Byte offset of `kvm_run.kvm_dirty_regs` (u64). */
export const KVM_RUN_DIRTY_REGS_OFFSET = 296;
/** Byte offset of `kvm_run.s.regs.regs` (struct kvm_regs, 144 bytes). */
export const KVM_RUN_SYNC_REGS_OFFSET = 304;
/** Byte offset of `kvm_run.s.regs.sregs` (struct kvm_sregs, 312 bytes). */
export const KVM_RUN_SYNC_SREGS_OFFSET = KVM_RUN_SYNC_REGS_OFFSET + KVM_REGS_SIZE; // 448
/** Byte offset of `kvm_run.s.regs.events` (struct kvm_vcpu_events, 64 bytes). */
export const KVM_RUN_SYNC_EVENTS_OFFSET = KVM_RUN_SYNC_SREGS_OFFSET + KVM_SREGS_SIZE; // 760
/** sizeof(struct kvm_vcpu_events). */
export const KVM_VCPU_EVENTS_SIZE = 64;
/** `SYNC_REGS_SIZE_BYTES`: the size of the `s` union. */
export const KVM_SYNC_REGS_SIZE_BYTES = 2048;

/**
 * A view of a vCPU's mmapped `kvm_run`. Every accessor reads or writes the shared page in place
 * (no allocation). The union accessors are only meaningful for their exit reason.
 *
 * Not a copy: KVM writes the page during KVM_RUN, and another thread's mapping of the same vCPU fd
 * sees the same bytes (that is how {@link immediateExit} kicks work).
 */
export class KvmRun extends KvmStruct {
  /**
   * `s.regs.regs`: the general-purpose registers, RIP and RFLAGS, synced by KVM at every exit while
   * {@link kvmValidRegs} has {@link KVM_SYNC_X86_REGS}. A zero-copy {@link KvmRegs} over the mapping:
   * `syncRegs.words` is a `GprFile`. After changing it, set {@link KVM_SYNC_X86_REGS} in
   * {@link kvmDirtyRegs} so the next KVM_RUN loads it (instead of KVM_SET_REGS).
   */
  readonly syncRegs: KvmRegs;
  /** `s.regs.sregs`: segments, control registers and EFER, synced while {@link KVM_SYNC_X86_SREGS} is valid (zero copy). */
  readonly syncSregs: KvmSregs;
  /** `s.regs.events`: the raw `struct kvm_vcpu_events` (64 bytes), synced while {@link KVM_SYNC_X86_EVENTS} is valid. */
  readonly syncEvents: Uint8Array<ArrayBuffer>;

  /** Wraps the mapping (`bytes` must span the whole mmap size, so IO data at `data_offset` is reachable). */
  constructor(bytes: Uint8Array<ArrayBuffer>) {
    super(Math.min(bytes.byteLength, 4096), bytes);
    const at = (off: number, len: number) => this.bytes.subarray(off, off + len);
    this.syncRegs = new KvmRegs(at(KVM_RUN_SYNC_REGS_OFFSET, KVM_REGS_SIZE));
    this.syncSregs = new KvmSregs(at(KVM_RUN_SYNC_SREGS_OFFSET, KVM_SREGS_SIZE));
    this.syncEvents = at(KVM_RUN_SYNC_EVENTS_OFFSET, KVM_VCPU_EVENTS_SIZE);
  }

  /** `request_interrupt_window` (u8, in): ask for KVM_EXIT_IRQ_WINDOW_OPEN when the guest can take an interrupt. */
  get requestInterruptWindow(): number {
    return this.bytes[0];
  }
  set requestInterruptWindow(v: number) {
    this.bytes[0] = v;
  }
  /** `immediate_exit` (u8, in; KVM_CAP_IMMEDIATE_EXIT): when nonzero, KVM_RUN returns EINTR at once. */
  get immediateExit(): number {
    return this.bytes[1];
  }
  set immediateExit(v: number) {
    this.bytes[1] = v;
  }
  /** `exit_reason` (u32, out): one of {@link KVM_EXIT}. */
  get exitReason(): number {
    return this.view.getUint32(8, true);
  }
  /** `ready_for_interrupt_injection` (u8, out): KVM_INTERRUPT would be accepted now. */
  get readyForInterruptInjection(): number {
    return this.bytes[12];
  }
  /** `if_flag` (u8, out): the guest's RFLAGS.IF. */
  get ifFlag(): number {
    return this.bytes[13];
  }
  /** `flags` (u16, out): KVM_RUN_X86_SMM (1), KVM_RUN_X86_BUS_LOCK (2), KVM_RUN_X86_GUEST_MODE (4). */
  get flags(): number {
    return this.view.getUint16(14, true);
  }
  /** `cr8` (u64 in/out). */
  get cr8(): number {
    return getU64(this.view, 16);
  }
  set cr8(v: number) {
    setU64(this.view, 16, v);
  }
  /** `apic_base` (u64 in/out). */
  get apicBase(): number {
    return getU64(this.view, 24);
  }
  set apicBase(v: number) {
    setU64(this.view, 24, v);
  }

  // --- sync regs (KVM_CAP_SYNC_REGS) ----------------------------------------------------------
  /**
   * `kvm_valid_regs` (u64 in; only bits 0..2 are defined, so read/written as its low 32 bits): which
   * KVM_SYNC_X86_* areas of `s` KVM fills when KVM_RUN returns. KVM leaves it as userspace set it.
   * Bits outside the KVM_CAP_SYNC_REGS answer make KVM_RUN fail with EINVAL.
   */
  get kvmValidRegs(): number {
    return this.view.getUint32(KVM_RUN_VALID_REGS_OFFSET, true);
  }
  set kvmValidRegs(v: number) {
    setU64Halves(this.view, KVM_RUN_VALID_REGS_OFFSET, v, 0);
  }
  /** `kvm_dirty_regs` (u64 in/out, low 32 bits): which areas of `s` the next KVM_RUN loads into the vCPU; KVM clears each bit it consumed. */
  get kvmDirtyRegs(): number {
    return this.view.getUint32(KVM_RUN_DIRTY_REGS_OFFSET, true);
  }
  set kvmDirtyRegs(v: number) {
    setU64Halves(this.view, KVM_RUN_DIRTY_REGS_OFFSET, v, 0);
  }

  // --- KVM_EXIT_UNKNOWN / KVM_EXIT_FAIL_ENTRY -------------------------------------------------
  /** `hw.hardware_exit_reason` (KVM_EXIT_UNKNOWN). */
  get hardwareExitReason(): number {
    return getU64(this.view, U);
  }
  /** `fail_entry.hardware_entry_failure_reason` (KVM_EXIT_FAIL_ENTRY). */
  get failEntryReason(): number {
    return getU64(this.view, U);
  }
  /** `fail_entry.cpu` (KVM_EXIT_FAIL_ENTRY): the host CPU. */
  get failEntryCpu(): number {
    return this.view.getUint32(U + 8, true);
  }

  // --- KVM_EXIT_IO ----------------------------------------------------------------------------
  /** `io.direction`: {@link KVM_EXIT_IO_IN} or {@link KVM_EXIT_IO_OUT}. */
  get ioDirection(): number {
    return this.bytes[U];
  }
  /** `io.size`: access size in bytes (1, 2, 4). */
  get ioSize(): number {
    return this.bytes[U + 1];
  }
  /** `io.port`. */
  get ioPort(): number {
    return this.view.getUint16(U + 2, true);
  }
  /** `io.count`: repetitions (string IO); data holds `count * size` bytes. */
  get ioCount(): number {
    return this.view.getUint32(U + 4, true);
  }
  /** `io.data_offset`: byte offset of the data within the mapping. */
  get ioDataOffset(): number {
    return getU64(this.view, U + 8);
  }
  /** The first IO datum (`size` bytes, little-endian, zero-extended); for OUT the value written. */
  get ioData(): number {
    const off = this.ioDataOffset;
    switch (this.bytes[U + 1]) {
      case 1:
        return this.bytes[off];
      case 2:
        return this.view.getUint16(off, true);
      default:
        return this.view.getUint32(off, true);
    }
  }
  /** For IN: stores the value the guest reads (first datum, `size` bytes). */
  set ioData(v: number) {
    const off = this.ioDataOffset;
    switch (this.bytes[U + 1]) {
      case 1:
        this.bytes[off] = v;
        break;
      case 2:
        this.view.setUint16(off, v, true);
        break;
      default:
        this.view.setUint32(off, v >>> 0, true);
    }
  }

  // --- KVM_EXIT_MMIO --------------------------------------------------------------------------
  /** `mmio.phys_addr`: the GPA accessed. */
  get mmioPhysAddr(): number {
    return getU64(this.view, U);
  }
  /** `mmio.len`: bytes accessed (1..8). */
  get mmioLen(): number {
    return this.view.getUint32(U + 16, true);
  }
  /** `mmio.is_write`: 1 for a store (data holds the value), 0 for a load (fill data). */
  get mmioIsWrite(): number {
    return this.bytes[U + 20];
  }
  /** Byte `i` (0..7) of `mmio.data`. */
  mmioByte(i: number): number {
    return this.bytes[U + 8 + i];
  }
  /** Low 32 bits of `mmio.data` (little-endian). */
  get mmioDataLo(): number {
    return this.view.getUint32(U + 8, true);
  }
  /** High 32 bits of `mmio.data`. */
  get mmioDataHi(): number {
    return this.view.getUint32(U + 12, true);
  }
  /** Sets `mmio.data` for a load, as 32-bit halves (only `len` bytes are used). */
  setMmioData(lo: number, hi = 0): void {
    setU64Halves(this.view, U + 8, lo, hi);
  }

  // --- KVM_EXIT_X86_RDMSR / KVM_EXIT_X86_WRMSR ------------------------------------------------
  /** `msr.error` (u8, user -> kernel): 1 makes the guest take #GP(0) instead of completing the access. */
  get msrError(): number {
    return this.bytes[U];
  }
  set msrError(v: number) {
    this.bytes[U] = v;
  }
  /** `msr.reason` (u32): KVM_MSR_EXIT_REASON_INVAL (1), _UNKNOWN (2) or _FILTER (4). */
  get msrReason(): number {
    return this.view.getUint32(U + 8, true);
  }
  /** `msr.index` (u32): the MSR number (ECX). */
  get msrIndex(): number {
    return this.view.getUint32(U + 12, true);
  }
  /** Low half of `msr.data` (EAX); for WRMSR the value written. */
  get msrDataLo(): number {
    return this.view.getUint32(U + 16, true);
  }
  /** High half of `msr.data` (EDX). */
  get msrDataHi(): number {
    return this.view.getUint32(U + 20, true);
  }
  /** `msr.data` as a number (exact below 2^53). */
  get msrData(): number {
    return getU64(this.view, U + 16);
  }
  /** For RDMSR: the value KVM loads into EDX:EAX on re-entry, as halves. */
  setMsrData(lo: number, hi: number): void {
    setU64Halves(this.view, U + 16, lo, hi);
  }

  // --- KVM_EXIT_INTERNAL_ERROR ----------------------------------------------------------------
  /** `internal.suberror`: {@link KVM_INTERNAL_ERROR}. */
  get internalSuberror(): number {
    return this.view.getUint32(U, true);
  }
  /** `internal.ndata`: valid entries of `internal.data` (<= 16). */
  get internalNdata(): number {
    return this.view.getUint32(U + 4, true);
  }
  /** `internal.data[i]` as a number. */
  internalData(i: number): number {
    return getU64(this.view, U + 8 + i * 8);
  }

  // --- KVM_EXIT_SYSTEM_EVENT ------------------------------------------------------------------
  /** `system_event.type`: {@link KVM_SYSTEM_EVENT}. */
  get systemEventType(): number {
    return this.view.getUint32(U, true);
  }
  /** `system_event.ndata` (KVM_CAP_SYSTEM_EVENT_DATA). */
  get systemEventNdata(): number {
    return this.view.getUint32(U + 4, true);
  }
  /** `system_event.data[i]` as a number (data[0] is the old `flags`). */
  systemEventData(i: number): number {
    return getU64(this.view, U + 8 + i * 8);
  }

  // --- KVM_EXIT_HYPERV ------------------------------------------------------------------------
  /** `hyperv.type`: {@link KVM_EXIT_HYPERV_SYNIC}, {@link KVM_EXIT_HYPERV_HCALL} or {@link KVM_EXIT_HYPERV_SYNDBG}. */
  get hypervType(): number {
    return this.view.getUint32(U, true);
  }
  /** `hyperv.u.synic.msr`: the SynIC MSR written (SCONTROL, SIEFP, SIMP). */
  get hypervSynicMsr(): number {
    return this.view.getUint32(U + 8, true);
  }
  /** `hyperv.u.synic.control`. */
  get hypervSynicControl(): number {
    return getU64(this.view, U + 16);
  }
  /** `hyperv.u.synic.evt_page`. */
  get hypervSynicEvtPage(): number {
    return getU64(this.view, U + 24);
  }
  /** `hyperv.u.synic.msg_page`. */
  get hypervSynicMsgPage(): number {
    return getU64(this.view, U + 32);
  }
  /** Low half of `hyperv.u.hcall.input` (the hypercall input value: code, flags, counts). */
  get hypervHcallInputLo(): number {
    return this.view.getUint32(U + 8, true);
  }
  /** High half of `hyperv.u.hcall.input`. */
  get hypervHcallInputHi(): number {
    return this.view.getUint32(U + 12, true);
  }
  /** `hyperv.u.hcall.result`: set by userspace; KVM returns it to the guest in RAX. */
  get hypervHcallResult(): number {
    return getU64(this.view, U + 16);
  }
  set hypervHcallResult(v: number) {
    setU64(this.view, U + 16, v);
  }
  /** `hyperv.u.hcall.params[i]` (i = 0, 1: input and output GPAs, or fast-call register values). */
  hypervHcallParam(i: number): number {
    return getU64(this.view, U + 24 + i * 8);
  }
  /** Low half of `hyperv.u.hcall.params[i]` (exact for any 64-bit value). */
  hypervHcallParamLo(i: number): number {
    return this.view.getUint32(U + 24 + i * 8, true);
  }
  /** High half of `hyperv.u.hcall.params[i]`. */
  hypervHcallParamHi(i: number): number {
    return this.view.getUint32(U + 28 + i * 8, true);
  }
}
