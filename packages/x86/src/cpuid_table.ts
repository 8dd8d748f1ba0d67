/**
 * A CPUID leaf table: what a guest sees for each (function, index) pair, with the merge and override
 * rules composition uses. Edge code (compose time), not exit path.
 * @module
 */
import type { CpuidBit, CpuidRegister } from "@hv/tlfs";

/**
 * One CPUID leaf as KVM's `kvm_cpuid_entry2` and QEMU describe it: `function` (EAX input),
 * `index` (ECX input, 0 for leaves without subleaves) and the four 32-bit output registers
 * (unsigned numbers, 0..0xFFFFFFFF).
 */
export interface CpuidLeaf {
  readonly function: number;
  readonly index: number;
  readonly eax: number;
  readonly ebx: number;
  readonly ecx: number;
  readonly edx: number;
}

const REGS: readonly CpuidRegister[] = ["eax", "ebx", "ecx", "edx"];
const key = (fn: number, index: number) => `${fn >>> 0}:${index >>> 0}`;

/**
 * A mutable CPUID table keyed by (function, index).
 *
 * Rules: {@link setBit} ORs a bit into a register; {@link clearBit} clears it (clears are applied
 * by the caller after all sets when it wants "clear wins", as QEMU's hv-avic clearing hv-vapic's
 * 0x40000004.EAX[3]); {@link setRegister} replaces a whole register and reports the previous value
 * so a caller can detect two owners disagreeing.
 */
export class CpuidTable {
  readonly #leaves = new Map<string, { function: number; index: number; eax: number; ebx: number; ecx: number; edx: number }>();

  /** Creates an empty table, or one holding a copy of `leaves`. */
  constructor(leaves: Iterable<CpuidLeaf> = []) {
    for (const l of leaves) this.#leaves.set(key(l.function, l.index), { ...l });
  }

  #leaf(fn: number, index: number) {
    const k = key(fn, index);
    let l = this.#leaves.get(k);
    if (!l) {
      l = { function: fn >>> 0, index: index >>> 0, eax: 0, ebx: 0, ecx: 0, edx: 0 };
      this.#leaves.set(k, l);
    }
    return l;
  }

  /** Ensures the leaf exists (all zero if new). */
  touch(fn: number, index = 0): void {
    this.#leaf(fn, index);
  }

  /** Whether the leaf (function, index) is present. */
  has(fn: number, index = 0): boolean {
    return this.#leaves.has(key(fn, index));
  }

  /** The leaf, or all zeros when absent (what KVM returns for an absent leaf within range). */
  get(fn: number, index = 0): CpuidLeaf {
    return { ...(this.#leaves.get(key(fn, index)) ?? { function: fn >>> 0, index: index >>> 0, eax: 0, ebx: 0, ecx: 0, edx: 0 }) };
  }

  /** ORs `bit` into its leaf (index 0). */
  setBit(bit: CpuidBit): void {
    const l = this.#leaf(bit.leaf, 0);
    l[bit.register] = (l[bit.register] | (1 << bit.bit)) >>> 0;
  }

  /** Clears `bit` in its leaf (index 0), if present. */
  clearBit(bit: CpuidBit): void {
    const l = this.#leaves.get(key(bit.leaf, 0));
    if (l) l[bit.register] = (l[bit.register] & ~(1 << bit.bit)) >>> 0;
  }

  /** Whether `bit` is set. */
  hasBit(bit: CpuidBit): boolean {
    const l = this.#leaves.get(key(bit.leaf, 0));
    return l !== undefined && ((l[bit.register] >>> bit.bit) & 1) === 1;
  }

  /** Replaces a whole register; returns the value it had (0 when the leaf was absent). */
  setRegister(fn: number, register: CpuidRegister, value: number, index = 0): number {
    const l = this.#leaf(fn, index);
    const old = l[register];
    l[register] = value >>> 0;
    return old;
  }

  /** Every leaf, sorted by function then index (the order QEMU and `hv compose --format cpuid` print). */
  leaves(): CpuidLeaf[] {
    return [...this.#leaves.values()]
      .map((l) => ({ ...l }))
      .sort((a, b) => a.function - b.function || a.index - b.index);
  }

  /** Deletes every leaf whose function lies in [first, last]. */
  deleteRange(first: number, last: number): void {
    for (const [k, l] of this.#leaves) if (l.function >= first && l.function <= last) this.#leaves.delete(k);
  }
}

/** The registers of a leaf in the order CPUID returns them. */
export const CPUID_REGISTERS: readonly CpuidRegister[] = REGS;

/**
 * Packs a vendor string (at most 12 ASCII bytes, NUL-padded) into EBX, ECX, EDX as CPUID returns it
 * ("Microsoft Hv" -> 0x7263694D, 0x666F736F, 0x76482074). Throws RangeError on more than 12
 * bytes or non-ASCII input; callers validate user input first.
 */
export function encodeVendor(vendor: string): { ebx: number; ecx: number; edx: number } {
  if (vendor.length > 12 || !/^[\x20-\x7e]*$/.test(vendor)) {
    throw new RangeError(`vendor id must be at most 12 printable ASCII characters: ${JSON.stringify(vendor)}`);
  }
  const b = new Uint8Array(12);
  for (let i = 0; i < vendor.length; i++) b[i] = vendor.charCodeAt(i);
  const dv = new DataView(b.buffer);
  return { ebx: dv.getUint32(0, true), ecx: dv.getUint32(4, true), edx: dv.getUint32(8, true) };
}

/** Unpacks EBX, ECX, EDX into the vendor string (trailing NULs dropped). Inverse of {@link encodeVendor}. */
export function decodeVendor(ebx: number, ecx: number, edx: number): string {
  const b = new Uint8Array(12);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, ebx, true);
  dv.setUint32(4, ecx, true);
  dv.setUint32(8, edx, true);
  let s = "";
  for (const c of b) if (c !== 0) s += String.fromCharCode(c);
  return s;
}
