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
 * Scale and offset are computed once, here, and never change for the partition: the page publishes
 * exactly them, and TIME_REF_COUNT is computed from the reading VP's guest TSC with the same two
 * numbers, whether or not the page is enabled. So on any VP, page time read before an RDMSR <= the
 * MSR value <= page time read after it: the guest TSC only moves forward between the three reads,
 * and the clamp below can lift the MSR only to a value another VP returned earlier, which is below
 * this VP's later page time as long as the vCPUs' TSCs are synchronised (KVM keeps them so).
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
 * not inlined: measured, 16 bytes per read in the testkit).
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
import { nextTscSequence, referenceTime, referenceTscScale } from "./ref_time.ts";

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

/**
 * The partition's reference-time parameters for a guest TSC of `tscHz` Hz and a reference-time
 * offset of `offset` (100 ns units, signed; hv uses 0). Edge code (once per partition).
 */
export function referenceParams(tscHz: number, offset: bigint = 0n): ReferenceParams {
  const [scaleLo, scaleHi] = halves(referenceTscScale(tscHz));
  const [offsetLo, offsetHi] = halves(offset);
  return Object.freeze({ scaleLo, scaleHi, offsetLo, offsetHi });
}

/** The views of the time plugin's partition state that the handlers use. */
interface PartitionWords {
  readonly referenceTsc: Uint32Array;
  readonly sequence: Uint32Array;
  readonly scale: Uint32Array;
  readonly offset: Uint32Array;
}

/**
 * The handlers of `hv-time` for `partition` (see the module doc). `params` defaults to
 * `referenceParams(partition.tscHz)` (offset 0); tests may pass others.
 */
export function timeHandlers(partition: PartitionView, params: ReferenceParams = referenceParams(partition.tscHz)): PluginHandlers {
  const { scaleLo, scaleHi, offsetLo, offsetHi } = params;
  const st = partition.state(TIME_OWNER);
  const w: PartitionWords = {
    referenceTsc: st.reference_tsc as Uint32Array,
    sequence: st.tsc_sequence as Uint32Array,
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

  /** Writes the page at `gpa` (already checked to lie in RAM) with a new sequence. */
  const publish = (gpa: number) => {
    let seq: number, next: number;
    do {
      seq = Atomics.load(w.sequence, 0);
      next = nextTscSequence(seq);
    } while (Atomics.compareExchange(w.sequence, 0, seq, next) !== seq);
    storeSeq(gpa + SEQ, 0);
    memory.fill(gpa + RESERVED, PAGE_BYTES - RESERVED, 0);
    memory.writeU64(gpa + SCALE, scaleLo, scaleHi);
    memory.writeU64(gpa + OFFSET, offsetLo, offsetHi);
    storeSeq(gpa + SEQ, next);
    Atomics.store(w.scale, 0, scaleLo);
    Atomics.store(w.scale, 1, scaleHi);
    Atomics.store(w.offset, 0, offsetLo);
    Atomics.store(w.offset, 1, offsetHi);
  };

  return {
    rdmsr(vp, msr) {
      if (msr.index === HV_X64_MSR_TIME_REF_COUNT) {
        referenceTime(vp.guestTsc(), scaleLo, scaleHi, offsetLo, offsetHi, value, 0);
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
        if (memory.contains(gpa, PAGE_BYTES)) publish(gpa);
      }
      return MsrOutcome.Ok;
    },
  };
}
