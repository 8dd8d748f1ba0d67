/**
 * A userspace local APIC: one {@link LocalApic} per VP over its declared shared state
 * ({@link APIC_STATE}). The owning vCPU thread uses the access paths (xAPIC MMIO `read`/`write`,
 * `rdmsr`/`wrmsr` for IA32_APIC_BASE, IA32_TSC_DEADLINE and the x2APIC MSRs) and the injection
 * interface (`pending`, `acknowledge`, `eoi`, `takeEvents`). Any thread may post to it (`accept`,
 * `postNmi`, `postInit`, `postSipi`, `postSmi`): those touch only the IRR/TMR/auto-EOI/ESR/event
 * words, with `Atomics`. The timer thread calls `onTimer`.
 *
 * Exit-path rules hold for every method except `connect`, `exportKvmPage` and `importKvmPage`: synchronous,
 * no allocation, no BigInt (64-bit values are lo/hi halves).
 * @module
 */
import { MsrOutcome, type MsrAccess, type TimerService } from "@hv/x86";

/**
 * Host timers as the APIC timer uses them: `@hv/x86`'s `TimerService` (host monotonic ns; `arm`
 * replaces a pending deadline; the backend calls {@link LocalApic.onTimer} when it passes).
 */
export type ApicTimers = TimerService;
import {
  APIC_DEFAULT_BASE,
  APIC_VERSION,
  ApicBaseBit,
  ApicBit,
  ApicEvent,
  ApicReg,
  DeliveryMode,
  Esr,
  Lvt,
  MpState,
  MSR_IA32_APIC_BASE,
  MSR_IA32_TSC_DEADLINE,
  Shorthand,
  TimerMode,
  X2APIC_MSR_FIRST,
  X2APIC_MSR_LAST,
} from "./consts.ts";
import type { ApicViews } from "./state.ts";

/**
 * Where interrupt messages from ICR writes go; the machine implements it (or uses {@link PeerBus}).
 * - `deliver(ids, count, vector, mode, level)`: deliver to the APICs whose ids are `ids[0..count)`
 *   (already resolved from shorthand/destination; lowest priority already arbitrated to one).
 *   `level` is the trigger mode (true = level). `ids` is a reused scratch array: do not keep it.
 * - `eoi(vector)`: a level-triggered vector was EOI'd: forward to the IO-APIC (remote IRR).
 */
export interface ApicBus {
  deliver(ids: Uint32Array, count: number, vector: number, mode: number, level: boolean): void;
  eoi(vector: number): void;
}

/** The guest TSC as the TSC-deadline timer needs it (a `VpView` fits). */
export interface ApicTscClock {
  readonly tscHz: number;
  guestTsc(): number;
}

/** Construction options of a {@link LocalApic}. */
export interface LocalApicOptions {
  /** Views of this VP's {@link APIC_STATE} instance (shared memory). */
  readonly views: ApicViews;
  /** Initial (and x2APIC) APIC id. */
  readonly apicId: number;
  /** Whether this is the bootstrap processor (IA32_APIC_BASE bit 8; runnable after reset). */
  readonly bsp: boolean;
  /** Where ICR-originated messages and level-triggered EOIs go. */
  readonly bus: ApicBus;
  /** Host timers for the APIC timer. */
  readonly timers: ApicTimers;
  /** Timer owner string, VP index and timer number passed to `timers.arm` (default "apic", apicId, 0). */
  readonly timerOwner?: string;
  readonly vpIndex?: number;
  readonly timerIndex?: number;
  /** APIC timer input frequency in Hz before the divider (default 1e9, KVM's). */
  readonly apicHz?: number;
  /** Guest TSC for IA32_TSC_DEADLINE (without it, deadlines are refused: writes are ignored). */
  readonly tsc?: ApicTscClock;
  /** Called after something was posted to this APIC (from any thread): wake / kick the VP. */
  readonly kick?: () => void;
  /** Whether x2APIC mode may be enabled (CPUID.1:ECX[21]); default true. */
  readonly x2apic?: boolean;
  /** Guest physical address width for IA32_APIC_BASE reserved-bit checks (default 52). */
  readonly physAddrBits?: number;
  /** Shortest periodic/one-shot host re-arm interval in ns (default 200 µs, KVM's min_timer_period_us). */
  readonly minPeriodNs?: number;
}

// Writable bits of each LVT (timer, thermal, perf, LINT0, LINT1, error) and read-only bits the guest may see.
const LVT_WRITABLE = [0x700ff, 0x107ff, 0x107ff, 0x1a7ff, 0x1a7ff, 0x100ff];
const LVT_READONLY = [0x1000, 0x1000, 0x1000, 0x5000, 0x5000, 0x1000];
// x2APIC ICR: vector, delivery mode, dest mode, level, trigger, shorthand; 63:32 destination.
const ICR_X2_VALID = 0xcc0ff | 0x700 | 0x800;
// xAPIC ICR low bits kept on write (bit 12, delivery status, always reads 0).
const ICR_XAPIC_KEEP = 0xccfff & ~0x1000;

const highest = (words: Uint32Array): number => {
  for (let i = 7; i >= 0; i--) {
    const w = Atomics.load(words, i);
    if (w !== 0) return (i << 5) + 31 - Math.clz32(w);
  }
  return -1;
};

/** One VP's local APIC. See the module documentation for the threading rules. */
export class LocalApic {
  /** The APIC id (x2APIC id; the xAPIC id is its low 8 bits unless the guest rewrote the ID register). */
  readonly apicId: number;
  /** Whether this is the BSP. */
  readonly bsp: boolean;
  readonly #v: ApicViews;
  readonly #bus: ApicBus;
  readonly #timers: ApicTimers;
  readonly #timerOwner: string;
  readonly #vpIndex: number;
  readonly #timerIndex: number;
  readonly #nsPerTick: number;
  readonly #tsc: ApicTscClock | undefined;
  readonly #kick: (() => void) | undefined;
  readonly #x2Allowed: boolean;
  readonly #baseHiMask: number;
  readonly #minPeriodNs: number;
  #peers: readonly LocalApic[] = [];
  #ids = new Uint32Array(1);

  constructor(o: LocalApicOptions) {
    this.#v = o.views;
    this.apicId = o.apicId >>> 0;
    this.bsp = o.bsp;
    this.#bus = o.bus;
    this.#timers = o.timers;
    this.#timerOwner = o.timerOwner ?? "apic";
    this.#vpIndex = o.vpIndex ?? this.apicId;
    this.#timerIndex = o.timerIndex ?? 0;
    this.#nsPerTick = 1e9 / (o.apicHz ?? 1e9);
    this.#tsc = o.tsc;
    this.#kick = o.kick;
    this.#x2Allowed = o.x2apic ?? true;
    const bits = o.physAddrBits ?? 52;
    this.#baseHiMask = bits >= 64 ? 0xffffffff : bits <= 32 ? 0 : (2 ** (bits - 32) - 1);
    this.#minPeriodNs = o.minPeriodNs ?? 200_000;
    this.#peers = [this];
  }

  /**
   * Tells this APIC every APIC of the machine (itself included), for destination matching and
   * lowest-priority arbitration of its ICR writes. Edge code (allocates the scratch id array).
   */
  connect(peers: readonly LocalApic[]): void {
    this.#peers = peers;
    this.#ids = new Uint32Array(Math.max(1, peers.length));
  }

  // ---------------------------------------------------------------- state

  /** Power-on / RESET: IA32_APIC_BASE = 0xFEE00800 (| BSP), xAPIC mode, registers at reset values, APs wait for SIPI. */
  reset(): void {
    const v = this.#v;
    v.apicBase[0] = (APIC_DEFAULT_BASE | ApicBaseBit.Enable | (this.bsp ? ApicBaseBit.Bsp : 0)) >>> 0;
    v.apicBase[1] = 0;
    this.#resetRegisters();
    Atomics.store(v.events, 0, 0);
    v.sipiVector[0] = 0;
    v.mpState[0] = this.bsp ? MpState.Runnable : MpState.WaitForSipi;
  }

  /** INIT reset of the registers (SDM 11.4.7.3): everything but IA32_APIC_BASE and the ID. */
  #resetRegisters(): void {
    const v = this.#v;
    this.#cancelTimer();
    v.id[0] = this.x2apic ? this.apicId : (this.apicId << 24) >>> 0;
    v.version[0] = APIC_VERSION;
    v.tpr[0] = 0;
    v.ldr[0] = this.x2apic ? this.#x2Ldr() : 0;
    v.dfr[0] = 0xffffffff;
    v.svr[0] = 0xff;
    v.esr[0] = 0;
    Atomics.store(v.esrPending, 0, 0);
    v.icrLo[0] = 0;
    v.icrHi[0] = 0;
    v.lvt.fill(ApicBit.Masked);
    v.timerInitial[0] = 0;
    v.timerDivide[0] = 0;
    for (let i = 0; i < 8; i++) {
      Atomics.store(v.irr, i, 0);
      Atomics.store(v.isr, i, 0);
      Atomics.store(v.tmr, i, 0);
      Atomics.store(v.aeoi, i, 0);
    }
    v.timerStart[0] = 0;
    v.tscDeadline[0] = 0;
    v.tscDeadline[1] = 0;
  }

  #x2Ldr(): number {
    return (((this.apicId >>> 4) << 16) | (1 << (this.apicId & 0xf))) >>> 0;
  }

  /** Whether the APIC is enabled in IA32_APIC_BASE (hardware enable). */
  get enabled(): boolean {
    return (this.#v.apicBase[0] & ApicBaseBit.Enable) !== 0;
  }
  /** Whether x2APIC mode is on. */
  get x2apic(): boolean {
    return (this.#v.apicBase[0] & (ApicBaseBit.Enable | ApicBaseBit.Extd)) === (ApicBaseBit.Enable | ApicBaseBit.Extd);
  }
  /** Whether xAPIC mode is on (the MMIO page answers). */
  get xapic(): boolean {
    return (this.#v.apicBase[0] & (ApicBaseBit.Enable | ApicBaseBit.Extd)) === ApicBaseBit.Enable;
  }
  /** Whether the APIC is software-enabled (SVR bit 8). */
  get softwareEnabled(): boolean {
    return (this.#v.svr[0] & ApicBit.SvrEnable) !== 0;
  }
  /** Physical address of the xAPIC MMIO page (low 32 bits; the page lies below 4 GiB unless `mmioBaseHi` is non-zero). */
  get mmioBase(): number {
    return (this.#v.apicBase[0] & 0xfffff000) >>> 0;
  }
  /** Bits 63:32 of the xAPIC MMIO page address. */
  get mmioBaseHi(): number {
    return this.#v.apicBase[1];
  }
  /** INIT/SIPI state ({@link MpState}). */
  get mpState(): number {
    return this.#v.mpState[0];
  }
  /** Vector of the accepted SIPI (the VP starts at CS = vector << 8, IP = 0). */
  get startupVector(): number {
    return this.#v.sipiVector[0];
  }
  /** TPR (bits 7:0). */
  get tpr(): number {
    return this.#v.tpr[0];
  }
  /** Sets the TPR (bits 7:0 of `value`; HV_X64_MSR_TPR, x2APIC TPR). */
  setTpr(value: number): void {
    this.#v.tpr[0] = value & 0xff;
  }
  /** ICR bits 31:0 as last written. */
  get icrLo(): number {
    return this.#v.icrLo[0];
  }
  /** ICR bits 63:32 as last written. */
  get icrHi(): number {
    return this.#v.icrHi[0];
  }
  /** Sets the TPR from CR8 (CR8 = TPR[7:4]); use after exits when KVM tracks CR8 (kvm_run.cr8). */
  setCr8(cr8: number): void {
    this.#v.tpr[0] = (cr8 & 0xf) << 4;
  }
  /** CR8 as the guest reads it (TPR[7:4]); put in kvm_run.cr8 before entry. */
  get cr8(): number {
    return this.#v.tpr[0] >>> 4;
  }
  /** The logical destination register (derived in x2APIC mode). */
  get ldr(): number {
    return this.#v.ldr[0];
  }

  // ---------------------------------------------------------------- priorities

  /** Highest vector set in IRR, or -1. */
  highestIrr(): number {
    return highest(this.#v.irr);
  }
  /** Highest vector set in ISR, or -1. */
  highestIsr(): number {
    return highest(this.#v.isr);
  }
  /** Processor priority (SDM 11.8.3.1): TPR if TPR[7:4] >= ISRV[7:4], else ISRV[7:4] << 4. */
  ppr(): number {
    const tpr = this.#v.tpr[0];
    const isrv = this.highestIsr();
    const cls = isrv < 0 ? 0 : isrv & 0xf0;
    return (tpr & 0xf0) >= cls ? tpr : cls;
  }
  /** Arbitration priority (SDM 11.6.2.4 / P6 APR): TPR if TPR[7:4] >= max(IRRV, ISRV)[7:4], else that class. */
  apr(): number {
    const tpr = this.#v.tpr[0];
    const irrv = this.highestIrr(), isrv = this.highestIsr();
    const m = Math.max(irrv < 0 ? 0 : irrv & 0xf0, isrv < 0 ? 0 : isrv & 0xf0);
    return (tpr & 0xf0) >= m ? tpr : m;
  }

  // ---------------------------------------------------------------- interrupt logic

  /**
   * Posts a fixed interrupt (any thread). Sets IRR and TMR (level) and remembers `autoEoi` (the
   * vector will not enter ISR when acknowledged: SynIC auto-EOI). Vectors 0..15 are illegal: the
   * receive-illegal-vector error is recorded instead. Dropped when the APIC is disabled in
   * IA32_APIC_BASE or software-disabled (as KVM does). Returns whether it was accepted.
   */
  accept(vector: number, level: boolean, autoEoi: boolean): boolean {
    if (!this.enabled) return false;
    if (!Number.isInteger(vector) || vector < 0 || vector > 255) return false;
    if (vector < 16) {
      this.#error(Esr.ReceiveIllegalVector);
      return false;
    }
    if (!this.softwareEnabled) return false;
    const v = this.#v, w = vector >>> 5, m = 1 << (vector & 31);
    if (level) Atomics.or(v.tmr, w, m);
    else Atomics.and(v.tmr, w, ~m);
    if (autoEoi) Atomics.or(v.aeoi, w, m);
    else Atomics.and(v.aeoi, w, ~m);
    Atomics.or(v.irr, w, m);
    this.#kick?.();
    return true;
  }

  /**
   * The vector to inject next, or -1: the highest IRR vector whose priority class exceeds PPR's.
   * Check before KVM_INTERRUPT (with interrupts enabled in the guest: ready_for_interrupt_injection).
   */
  pending(): number {
    if (!this.enabled) return -1;
    const irrv = this.highestIrr();
    if (irrv < 0) return -1;
    return (irrv & 0xf0) > (this.ppr() & 0xf0) ? irrv : -1;
  }

  /**
   * The guest accepted `vector` (it was injected): IRR -> ISR, or, for an auto-EOI vector, IRR
   * cleared without setting ISR. Returns false when `vector` was not in IRR.
   */
  acknowledge(vector: number): boolean {
    if (vector < 0 || vector > 255) return false;
    const v = this.#v, w = vector >>> 5, m = 1 << (vector & 31);
    if ((Atomics.and(v.irr, w, ~m) & m) === 0) return false;
    if ((Atomics.and(v.aeoi, w, ~m) & m) !== 0) return true;
    Atomics.or(v.isr, w, m);
    return true;
  }

  /** `pending()` then `acknowledge()`: the vector to inject now (already moved to ISR), or -1. */
  take(): number {
    const vec = this.pending();
    if (vec >= 0) this.acknowledge(vec);
    return vec;
  }

  /**
   * End of interrupt: clears the highest ISR bit and returns its vector (-1 when ISR was empty).
   * A level-triggered vector (TMR set) is forwarded to `bus.eoi` (the IO-APIC's remote IRR).
   */
  eoi(): number {
    const v = this.#v;
    const vec = this.highestIsr();
    if (vec < 0) return -1;
    const w = vec >>> 5, m = 1 << (vec & 31);
    Atomics.and(v.isr, w, ~m);
    if ((Atomics.load(v.tmr, w) & m) !== 0) this.#bus.eoi(vec);
    return vec;
  }

  /**
   * Whether the guest may skip the EOI of the interrupt just injected (Hyper-V's VP assist page
   * "no EOI required" bit, KVM's PV EOI rule): exactly one vector in service, edge-triggered, and
   * nothing waiting in IRR. When the guest then clears the bit instead of writing EOI, call `eoi()`.
   */
  canSkipEoi(): boolean {
    const v = this.#v;
    let inService = -1;
    for (let i = 0; i < 8; i++) {
      if (Atomics.load(v.irr, i) !== 0) return false;
      const w = Atomics.load(v.isr, i);
      if (w === 0) continue;
      if (inService >= 0 || (w & (w - 1)) !== 0) return false;
      inService = (i << 5) + 31 - Math.clz32(w);
    }
    if (inService < 0) return false;
    return (Atomics.load(v.tmr, inService >>> 5) & (1 << (inService & 31))) === 0;
  }

  /** Posts an NMI (any thread). */
  postNmi(): void {
    Atomics.or(this.#v.events, 0, ApicEvent.Nmi);
    this.#kick?.();
  }
  /** Posts an SMI (any thread). */
  postSmi(): void {
    Atomics.or(this.#v.events, 0, ApicEvent.Smi);
    this.#kick?.();
  }
  /** Posts an INIT (any thread). */
  postInit(): void {
    if (!this.enabled) return;
    Atomics.or(this.#v.events, 0, ApicEvent.Init);
    this.#kick?.();
  }
  /** Posts a start-up IPI with `vector` (any thread); honoured only by a VP waiting for SIPI. */
  postSipi(vector: number): void {
    if (!this.enabled) return;
    Atomics.store(this.#v.sipiVector, 0, vector & 0xff);
    Atomics.or(this.#v.events, 0, ApicEvent.Sipi);
    this.#kick?.();
  }

  /**
   * Owning thread, before entering the guest: takes the posted events and applies INIT/SIPI.
   * Returns {@link ApicEvent} bits the machine must act on: Nmi (inject NMI), Smi, Init (the APIC
   * is INIT-reset here; reset the vCPU's registers to their INIT state; an AP now waits for SIPI,
   * the BSP is runnable), Sipi (only when the VP was waiting: start it in real mode at
   * CS.selector = startupVector << 8, CS.base = startupVector << 12, IP = 0).
   */
  takeEvents(): number {
    const v = this.#v;
    const e = Atomics.exchange(v.events, 0, 0);
    if (e === 0) return 0;
    let out = e & (ApicEvent.Nmi | ApicEvent.Smi);
    if ((e & ApicEvent.Init) !== 0) {
      this.#resetRegisters();
      v.mpState[0] = this.bsp ? MpState.Runnable : MpState.WaitForSipi;
      out |= ApicEvent.Init;
    }
    if ((e & ApicEvent.Sipi) !== 0 && v.mpState[0] === MpState.WaitForSipi) {
      v.mpState[0] = MpState.Runnable;
      out |= ApicEvent.Sipi;
    }
    return out;
  }

  /** Whether events are posted (cheap check for the run loop). */
  hasEvents(): boolean {
    return Atomics.load(this.#v.events, 0) !== 0;
  }

  /**
   * Whether the legacy PIC's INTR reaches the CPU (KVM's kvm_apic_accept_pic_intr): APIC disabled
   * in IA32_APIC_BASE, or LINT0 unmasked in ExtINT mode.
   */
  acceptsPicInterrupts(): boolean {
    if (!this.enabled) return true;
    const l = this.#v.lvt[Lvt.Lint0];
    return (l & ApicBit.Masked) === 0 && ((l >>> 8) & 7) === DeliveryMode.ExtInt;
  }

  /**
   * A signal on LINT0 (`pin` 0) or LINT1 (`pin` 1), delivered as its LVT says: Fixed -> accept,
   * NMI -> postNmi, ExtINT -> nothing here (the caller injects the PIC's vector). Returns the
   * delivery mode used, or -1 when masked / disabled.
   */
  localInterrupt(pin: number): number {
    if (!this.enabled || (pin !== 0 && pin !== 1)) return -1;
    const l = this.#v.lvt[Lvt.Lint0 + pin];
    if ((l & ApicBit.Masked) !== 0) return -1;
    const mode = (l >>> 8) & 7;
    if (mode === DeliveryMode.Fixed) this.accept(l & 0xff, (l & ApicBit.TriggerLevel) !== 0, false);
    else if (mode === DeliveryMode.Nmi) this.postNmi();
    else if (mode === DeliveryMode.Smi) this.postSmi();
    else if (mode === DeliveryMode.Init) this.postInit();
    else if (mode !== DeliveryMode.ExtInt) return -1;
    return mode;
  }

  #error(bits: number): void {
    const v = this.#v;
    const before = Atomics.or(v.esrPending, 0, bits);
    if ((before & bits) === bits) return;
    const l = v.lvt[Lvt.Error];
    const vec = l & 0xff;
    if ((l & ApicBit.Masked) === 0 && vec >= 16) this.accept(vec, false, false);
  }

  // ---------------------------------------------------------------- destinations and IPIs

  /**
   * Whether this APIC is a destination of a message with `dest` in logical (`logical`) or
   * physical mode, sent by an APIC in x2APIC (`x2Sender`, 32-bit destination) or xAPIC mode
   * (8-bit destination).
   */
  matches(dest: number, logical: boolean, x2Sender: boolean): boolean {
    if (!this.enabled) return false;
    dest >>>= 0;
    if (x2Sender ? dest === 0xffffffff : dest === 0xff) return true;
    const v = this.#v;
    if (this.x2apic) {
      if (!logical) return dest === this.apicId;
      const ldr = v.ldr[0];
      return (dest >>> 16) === (ldr >>> 16) && (dest & ldr & 0xffff) !== 0;
    }
    if (x2Sender && dest > 0xff) return false;
    if (!logical) return dest === (v.id[0] >>> 24);
    const ldr = v.ldr[0] >>> 24;
    if ((v.dfr[0] >>> 28) === 0xf) return (ldr & dest) !== 0;
    return (dest >>> 4) === (ldr >>> 4) && (dest & ldr & 0xf) !== 0;
  }

  /**
   * Sends the interrupt message an ICR write describes (`lo` = ICR[31:0]; `dest` = the x2APIC
   * 32-bit destination, or the xAPIC ICR[63:56]). Also the entry for Hyper-V's HV_X64_MSR_ICR.
   */
  sendIpi(lo: number, dest: number): void {
    const vector = lo & 0xff;
    const mode = (lo >>> 8) & 7;
    const logical = (lo & ApicBit.LogicalDest) !== 0;
    const levelTrig = (lo & ApicBit.TriggerLevel) !== 0;
    const sh = (lo >>> 18) & 3;
    if (mode === 3 || mode === DeliveryMode.ExtInt) return; // reserved / not allowed in the ICR
    // INIT level de-assert: only synchronises arbitration IDs; nothing to deliver.
    if (mode === DeliveryMode.Init && (lo & ApicBit.Level) === 0 && levelTrig) return;
    if ((mode === DeliveryMode.Fixed || mode === DeliveryMode.LowestPriority) && vector < 16) {
      this.#error(Esr.SendIllegalVector);
      return;
    }
    // Self shorthand is valid only for fixed interrupts (SDM table 11-3 footnotes).
    if (sh === Shorthand.Self && mode !== DeliveryMode.Fixed) return;
    const ids = this.#ids, peers = this.#peers, x2 = this.x2apic;
    let n = 0;
    if (sh === Shorthand.Self) {
      ids[n++] = this.apicId;
    } else {
      for (let i = 0; i < peers.length; i++) {
        const p = peers[i];
        if (sh === Shorthand.None) {
          if (!p.matches(dest, logical, x2)) continue;
        } else if (sh === Shorthand.AllExcludingSelf && p === this) continue;
        else if (!p.enabled) continue;
        ids[n++] = p.apicId;
      }
    }
    if (n === 0) return;
    if (mode === DeliveryMode.LowestPriority && n > 1) {
      // Lowest arbitration priority wins; ties go to the first (lowest index).
      let best = 0, bestPri = 256;
      for (let k = 0; k < n; k++) {
        const p = this.#peerById(ids[k]);
        const pri = p === undefined ? 256 : p.apr() & 0xf0;
        if (pri < bestPri) {
          bestPri = pri;
          best = k;
        }
      }
      ids[0] = ids[best];
      n = 1;
    }
    this.#bus.deliver(ids, n, vector, mode, levelTrig);
  }

  /**
   * A 64-bit ICR write in the x2APIC MSR format (also Hyper-V's HV_X64_MSR_ICR in either mode, as
   * KVM's `kvm_x2apic_icr_write`): `lo` = ICR[31:0], `hi` = ICR[63:32]. Returns false, changing
   * nothing, when reserved bits of `lo` are set (the caller #GPs; the delivery-status bit 12 is
   * ignored); else stores the ICR and sends the IPI (destination `hi` in x2APIC mode, `hi` bits
   * 31:24 in xAPIC mode).
   */
  writeIcr(lo: number, hi: number): boolean {
    lo = (lo & ~0x1000) >>> 0;
    if ((lo & ~ICR_X2_VALID) !== 0) return false;
    const v = this.#v;
    v.icrLo[0] = lo;
    v.icrHi[0] = hi >>> 0;
    this.sendIpi(lo, this.x2apic ? hi >>> 0 : hi >>> 24);
    return true;
  }

  #peerById(id: number): LocalApic | undefined {
    const peers = this.#peers;
    for (let i = 0; i < peers.length; i++) if (peers[i].apicId === id) return peers[i];
    return undefined;
  }

  // ---------------------------------------------------------------- timer

  #divider(): number {
    const d = this.#v.timerDivide[0];
    const k = ((d & 8) >>> 1) | (d & 3);
    return k === 7 ? 1 : 2 << k;
  }
  #timerMode(): number {
    return (this.#v.lvt[Lvt.Timer] >>> 17) & 3;
  }
  /** Nanoseconds per timer count (host ns per tick times the divider). */
  nsPerCount(): number {
    return this.#nsPerTick * this.#divider();
  }

  /** The current-count register as of now. */
  currentCount(): number {
    const v = this.#v;
    const initial = v.timerInitial[0];
    if (initial === 0 || this.#timerMode() === TimerMode.TscDeadline) return 0;
    const elapsed = Math.floor((this.#timers.now() - v.timerStart[0]) / this.nsPerCount());
    if (this.#timerMode() === TimerMode.Periodic) return initial - (elapsed % initial);
    return elapsed >= initial ? 0 : initial - elapsed;
  }

  #cancelTimer(): void {
    if (this.#v.timerDeadline[0] !== 0) {
      this.#v.timerDeadline[0] = 0;
      this.#timers.cancel(this.#timerOwner, this.#vpIndex, this.#timerIndex);
    }
  }
  #arm(atNs: number): void {
    this.#v.timerDeadline[0] = atNs;
    this.#timers.arm(this.#timerOwner, this.#vpIndex, this.#timerIndex, atNs);
  }
  #period(): number {
    return Math.max(this.#v.timerInitial[0] * this.nsPerCount(), this.#minPeriodNs);
  }
  #startCount(): void {
    const v = this.#v;
    v.timerStart[0] = this.#timers.now();
    if (v.timerInitial[0] === 0) {
      this.#cancelTimer();
      return;
    }
    this.#arm(v.timerStart[0] + Math.max(v.timerInitial[0] * this.nsPerCount(), 1));
  }

  #armTscDeadline(): void {
    const v = this.#v;
    const lo = v.tscDeadline[0], hi = v.tscDeadline[1];
    if ((lo | hi) === 0 || this.#tsc === undefined) {
      this.#cancelTimer();
      return;
    }
    const deadline = hi * 4294967296 + lo;
    const delta = deadline - this.#tsc.guestTsc();
    const now = this.#timers.now();
    this.#arm(delta <= 0 ? now : now + (delta * 1e9) / this.#tsc.tscHz);
  }

  /**
   * The host timer armed through `ApicTimers` fired (call on the timer thread). Delivers the
   * LVT timer vector unless masked, re-arms a periodic timer, ends a one-shot or TSC deadline.
   */
  onTimer(): void {
    const v = this.#v;
    const due = v.timerDeadline[0];
    if (due === 0) return;
    const now = this.#timers.now();
    if (now < due) {
      this.#timers.arm(this.#timerOwner, this.#vpIndex, this.#timerIndex, due);
      return;
    }
    const mode = this.#timerMode();
    if (mode === TimerMode.Periodic && v.timerInitial[0] !== 0) {
      const p = this.#period();
      const start = v.timerStart[0];
      this.#arm(start + (Math.floor((now - start) / p) + 1) * p);
    } else {
      v.timerDeadline[0] = 0;
      if (mode === TimerMode.TscDeadline) {
        v.tscDeadline[0] = 0;
        v.tscDeadline[1] = 0;
      }
    }
    const l = v.lvt[Lvt.Timer];
    if ((l & ApicBit.Masked) === 0) this.accept(l & 0xff, false, false);
  }

  // ---------------------------------------------------------------- register file

  /** The 32-bit register at xAPIC `offset` (a multiple of 16) as the guest reads it; 0 for holes. */
  readRegister(offset: number): number {
    const v = this.#v;
    if (offset >= ApicReg.ISR && offset < ApicReg.ESR) {
      const arr = offset < ApicReg.TMR ? v.isr : offset < ApicReg.IRR ? v.tmr : v.irr;
      return Atomics.load(arr, ((offset - ApicReg.ISR) >>> 4) & 7);
    }
    switch (offset) {
      case ApicReg.ID: return v.id[0];
      case ApicReg.VERSION: return v.version[0];
      case ApicReg.TPR: return v.tpr[0];
      case ApicReg.APR: return this.apr();
      case ApicReg.PPR: return this.ppr();
      case ApicReg.LDR: return v.ldr[0];
      case ApicReg.DFR: return (v.dfr[0] | 0x0fffffff) >>> 0;
      case ApicReg.SVR: return v.svr[0];
      case ApicReg.ESR: return v.esr[0];
      case ApicReg.ICR_LOW: return v.icrLo[0];
      case ApicReg.ICR_HIGH: return v.icrHi[0];
      case ApicReg.LVT_TIMER:
      case ApicReg.LVT_THERMAL:
      case ApicReg.LVT_PERF:
      case ApicReg.LVT_LINT0:
      case ApicReg.LVT_LINT1:
      case ApicReg.LVT_ERROR:
        return v.lvt[(offset - ApicReg.LVT_TIMER) >>> 4];
      case ApicReg.TIMER_INITIAL: return v.timerInitial[0];
      case ApicReg.TIMER_CURRENT: return this.currentCount();
      case ApicReg.TIMER_DIVIDE: return v.timerDivide[0];
      default: return 0;
    }
  }

  #writeSvr(value: number): void {
    const v = this.#v;
    v.svr[0] = value & 0x3ff;
    if ((value & ApicBit.SvrEnable) === 0) for (let i = 0; i < 6; i++) v.lvt[i] |= ApicBit.Masked;
  }

  #writeLvt(index: number, value: number): void {
    const v = this.#v;
    let nv = ((value & LVT_WRITABLE[index]) | (v.lvt[index] & LVT_READONLY[index] & ~ApicBit.DeliveryStatus)) >>> 0;
    if (!this.softwareEnabled) nv |= ApicBit.Masked;
    if (index === Lvt.Timer) {
      if (((nv >>> 17) & 3) === 3) nv &= ~0x40000; // reserved mode 3: keep periodic
      const wasTsc = this.#timerMode() === TimerMode.TscDeadline;
      const isTsc = ((nv >>> 17) & 3) === TimerMode.TscDeadline;
      v.lvt[index] = nv;
      if (wasTsc !== isTsc) {
        this.#cancelTimer();
        v.timerInitial[0] = 0;
        v.tscDeadline[0] = 0;
        v.tscDeadline[1] = 0;
      }
      return;
    }
    v.lvt[index] = nv;
  }

  #writeInitial(value: number): void {
    if (this.#timerMode() === TimerMode.TscDeadline) return; // ignored in TSC-deadline mode
    this.#v.timerInitial[0] = value >>> 0;
    this.#startCount();
  }

  #writeDivide(value: number): void {
    const v = this.#v;
    if (v.timerInitial[0] !== 0 && this.#timerMode() !== TimerMode.TscDeadline) {
      // Keep the current count; continue counting from it at the new rate.
      const cur = this.currentCount();
      const mode = this.#timerMode();
      v.timerDivide[0] = value & 0xb;
      const ns = this.nsPerCount();
      const now = this.#timers.now();
      v.timerStart[0] = now - (v.timerInitial[0] - cur) * ns;
      if (mode === TimerMode.OneShot && cur === 0) return;
      this.#arm(now + Math.max(cur * ns, 1));
      return;
    }
    v.timerDivide[0] = value & 0xb;
  }

  // ---------------------------------------------------------------- xAPIC MMIO

  /**
   * Guest read of `size` bytes (1, 2 or 4) at `offset` (0..0xFFF) in the xAPIC page. Reads within
   * the first dword of a 16-byte slot are answered; anything else (and any read in x2APIC mode or
   * with the APIC disabled) reads 0.
   */
  read(offset: number, size: number): number {
    if (!this.xapic || offset < 0 || offset > 0xfff) return 0;
    const byte = offset & 0xf;
    if ((size !== 1 && size !== 2 && size !== 4) || byte + size > 4) return 0;
    const val = this.readRegister(offset & 0xff0) >>> (byte * 8);
    return size === 4 ? val >>> 0 : val & (size === 1 ? 0xff : 0xffff);
  }

  /**
   * Guest write of `size` bytes at `offset` in the xAPIC page. Only aligned 4-byte writes to a
   * register take effect (KVM ignores the rest); read-only registers ignore writes; a write to a
   * hole records the illegal-register-address error.
   */
  write(offset: number, size: number, value: number): void {
    if (!this.xapic || offset < 0 || offset > 0xfff || size !== 4 || (offset & 0xf) !== 0) return;
    const v = this.#v;
    value >>>= 0;
    switch (offset) {
      case ApicReg.ID: v.id[0] = (value & 0xff000000) >>> 0; return;
      case ApicReg.TPR: v.tpr[0] = value & 0xff; return;
      case ApicReg.EOI: this.eoi(); return;
      case ApicReg.LDR: v.ldr[0] = (value & 0xff000000) >>> 0; return;
      case ApicReg.DFR: v.dfr[0] = (value | 0x0fffffff) >>> 0; return;
      case ApicReg.SVR: this.#writeSvr(value); return;
      case ApicReg.ESR: v.esr[0] = Atomics.exchange(v.esrPending, 0, 0); return;
      case ApicReg.ICR_LOW:
        v.icrLo[0] = value & ICR_XAPIC_KEEP;
        this.sendIpi(value, v.icrHi[0] >>> 24);
        return;
      case ApicReg.ICR_HIGH: v.icrHi[0] = (value & 0xff000000) >>> 0; return;
      case ApicReg.LVT_TIMER:
      case ApicReg.LVT_THERMAL:
      case ApicReg.LVT_PERF:
      case ApicReg.LVT_LINT0:
      case ApicReg.LVT_LINT1:
      case ApicReg.LVT_ERROR:
        this.#writeLvt((offset - ApicReg.LVT_TIMER) >>> 4, value);
        return;
      case ApicReg.TIMER_INITIAL: this.#writeInitial(value); return;
      case ApicReg.TIMER_DIVIDE: this.#writeDivide(value); return;
      case ApicReg.VERSION:
      case ApicReg.APR:
      case ApicReg.PPR:
      case ApicReg.RRD:
      case ApicReg.TIMER_CURRENT:
        return;
      default:
        if (offset >= ApicReg.ISR && offset < ApicReg.ESR) return;
        this.#error(Esr.IllegalRegister);
    }
  }

  // ---------------------------------------------------------------- MSRs

  /**
   * RDMSR of IA32_APIC_BASE, IA32_TSC_DEADLINE or an x2APIC MSR (0x800-0x8FF); `NotMine` for
   * others. x2APIC MSRs #GP unless x2APIC mode is on, and for write-only or absent registers.
   */
  rdmsr(a: MsrAccess): MsrOutcome {
    const v = this.#v;
    const idx = a.index;
    if (idx === MSR_IA32_APIC_BASE) {
      a.lo = v.apicBase[0];
      a.hi = v.apicBase[1];
      return MsrOutcome.Ok;
    }
    if (idx === MSR_IA32_TSC_DEADLINE) {
      const on = this.#timerMode() === TimerMode.TscDeadline;
      a.lo = on ? v.tscDeadline[0] : 0;
      a.hi = on ? v.tscDeadline[1] : 0;
      return MsrOutcome.Ok;
    }
    if (idx < X2APIC_MSR_FIRST || idx > X2APIC_MSR_LAST) return MsrOutcome.NotMine;
    if (!this.x2apic) return MsrOutcome.Gp;
    const off = (idx - X2APIC_MSR_FIRST) << 4;
    a.hi = 0;
    switch (off) {
      case ApicReg.ID:
        a.lo = this.apicId;
        return MsrOutcome.Ok;
      case ApicReg.ICR_LOW:
        a.lo = v.icrLo[0];
        a.hi = v.icrHi[0];
        return MsrOutcome.Ok;
      case ApicReg.VERSION:
      case ApicReg.TPR:
      case ApicReg.PPR:
      case ApicReg.LDR:
      case ApicReg.SVR:
      case ApicReg.ESR:
      case ApicReg.LVT_TIMER:
      case ApicReg.LVT_THERMAL:
      case ApicReg.LVT_PERF:
      case ApicReg.LVT_LINT0:
      case ApicReg.LVT_LINT1:
      case ApicReg.LVT_ERROR:
      case ApicReg.TIMER_INITIAL:
      case ApicReg.TIMER_CURRENT:
      case ApicReg.TIMER_DIVIDE:
        a.lo = this.readRegister(off);
        return MsrOutcome.Ok;
      default:
        if (off >= ApicReg.ISR && off < ApicReg.ESR) {
          a.lo = this.readRegister(off);
          return MsrOutcome.Ok;
        }
        return MsrOutcome.Gp; // EOI, SELF IPI (write-only); APR, RRD, DFR, ICR2, CMCI (absent)
    }
  }

  /**
   * WRMSR of IA32_APIC_BASE, IA32_TSC_DEADLINE or an x2APIC MSR; `NotMine` for others. x2APIC
   * rules: #GP unless in x2APIC mode, on read-only or absent registers, on reserved bits (including
   * bits 63:32 of everything but the ICR), on a non-zero write to EOI or ESR.
   */
  wrmsr(a: MsrAccess): MsrOutcome {
    const idx = a.index;
    if (idx === MSR_IA32_APIC_BASE) return this.setApicBase(a.lo, a.hi, false);
    if (idx === MSR_IA32_TSC_DEADLINE) {
      if (this.#timerMode() !== TimerMode.TscDeadline) return MsrOutcome.Ok; // ignored in other modes
      this.#v.tscDeadline[0] = a.lo >>> 0;
      this.#v.tscDeadline[1] = a.hi >>> 0;
      this.#armTscDeadline();
      return MsrOutcome.Ok;
    }
    if (idx < X2APIC_MSR_FIRST || idx > X2APIC_MSR_LAST) return MsrOutcome.NotMine;
    if (!this.x2apic) return MsrOutcome.Gp;
    const off = (idx - X2APIC_MSR_FIRST) << 4;
    const lo = a.lo >>> 0, hi = a.hi >>> 0;
    const v = this.#v;
    // x2APIC ICR: delivery status (bit 12) is reserved too (SDM 11.12.9); HV_X64_MSR_ICR ignores it.
    if (off === ApicReg.ICR_LOW) return (lo & 0x1000) === 0 && this.writeIcr(lo, hi) ? MsrOutcome.Ok : MsrOutcome.Gp;
    if (hi !== 0) return MsrOutcome.Gp;
    switch (off) {
      case ApicReg.TPR:
        if (lo > 0xff) return MsrOutcome.Gp;
        v.tpr[0] = lo;
        return MsrOutcome.Ok;
      case ApicReg.EOI:
        if (lo !== 0) return MsrOutcome.Gp;
        this.eoi();
        return MsrOutcome.Ok;
      case ApicReg.SVR:
        if ((lo & ~0x3ff) !== 0) return MsrOutcome.Gp;
        this.#writeSvr(lo);
        return MsrOutcome.Ok;
      case ApicReg.ESR:
        if (lo !== 0) return MsrOutcome.Gp;
        v.esr[0] = Atomics.exchange(v.esrPending, 0, 0);
        return MsrOutcome.Ok;
      case ApicReg.LVT_TIMER:
      case ApicReg.LVT_THERMAL:
      case ApicReg.LVT_PERF:
      case ApicReg.LVT_LINT0:
      case ApicReg.LVT_LINT1:
      case ApicReg.LVT_ERROR: {
        const i = (off - ApicReg.LVT_TIMER) >>> 4;
        if ((lo & ~(LVT_WRITABLE[i] | LVT_READONLY[i])) !== 0) return MsrOutcome.Gp;
        if (i === Lvt.Timer && ((lo >>> 17) & 3) === 3) return MsrOutcome.Gp;
        this.#writeLvt(i, lo);
        return MsrOutcome.Ok;
      }
      case ApicReg.TIMER_INITIAL:
        this.#writeInitial(lo);
        return MsrOutcome.Ok;
      case ApicReg.TIMER_DIVIDE:
        if ((lo & ~0xb) !== 0) return MsrOutcome.Gp;
        this.#writeDivide(lo);
        return MsrOutcome.Ok;
      case ApicReg.SELF_IPI:
        if (lo > 0xff) return MsrOutcome.Gp;
        if (lo < 16) this.#error(Esr.SendIllegalVector);
        else this.accept(lo, false, false);
        return MsrOutcome.Ok;
      default:
        return MsrOutcome.Gp; // read-only (ID, version, PPR, LDR, ISR/TMR/IRR, current count) or absent
    }
  }

  /**
   * Writes IA32_APIC_BASE (`host` = a host-initiated write, e.g. restore: transition and reserved
   * checks are skipped). Guest writes #GP on reserved bits, on EXTD without EN, on x2APIC -> xAPIC
   * and disabled -> x2APIC (SDM figure 11-27), and on EXTD when x2APIC is not offered. The BSP bit
   * is read-only for the guest. Disabling resets the registers; enabling x2APIC sets the x2APIC ID
   * and derived LDR.
   */
  setApicBase(lo: number, hi: number, host: boolean): MsrOutcome {
    const v = this.#v;
    lo >>>= 0;
    hi >>>= 0;
    const old = v.apicBase[0];
    const oldEn = (old & ApicBaseBit.Enable) !== 0, oldX2 = this.x2apic;
    const en = (lo & ApicBaseBit.Enable) !== 0, extd = (lo & ApicBaseBit.Extd) !== 0;
    if (!host) {
      if ((lo & 0x2ff) !== 0 || (hi & ~this.#baseHiMask) !== 0) return MsrOutcome.Gp;
      if (extd && !this.#x2Allowed) return MsrOutcome.Gp;
      if (!en && extd) return MsrOutcome.Gp;
      if (oldX2 && en && !extd) return MsrOutcome.Gp;
      if (!oldEn && en && extd) return MsrOutcome.Gp;
      lo = (lo & ~ApicBaseBit.Bsp) | (old & ApicBaseBit.Bsp);
    }
    v.apicBase[0] = lo >>> 0;
    v.apicBase[1] = hi;
    const x2 = en && extd;
    if (oldEn && !en) {
      this.#resetRegisters();
    } else if (x2 && !oldX2) {
      v.id[0] = this.apicId;
      v.ldr[0] = this.#x2Ldr();
    } else if (en && !x2 && (oldX2 || !oldEn)) {
      v.id[0] = (this.apicId << 24) >>> 0;
      v.ldr[0] = 0;
    }
    return MsrOutcome.Ok;
  }

  // ---------------------------------------------------------------- KVM interchange (edge code)

  /**
   * Writes the registers into a `struct kvm_lapic_state` page (1024 bytes, xAPIC layout; ID holds
   * the full x2APIC id in x2APIC mode, as with KVM_CAP_X2APIC_API). Edge code.
   */
  exportKvmPage(page: Uint8Array): void {
    if (page.byteLength < 0x400) throw new RangeError("kvm_lapic_state page must be 1024 bytes");
    page.fill(0, 0, 0x400);
    const dv = new DataView(page.buffer, page.byteOffset, 0x400);
    for (let off = 0x20; off < 0x400; off += 0x10) dv.setUint32(off, this.readRegister(off), true);
    dv.setUint32(ApicReg.ID, this.x2apic ? this.apicId : this.#v.id[0], true);
    if (this.x2apic) dv.setUint32(ApicReg.DFR, 0, true);
  }

  /**
   * Loads the registers from a `struct kvm_lapic_state` page (after `setApicBase(..., true)` for the
   * mode). The timer restarts from the page's current count. Auto-EOI marks are not in the page: none
   * are restored. Edge code.
   */
  importKvmPage(page: Uint8Array): void {
    if (page.byteLength < 0x400) throw new RangeError("kvm_lapic_state page must be 1024 bytes");
    const dv = new DataView(page.buffer, page.byteOffset, 0x400);
    const v = this.#v;
    const r = (off: number) => dv.getUint32(off, true);
    this.#cancelTimer();
    v.id[0] = this.x2apic ? this.apicId : r(ApicReg.ID) & 0xff000000;
    v.tpr[0] = r(ApicReg.TPR) & 0xff;
    v.ldr[0] = this.x2apic ? this.#x2Ldr() : r(ApicReg.LDR) & 0xff000000;
    v.dfr[0] = (r(ApicReg.DFR) | 0x0fffffff) >>> 0;
    v.svr[0] = r(ApicReg.SVR) & 0x3ff;
    v.esr[0] = r(ApicReg.ESR);
    v.icrLo[0] = r(ApicReg.ICR_LOW) & ~ApicBit.DeliveryStatus;
    v.icrHi[0] = r(ApicReg.ICR_HIGH);
    for (let i = 0; i < 6; i++) v.lvt[i] = r(ApicReg.LVT_TIMER + 0x10 * i) & (LVT_WRITABLE[i] | LVT_READONLY[i]);
    for (let i = 0; i < 8; i++) {
      Atomics.store(v.isr, i, r(ApicReg.ISR + 0x10 * i));
      Atomics.store(v.tmr, i, r(ApicReg.TMR + 0x10 * i));
      Atomics.store(v.irr, i, r(ApicReg.IRR + 0x10 * i));
      Atomics.store(v.aeoi, i, 0);
    }
    v.timerDivide[0] = r(ApicReg.TIMER_DIVIDE) & 0xb;
    v.timerInitial[0] = r(ApicReg.TIMER_INITIAL);
    if (v.timerInitial[0] !== 0 && this.#timerMode() !== TimerMode.TscDeadline) {
      const cur = Math.min(r(ApicReg.TIMER_CURRENT), v.timerInitial[0]);
      const ns = this.nsPerCount();
      const now = this.#timers.now();
      v.timerStart[0] = now - (v.timerInitial[0] - cur) * ns;
      if (cur !== 0 || this.#timerMode() === TimerMode.Periodic) this.#arm(now + Math.max(cur * ns, 1));
    }
  }
}
