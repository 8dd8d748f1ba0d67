/**
 * A KVM vCPU: its fd, its mmapped `kvm_run`, and preallocated codecs for the register ioctls, so the
 * exit path (`run()`, `getRegs()`, `setRegs()`, `kvmRun` accessors) allocates nothing.
 *
 * Threads: a vCPU created by `Vm.createVcpu` in the main thread can be run from a Deno Worker:
 * post {@link Vcpu.handle} (fd, mmap size, id) to the worker, which calls {@link Vcpu.attach} to map
 * `kvm_run` in its own isolate and then calls `run()` synchronously in a loop. File descriptors are
 * process-wide; the main thread keeps ownership and closes the fd. Kick a running vCPU with
 * {@link Vcpu.kick} (see `kick.ts`).
 *
 * Sync regs (KVM_CAP_SYNC_REGS): after {@link Vcpu.enableSyncRegs}, KVM copies the chosen register sets
 * into `kvm_run` at every exit, so the exit path reads them in place (`kvmRun.syncRegs`,
 * `kvmRun.syncSregs`) instead of KVM_GET_REGS/KVM_GET_SREGS, and writes registers back by changing
 * `kvmRun.syncRegs` and calling {@link Vcpu.markRegsDirty} instead of KVM_SET_REGS. The ioctl
 * getters and setters stay consistent with that: `getRegs()` first pushes registers still marked
 * dirty, `setRegs()` drops the dirty mark it supersedes.
 * @module
 */
import type { CpuidLeaf } from "@hv/x86";
import { KvmIoctlError } from "./errors.ts";
import {
  KVM_ENABLE_CAP,
  KVM_GET_DEBUGREGS,
  KVM_GET_FPU,
  KVM_GET_LAPIC,
  KVM_GET_MP_STATE,
  KVM_GET_MSRS,
  KVM_GET_REGS,
  KVM_GET_SREGS,
  KVM_GET_SUPPORTED_HV_CPUID,
  KVM_GET_TSC_KHZ,
  KVM_GET_VCPU_EVENTS,
  KVM_GET_XCRS,
  KVM_GET_XSAVE,
  KVM_GET_XSAVE2,
  KVM_INTERRUPT,
  KVM_NMI,
  KVM_RUN,
  KVM_SET_CPUID2,
  KVM_SET_DEBUGREGS,
  KVM_SET_FPU,
  KVM_SET_LAPIC,
  KVM_SET_MP_STATE,
  KVM_SET_MSRS,
  KVM_SET_REGS,
  KVM_SET_SREGS,
  KVM_SET_TSC_KHZ,
  KVM_SET_VCPU_EVENTS,
  KVM_SET_XCRS,
  KVM_SET_XSAVE,
} from "./ioctls.ts";
import { EAGAIN, EINTR, errno, libc, MAP_FAILED, MAP_SHARED, PROT_READ, PROT_WRITE } from "./libc.ts";
import { KICK_SIGNAL, kickThread } from "./kick.ts";
import { KvmCpuid2 } from "./structs/cpuid2.ts";
import { KvmDebugregs } from "./structs/debugregs.ts";
import { KvmEnableCap } from "./structs/enable_cap.ts";
import { KvmFpu } from "./structs/fpu.ts";
import { KvmInterrupt } from "./structs/irq.ts";
import { KvmLapicState } from "./structs/lapic.ts";
import { KvmMpState } from "./structs/mp_state.ts";
import { KvmMsrs } from "./structs/msrs.ts";
import { KvmRegs } from "./structs/regs.ts";
import { KVM_SYNC_X86_EVENTS, KVM_SYNC_X86_REGS, KVM_SYNC_X86_SREGS, KVM_SYNC_X86_VALID_FIELDS, KvmRun } from "./structs/run.ts";
import { KvmSregs } from "./structs/sregs.ts";
import { KvmVcpuEvents, VcpuEventsByte } from "./structs/vcpu_events.ts";
import { KvmXcrs } from "./structs/xcrs.ts";
import { KVM_XSAVE_SIZE, KvmXsave } from "./structs/xsave.ts";
import { closeFd, ioctlBuf, ioctlBufErrno, ioctlVal } from "./sys.ts";

/** What {@link Vcpu.run} returns when KVM_RUN failed with EINTR (a kick or another signal): not a KVM exit reason. */
export const KVM_RUN_INTERRUPTED = -1;
/**
 * What {@link Vcpu.run} returns when KVM_RUN failed with EAGAIN: an AP left the wait-for-SIPI state
 * (`kvm_arch_vcpu_ioctl_run` returns -EAGAIN after INIT/SIPI processing); call run() again.
 */
export const KVM_RUN_AGAIN = -2;

/** What a worker needs to attach to a vCPU: structured-clonable. */
export interface VcpuHandle {
  /** The vCPU fd (process-wide). */
  readonly fd: number;
  /** KVM_GET_VCPU_MMAP_SIZE, bytes. */
  readonly mmapSize: number;
  /** The vCPU id given to KVM_CREATE_VCPU (the initial APIC id). */
  readonly id: number;
}

/**
 * What saving and restoring a vCPU's state needs beyond the vCPU fd, which answers neither:
 * KVM_CHECK_EXTENSION (a VM or system fd ioctl) and KVM_GET_MSR_INDEX_LIST (a system fd ioctl).
 * A `Vm` (the {@link Vcpu.host} of the vCPUs it creates) or a `Kvm`.
 */
export interface VcpuHost {
  /** KVM_CHECK_EXTENSION: 0 absent, positive present (a size or count for some capabilities). */
  checkExtension(cap: number): number;
  /** KVM_GET_MSR_INDEX_LIST: the MSR indices KVM_GET_MSRS/KVM_SET_MSRS save and restore. */
  msrIndexList(): readonly number[];
}

/**
 * One vCPU fd with its `kvm_run` mapping. Codecs (`regs`, `sregs`, `fpu`, `lapic`, `mpState`, `xcrs`,
 * `debugregs`, `vcpuEvents`)
 * are filled in place by the getters, which return them; setters send them (or a given codec).
 * Every failing ioctl throws {@link KvmIoctlError}, except KVM_RUN's EINTR.
 */
export class Vcpu implements Disposable {
  /** The vCPU fd. */
  readonly fd: number;
  /** The vCPU id (initial APIC id). */
  readonly id: number;
  /** Bytes of the vCPU mapping (KVM_GET_VCPU_MMAP_SIZE). */
  readonly mmapSize: number;
  /** The mmapped `kvm_run` (exit reason and details; see {@link KvmRun}). */
  readonly kvmRun: KvmRun;
  /** `struct kvm_regs`, filled by {@link getRegs}. */
  readonly regs: KvmRegs = new KvmRegs();
  /** `struct kvm_sregs`, filled by {@link getSregs}. */
  readonly sregs: KvmSregs = new KvmSregs();
  /** `struct kvm_fpu`, filled by {@link getFpu}. */
  readonly fpu: KvmFpu = new KvmFpu();
  /** `struct kvm_lapic_state`, filled by {@link getLapic}. */
  readonly lapic: KvmLapicState = new KvmLapicState();
  /** `struct kvm_mp_state`. */
  readonly mpState: KvmMpState = new KvmMpState();
  /** `struct kvm_xcrs`, filled by {@link getXcrs}. */
  readonly xcrs: KvmXcrs = new KvmXcrs();
  /** `struct kvm_debugregs`, filled by {@link getDebugregs}. */
  readonly debugregs: KvmDebugregs = new KvmDebugregs();
  /** `struct kvm_vcpu_events`, filled by {@link getVcpuEvents} (and used by {@link injectException}). */
  readonly vcpuEvents: KvmVcpuEvents = new KvmVcpuEvents();
  /** The VM that created this vCPU ({@link VcpuHost}); undefined for a vCPU {@link attach}ed in a worker. */
  readonly host: VcpuHost | undefined;

  readonly #ownsFd: boolean;
  readonly #runPtr: Deno.PointerObject;
  readonly #ioctl: (fd: number, req: number, arg: bigint) => number;
  readonly #msr1 = new KvmMsrs(1);
  readonly #irq = new KvmInterrupt();
  readonly #cap = new KvmEnableCap();
  #syncMask = 0;
  #closed = false;

  private constructor(fd: number, id: number, mmapSize: number, ownsFd: boolean, host?: VcpuHost) {
    const lib = libc();
    const p = lib.mmap(null, BigInt(mmapSize), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0n);
    if (p === null || Deno.UnsafePointer.value(p) === MAP_FAILED) {
      const e = errno();
      if (ownsFd) closeFd(fd);
      throw KvmIoctlError.of("mmap", e, `kvm_run of vCPU ${id} (fd ${fd}, ${mmapSize} bytes)`);
    }
    this.fd = fd;
    this.id = id;
    this.mmapSize = mmapSize;
    this.#ownsFd = ownsFd;
    this.host = host;
    this.#runPtr = p;
    this.#ioctl = lib.ioctl_val;
    this.kvmRun = new KvmRun(new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(p, mmapSize)));
  }

  /**
   * Wraps a fresh vCPU fd from KVM_CREATE_VCPU (this object owns and closes the fd). Used by
   * `Vm.createVcpu`, which passes itself as `host`.
   */
  static fromCreated(fd: number, id: number, mmapSize: number, host?: VcpuHost): Vcpu {
    return new Vcpu(fd, id, mmapSize, true, host);
  }

  /**
   * Maps `kvm_run` of an existing vCPU fd in the calling thread (a Worker). The fd stays owned by
   * whoever created it: {@link close} here only unmaps, unless `ownsFd` is true.
   * Throws KvmIoctlError ("mmap") when the fd is not a vCPU fd.
   */
  static attach(fd: number, mmapSize: number, id = 0, ownsFd = false): Vcpu {
    return new Vcpu(fd, id, mmapSize, ownsFd);
  }

  /** The structured-clonable {@link VcpuHandle} to post to a Worker. */
  get handle(): VcpuHandle {
    return { fd: this.fd, mmapSize: this.mmapSize, id: this.id };
  }

  /**
   * KVM_RUN: enters the guest until the next exit. Returns `kvm_run.exit_reason` (KVM_EXIT_*), or
   * {@link KVM_RUN_INTERRUPTED} when KVM_RUN failed with EINTR (a signal, or immediate_exit set by a
   * kick), in which case `immediate_exit` is cleared. Throws KvmIoctlError for any other failure
   * (EFAULT: bad memory slot setup, ENOEXEC: invalid guest state, ...). No allocation.
   */
  run(): number {
    // Sync regs: KVM keeps kvm_valid_regs as set, but make sure (one load) that every exit is synced.
    if (this.#syncMask !== 0 && this.kvmRun.kvmValidRegs !== this.#syncMask) this.kvmRun.kvmValidRegs = this.#syncMask;
    const r = this.#ioctl(this.fd, KVM_RUN, 0n);
    if (r < 0) {
      const e = errno();
      if (e === EINTR) {
        this.kvmRun.immediateExit = 0;
        return KVM_RUN_INTERRUPTED;
      }
      if (e === EAGAIN) return KVM_RUN_AGAIN;
      throw KvmIoctlError.of("KVM_RUN", e, `vCPU ${this.id}`);
    }
    return this.kvmRun.exitReason;
  }

  /**
   * Kicks this vCPU out of KVM_RUN from another thread: sets `kvm_run.immediate_exit` through this
   * object's mapping, then `pthread_kill(thread, KICK_SIGNAL)` (SIGUSR2). `thread` is the vCPU thread's `pthread_t`
   * (`currentThread()` there; a number works too: glibc pthread_t values are user-space addresses, below 2^53). Requires `installKickHandler()`. Throws when the thread is gone.
   */
  kick(thread: bigint | number, signal: number = KICK_SIGNAL): void {
    this.kvmRun.immediateExit = 1;
    kickThread(thread, signal);
  }

  // --- sync regs ------------------------------------------------------------------------------
  /**
   * Asks KVM to sync `mask` (KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS | KVM_SYNC_X86_EVENTS) into
   * `kvmRun.s` at every exit from now on: sets `kvm_valid_regs`, which {@link run} re-asserts before
   * each entry should anything have cleared it. `mask` must be within what KVM_CHECK_EXTENSION
   * (KVM_CAP_SYNC_REGS) answered, or KVM_RUN fails with EINVAL; 0 turns syncing off.
   * The synced areas hold the state of the last exit only when {@link syncedRegs} includes them.
   */
  enableSyncRegs(mask: number): void {
    if ((mask & ~KVM_SYNC_X86_VALID_FIELDS) !== 0) throw new RangeError(`sync regs mask 0x${mask.toString(16)} has bits KVM does not define`);
    this.#syncMask = mask;
    this.kvmRun.kvmValidRegs = mask;
  }
  /** The mask given to {@link enableSyncRegs} (0: not syncing). */
  get syncRegsMask(): number {
    return this.#syncMask;
  }
  /** The KVM_SYNC_X86_* areas KVM filled at the last exit (`kvm_valid_regs` as KVM_RUN saw it). */
  get syncedRegs(): number {
    return this.kvmRun.kvmValidRegs;
  }
  /**
   * Marks `kvmRun.syncRegs` dirty (KVM_SYNC_X86_REGS in `kvm_dirty_regs`): the next KVM_RUN loads the
   * registers from it, as KVM_SET_REGS would, and clears the mark. Only after an exit that synced REGS.
   */
  markRegsDirty(): void {
    const run = this.kvmRun;
    run.kvmDirtyRegs = run.kvmDirtyRegs | KVM_SYNC_X86_REGS;
  }
  /**
   * Pushes the sync areas still marked dirty (of `bits`, default all) with the ioctls (KVM_SET_REGS,
   * KVM_SET_SREGS, KVM_SET_VCPU_EVENTS) and clears their marks, so that an ioctl getter sees them.
   */
  flushDirtyRegs(bits: number = KVM_SYNC_X86_VALID_FIELDS): void {
    const run = this.kvmRun;
    const d = run.kvmDirtyRegs & bits;
    if (d === 0) return;
    if (d & KVM_SYNC_X86_REGS) ioctlBuf(this.fd, KVM_SET_REGS, run.syncRegs.bytes);
    if (d & KVM_SYNC_X86_SREGS) ioctlBuf(this.fd, KVM_SET_SREGS, run.syncSregs.bytes);
    if (d & KVM_SYNC_X86_EVENTS) ioctlBuf(this.fd, KVM_SET_VCPU_EVENTS, run.syncEvents);
    run.kvmDirtyRegs = run.kvmDirtyRegs & ~d;
  }
  #dropDirty(bit: number): void {
    const run = this.kvmRun;
    const d = run.kvmDirtyRegs;
    if (d & bit) run.kvmDirtyRegs = d & ~bit;
  }

  // --- register ioctls ------------------------------------------------------------------------
  /** KVM_GET_REGS into {@link regs}; returns it. Registers marked dirty in the sync area are pushed first. */
  getRegs(): KvmRegs {
    if (this.kvmRun.kvmDirtyRegs & KVM_SYNC_X86_REGS) this.flushDirtyRegs(KVM_SYNC_X86_REGS);
    ioctlBuf(this.fd, KVM_GET_REGS, this.regs.bytes);
    return this.regs;
  }
  /** KVM_SET_REGS from `regs` (default {@link regs}); supersedes registers marked dirty in the sync area. */
  setRegs(regs: KvmRegs = this.regs): void {
    this.#dropDirty(KVM_SYNC_X86_REGS);
    ioctlBuf(this.fd, KVM_SET_REGS, regs.bytes);
  }
  /** KVM_GET_SREGS into {@link sregs}; returns it. Sregs marked dirty in the sync area are pushed first. */
  getSregs(): KvmSregs {
    if (this.kvmRun.kvmDirtyRegs & KVM_SYNC_X86_SREGS) this.flushDirtyRegs(KVM_SYNC_X86_SREGS);
    ioctlBuf(this.fd, KVM_GET_SREGS, this.sregs.bytes);
    return this.sregs;
  }
  /**
   * KVM_SET_SREGS from `sregs` (default {@link sregs}); supersedes sregs marked dirty in the sync area.
   * EINVAL for an inconsistent state (e.g. EFER.LMA without CR0.PG).
   */
  setSregs(sregs: KvmSregs = this.sregs): void {
    this.#dropDirty(KVM_SYNC_X86_SREGS);
    ioctlBuf(this.fd, KVM_SET_SREGS, sregs.bytes);
  }
  /** KVM_GET_FPU into {@link fpu}; returns it (XMM0-5 for fast hypercalls). */
  getFpu(): KvmFpu {
    ioctlBuf(this.fd, KVM_GET_FPU, this.fpu.bytes);
    return this.fpu;
  }
  /** KVM_SET_FPU from `fpu` (default {@link fpu}). */
  setFpu(fpu: KvmFpu = this.fpu): void {
    ioctlBuf(this.fd, KVM_SET_FPU, fpu.bytes);
  }
  /** KVM_GET_LAPIC into {@link lapic}; returns it. ENXIO without in-kernel irqchip. */
  getLapic(): KvmLapicState {
    ioctlBuf(this.fd, KVM_GET_LAPIC, this.lapic.bytes);
    return this.lapic;
  }
  /** KVM_SET_LAPIC from `lapic` (default {@link lapic}). */
  setLapic(lapic: KvmLapicState = this.lapic): void {
    ioctlBuf(this.fd, KVM_SET_LAPIC, lapic.bytes);
  }
  /** KVM_GET_XCRS into {@link xcrs}; returns it. */
  getXcrs(): KvmXcrs {
    ioctlBuf(this.fd, KVM_GET_XCRS, this.xcrs.bytes);
    return this.xcrs;
  }
  /** KVM_SET_XCRS from `xcrs` (default {@link xcrs}). */
  setXcrs(xcrs: KvmXcrs = this.xcrs): void {
    ioctlBuf(this.fd, KVM_SET_XCRS, xcrs.bytes);
  }
  /** KVM_GET_DEBUGREGS into {@link debugregs}; returns it. */
  getDebugregs(): KvmDebugregs {
    ioctlBuf(this.fd, KVM_GET_DEBUGREGS, this.debugregs.bytes);
    return this.debugregs;
  }
  /** KVM_SET_DEBUGREGS from `debugregs` (default {@link debugregs}); EINVAL for nonzero flags or DR6/DR7 above bit 31. */
  setDebugregs(debugregs: KvmDebugregs = this.debugregs): void {
    ioctlBuf(this.fd, KVM_SET_DEBUGREGS, debugregs.bytes);
  }
  /**
   * KVM_GET_VCPU_EVENTS into {@link vcpuEvents}; returns it. Events marked dirty in the sync area are
   * pushed first. KVM sets `flags` to the fields it reported (NMI_PENDING | SHADOW | SMM, and PAYLOAD /
   * TRIPLE_FAULT when those capabilities are enabled).
   */
  getVcpuEvents(): KvmVcpuEvents {
    if (this.kvmRun.kvmDirtyRegs & KVM_SYNC_X86_EVENTS) this.flushDirtyRegs(KVM_SYNC_X86_EVENTS);
    ioctlBuf(this.fd, KVM_GET_VCPU_EVENTS, this.vcpuEvents.bytes);
    return this.vcpuEvents;
  }
  /**
   * KVM_SET_VCPU_EVENTS from `events` (default {@link vcpuEvents}); supersedes events marked dirty in
   * the sync area. The exception, interrupt and NMI injected/masked fields always apply; the others only
   * with their KVM_VCPUEVENT_VALID_* bit in `flags`.
   */
  setVcpuEvents(events: KvmVcpuEvents = this.vcpuEvents): void {
    this.#dropDirty(KVM_SYNC_X86_EVENTS);
    ioctlBuf(this.fd, KVM_SET_VCPU_EVENTS, events.bytes);
  }
  /**
   * The vCPU's XSAVE area (a new {@link KvmXsave} each call, edge code): KVM_GET_XSAVE, or with `size`
   * above 4096 KVM_GET_XSAVE2. `size` must be `kvmXsaveSize(host)`: KVM writes the vCPU's whole area,
   * so a short buffer would be overrun (a 4096-byte one is refused with EINVAL when the area is larger).
   */
  getXsave(size: number = KVM_XSAVE_SIZE): KvmXsave {
    const x = new KvmXsave(size);
    ioctlBuf(this.fd, size > KVM_XSAVE_SIZE ? KVM_GET_XSAVE2 : KVM_GET_XSAVE, x.bytes);
    return x;
  }
  /**
   * KVM_SET_XSAVE from `xsave`, which must have the vCPU's whole area size (`kvmXsaveSize(host)`: KVM
   * reads that many bytes). EINVAL for XSTATE_BV bits KVM does not support or a nonzero XCOMP_BV.
   */
  setXsave(xsave: KvmXsave): void {
    ioctlBuf(this.fd, KVM_SET_XSAVE, xsave.bytes);
  }
  /** KVM_GET_MP_STATE: one of KVM_MP_STATE. */
  getMpState(): number {
    ioctlBuf(this.fd, KVM_GET_MP_STATE, this.mpState.bytes);
    return this.mpState.mpState;
  }
  /** KVM_SET_MP_STATE. */
  setMpState(state: number): void {
    this.mpState.mpState = state;
    ioctlBuf(this.fd, KVM_SET_MP_STATE, this.mpState.bytes);
  }

  /**
   * KVM_SET_CPUID2 from `@hv/x86` leaves (SIGNIFCANT_INDEX set where the index matters) or a
   * prepared {@link KvmCpuid2}. E2BIG above 256 entries (KVM_MAX_CPUID_ENTRIES); EINVAL for a bad table.
   */
  setCpuid2(cpuid: readonly CpuidLeaf[] | KvmCpuid2): void {
    const c = cpuid instanceof KvmCpuid2 ? cpuid : KvmCpuid2.fromLeaves(cpuid);
    ioctlBuf(this.fd, KVM_SET_CPUID2, c.bytes, `vCPU ${this.id}, ${c.nent} entries`);
  }

  /**
   * KVM_GET_SUPPORTED_HV_CPUID on this vCPU (KVM_CAP_HYPERV_CPUID): KVM's own Hyper-V leaves, or
   * undefined when KVM does not emulate Hyper-V (EINVAL/ENOTTY).
   */
  supportedHvCpuid(): CpuidLeaf[] | undefined {
    const c = new KvmCpuid2(64);
    const r = ioctlBufErrno(this.fd, KVM_GET_SUPPORTED_HV_CPUID, c.bytes);
    return r < 0 ? undefined : c.toLeaves();
  }

  /** KVM_GET_MSRS for the `nmsrs` entries of `msrs`; returns how many were read (stops at the first unknown MSR). */
  getMsrs(msrs: KvmMsrs): number {
    return ioctlBuf(this.fd, KVM_GET_MSRS, msrs.bytes);
  }
  /** KVM_SET_MSRS; returns how many were written (stops at the first refused MSR). */
  setMsrs(msrs: KvmMsrs): number {
    return ioctlBuf(this.fd, KVM_SET_MSRS, msrs.bytes);
  }
  /** Reads one MSR as a number (exact below 2^53); throws KvmIoctlError (EINVAL) when KVM refuses it. */
  getMsr(index: number): number {
    const m = this.#msr1;
    m.nmsrs = 1;
    m.setIndex(0, index);
    if (this.getMsrs(m) !== 1) throw KvmIoctlError.of("KVM_GET_MSRS", 22, `MSR 0x${index.toString(16)} not readable`);
    return m.data(0);
  }
  /** Writes one MSR; throws KvmIoctlError (EINVAL) when KVM refuses it. */
  setMsr(index: number, value: number): void {
    const m = this.#msr1;
    m.nmsrs = 1;
    m.setIndex(0, index);
    m.setData(0, value);
    if (this.setMsrs(m) !== 1) throw KvmIoctlError.of("KVM_SET_MSRS", 22, `MSR 0x${index.toString(16)} not writable`);
  }

  /**
   * KVM_INTERRUPT: queues external interrupt `vector` (0..255); only without in-kernel irqchip
   * (ENXIO otherwise). Inject when `kvmRun.readyForInterruptInjection` is 1, else set
   * `kvmRun.requestInterruptWindow` and wait for KVM_EXIT_IRQ_WINDOW_OPEN. EEXIST if one is already queued.
   */
  interrupt(vector: number): void {
    this.#irq.irq = vector;
    ioctlBuf(this.fd, KVM_INTERRUPT, this.#irq.bytes);
  }
  /**
   * Injects exception `vector` (e.g. 6 = #UD, 13 = #GP) on the next entry, with `errorCode` when the
   * exception has one: KVM_GET_VCPU_EVENTS, set `exception.injected`/`nr`/`has_error_code`/`error_code`,
   * KVM_SET_VCPU_EVENTS with flags 0 (other fields unchanged). `struct kvm_vcpu_events`, api.rst §4.31/4.32.
   */
  injectException(vector: number, errorCode?: number): void {
    const e = this.getVcpuEvents();
    e.setByte(VcpuEventsByte.exceptionInjected, 1);
    e.setByte(VcpuEventsByte.exceptionNr, vector);
    e.setByte(VcpuEventsByte.exceptionHasErrorCode, errorCode === undefined ? 0 : 1);
    e.setByte(VcpuEventsByte.exceptionPending, 0);
    e.exceptionErrorCode = errorCode ?? 0;
    e.flags = 0; // set nothing else
    this.setVcpuEvents(e);
  }
  /** KVM_NMI: queues an NMI. */
  nmi(): void {
    ioctlVal(this.fd, KVM_NMI, 0);
  }
  /** KVM_GET_TSC_KHZ for this vCPU: TSC frequency in kHz. */
  getTscKhz(): number {
    return ioctlVal(this.fd, KVM_GET_TSC_KHZ, 0);
  }
  /** KVM_SET_TSC_KHZ for this vCPU (KVM_CAP_TSC_CONTROL): guest TSC frequency in kHz. */
  setTscKhz(khz: number): void {
    ioctlVal(this.fd, KVM_SET_TSC_KHZ, khz);
  }
  /** KVM_ENABLE_CAP on the vCPU fd with up to four u64 args (api.rst §7). */
  enableCap(cap: number, args: readonly number[] = []): void {
    ioctlBuf(this.fd, KVM_ENABLE_CAP, this.#cap.set(cap, args).bytes, `vCPU capability ${cap}`);
  }

  /** Unmaps `kvm_run` and, when owned, closes the fd. Idempotent. The codecs stay usable as plain buffers. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    libc().munmap(this.#runPtr, BigInt(this.mmapSize));
    if (this.#ownsFd) closeFd(this.fd);
  }

  /** Same as {@link close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
