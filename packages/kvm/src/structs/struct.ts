/**
 * The base of every struct codec: one preallocated, zeroed byte buffer with a little-endian
 * DataView, handed to ioctls as-is (`ioctl_buf(fd, req, codec.bytes)`). Accessors read and write
 * fields in place and allocate nothing.
 *
 * 64-bit fields come three ways: as `number` (exact below 2^53, which covers addresses, control
 * registers and MSR values the VMM computes with), as unsigned 32-bit halves (lo/hi, exact always:
 * the exit path uses these for guest-controlled values) and as `bigint` (edge code only; allocates).
 * @module
 */

const TWO_32 = 0x1_0000_0000;

/** Reads the u64 at `off` as a number (lo + hi * 2^32; exact below 2^53, rounded above). */
export function getU64(view: DataView, off: number): number {
  return view.getUint32(off, true) + view.getUint32(off + 4, true) * TWO_32;
}

/**
 * Writes a number 0 <= value < 2^64 as u64 at `off` (exact for integers below 2^53). Negative values
 * are written as their two's complement (so -1 gives all ones), like C's conversion to `__u64`.
 */
export function setU64(view: DataView, off: number, value: number): void {
  if (value < 0) {
    view.setBigUint64(off, BigInt.asUintN(64, BigInt(Math.trunc(value))), true); // rare: allocates
    return;
  }
  const hi = Math.floor(value / TWO_32);
  view.setUint32(off, (value - hi * TWO_32) >>> 0, true);
  view.setUint32(off + 4, hi >>> 0, true);
}

/** Writes the u64 given as unsigned 32-bit halves at `off`. */
export function setU64Halves(view: DataView, off: number, lo: number, hi: number): void {
  view.setUint32(off, lo >>> 0, true);
  view.setUint32(off + 4, hi >>> 0, true);
}

/** A struct codec: `bytes` (the ioctl argument) and `view` over the same memory. */
export class KvmStruct {
  /** The struct's bytes; pass this to `ioctl_buf`. */
  readonly bytes: Uint8Array<ArrayBuffer>;
  /** Little-endian access to the same bytes (always call with `littleEndian = true`). */
  readonly view: DataView<ArrayBuffer>;

  /** Allocates `size` zeroed bytes, or wraps `bytes` (e.g. an mmapped region) when given. */
  constructor(size: number, bytes?: Uint8Array<ArrayBuffer>) {
    this.bytes = bytes ?? new Uint8Array(size);
    if (this.bytes.byteLength < size) throw new RangeError(`struct needs ${size} bytes, got ${this.bytes.byteLength}`);
    this.view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
  }

  /** Zeroes every byte. */
  clear(): void {
    this.bytes.fill(0);
  }

  /** u64 at byte offset `off` as a number (see {@link getU64}). */
  u64(off: number): number {
    return getU64(this.view, off);
  }

  /** Writes a number as u64 at byte offset `off` (see {@link setU64}). */
  setU64(off: number, value: number): void {
    setU64(this.view, off, value);
  }

  /** u64 at byte offset `off` as a bigint (allocates: edge code). */
  u64Big(off: number): bigint {
    return this.view.getBigUint64(off, true);
  }

  /** Writes a bigint as u64 at byte offset `off` (masked to 64 bits). */
  setU64Big(off: number, value: bigint): void {
    this.view.setBigUint64(off, BigInt.asUintN(64, value), true);
  }
}
