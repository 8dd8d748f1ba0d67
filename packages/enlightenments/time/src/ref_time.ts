/**
 * Reference-time arithmetic for the exit path, on plain numbers: a 64-bit value is two unsigned
 * 32-bit halves (`lo` = bits 31:0, `hi` = bits 63:32). Nothing here allocates or uses BigInt, except
 * {@link referenceTscScale}, which runs once per partition.
 *
 * Reference time in 100 ns units (TLFS §12.7; Linux `hv_read_tsc_page`; KVM `get_time_ref_counter`):
 * `ref = ((tsc * tsc_scale) >> 64) + tsc_offset` (mod 2^64), with
 * `tsc_scale = floor((10^7 << 64) / tsc_hz)`.
 * @module
 */
import { HV_CLOCK_HZ, HV_TSC_PAGE_SEQUENCE_INVALID, HV_TSC_PAGE_SEQUENCE_SKIP } from "@hv/tlfs";

const TWO_16 = 0x1_0000;
const TWO_32 = 0x1_0000_0000;
const TWO_64 = 2 ** 64;

/**
 * `floor((10^7 << 64) / tscHz)` as a u64 bigint: the reference TSC page's `tsc_scale` for a guest
 * TSC of `tscHz` Hz (rounded to a whole Hz; KVM's is `tsc_khz * 1000`). Saturates at 2^64 - 1 when
 * the TSC is not faster than the 10 MHz reference clock (KVM then marks the page broken; no real TSC
 * is that slow). Throws RangeError unless `tscHz` is a finite number >= 1: a backend bug, found when
 * the partition is built. Edge code (once per partition).
 */
export function referenceTscScale(tscHz: number): bigint {
  if (!Number.isFinite(tscHz) || tscHz < 1) throw new RangeError(`time: tscHz must be a finite frequency >= 1 Hz, got ${tscHz}`);
  const s = (BigInt(HV_CLOCK_HZ) << 64n) / BigInt(Math.round(tscHz));
  return s > 0xffff_ffff_ffff_ffffn ? 0xffff_ffff_ffff_ffffn : s;
}

/**
 * Splits a guest TSC reading (a number of cycles, {@link VpView.guestTsc}) into `out[at]` (bits
 * 31:0) and `out[at + 1]` (bits 63:32). Exact for every integer below 2^53 (and for the integral
 * doubles above it); a fraction is floored; NaN or a negative value gives 0 and a value >= 2^64
 * gives 2^64 - 1 (a backend that cannot read the TSC must not make time jump). Returns `out`.
 */
export function splitTsc(tsc: number, out: Uint32Array, at = 0): Uint32Array {
  if (!(tsc > 0)) {
    out[at] = 0;
    out[at + 1] = 0;
  } else if (tsc >= TWO_64) {
    out[at] = 0xffffffff;
    out[at + 1] = 0xffffffff;
  } else {
    const t = Math.floor(tsc);
    const hi = Math.floor(t / TWO_32);
    out[at] = t - hi * TWO_32;
    out[at + 1] = hi;
  }
  return out;
}

/**
 * The high 64 bits of the 128-bit product of two unsigned 64-bit values `aHi:aLo` and `bHi:bLo`,
 * i.e. `(a * b) >> 64`, into `out[at]` (lo) and `out[at + 1]` (hi); returns `out`.
 *
 * Exact: the operands are cut into 16-bit limbs, so every partial product is below 2^32 and every
 * column sum (at most four products plus the carry) below 2^35, far inside a double's 2^53. The
 * columns are summed from the lowest, carrying into the next, and only the top four limbs are kept.
 * Exit path: 16 multiplications, no allocation.
 */
export function mulHi64(aLo: number, aHi: number, bLo: number, bHi: number, out: Uint32Array, at = 0): Uint32Array {
  const a0 = aLo & 0xffff, a1 = aLo >>> 16, a2 = aHi & 0xffff, a3 = aHi >>> 16;
  const b0 = bLo & 0xffff, b1 = bLo >>> 16, b2 = bHi & 0xffff, b3 = bHi >>> 16;
  // Columns 0..3 only feed the carry into column 4 (the bits below 2^64 are discarded).
  let c = a0 * b0;
  c = Math.floor(c / TWO_16) + a0 * b1 + a1 * b0;
  c = Math.floor(c / TWO_16) + a0 * b2 + a1 * b1 + a2 * b0;
  c = Math.floor(c / TWO_16) + a0 * b3 + a1 * b2 + a2 * b1 + a3 * b0;
  c = Math.floor(c / TWO_16) + a1 * b3 + a2 * b2 + a3 * b1;
  let q = Math.floor(c / TWO_16);
  const r4 = c - q * TWO_16;
  c = q + a2 * b3 + a3 * b2;
  q = Math.floor(c / TWO_16);
  const r5 = c - q * TWO_16;
  c = q + a3 * b3; // < 2^32: the product is below 2^128
  out[at] = r4 + r5 * TWO_16;
  out[at + 1] = c;
  return out;
}

/**
 * `hi:lo + addHi:addLo` modulo 2^64, into `out[at]`/`out[at + 1]`; returns `out`. The addend may be a
 * signed (two's complement) 64-bit value such as `tsc_offset`: signed and unsigned addition are the
 * same modulo 2^64, exactly what the guest computes (`u64 + s64` in `hv_read_tsc_page`).
 */
export function add64(lo: number, hi: number, addLo: number, addHi: number, out: Uint32Array, at = 0): Uint32Array {
  const l = (lo >>> 0) + (addLo >>> 0);
  const carry = l >= TWO_32 ? 1 : 0;
  out[at] = l - carry * TWO_32;
  out[at + 1] = ((hi >>> 0) + (addHi >>> 0) + carry) >>> 0;
  return out;
}

/**
 * Reference time for a guest TSC: `((tsc * scale) >> 64) + offset` (mod 2^64) into `out[at]` (lo)
 * and `out[at + 1]` (hi), the TSC split as {@link splitTsc} does. Returns `out`. Exit path.
 */
export function referenceTime(
  tsc: number,
  scaleLo: number,
  scaleHi: number,
  offsetLo: number,
  offsetHi: number,
  out: Uint32Array,
  at = 0,
): Uint32Array {
  splitTsc(tsc, out, at);
  mulHi64(out[at], out[at + 1], scaleLo, scaleHi, out, at);
  return add64(out[at], out[at + 1], offsetLo, offsetHi, out, at);
}

/**
 * The `tsc_sequence` that follows `seq` when the page is republished: `seq + 1`, skipping 0 (which
 * means "invalid") and 0xFFFFFFFF (the TLFS's documented invalid marker), as KVM
 * `kvm_hv_setup_tsc_page` does: ..., 0xFFFFFFFE, 1, 2, ... Never returns 0 or 0xFFFFFFFF.
 */
export function nextTscSequence(seq: number): number {
  const n = ((seq >>> 0) + 1) >>> 0;
  return n === HV_TSC_PAGE_SEQUENCE_INVALID || n === HV_TSC_PAGE_SEQUENCE_SKIP ? 1 : n;
}
