/**
 * Behaviour of `hv-stimer`: the STIMERn_CONFIG / STIMERn_COUNT MSRs, host timers and expiry delivery
 * (TLFS §12.4 "Synthetic Timers"; KVM `stimer_set_config`, `stimer_set_count`, `stimer_start`,
 * `stimer_expiration`, `kvm_hv_process_stimers`, `kvm_hv_notify_acked_sint`).
 *
 * Built once per partition view (once per vCPU worker and once on the timer thread in the emulator);
 * every instance works on the same declared state (`stimerVpState`) in shared memory, under a per-VP
 * spinlock: vCPU threads write the MSRs and EOM, the timer thread fires.
 *
 * **Time base.** COUNT values are partition reference time (100 ns): `((guest_tsc * scale) >> 64) +
 * offset` with hv-time's live parameters, read at every use from time's partition state
 * (`loadReferenceParams`, the pair TIME_REF_COUNT and the reference TSC page are served with). While
 * that state holds none (power-on, after a VM reset) or `time` is not composed, the initial pair is
 * used, exactly as `hv-time` does: `referenceParams(partition.tscHz)` (derived again when `tscHz`
 * changes), or the `params` given to {@link stimerHandlers}. A deadline is converted to the host clock
 * of `PartitionView.timers` as `now + (target - refNow) * 100` ns, `refNow` taken from the VP's guest
 * TSC (exact on the writing vCPU).
 *
 * **TSC frequency change** (`PluginHandlers.tscFrequencyChanged`). When a change takes effect (at
 * once, or when the guest acknowledges a change hv-reenlightenment held), hv-time switches to a new
 * scale and an offset that keeps reference time continuous; stimer follows because it reads the live
 * pair (while a change is held the guest TSC keeps its old rate and time keeps the old pair, so
 * nothing changes). `expiry` (reference time) and COUNT keep their meaning; every armed timer (enabled,
 * expiry set, nothing waiting for an EOM) of every VP gets its host deadline recomputed from `expiry`
 * against the VP's reference time under the new pair. One already due by the new clock keeps its host
 * timer when that is due too (a direct-mode catch-up keeps its pacing) and is fired at once otherwise.
 * A periodic timer's grid continues from the recomputed deadline, one period (COUNT * 100 ns) per
 * expiry: reference time still counts 100 ns ticks, whatever the TSC rate.
 *
 * **MSRs** (tlfs-conformance.md (a); guest accesses only):
 * - RDMSR returns CONFIG / COUNT as stored; never #GP (the dispatcher #GPs when 3.EAX[3] is clear).
 * - WRMSR CONFIG: direct mode (bit 12) without 0x40000003.EDX[19] (`stimer-direct`) -> #GP, nothing
 *   changes. Otherwise the timer is stopped (host timer cancelled, pending expiry forgotten), `enable`
 *   is cleared when the timer was enabled and the new value has sintx = 0 and direct = 0 (KVM), the
 *   value is stored as written (no reserved-bit check, as KVM) and, if enabled, the timer starts.
 * - WRMSR COUNT: the timer is stopped, COUNT stored; 0 clears `enable`; a non-zero value with
 *   auto_enable sets `enable`; if enabled, the timer starts.
 * - A direct-mode vector below 16 is accepted, as KVM does (`stimer_set_config` checks none); at
 *   expiry no interrupt is raised for it (a local APIC refuses vectors 0..15 as illegal;
 *   `VpView.requestInterrupt` takes 16..255), the expiry otherwise completes.
 *
 * **Start** (enabled, COUNT != 0; COUNT = 0 leaves nothing armed): periodic -> first expiry one
 * period after the write (`expiry = refNow + COUNT`); one-shot -> `expiry = COUNT`, and COUNT <= refNow
 * expires at once, synchronously, before the WRMSR returns (TLFS: "if the specified count is in the
 * past, it will expire immediately").
 *
 * **Expiry** (timer thread, `onTimer`): a call before the stored deadline (a re-arm raced the timer
 * thread) re-arms it; a call while the VP's reference time is still below `expiry` (the reference
 * clock floors, so it can trail `host ns / 100` by a tick) re-arms for the remainder, at least 100 ns:
 * like KVM's `time_now >= exp_time` check, an expiry is never delivered before its reference time
 * (TLFS: "a timer expiration signal will never be delivered before the expiration time"). Then:
 * - direct mode: `vp.requestInterrupt(apic_vector, false)`; always complete.
 * - message mode: HVMSG_TIMER_EXPIRED {timer_index, expiration_time = expiry, delivery_time = refNow}
 *   to SINT sintx via `postSynicMessage`, tag = timer index + 1:
 *   - "delivered" / "masked" (in the slot): complete.
 *   - "pending" (slot busy, queued by the SynIC; it enters the slot after the guest's EOM): a one-shot
 *     or a non-lazy periodic timer waits (`pending` = 1, no host timer) and completes when an EOM
 *     finds its message gone from the queue; a lazy periodic timer completes (keeps ticking).
 *   - "busy" (this timer's previous message still queued, or the queue full): a one-shot or a
 *     non-lazy periodic timer waits (`pending` = 2) and is re-posted at the next EOM; a lazy periodic
 *     timer completes and the tick is lost (KVM `stimer_send_msg`: `no_retry` for periodic timers,
 *     "lazy" lost-tick policy), so it never has more than one message waiting.
 *   - "disabled" (SCONTROL or SIMP off): `pending` = 2, re-posted at the next EOM (KVM keeps
 *     `msg_pending` and stops a periodic timer until then).
 * - complete: one-shot -> `enable` cleared (before the interrupt is raised, so a guest reading CONFIG
 *   in its handler sees it clear); periodic -> the next period, counted from the previous deadline,
 *   not from "now" (no drift): `next = prev + k * period`, and `expiry` advances by the same k
 *   periods (so each message's expiration_time is its own period's deadline on the grid
 *   `first expiry + j * period`). k depends on CONFIG.lazy (bit 2), below.
 *
 * **Periodic timers that fall behind** (the timer thread woke a period or more late, or the guest
 * held a message slot; TLFS "Periodic Timers"):
 * - lazy (bit 2 set): the missed periods are skipped, k = the smallest count that puts `next` in
 *   the future (TLFS: a lazy timer's signal "is deferred until this virtual processor is available
 *   ... it is skipped entirely"; KVM's `stimer_start` remainder rule, which KVM applies to every
 *   periodic timer).
 * - non-lazy (bit 2 clear): no expiration is lost; the missed periods are delivered, each as its
 *   own expiry with its own expiration_time (TLFS: "timer period modulation, in effect shortening
 *   the period until the timer catches up"), k = 1:
 *   - message mode: the next overdue expiry is posted at once, in the same call. A free slot takes
 *     it; normally the slot still holds the previous message, so it is queued by the SynIC
 *     (`pending` = 1, msg_pending set in the slot) and the timer holds: the guest's EOM moves it
 *     into the slot (one SINT per message) and completes it, and the next overdue one is posted in
 *     turn. Catch-up runs at the rate the guest consumes messages, in order, one message per period.
 *   - direct mode: raising the vector again at once would only set the IRR bit that is still set
 *     (a fixed interrupt already pending in the IRR merges with a new one, as on hardware), and a
 *     guest counting interrupts would count one. So each overdue period is raised from its own host
 *     timer, at a shortened period: `max(next, now + min(period / 2, 1 ms))` (the host timer, while
 *     `deadline` keeps the grid). An interrupt the guest has not taken by then still merges; that
 *     loss is the guest's, not the timer's.
 *   - cap ({@link STIMER_CATCH_UP_LIMIT}): when more than that many periods are overdue after the one
 *     just delivered, the oldest are skipped so that exactly that many remain (TLFS: "If a
 *     significant number of timer signals have been missed, the hypervisor may be unable to
 *     compensate ... some timer expiration signals may be skipped completely"). This bounds the
 *     burst after a long stall (a paused host, a guest with interrupts off for seconds) and keeps a
 *     tiny hostile period (COUNT = 1, 100 ns) from building an endless backlog. Every call delivers
 *     a bounded number of expiries (at most the cap + 1).
 * - after `restored()`, the grid restarts at the restore: periods that fell due while the VM was
 *   saved are not caught up.
 *
 * Exit path: synchronous, no BigInt, no allocation after each VP's first use (`vp.guestTsc()` may
 * box a double, as in `hv-time`; the parameters are read into scratch words). The exceptions are
 * hv-time's: deriving the initial pair again for a new `tscHz` (once per change, and only while
 * time's state holds no pair). `tscFrequencyChanged` is edge code, and allocates nothing either.
 * @module
 */
import {
  HV_SYNIC_FIRST_VALID_VECTOR,
  HV_SYNIC_STIMER_COUNT,
  HV_TIMER_MESSAGE_PAYLOAD_SIZE,
  HV_X64_MSR_STIMER0_CONFIG,
  HVMSG_TIMER_EXPIRED,
} from "@hv/tlfs";
import { MsrOutcome, type PartitionView, type PluginHandlers, type VpView } from "@hv/x86";
import { addSynicEomListener, postSynicMessage, synicMessageQueued } from "@hv/synic";
import { loadReferenceParams, type ReferenceParams, referenceParams, referenceTime, TIME_OWNER } from "@hv/time";
import { directStimersAllowed } from "./direct.ts";

/** The owner name of the stimer state and host timers (its plugin name). */
export const STIMER_OWNER = "stimer";

/** `pending[n]` values: why an expiry waits for an EOM. */
export const StimerPending = {
  /** Nothing waits. */
  None: 0,
  /** The expiry message is queued by the SynIC (slot busy); the timer completes once it left the queue. */
  Queued: 1,
  /** The message was not taken ("busy" or "disabled"); it is posted again at the next EOM. */
  Retry: 2,
} as const;

/**
 * The most overdue periods a non-lazy periodic timer catches up on: when, after delivering an expiry,
 * more periods than this are already due, the oldest are skipped so that this many remain (each
 * then delivered with its own expiration_time). TLFS "Periodic Timers": with "a significant number"
 * of missed signals "some timer expiration signals may be skipped completely". 32 covers a 32 ms
 * host stall of a 1 ms timer (the emulator's timer thread was seen waking 4-8 ms late on a loaded
 * 2-CPU host) and bounds the burst a guest gets after a long one. Unit: periods.
 */
export const STIMER_CATCH_UP_LIMIT = 32;

/**
 * The longest gap between two catch-up interrupts of a non-lazy periodic timer in direct mode, ns
 * (1 ms). The gap is `min(period / 2, this)`: half a period (TLFS "period modulation", shortening the
 * period until the timer catches up), giving the guest time to take each interrupt before the next is
 * raised, but no more than 1 ms, so that a long-period timer still catches up promptly.
 */
export const STIMER_CATCH_UP_MAX_SPACING_NS = 1_000_000;

const ENABLE = 1;
const PERIODIC = 2;
const LAZY = 4;
const AUTO_ENABLE = 8;
const DIRECT = 0x1000;
const TWO_32 = 0x1_0000_0000;
/** The smallest re-arm step while reference time trails the deadline (one reference tick). */
const MIN_RETRY_NS = 100;
const PAYLOAD_WORDS = HV_TIMER_MESSAGE_PAYLOAD_SIZE / 4;

/** The typed views of one VP's stimer state (see `stimerVpState`). */
interface StimerViews {
  readonly config: Uint32Array;
  readonly count: Uint32Array;
  readonly expiry: Uint32Array;
  readonly deadline: Float64Array;
  readonly pending: Uint8Array;
  readonly lock: Uint32Array;
}

const acquire = (lock: Uint32Array): void => {
  while (Atomics.compareExchange(lock, 0, 0, 1) !== 0) { /* spin: the holder never blocks */ }
};
const release = (lock: Uint32Array): void => {
  Atomics.store(lock, 0, 0);
};

/** `aHi:aLo >= bHi:bLo` (unsigned 64-bit). */
const ge64 = (aLo: number, aHi: number, bLo: number, bHi: number): boolean => aHi > bHi || (aHi === bHi && aLo >= bLo);

/** `aHi:aLo - bHi:bLo` as a double (exact below 2^53; negative when a < b). */
const diff64 = (aLo: number, aHi: number, bLo: number, bHi: number): number => (aHi - bHi) * TWO_32 + (aLo - bLo);

/** Element `i` of u64 view `w` = `hi:lo + addHi:addLo`, saturating at 2^64 - 1 (no wrap into the past). */
const addSat = (w: Uint32Array, i: number, lo: number, hi: number, addLo: number, addHi: number): void => {
  let l = (lo >>> 0) + (addLo >>> 0);
  const carry = l >= TWO_32 ? 1 : 0;
  l -= carry * TWO_32;
  const h = (hi >>> 0) + (addHi >>> 0) + carry;
  if (h >= TWO_32) {
    w[2 * i] = 0xffffffff;
    w[2 * i + 1] = 0xffffffff;
  } else {
    w[2 * i] = l;
    w[2 * i + 1] = h;
  }
};

/** {@link addSat} with a non-negative integral double addend (any double >= 2^53 is integral). */
const addSatNumber = (w: Uint32Array, i: number, lo: number, hi: number, add: number): void => {
  if (!(add < 2 ** 64)) {
    w[2 * i] = 0xffffffff;
    w[2 * i + 1] = 0xffffffff;
    return;
  }
  const addHi = Math.floor(add / TWO_32);
  addSat(w, i, lo, hi, add - addHi * TWO_32, addHi);
};

/**
 * The stimer handlers plus {@link StimerHandlers.restored}, the hook a backend calls after it
 * restored the state arenas (host timers are not part of the saved state).
 */
export interface StimerHandlers extends PluginHandlers {
  /**
   * Re-arms the host timers of every VP (0..vpCount-1) from the restored state: each enabled timer
   * with a non-zero COUNT and no expiry waiting for an EOM gets the deadline of its stored
   * `expiry` (reference time) against the VP's current reference time; one already due fires as
   * soon as the timer thread runs. Edge code.
   */
  restored(): void;
  /** {@link restored} for one VP. */
  rearm(vp: VpView): void;
  /**
   * A TSC frequency change took effect (see the module doc): recomputes the host deadline of every
   * armed timer of every VP from its `expiry` against the live reference-time parameters.
   */
  tscFrequencyChanged(fromHz: number, toHz: number, atTsc: number): void;
}

/** hv-time's partition state on `partition`, or undefined when `time` is not composed. Edge code. */
const timeStateOf = (partition: PartitionView): Record<string, ArrayBufferView> | undefined => {
  try {
    const st = partition.state(TIME_OWNER);
    return st.params_seq instanceof Uint32Array && st.tsc_scale instanceof Uint32Array &&
        st.tsc_offset instanceof Uint32Array
      ? st
      : undefined;
  } catch {
    return undefined;
  }
};

/**
 * The handlers of `hv-stimer` for `partition` (see the module doc). Reference time uses hv-time's
 * live parameters (`loadReferenceParams`); `params` are the initial ones, used while time's state holds
 * none or `time` is not composed: by default `referenceParams(partition.tscHz)` (what `hv-time` uses
 * then, derived again when `tscHz` changes); tests may pass others. Registers an EOM listener with the
 * SynIC (`addSynicEomListener`). Edge code.
 */
export function stimerHandlers(partition: PartitionView, params?: ReferenceParams): StimerHandlers {
  const timers = partition.timers;
  const timeState = timeStateOf(partition);
  /** Scratch: the reference time just read (lo, hi). */
  const ref = new Uint32Array(2);
  /** Scratch: the reference-time parameters in force (scale lo, hi, offset lo, hi). */
  const cur = new Uint32Array(4);
  /** Scratch: the HVMSG_TIMER_EXPIRED payload. */
  const payload = new Uint32Array(PAYLOAD_WORDS);

  /** The initial parameters for a guest TSC of `hz` Hz (`params` when given), cached per Hz (as hv-time). */
  let initialHz = partition.tscHz;
  let initial: ReferenceParams = params ?? referenceParams(initialHz);
  const initialFor = (hz: number): ReferenceParams => {
    if (params === undefined && hz !== initialHz) {
      initial = referenceParams(hz); // once per frequency change (BigInt), as hv-time
      initialHz = hz;
    }
    return initial;
  };

  /** The reference-time parameters in force into {@link cur}: time's live pair, else the initial one. */
  const loadParams = (): void => {
    if (timeState !== undefined && loadReferenceParams(timeState, cur, 0)) return;
    const p = initialFor(partition.tscHz);
    cur[0] = p.scaleLo;
    cur[1] = p.scaleHi;
    cur[2] = p.offsetLo;
    cur[3] = p.offsetHi;
  };

  const views = (vp: VpView): StimerViews => vp.state(STIMER_OWNER) as unknown as StimerViews;

  /** The VP's current reference time into {@link ref}, with the parameters in force now. */
  const readRef = (vp: VpView): void => {
    loadParams();
    referenceTime(vp.guestTsc(), cur[0], cur[1], cur[2], cur[3], ref, 0);
  };

  /**
   * The VP's reference time into {@link ref}, and the host time it corresponds to: the midpoint of
   * host-clock readings taken around the guest TSC read (on the emulator that read is a
   * KVM_GET_MSRS ioctl, tens of microseconds on a nested host; taking "now" after it would put
   * every deadline late by that much).
   */
  const readRefAt = (vp: VpView): number => {
    const before = timers.now();
    readRef(vp);
    return (before + timers.now()) / 2;
  };

  /** KVM `stimer_cleanup`: no host timer, nothing pending, no expiry. Lock held. */
  const stop = (vp: VpView, s: StimerViews, t: number): void => {
    timers.cancel(STIMER_OWNER, vp.index, t);
    s.pending[t] = StimerPending.None;
    s.expiry[2 * t] = 0;
    s.expiry[2 * t + 1] = 0;
    s.deadline[t] = 0;
  };

  const arm = (vp: VpView, s: StimerViews, t: number, atNs: number): void => {
    s.deadline[t] = atNs;
    timers.arm(STIMER_OWNER, vp.index, t, atNs);
  };

  /**
   * The expiry of timer `t` was handled (delivered, or dropped by a lazy periodic timer). One-shot ->
   * disabled. Periodic -> the next period from the previous deadline (see the module doc: lazy skips
   * missed periods; non-lazy keeps them, up to {@link STIMER_CATCH_UP_LIMIT}) with `expiry` advanced
   * by the same number of periods, and the host timer armed for it. Returns true, arming nothing,
   * when the next expiry of a non-lazy message-mode timer is already due: the caller delivers it now
   * (see `deliver`). Lock held.
   */
  const complete = (vp: VpView, s: StimerViews, t: number, nowNs: number): boolean => {
    s.pending[t] = StimerPending.None;
    const lo = s.config[2 * t];
    const period = s.count[2 * t + 1] * TWO_32 + s.count[2 * t];
    if ((lo & PERIODIC) === 0 || period === 0) {
      // One-shot: done. (A periodic timer with COUNT 0 exists only in a doctored image: just stop it.)
      if ((lo & PERIODIC) === 0) s.config[2 * t] = (lo & ~ENABLE) >>> 0;
      s.expiry[2 * t] = 0;
      s.expiry[2 * t + 1] = 0;
      s.deadline[t] = 0;
      return false;
    }
    const periodNs = period * 100;
    let prev = s.deadline[t];
    if (!(prev <= nowNs && prev > -Infinity)) prev = nowNs; // a doctored deadline: count from now
    // Periods after `prev` already due: prev + j * period <= now for j = 1..overdue.
    const overdue = Math.floor((nowNs - prev) / periodNs);
    const lazy = (lo & LAZY) !== 0;
    let k = lazy ? overdue + 1 : overdue > STIMER_CATCH_UP_LIMIT ? overdue - STIMER_CATCH_UP_LIMIT + 1 : 1;
    let next = prev + k * periodNs;
    if (!(next > prev) || (lazy && !(next > nowNs))) { // rounding at huge magnitudes (doctored deadlines only)
      k = 1;
      next = nowNs + periodNs;
    }
    addSatNumber(s.expiry, t, s.expiry[2 * t], s.expiry[2 * t + 1], k * period);
    s.deadline[t] = next;
    if (lazy) {
      timers.arm(STIMER_OWNER, vp.index, t, next);
      return false;
    }
    if ((lo & DIRECT) !== 0) {
      // A shortened period while behind, so that catch-up interrupts do not merge in the IRR.
      const gap = Math.min(periodNs / 2, STIMER_CATCH_UP_MAX_SPACING_NS);
      timers.arm(STIMER_OWNER, vp.index, t, Math.max(next, nowNs + gap));
      return false;
    }
    if (next > nowNs) {
      timers.arm(STIMER_OWNER, vp.index, t, next);
      return false;
    }
    return true; // message mode, overdue: posted at once; a busy slot queues it and the timer holds
  };

  /**
   * Delivers the due expiry of timer `t` at reference time `rLo:rHi`; true when the next one is due
   * too and must be delivered now (only a non-lazy periodic timer in message mode, see `complete`).
   * Lock held, timer enabled.
   */
  const expire = (vp: VpView, s: StimerViews, t: number, nowNs: number, rLo: number, rHi: number): boolean => {
    const lo = s.config[2 * t];
    if ((lo & DIRECT) !== 0) {
      complete(vp, s, t, nowNs); // never true in direct mode
      const vector = (lo >>> 4) & 0xff;
      if (vector >= HV_SYNIC_FIRST_VALID_VECTOR) vp.requestInterrupt(vector, false);
      return false;
    }
    payload[0] = t;
    payload[1] = 0;
    payload[2] = s.expiry[2 * t];
    payload[3] = s.expiry[2 * t + 1];
    payload[4] = rLo;
    payload[5] = rHi;
    const r = postSynicMessage(
      vp,
      (lo >>> 16) & 0xf,
      HVMSG_TIMER_EXPIRED,
      payload,
      HV_TIMER_MESSAGE_PAYLOAD_SIZE,
      t + 1,
    );
    if (r === "delivered" || r === "masked") return complete(vp, s, t, nowNs);
    if ((lo & (PERIODIC | LAZY)) === (PERIODIC | LAZY) && r !== "disabled") {
      complete(vp, s, t, nowNs); // lazy: keeps ticking; a queued message waits, a "busy" tick is lost
      return false;
    }
    // One-shot or non-lazy periodic: hold (no host timer) until an EOM.
    s.pending[t] = r === "pending" ? StimerPending.Queued : StimerPending.Retry;
    return false;
  };

  /**
   * Delivers the due expiry of timer `t` and, for a non-lazy periodic timer in message mode, the
   * overdue ones after it, in order, until one is held by a busy slot or the next is in the future
   * (at most {@link STIMER_CATCH_UP_LIMIT} + 1 per call; beyond that, the rest is left to the timer
   * thread). Never before an expiry's reference time: while the VP's reference time trails it, the
   * host timer is re-armed for the remainder (at least 100 ns) and the anchor `deadline` stays.
   * Lock held, timer enabled, nothing pending.
   */
  const deliver = (vp: VpView, s: StimerViews, t: number, nowNs: number): void => {
    readRef(vp);
    const rLo = ref[0], rHi = ref[1];
    for (let n = 0;; n++) {
      const eLo = s.expiry[2 * t], eHi = s.expiry[2 * t + 1];
      if (!ge64(rLo, rHi, eLo, eHi)) {
        timers.arm(STIMER_OWNER, vp.index, t, nowNs + Math.max(MIN_RETRY_NS, diff64(eLo, eHi, rLo, rHi) * 100));
        return;
      }
      if (!expire(vp, s, t, nowNs, rLo, rHi)) return;
      if (n >= STIMER_CATCH_UP_LIMIT) {
        timers.arm(STIMER_OWNER, vp.index, t, nowNs); // bounded work per call: the timer thread goes on
        return;
      }
    }
  };

  /** KVM `stimer_start` after a CONFIG/COUNT write (expiry 0). Lock held, timer enabled. */
  const start = (vp: VpView, s: StimerViews, t: number): void => {
    const cLo = s.count[2 * t], cHi = s.count[2 * t + 1];
    if (cLo === 0 && cHi === 0) return;
    const nowNs = readRefAt(vp);
    const rLo = ref[0], rHi = ref[1];
    if ((s.config[2 * t] & PERIODIC) !== 0) {
      addSat(s.expiry, t, rLo, rHi, cLo, cHi);
      arm(vp, s, t, nowNs + (cHi * TWO_32 + cLo) * 100);
      return;
    }
    s.expiry[2 * t] = cLo;
    s.expiry[2 * t + 1] = cHi;
    if (ge64(rLo, rHi, cLo, cHi)) {
      s.deadline[t] = nowNs;
      expire(vp, s, t, nowNs, rLo, rHi);
    } else {
      arm(vp, s, t, nowNs + diff64(cLo, cHi, rLo, rHi) * 100);
    }
  };

  const rearm = (vp: VpView): void => {
    const s = views(vp);
    for (let t = 0; t < HV_SYNIC_STIMER_COUNT; t++) {
      acquire(s.lock);
      try {
        timers.cancel(STIMER_OWNER, vp.index, t);
        const enabled = (s.config[2 * t] & ENABLE) !== 0 && (s.count[2 * t] !== 0 || s.count[2 * t + 1] !== 0);
        if (!enabled || s.pending[t] !== StimerPending.None) {
          // An expiry waiting for an EOM: the grid restarts here (the old host clock means nothing),
          // so that the EOM's catch-up counts only periods missed after the restore.
          s.deadline[t] = enabled ? timers.now() : 0;
          continue;
        }
        const eLo = s.expiry[2 * t], eHi = s.expiry[2 * t + 1];
        if (eLo === 0 && eHi === 0) {
          start(vp, s, t);
          continue;
        }
        const nowNs = readRefAt(vp);
        arm(vp, s, t, ge64(ref[0], ref[1], eLo, eHi) ? nowNs : nowNs + diff64(eLo, eHi, ref[0], ref[1]) * 100);
      } finally {
        release(s.lock);
      }
    }
  };

  /**
   * After a TSC frequency change took effect: the host deadline of each armed timer of `vp` (enabled,
   * expiry set, nothing waiting for an EOM, so its host timer runs) from its `expiry` against the VP's
   * reference time under the new parameters. Timers waiting for an EOM have no host timer and keep
   * their anchor. Edge code, no allocation.
   */
  const retime = (vp: VpView): void => {
    const s = views(vp);
    for (let t = 0; t < HV_SYNIC_STIMER_COUNT; t++) {
      acquire(s.lock);
      try {
        if ((s.config[2 * t] & ENABLE) === 0 || s.pending[t] !== StimerPending.None) continue;
        const eLo = s.expiry[2 * t], eHi = s.expiry[2 * t + 1];
        if (eLo === 0 && eHi === 0) continue; // stopped, or nothing armed (COUNT 0)
        const nowNs = readRefAt(vp);
        if (!ge64(ref[0], ref[1], eLo, eHi)) arm(vp, s, t, nowNs + diff64(eLo, eHi, ref[0], ref[1]) * 100);
        else if (!(s.deadline[t] <= nowNs)) arm(vp, s, t, nowNs); // due by the new clock: fire now
        // else due, and its host timer is due as well (or paces a direct-mode catch-up): left alone.
      } finally {
        release(s.lock);
      }
    }
  };

  // EOM (any VP, on its own thread, after the SynIC moved queued messages into free slots): KVM
  // `kvm_hv_notify_acked_sint` -> retry the expiries that wait for a slot.
  addSynicEomListener(partition, (vp) => {
    const s = views(vp);
    acquire(s.lock);
    try {
      for (let t = 0; t < HV_SYNIC_STIMER_COUNT; t++) {
        const p = s.pending[t];
        if (p === StimerPending.None) continue;
        const lo = s.config[2 * t];
        if ((lo & ENABLE) === 0) {
          s.pending[t] = StimerPending.None;
          continue;
        }
        if (p === StimerPending.Queued) {
          if (synicMessageQueued(vp, (lo >>> 16) & 0xf, t + 1)) continue;
          // Its message reached the slot. A non-lazy periodic timer that is behind posts the next
          // overdue expiry now (it queues behind the one just moved in; the guest's next EOM frees it).
          const nowNs = timers.now();
          if (complete(vp, s, t, nowNs)) deliver(vp, s, t, nowNs);
          continue;
        }
        s.pending[t] = StimerPending.None;
        deliver(vp, s, t, timers.now());
      }
    } finally {
      release(s.lock);
    }
  });

  return {
    rdmsr(vp, msr) {
      const off = msr.index - HV_X64_MSR_STIMER0_CONFIG;
      if (!(off >= 0 && off < 2 * HV_SYNIC_STIMER_COUNT)) return MsrOutcome.NotMine;
      const t = off >>> 1;
      const s = views(vp);
      const w = (off & 1) === 0 ? s.config : s.count;
      acquire(s.lock); // a timer thread clearing `enable` right now finishes first
      msr.lo = w[2 * t];
      msr.hi = w[2 * t + 1];
      release(s.lock);
      return MsrOutcome.Ok;
    },

    wrmsr(vp, msr) {
      const off = msr.index - HV_X64_MSR_STIMER0_CONFIG;
      if (!(off >= 0 && off < 2 * HV_SYNIC_STIMER_COUNT)) return MsrOutcome.NotMine;
      const t = off >>> 1;
      const lo = msr.lo >>> 0, hi = msr.hi >>> 0;
      const isConfig = (off & 1) === 0;
      if (isConfig && (lo & DIRECT) !== 0 && !directStimersAllowed(vp.partition)) return MsrOutcome.Gp;
      const s = views(vp);
      acquire(s.lock);
      try {
        stop(vp, s, t);
        if (isConfig) {
          let v = lo;
          if ((s.config[2 * t] & ENABLE) !== 0 && (lo & DIRECT) === 0 && ((lo >>> 16) & 0xf) === 0) {
            v = (v & ~ENABLE) >>> 0;
          }
          s.config[2 * t] = v;
          s.config[2 * t + 1] = hi;
        } else {
          s.count[2 * t] = lo;
          s.count[2 * t + 1] = hi;
          if (lo === 0 && hi === 0) s.config[2 * t] = (s.config[2 * t] & ~ENABLE) >>> 0;
          else if ((s.config[2 * t] & AUTO_ENABLE) !== 0) s.config[2 * t] = (s.config[2 * t] | ENABLE) >>> 0;
        }
        if ((s.config[2 * t] & ENABLE) !== 0) start(vp, s, t);
      } finally {
        release(s.lock);
      }
      return MsrOutcome.Ok;
    },

    onTimer(vp, t) {
      if (!(t >= 0 && t < HV_SYNIC_STIMER_COUNT)) return;
      t |= 0;
      const s = views(vp);
      acquire(s.lock);
      try {
        if ((s.config[2 * t] & ENABLE) === 0 || s.pending[t] !== StimerPending.None) return;
        if (s.expiry[2 * t] === 0 && s.expiry[2 * t + 1] === 0) return; // stopped: a stale host timer
        const due = s.deadline[t];
        const nowNs = timers.now();
        if (nowNs < due) {
          timers.arm(STIMER_OWNER, vp.index, t, due); // a re-arm raced the timer thread: not yet
          return;
        }
        deliver(vp, s, t, nowNs);
      } finally {
        release(s.lock);
      }
    },

    reset() {
      // The core zeroed the state; drop the host timers (stale ones would find `enable` clear anyway).
      for (let i = 0; i < partition.vpCount; i++) {
        const vp = partition.vp(i);
        for (let t = 0; t < HV_SYNIC_STIMER_COUNT; t++) timers.cancel(STIMER_OWNER, vp ? vp.index : i, t);
      }
    },

    restored() {
      for (let i = 0; i < partition.vpCount; i++) {
        const vp = partition.vp(i);
        if (vp) rearm(vp);
      }
    },

    rearm,

    tscFrequencyChanged() {
      for (let i = 0; i < partition.vpCount; i++) {
        const vp = partition.vp(i);
        if (vp) retime(vp);
      }
    },
  };
}
