/**
 * Bounds-checked reading of an untrusted kernel file, and the formatting used in error messages.
 * Internal to the loader: a failed check throws a {@link LoadError} that the public entry points
 * catch and return, so no bad offset ever reaches a typed array.
 * @module
 */
import { LoadError, type LoadProblem } from "./errors.ts";

/** Stops loading with a {@link LoadError} (caught by the loader's entry points). */
export const fail = (problem: LoadProblem, message: string): never => {
  throw new LoadError({ problem, message });
};

/** `0x`-prefixed lowercase hex of a number or bigint. */
export const hex = (n: number | bigint): string => `0x${n.toString(16)}`;

/** A byte count as people write RAM sizes: "64 MiB", "640 KiB" or "1234 bytes". */
export const formatSize = (n: number): string =>
  n >= 1 << 20 && n % (1 << 20) === 0
    ? `${n / (1 << 20)} MiB`
    : n >= 1024 && n % 1024 === 0
    ? `${n / 1024} KiB`
    : `${n} bytes`;

/** A read-only view of the file with checked little-endian accessors. */
export class Image {
  readonly bytes: Uint8Array;
  readonly length: number;
  readonly #view: DataView;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.length = bytes.byteLength;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Whether [offset, offset + length) lies in the file (bigint-safe; no overflow). */
  has(offset: number | bigint, length: number | bigint): boolean {
    const o = BigInt(offset);
    const l = BigInt(length);
    return o >= 0n && l >= 0n && o + l <= BigInt(this.length);
  }

  #need(offset: number, size: number, what: string): void {
    if (!(Number.isInteger(offset) && offset >= 0 && offset + size <= this.length)) {
      fail("truncated", `${what} at file offset ${hex(offset)} is past the end of the file (${this.length} bytes)`);
    }
  }

  u8(offset: number, what: string): number {
    this.#need(offset, 1, what);
    return this.bytes[offset];
  }

  u16(offset: number, what: string): number {
    this.#need(offset, 2, what);
    return this.#view.getUint16(offset, true);
  }

  u32(offset: number, what: string): number {
    this.#need(offset, 4, what);
    return this.#view.getUint32(offset, true);
  }

  u64(offset: number, what: string): bigint {
    this.#need(offset, 8, what);
    return this.#view.getBigUint64(offset, true);
  }

  /** The file bytes [offset, offset + length) as a view; the range must have been checked with {@link has}. */
  sub(offset: number, length: number): Uint8Array {
    this.#need(offset, length, "data");
    return this.bytes.subarray(offset, offset + length);
  }
}
