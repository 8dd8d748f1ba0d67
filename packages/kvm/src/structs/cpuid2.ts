/**
 * `struct kvm_cpuid2` with its flexible array of `struct kvm_cpuid_entry2` (arch/x86/include/uapi/asm/kvm.h):
 * header `nent` (u32) + padding (8 bytes), then 40-byte entries {function, index, flags, eax, ebx, ecx,
 * edx, padding[3]}. Used with KVM_GET_SUPPORTED_CPUID, KVM_GET_SUPPORTED_HV_CPUID (in/out: `nent` is
 * the capacity going in, the count coming out) and KVM_SET_CPUID2 (api.rst §4.20, §4.46, §4.118).
 * @module
 */
import type { CpuidLeaf } from "@hv/x86";
import { KvmStruct } from "./struct.ts";

/** `KVM_CPUID_FLAG_SIGNIFCANT_INDEX` (sic, KVM's spelling): the entry applies only to its ECX `index`. */
export const KVM_CPUID_FLAG_SIGNIFCANT_INDEX = 1 << 0;
/** `KVM_CPUID_FLAG_STATEFUL_FUNC` (obsolete leaf 2 semantics). */
export const KVM_CPUID_FLAG_STATEFUL_FUNC = 1 << 1;
/** `KVM_CPUID_FLAG_STATE_READ_NEXT`. */
export const KVM_CPUID_FLAG_STATE_READ_NEXT = 1 << 2;

/** sizeof(struct kvm_cpuid_entry2). */
export const KVM_CPUID_ENTRY2_SIZE = 40;
/** KVM_MAX_CPUID_ENTRIES (arch/x86/include/asm/kvm_host.h): KVM_SET_CPUID2 fails with E2BIG above it. */
export const KVM_MAX_CPUID_ENTRIES = 256;

/**
 * CPUID functions whose output depends on ECX (subleaves), so their entries need
 * {@link KVM_CPUID_FLAG_SIGNIFCANT_INDEX}: 4 (cache), 7 (features), 0xB/0x1F (topology), 0xD (XSAVE),
 * 0xF/0x10 (RDT), 0x12 (SGX), 0x14 (PT), 0x17, 0x18, 0x1D, 0x1E, 0x20, 0x23, 0x24, 0x8000001D,
 * 0x80000020, 0x80000026 (what KVM's `do_cpuid_func` marks).
 */
export const CPUID_INDEXED_FUNCTIONS: ReadonlySet<number> = new Set([
  0x4,
  0x7,
  0xb,
  0xd,
  0xf,
  0x10,
  0x12,
  0x14,
  0x17,
  0x18,
  0x1d,
  0x1e,
  0x1f,
  0x20,
  0x23,
  0x24,
  0x8000001d,
  0x80000020,
  0x80000026,
]);

/**
 * A `struct kvm_cpuid2` with room for `capacity` entries. `nent` is what KVM reads/writes; entry
 * fields are accessed by entry number.
 */
export class KvmCpuid2 extends KvmStruct {
  /** Entries this buffer has room for. */
  readonly capacity: number;

  /** Allocates a zeroed struct with room for `capacity` entries; `nent` starts at `capacity` (ready for a GET). */
  constructor(capacity: number) {
    super(8 + capacity * KVM_CPUID_ENTRY2_SIZE);
    this.capacity = capacity;
    this.nent = capacity;
  }

  /** Builds a struct holding `leaves`, with SIGNIFCANT_INDEX set for {@link CPUID_INDEXED_FUNCTIONS} and for any function given with more than one index. */
  static fromLeaves(leaves: readonly CpuidLeaf[]): KvmCpuid2 {
    const c = new KvmCpuid2(leaves.length);
    const indexed = new Set<number>();
    const seen = new Map<number, number>();
    for (const l of leaves) {
      const prev = seen.get(l.function);
      if (prev !== undefined && prev !== l.index) indexed.add(l.function);
      seen.set(l.function, l.index);
    }
    leaves.forEach((l, i) => {
      const fn = l.function >>> 0;
      const flags = CPUID_INDEXED_FUNCTIONS.has(fn) || indexed.has(fn) ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0;
      c.setEntry(i, fn, l.index, flags, l.eax, l.ebx, l.ecx, l.edx);
    });
    return c;
  }

  /** `nent`: number of valid entries (in: capacity or count to set; out: count KVM filled). */
  get nent(): number {
    return this.view.getUint32(0, true);
  }
  set nent(n: number) {
    this.view.setUint32(0, n >>> 0, true);
  }

  /** Writes entry `i` (unsigned 32-bit values). Throws RangeError past the capacity. */
  setEntry(
    i: number,
    fn: number,
    index: number,
    flags: number,
    eax: number,
    ebx: number,
    ecx: number,
    edx: number,
  ): void {
    if (i < 0 || i >= this.capacity) throw new RangeError(`cpuid entry ${i} beyond capacity ${this.capacity}`);
    const o = 8 + i * KVM_CPUID_ENTRY2_SIZE;
    const v = this.view;
    v.setUint32(o, fn >>> 0, true);
    v.setUint32(o + 4, index >>> 0, true);
    v.setUint32(o + 8, flags >>> 0, true);
    v.setUint32(o + 12, eax >>> 0, true);
    v.setUint32(o + 16, ebx >>> 0, true);
    v.setUint32(o + 20, ecx >>> 0, true);
    v.setUint32(o + 24, edx >>> 0, true);
  }

  /** Entry `i`'s `function`. */
  function(i: number): number {
    return this.view.getUint32(8 + i * 40, true);
  }
  /** Entry `i`'s `index`. */
  index(i: number): number {
    return this.view.getUint32(12 + i * 40, true);
  }
  /** Entry `i`'s `flags`. */
  flags(i: number): number {
    return this.view.getUint32(16 + i * 40, true);
  }
  /** Entry `i`'s `eax`. */
  eax(i: number): number {
    return this.view.getUint32(20 + i * 40, true);
  }
  /** Entry `i`'s `ebx`. */
  ebx(i: number): number {
    return this.view.getUint32(24 + i * 40, true);
  }
  /** Entry `i`'s `ecx`. */
  ecx(i: number): number {
    return this.view.getUint32(28 + i * 40, true);
  }
  /** Entry `i`'s `edx`. */
  edx(i: number): number {
    return this.view.getUint32(32 + i * 40, true);
  }

  /** The first `nent` entries as `@hv/x86` CpuidLeaf objects (flags dropped; allocates). */
  toLeaves(): CpuidLeaf[] {
    const out: CpuidLeaf[] = [];
    const n = Math.min(this.nent, this.capacity);
    for (let i = 0; i < n; i++) {
      out.push({
        function: this.function(i),
        index: this.index(i),
        eax: this.eax(i),
        ebx: this.ebx(i),
        ecx: this.ecx(i),
        edx: this.edx(i),
      });
    }
    return out;
  }
}
