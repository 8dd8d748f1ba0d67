/**
 * Behaviour of `hv-time`: HV_X64_MSR_TIME_REF_COUNT and HV_X64_MSR_REFERENCE_TSC (the reference TSC
 * page), built once per partition (once per vCPU thread in the emulator; all instances share the
 * partition's and the VPs' declared state in shared memory).
 *
 * **Time.** Reference time in 100 ns units is `((guest_tsc * scale) >> 64) + offset`, with
 * `scale = floor((10^7 << 64) / tscHz)` from {@link PartitionView.tscHz} (the value
 * HV_X64_MSR_TSC_FREQUENCY reports) and `offset = 0`: reference time is the guest TSC in 100 ns
 * units (Propolis does the same; KVM derives its offset from kvmclock instead). It starts near 0
 * where the guest TSC does (KVM sets a new vCPU's TSC to 0); a backend whose guest TSC starts at the
 * host's (a nested PVM host) shows the host's uptime instead, which no guest depends on (Linux
 * subtracts its first reading for sched_clock). The offset is the only place to move that origin,
 * and it must then come from a guest TSC taken once for the whole partition, not per vCPU thread.
 * Scale and offset live in the partition state (`tsc_scale`/`tsc_offset`, both 0 = the initial
 * pair above) and change only when the guest TSC frequency does (below): the page publishes exactly
 * them, and TIME_REF_COUNT is computed from the reading VP's guest TSC with the same two numbers,
 * whether or not the page is enabled. So on any VP, page time read before an RDMSR <= the MSR value
 * <= page time read after it: the guest TSC only moves forward between the three reads, and the
 * clamp below can lift the MSR only to a value another VP returned earlier, which is below this
 * VP's later page time as long as the vCPUs' TSCs are synchronised (KVM keeps them so). Every
 * instance (one per vCPU thread) reads the pair under a sequence lock (`params_seq`, odd while a
 * writer holds it), so no thread ever combines one scale with another offset; writers (a page
 * publication, a frequency change) take it as a spinlock, which also keeps two publications from
 * interleaving their writes into the page.
 *
 * **TSC frequency change** (`PluginHandlers.tscFrequencyChanging`/`tscFrequencyChanged`). When the
 * change is announced, the current pair is pinned in the state (the initial pair is derived from the
 * old `tscHz`, which `PartitionView.tscHz` stops reporting), so a change held by hv-reenlightenment
 * (TSC emulation: the guest TSC keeps the old rate) leaves TIME_REF_COUNT and the page exactly as
 * they were, as long as it is held. When it takes effect at guest TSC `T0` (at once, or when the
 * guest acknowledged through TSC_EMULATION_STATUS), the pair becomes `scale' = floor((10^7 << 64) /
 * newHz)` and `offset' = R0 - ((T0 * scale') >> 64)`, with `R0` the reference time at `T0` under the
 * old pair ({@link tscChangeParams}): reference time is continuous at `T0` and counts 100 ns ticks at
 * the new rate after it (no step back, no jump). If the page is enabled and in RAM it is republished
 * in the usual order with the next sequence (skipping 0 and 0xFFFFFFFF), so a guest reading it
 * concurrently falls back to the MSR, then sees the new pair. KVM differs: it never changes a running
 * guest's TSC frequency (userspace keeps it with TSC scaling) and freezes the page for every
 * host-side clock update while TSC_EMULATION_CONTROL is non-zero (`tsc_page_update_unsafe` in
 * `kvm_hv_setup_tsc_page`, `kvm_hv_request_tsc_page_update`), whether or not an emulation is in
 * progress; hv's page changes only at a guest enable and when a change takes effect, so it stays
 * frozen exactly while an emulation is in progress.
 *
 * **TIME_REF_COUNT never steps back**, on one VP or across VPs: each read returns
 * `max(computed, last value any VP returned)`, kept lock-free in per-VP slots (see `monotonic.ts`).
 *
 * **The page.** A WRMSR of HV_X64_MSR_REFERENCE_TSC stores the value as written (no reserved-bit
 * check, bits 11:1 kept, no #GP: KVM). With bit 0 set and the 4 KiB page at GPA = bits 63:12 wholly
 * in guest RAM, the page is written before the handler returns, so it is valid before the guest runs
 * again, in the order Linux's reader (`hv_read_tsc_page`) and KVM (`kvm_hv_setup_tsc_page`) expect:
 * `tsc_sequence` = 0; then the rest of the page (reserved words zeroed, as KVM writes its whole
 * `ms_hyperv_tsc_page`), `tsc_scale`, `tsc_offset`; then the new sequence, the partition's previous
 * one bumped, skipping 0 and 0xFFFFFFFF. The two sequence stores are `Atomics.store`s, which order
 * the plain stores between them for a VP reading the page concurrently. A page not wholly in RAM:
 * the value is stored, nothing is written, no #GP. With bit 0 clear nothing is ever written.
 *
 * Exit path: synchronous, no BigInt, no allocation by the handlers after each VP's first
 * TIME_REF_COUNT read (the backend's `guestTsc()` returns a double, which V8 boxes when the call is
 * not inlined: measured, 16 bytes per read in the testkit). The frequency-change hooks are edge code
 * (BigInt, once per change), as is deriving the initial pair again for a new `tscHz` (once per change).
 * @module
 */
import {
  HV_X64_MSR_REFERENCE_TSC,
  HV_X64_MSR_TIME_REF_COUNT,
  HvReferenceTscPage,
  overlayPageGpa,
} from "@hv/tlfs";
import { MsrOutcome, type PartitionView, type PluginHandlers, type VpView } from "@hv/x86";
import { LastReturned, type LastSlot } from "./monotonic.ts";
import { nextTscSequence, referenceTime, referenceTscScale, splitTsc } from "./ref_time.ts";

/** The owner name of the time plugin's state (its plugin name). */
export const TIME_OWNER = "time";

const PAGE_BYTES = 4096;
const SEQ = HvReferenceTscPage.tsc_sequence.offset;
const SCALE = HvReferenceTscPage.tsc_scale.offset;
const OFFSET = HvReferenceTscPage.tsc_offset.offset;
const RESERVED = HvReferenceTscPage.reserved1.offset;

/** The partition's reference-time parameters as u32 halves (scale unsigned, offset two's complement). */
export interface ReferenceParams {
  readonly scaleLo: number;
  readonly scaleHi: number;
  readonly offsetLo: number;
  readonly offsetHi: number;
}

/** Splits a bigint (mod 2^64) into unsigned halves. Edge code. */
const halves = (v: bigint): [number, number] => {
  const u = BigInt.asUintN(64, v);
  return [Number(u & 0xffffffffn), Number(u >> 32n)];
};

/** Joins unsigned halves into a u64 bigint. Edge code. */
const joined = (lo: number, hi: number): bigint => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);

/**
 * The partition's reference-time parameters for a guest TSC of `tscHz` Hz and a reference-time
 * offset of `offset` (100 ns units, signed; hv uses 0). Edge code (once per partition).
 */
export function referenceParams(tscHz: number, offset: bigint = 0n): ReferenceParams {
  const [scaleLo, scaleHi] = halves(referenceTscScale(tscHz));
  const [offsetLo, offsetHi] = halves(offset);
  return Object.freeze({ scaleLo, scaleHi, offsetLo, offsetHi });
}

/**
 * The reference-time parameters after a TSC frequency change to `newHz` Hz that takes effect at guest
 * TSC value `atTsc` (cycles, split as `splitTsc` does), given the parameters `current` in force until
 * then: `scale = floor((10^7 << 64) / newHz)` and `offset = R0 - ((atTsc * scale) >> 64)` (mod 2^64,
 * two's complement), where `R0 = ((sinceTsc * current.scale) >> 64) + current.offset` is the
 * reference time the old clock had reached. `sinceTsc` is `atTsc` unless the guest TSC value jumped
 * (a restore where KVM could not set it): then reference time goes on from where it was at
 * `sinceTsc`, not from where the jumped TSC would put it. So reference time (100 ns units) is exactly
 * `R0` at `atTsc` and never steps back across the change. Throws RangeError for a `newHz` that
 * `referenceTscScale` refuses. Edge code (BigInt; once per change).
 */
export function tscChangeParams(current: ReferenceParams, atTsc: number, newHz: number, sinceTsc: number = atTsc): ReferenceParams {
  const t = splitTsc(atTsc, new Uint32Array(2));
  const tsc = joined(t[0], t[1]);
  const o = splitTsc(sinceTsc, new Uint32Array(2));
  const r0 = ((joined(o[0], o[1]) * joined(current.scaleLo, current.scaleHi)) >> 64n) + joined(current.offsetLo, current.offsetHi);
  const scale = referenceTscScale(newHz);
  const [scaleLo, scaleHi] = halves(scale);
  const [offsetLo, offsetHi] = halves(r0 - ((tsc * scale) >> 64n));
  return Object.freeze({ scaleLo, scaleHi, offsetLo, offsetHi });
}

/**
 * Reads the partition's current reference-time parameters from the time plugin's partition state
 * `state` (`partition.state("time")`) into `out[at..at+3]` (scale lo, hi, offset lo, hi), under the
 * `params_seq` sequence lock (retries while a writer holds it or changed them meanwhile). Returns
 * false when they are the initial ones (scale 0): the caller then uses `referenceParams(tscHz)`.
 * For plugins that keep time with hv-time's clock (stimer). Exit path: no allocation.
 */
export function loadReferenceParams(state: Record<string, ArrayBufferView>, out: Uint32Array, at = 0): boolean {
  return loadWords(state.params_seq as Uint32Array, state.tsc_scale as Uint32Array, state.tsc_offset as Uint32Array, out, at);
}

/** {@link loadReferenceParams} on the three views. Exit path: no allocation. */
function loadWords(seq: Uint32Array, scale: Uint32Array, offset: Uint32Array, out: Uint32Array, at: number): boolean {
  let s: number;
  do {
    s = Atomics.load(seq, 0);
    out[at] = Atomics.load(scale, 0);
    out[at + 1] = Atomics.load(scale, 1);
    out[at + 2] = Atomics.load(offset, 0);
    out[at + 3] = Atomics.load(offset, 1);
  } while ((s & 1) !== 0 || Atomics.load(seq, 0) !== s);
  return (out[at] | out[at + 1]) !== 0;
}

/** The views of the time plugin's partition state that the handlers use. */
interface PartitionWords {
  readonly referenceTsc: Uint32Array;
  readonly sequence: Uint32Array;
  readonly paramsSeq: Uint32Array;
  readonly scale: Uint32Array;
  readonly offset: Uint32Array;
}

/**
 * The handlers of `hv-time` for `partition` (see the module doc), including the TSC frequency-change
 * hooks. `params` are the initial reference-time parameters (used while the state holds none); by
 * default `referenceParams(partition.tscHz)` (offset 0), derived again when `tscHz` changes. Tests
 * may pass others. Edge code.
 */
export function timeHandlers(partition: PartitionView, params?: ReferenceParams): PluginHandlers {
  const st = partition.state(TIME_OWNER);
  const w: PartitionWords = {
    referenceTsc: st.reference_tsc as Uint32Array,
    sequence: st.tsc_sequence as Uint32Array,
    paramsSeq: st.params_seq as Uint32Array,
    scale: st.tsc_scale as Uint32Array,
    offset: st.tsc_offset as Uint32Array,
  };
  const memory = partition.memory;
  // A word view of guest RAM for the two ordered sequence stores (little-endian hosts only, which
  // every KVM x86 host is; elsewhere the DataView store is used).
  const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
  const ramWords = littleEndian && memory.bytes.byteOffset % 4 === 0
    ? new Uint32Array(memory.bytes.buffer, memory.bytes.byteOffset, Math.floor(memory.size / 4))
    : undefined;
  const storeSeq = (gpa: number, seq: number) => {
    if (ramWords) Atomics.store(ramWords, gpa / 4, seq);
    else memory.writeU32(gpa, seq);
  };

  /** The initial parameters for a guest TSC of `hz` Hz (`params` when given), cached per Hz. */
  let initialHz = partition.tscHz;
  let initial: ReferenceParams = params ?? referenceParams(initialHz);
  const initialFor = (hz: number): ReferenceParams => {
    if (params === undefined && hz !== initialHz) {
      initial = referenceParams(hz);
      initialHz = hz;
    }
    return initial;
  };

  /** The current parameters: scale lo, hi, offset lo, hi. Scratch, reused. */
  const cur = new Uint32Array(4);
  const setCur = (p: ReferenceParams) => {
    cur[0] = p.scaleLo;
    cur[1] = p.scaleHi;
    cur[2] = p.offsetLo;
    cur[3] = p.offsetHi;
  };
  /** The current parameters into `cur`, for a reader (sequence-locked). Exit path. */
  const load = () => {
    if (!loadWords(w.paramsSeq, w.scale, w.offset, cur, 0)) setCur(initialFor(partition.tscHz));
  };

  /** Takes the writers' lock (`params_seq` made odd); returns the even value it found. */
  const lock = (): number => {
    for (;;) {
      const s = Atomics.load(w.paramsSeq, 0);
      if ((s & 1) === 0 && Atomics.compareExchange(w.paramsSeq, 0, s, (s + 1) >>> 0) === s) return s;
    }
  };
  const unlock = (s: number) => Atomics.store(w.paramsSeq, 0, (s + 2) >>> 0);
  /** Lock held: the current parameters into `cur`; the initial ones for `hz` are stored when none are. */
  const pin = (hz: number) => {
    cur[0] = w.scale[0];
    cur[1] = w.scale[1];
    cur[2] = w.offset[0];
    cur[3] = w.offset[1];
    if ((cur[0] | cur[1]) === 0) {
      setCur(initialFor(hz));
      store();
    }
  };
  /** Lock held: `cur` becomes the partition's parameters. */
  const store = () => {
    Atomics.store(w.scale, 0, cur[0]);
    Atomics.store(w.scale, 1, cur[1]);
    Atomics.store(w.offset, 0, cur[2]);
    Atomics.store(w.offset, 1, cur[3]);
  };

  const slotOf = (vp: VpView): LastSlot => {
    const v = vp.state(TIME_OWNER);
    return { last: v.ref_last as Uint32Array, hiFirst: v.ref_last_hi_first as Uint32Array };
  };
  const last = new LastReturned<VpView>(slotOf);
  for (let i = 0; i < partition.vpCount; i++) {
    const vp = partition.vp(i);
    if (vp) last.add(vp);
  }
  const value = new Uint32Array(2);

  /** Lock held: writes `cur` into the page at `gpa` (already checked to lie in RAM) with a new sequence. */
  const publish = (gpa: number) => {
    const next = nextTscSequence(Atomics.load(w.sequence, 0));
    Atomics.store(w.sequence, 0, next);
    storeSeq(gpa + SEQ, 0);
    memory.fill(gpa + RESERVED, PAGE_BYTES - RESERVED, 0);
    memory.writeU64(gpa + SCALE, cur[0], cur[1]);
    memory.writeU64(gpa + OFFSET, cur[2], cur[3]);
    storeSeq(gpa + SEQ, next);
  };
  /** Lock held: the enabled page's GPA when it lies wholly in RAM, else -1. */
  const pageGpa = (): number => {
    const lo = Atomics.load(w.referenceTsc, 0), hi = Atomics.load(w.referenceTsc, 1);
    if ((lo & 1) === 0) return -1;
    const gpa = overlayPageGpa(lo, hi);
    return memory.contains(gpa, PAGE_BYTES) ? gpa : -1;
  };

  return {
    rdmsr(vp, msr) {
      if (msr.index === HV_X64_MSR_TIME_REF_COUNT) {
        load();
        referenceTime(vp.guestTsc(), cur[0], cur[1], cur[2], cur[3], value, 0);
        last.clamp(vp, value, 0);
        msr.lo = value[0];
        msr.hi = value[1];
        return MsrOutcome.Ok;
      }
      if (msr.index === HV_X64_MSR_REFERENCE_TSC) {
        msr.lo = Atomics.load(w.referenceTsc, 0);
        msr.hi = Atomics.load(w.referenceTsc, 1);
        return MsrOutcome.Ok;
      }
      return MsrOutcome.NotMine;
    },
    wrmsr(_vp, msr) {
      if (msr.index === HV_X64_MSR_TIME_REF_COUNT) return MsrOutcome.Gp;
      if (msr.index !== HV_X64_MSR_REFERENCE_TSC) return MsrOutcome.NotMine;
      const lo = msr.lo >>> 0, hi = msr.hi >>> 0;
      Atomics.store(w.referenceTsc, 0, lo);
      Atomics.store(w.referenceTsc, 1, hi);
      if ((lo & 1) !== 0) {
        const gpa = overlayPageGpa(lo, hi);
        if (memory.contains(gpa, PAGE_BYTES)) {
          const s = lock();
          try {
            pin(partition.tscHz);
            publish(gpa);
          } finally {
            unlock(s);
          }
        }
      }
      return MsrOutcome.Ok;
    },
    tscFrequencyChanging(oldHz) {
      // Pin the pair in force now: the initial one follows `tscHz`, which is about to report the new
      // frequency while the guest TSC may keep the old rate (held change).
      const s = lock();
      try {
        pin(oldHz);
      } finally {
        unlock(s);
      }
      return false;
    },
    tscFrequencyChanged(_fromHz, toHz, atTsc, sinceTsc = atTsc) {
      if (!Number.isFinite(toHz) || toHz < 1) return; // a backend bug: keep the clock as it is
      const s = lock();
      try {
        pin(partition.tscHz);
        setCur(tscChangeParams({ scaleLo: cur[0], scaleHi: cur[1], offsetLo: cur[2], offsetHi: cur[3] }, atTsc, toHz, sinceTsc));
        store();
        const gpa = pageGpa();
        if (gpa >= 0) publish(gpa);
      } finally {
        unlock(s);
      }
    },
  };
}
