/**
 * Bounds-checked guest-physical memory. Every guest-controlled GPA and length goes through
 * {@link GuestMemory.contains} (or a checked accessor) before a byte is touched, so a hostile GPA
 * can never read or write outside guest RAM or throw inside the VMM.
 *
 * Exit-path safe: no method allocates except {@link GuestMemory.slice}.
 * @module
 */

/**
 * Guest RAM as one contiguous region of `size` bytes starting at GPA 0, backed by an
 * `ArrayBuffer`/`SharedArrayBuffer` or an mmapped buffer (the emulator maps KVM's memory slot here).
 *
 * GPAs and lengths are plain numbers (bytes). A GPA at or above 2^53 cannot be represented exactly,
 * but any such value is far beyond `size` and is rejected all the same.
 */
export class GuestMemory {
  /** RAM size in bytes. */
  readonly size: number;
  /** The whole of RAM as bytes (index = GPA). Use only after {@link contains}. */
  readonly bytes: Uint8Array;
  /** The whole of RAM as a little-endian DataView (offset = GPA). Use only after {@link contains}. */
  readonly view: DataView;

  /** Wraps `bytes` (its offset 0 is GPA 0). */
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.size = bytes.byteLength;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Allocates a zeroed RAM of `size` bytes in a SharedArrayBuffer (shared between vCPU workers). */
  static allocate(size: number): GuestMemory {
    return new GuestMemory(new Uint8Array(new SharedArrayBuffer(size)));
  }

  /**
   * Whether [gpa, gpa + length) lies entirely in RAM: both are non-negative integers and
   * gpa + length <= size. A zero-length range at `size` is contained.
   */
  contains(gpa: number, length: number): boolean {
    return Number.isInteger(gpa) && Number.isInteger(length) && gpa >= 0 && length >= 0 && gpa <= this.size - length;
  }

  /** Whether [gpa, gpa + length) lies in RAM and within one 4 KiB page (TLFS: hypercall inputs must not cross a page). */
  containsInPage(gpa: number, length: number): boolean {
    return this.contains(gpa, length) && (gpa % 4096) + length <= 4096;
  }

  /** Reads a u8; -1 when the GPA is outside RAM. */
  readU8(gpa: number): number {
    return this.contains(gpa, 1) ? this.bytes[gpa] : -1;
  }

  /** Reads a little-endian u32 (unsigned); -1 when [gpa, gpa+4) is outside RAM. */
  readU32(gpa: number): number {
    return this.contains(gpa, 4) ? this.view.getUint32(gpa, true) : -1;
  }

  /**
   * Reads a little-endian u64 into `out[at]` (low half) and `out[at + 1]` (high half), without
   * allocating a BigInt. Returns false, writing nothing, when [gpa, gpa+8) is outside RAM.
   */
  readU64(gpa: number, out: Uint32Array, at = 0): boolean {
    if (!this.contains(gpa, 8)) return false;
    out[at] = this.view.getUint32(gpa, true);
    out[at + 1] = this.view.getUint32(gpa + 4, true);
    return true;
  }

  /** Writes a u8; false (nothing written) when outside RAM. */
  writeU8(gpa: number, value: number): boolean {
    if (!this.contains(gpa, 1)) return false;
    this.bytes[gpa] = value;
    return true;
  }

  /** Writes a little-endian u32; false (nothing written) when outside RAM. */
  writeU32(gpa: number, value: number): boolean {
    if (!this.contains(gpa, 4)) return false;
    this.view.setUint32(gpa, value >>> 0, true);
    return true;
  }

  /** Writes a little-endian u64 given as halves; false (nothing written) when outside RAM. */
  writeU64(gpa: number, lo: number, hi: number): boolean {
    if (!this.contains(gpa, 8)) return false;
    this.view.setUint32(gpa, lo >>> 0, true);
    this.view.setUint32(gpa + 4, hi >>> 0, true);
    return true;
  }

  /** Zeroes [gpa, gpa+length); false (nothing written) when outside RAM. */
  fill(gpa: number, length: number, value = 0): boolean {
    if (!this.contains(gpa, length)) return false;
    this.bytes.fill(value, gpa, gpa + length);
    return true;
  }

  /** Copies `data` to `gpa`; false (nothing written) when it does not fit in RAM. */
  write(gpa: number, data: Uint8Array): boolean {
    if (!this.contains(gpa, data.byteLength)) return false;
    this.bytes.set(data, gpa);
    return true;
  }

  /** A view (not a copy) of [gpa, gpa+length), or undefined when outside RAM. Allocates a view object: edge code. */
  slice(gpa: number, length: number): Uint8Array | undefined {
    return this.contains(gpa, length) ? this.bytes.subarray(gpa, gpa + length) : undefined;
  }
}
