/**
 * Bit-field descriptors for 64-bit TLFS registers and values (MSRs, the hypercall input and result
 * values), with pure helpers to read and write them.
 *
 * The exit path must not allocate, so the primary helpers take a 64-bit value as two unsigned 32-bit
 * halves (`lo` = bits 31:0, `hi` = bits 63:32) and return plain numbers, or write into a
 * caller-provided `Uint32Array`. The `*64` helpers work on `bigint` and are for edge code (config,
 * diagnostics, tests). Nothing here allocates except the `bigint` helpers and {@link bitField}.
 * @module
 */

/**
 * A field of a 64-bit register: bits `[shift + width - 1 : shift]`.
 * - `shift`: lowest bit number, 0..63.
 * - `width`: number of bits, 1..64, with `shift + width <= 64`.
 *
 * Construct with {@link bitField} or {@link bitRange}, which validate and freeze.
 */
export interface BitField {
  readonly shift: number;
  readonly width: number;
}

/**
 * A {@link BitField} of `width` bits starting at bit `shift`. Throws `RangeError` unless
 * `0 <= shift <= 63`, `1 <= width` and `shift + width <= 64` (integers).
 */
export const bitField = (shift: number, width: number): BitField => {
  if (!Number.isInteger(shift) || !Number.isInteger(width) || shift < 0 || width < 1 || shift + width > 64) {
    throw new RangeError(`bitField: invalid shift ${shift} / width ${width}`);
  }
  return Object.freeze({ shift, width });
};

/** The {@link BitField} for bits `[high:low]` in TLFS notation (inclusive), e.g. `bitRange(43, 32)`. */
export const bitRange = (high: number, low: number): BitField => bitField(low, high - low + 1);

const TWO_32 = 0x1_0000_0000;

/** Mask of `n` low bits as an unsigned 32-bit number, n in 0..32. */
const lowMask = (n: number): number => (n <= 0 ? 0 : n >= 32 ? 0xffffffff : (0xffffffff >>> (32 - n)));

/**
 * The bits of `f` that lie in the low half (bits 31:0), as an unsigned 32-bit mask. 0 if the field is
 * entirely in the high half. Useful for reserved-bit checks: `(lo & fieldMaskLo(f)) !== 0`.
 */
export const fieldMaskLo = (f: BitField): number => {
  if (f.shift >= 32) return 0;
  return (lowMask(Math.min(f.width, 32 - f.shift)) << f.shift) >>> 0;
};

/** The bits of `f` that lie in the high half (bits 63:32), as an unsigned 32-bit mask (bit n = bit 32+n). */
export const fieldMaskHi = (f: BitField): number => {
  const end = f.shift + f.width; // exclusive
  if (end <= 32) return 0;
  const start = Math.max(f.shift, 32) - 32;
  return (lowMask(end - 32 - start) << start) >>> 0;
};

/**
 * Largest value `f` can hold, as a number (exact for width <= 53; `2 ** width - 1`).
 */
export const fieldMax = (f: BitField): number => 2 ** f.width - 1;

/**
 * Reads field `f` (width 1..32) of the 64-bit value `hi:lo` as an unsigned number, 0..2^width-1.
 * `lo`, `hi`: the unsigned 32-bit halves (bits 31:0 and 63:32). Handles fields straddling bit 32.
 * Does not allocate. For wider fields use {@link fieldGetWide}.
 */
export const fieldGet = (lo: number, hi: number, f: BitField): number => {
  const { shift, width } = f;
  if (shift >= 32) return ((hi >>> (shift - 32)) & lowMask(width)) >>> 0;
  if (shift + width <= 32) return ((lo >>> shift) & lowMask(width)) >>> 0;
  const lowBits = 32 - shift; // bits contributed by lo
  return ((lo >>> shift) | ((hi & lowMask(width - lowBits)) << lowBits)) >>> 0;
};

/**
 * Reads field `f` of any width up to 53 (e.g. a GPA page number, bits 63:12) as an exact number.
 * Does not allocate. Widths above 53 lose precision; use {@link fieldGet64} for those.
 */
export const fieldGetWide = (lo: number, hi: number, f: BitField): number => {
  const { shift, width } = f;
  if (width <= 32) return fieldGet(lo, hi, f);
  // width > 32 implies shift < 32: the field takes lo[31:shift] and hi[width-(32-shift)-1:0].
  const lowBits = 32 - shift;
  return (lo >>> shift) + ((hi & lowMask(width - lowBits)) >>> 0) * 2 ** lowBits;
};

/**
 * The low half `lo` with the part of field `f` that lies in bits 31:0 replaced by `value`'s bits.
 * `value`: non-negative integer below 2^53; bits above `f.width` are dropped. Returns an unsigned
 * 32-bit number. Pair with {@link fieldSetHi} to update both halves without allocating.
 */
export const fieldSetLo = (lo: number, f: BitField, value: number): number => {
  const mask = fieldMaskLo(f);
  if (mask === 0) return lo >>> 0;
  return ((lo & ~mask) | ((value << f.shift) & mask)) >>> 0;
};

/**
 * The high half `hi` with the part of field `f` that lies in bits 63:32 replaced by `value`'s bits.
 * `value`: non-negative integer below 2^53; bits above `f.width` are dropped. Returns an unsigned
 * 32-bit number.
 */
export const fieldSetHi = (hi: number, f: BitField, value: number): number => {
  const mask = fieldMaskHi(f);
  if (mask === 0) return hi >>> 0;
  const { shift } = f;
  // Value bits that land in hi: for a field starting below bit 32, they are value >> (32 - shift).
  const v = shift >= 32 ? value << (shift - 32) : Math.floor(value / 2 ** (32 - shift));
  return ((hi & ~mask) | (v & mask)) >>> 0;
};

/**
 * Writes `hi:lo` with field `f` set to `value` into `out[at]` (new lo) and `out[at + 1]` (new hi),
 * and returns `out`. `out` may hold the input halves (in-place update). `value`: non-negative integer
 * below 2^53, truncated to `f.width` bits. Does not allocate.
 */
export const fieldSet = (lo: number, hi: number, f: BitField, value: number, out: Uint32Array, at = 0): Uint32Array => {
  const newLo = fieldSetLo(lo, f, value);
  const newHi = fieldSetHi(hi, f, value);
  out[at] = newLo;
  out[at + 1] = newHi;
  return out;
};

/** `v` as an unsigned 64-bit bigint (negative inputs wrap, bits above 63 are dropped). */
const u64 = (v: bigint): bigint => BigInt.asUintN(64, v);

/** Mask of field `f` as a bigint in place (bits [shift+width-1:shift] set). Edge code. */
export const fieldMask64 = (f: BitField): bigint => ((1n << BigInt(f.width)) - 1n) << BigInt(f.shift);

/** Reads field `f` of the 64-bit value `v` (taken modulo 2^64) as an unsigned bigint. Edge code. */
export const fieldGet64 = (v: bigint, f: BitField): bigint =>
  (u64(v) >> BigInt(f.shift)) & ((1n << BigInt(f.width)) - 1n);

/**
 * `v` with field `f` set to `value` (truncated to `f.width` bits), as an unsigned 64-bit bigint.
 * `value` may be a number (integer) or a bigint. Edge code.
 */
export const fieldSet64 = (v: bigint, f: BitField, value: bigint | number): bigint => {
  const m = fieldMask64(f);
  return u64((u64(v) & ~m) | ((BigInt(value) << BigInt(f.shift)) & m));
};

/** Joins unsigned 32-bit halves into a u64 bigint: `hi * 2^32 + lo`. Edge code. */
export const joinU64 = (lo: number, hi: number): bigint => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);

/** Splits `v` (mod 2^64) into `out[at]` = bits 31:0 and `out[at + 1]` = bits 63:32; returns `out`. */
export const splitU64 = (v: bigint, out: Uint32Array, at = 0): Uint32Array => {
  const x = u64(v);
  out[at] = Number(x & 0xffffffffn);
  out[at + 1] = Number(x >> 32n);
  return out;
};

/** A 64-bit value `hi:lo` held in numbers, as an exact number if it is below 2^53 (e.g. a GPA). */
export const u64ToNumber = (lo: number, hi: number): number => (hi >>> 0) * TWO_32 + (lo >>> 0);
