/**
 * Plugin state declared as a fixed layout. From one declaration the core derives: allocation in
 * a `SharedArrayBuffer` (so every vCPU worker sees the same bytes without messages), typed views
 * for the exit path, reset to power-on values, save/restore as versioned bytes, and inspection
 * (decode live state by field name). Plugins write no save/restore or reset code of their own.
 *
 * A 64-bit field is held as two u32 words (low word first, as little-endian memory holds it), so
 * the exit path reads and writes it without allocating a BigInt; `Atomics` work on the words.
 * @module
 */

/** Field element types. `u64` is stored as two u32 words (lo, hi). */
export type FieldType = "u8" | "u16" | "u32" | "u64" | "f64";

/**
 * One declared field: its element type, element count (default 1; arrays such as the 16 SINTs use
 * `count: 16`), power-on value of every element (default 0; a bigint for u64), and a docstring
 * shown by inspection.
 */
export interface FieldSpec {
  readonly type: FieldType;
  readonly count?: number;
  readonly reset?: number | bigint;
  readonly doc?: string;
}

/** A layout declaration: a version (bumped when the layout changes) and named fields. */
export interface StateSpec<F extends Record<string, FieldSpec> = Record<string, FieldSpec>> {
  readonly version: number;
  readonly fields: F;
}

type ArrayFor<T extends FieldType> = T extends "u8" ? Uint8Array
  : T extends "u16" ? Uint16Array
  : T extends "f64" ? Float64Array
  : Uint32Array;

/**
 * Typed views of one state instance: for each field an array over the shared bytes. `u64` fields
 * are `Uint32Array`s of `2 * count` words (element i is words 2i (lo) and 2i+1 (hi)).
 */
export type StateViews<F extends Record<string, FieldSpec>> = { readonly [K in keyof F]: ArrayFor<F[K]["type"]> };

const SIZE: Record<FieldType, number> = { u8: 1, u16: 2, u32: 4, u64: 8, f64: 8 };

/** Where one field lies in the instance, in bytes. */
export interface FieldPlacement {
  readonly name: string;
  readonly spec: FieldSpec;
  readonly offset: number;
  readonly byteLength: number;
}

/**
 * A computed layout: fields placed at naturally aligned offsets in declaration order, total
 * `byteLength` rounded up to 8 bytes.
 */
export class StateLayout<F extends Record<string, FieldSpec> = Record<string, FieldSpec>> {
  /** Layout version, stored with saved state. */
  readonly version: number;
  /** Field placements in declaration order. */
  readonly placements: readonly FieldPlacement[];
  /** Bytes one instance occupies (multiple of 8). */
  readonly byteLength: number;

  constructor(readonly spec: StateSpec<F>) {
    this.version = spec.version;
    let off = 0;
    const placements: FieldPlacement[] = [];
    for (const [name, f] of Object.entries(spec.fields)) {
      const count = f.count ?? 1;
      if (!Number.isInteger(count) || count < 1) throw new RangeError(`state field ${name}: count must be a positive integer`);
      const align = SIZE[f.type];
      off = Math.ceil(off / align) * align;
      placements.push({ name, spec: f, offset: off, byteLength: SIZE[f.type] * count });
      off += SIZE[f.type] * count;
    }
    this.placements = placements;
    this.byteLength = Math.ceil(off / 8) * 8;
  }

  /** Typed views of the instance at `byteOffset` (multiple of 8) in `buffer`. */
  views(buffer: ArrayBufferLike, byteOffset = 0): StateViews<F> {
    if (byteOffset % 8 !== 0 || byteOffset + this.byteLength > buffer.byteLength) {
      throw new RangeError(`state instance at ${byteOffset} (+${this.byteLength}) does not fit a ${buffer.byteLength}-byte buffer`);
    }
    const out: Record<string, ArrayBufferView> = {};
    for (const p of this.placements) {
      const at = byteOffset + p.offset;
      const n = p.spec.count ?? 1;
      switch (p.spec.type) {
        case "u8": out[p.name] = new Uint8Array(buffer, at, n); break;
        case "u16": out[p.name] = new Uint16Array(buffer, at, n); break;
        case "u32": out[p.name] = new Uint32Array(buffer, at, n); break;
        case "u64": out[p.name] = new Uint32Array(buffer, at, 2 * n); break;
        case "f64": out[p.name] = new Float64Array(buffer, at, n); break;
      }
    }
    return out as StateViews<F>;
  }

  /** Writes every field's power-on value into the instance at `byteOffset`. */
  reset(buffer: ArrayBufferLike, byteOffset = 0): void {
    const v = this.views(buffer, byteOffset) as Record<string, ArrayBufferView>;
    for (const p of this.placements) {
      const r = p.spec.reset ?? 0;
      const arr = v[p.name] as Uint32Array | Uint8Array | Uint16Array | Float64Array;
      if (p.spec.type === "u64") {
        const big = BigInt.asUintN(64, BigInt(r));
        const lo = Number(big & 0xffffffffn), hi = Number(big >> 32n);
        for (let i = 0; i < arr.length; i += 2) { arr[i] = lo; arr[i + 1] = hi; }
      } else {
        arr.fill(Number(r));
      }
    }
  }

  /** Decodes the instance into a plain object: numbers, bigints for u64, arrays where count > 1. */
  inspect(buffer: ArrayBufferLike, byteOffset = 0): Record<string, number | bigint | (number | bigint)[]> {
    const v = this.views(buffer, byteOffset) as Record<string, ArrayLike<number>>;
    const out: Record<string, number | bigint | (number | bigint)[]> = {};
    for (const p of this.placements) {
      const arr = v[p.name];
      const n = p.spec.count ?? 1;
      const items: (number | bigint)[] = [];
      for (let i = 0; i < n; i++) {
        items.push(p.spec.type === "u64" ? (BigInt(arr[2 * i + 1]) << 32n) | BigInt(arr[2 * i]) : arr[i]);
      }
      out[p.name] = n === 1 && p.spec.count === undefined ? items[0] : items;
    }
    return out;
  }
}

/** Declares a state layout (see {@link StateLayout}). */
export const defineState = <F extends Record<string, FieldSpec>>(spec: StateSpec<F>): StateLayout<F> => new StateLayout(spec);

/** Reads element `i` of a u64 field view as a bigint (edge code: allocates). */
export const u64Get = (words: Uint32Array, i = 0): bigint => (BigInt(words[2 * i + 1]) << 32n) | BigInt(words[2 * i]);

/** Writes element `i` of a u64 field view from halves (exit path: no allocation). */
export const u64Set = (words: Uint32Array, i: number, lo: number, hi: number): void => {
  words[2 * i] = lo >>> 0;
  words[2 * i + 1] = hi >>> 0;
};
