/**
 * `struct kvm_msrs` + `struct kvm_msr_entry` and `struct kvm_msr_list` (arch/x86/include/uapi/asm/kvm.h).
 * - `kvm_msrs`: `nmsrs` (u32), pad, then 16-byte entries {index u32, reserved u32, data u64};
 *   KVM_GET_MSRS / KVM_SET_MSRS (api.rst §4.18, §4.19) return how many entries they processed.
 * - `kvm_msr_list`: `nmsrs` (u32) then u32 indices; KVM_GET_MSR_INDEX_LIST / KVM_GET_MSR_FEATURE_INDEX_LIST
 *   (api.rst §4.3) take the capacity in `nmsrs` and fail with E2BIG, writing the needed count, when short.
 * @module
 */
import { getU64, KvmStruct, setU64, setU64Halves } from "./struct.ts";

/** sizeof(struct kvm_msr_entry). */
export const KVM_MSR_ENTRY_SIZE = 16;

/** A `struct kvm_msrs` with room for `capacity` entries. Entry fields by entry number, no allocation. */
export class KvmMsrs extends KvmStruct {
  /** Entries this buffer has room for. */
  readonly capacity: number;

  /** Allocates a zeroed struct with room for `capacity` entries (`nmsrs` starts at 0). */
  constructor(capacity: number) {
    super(8 + capacity * KVM_MSR_ENTRY_SIZE);
    this.capacity = capacity;
  }

  /** `nmsrs`: entries KVM should process. */
  get nmsrs(): number {
    return this.view.getUint32(0, true);
  }
  set nmsrs(n: number) {
    if (n > this.capacity) throw new RangeError(`nmsrs ${n} beyond capacity ${this.capacity}`);
    this.view.setUint32(0, n, true);
  }

  /** Entry `i`'s MSR index. */
  index(i: number): number {
    return this.view.getUint32(8 + i * 16, true);
  }
  /** Sets entry `i`'s MSR index (and clears `reserved`). */
  setIndex(i: number, msr: number): void {
    this.view.setUint32(8 + i * 16, msr >>> 0, true);
    this.view.setUint32(12 + i * 16, 0, true);
  }
  /** Entry `i`'s data as a number (exact below 2^53). */
  data(i: number): number {
    return getU64(this.view, 16 + i * 16);
  }
  /** Entry `i`'s data as a bigint (exact; allocates: edge code such as state save). */
  dataBig(i: number): bigint {
    return this.view.getBigUint64(16 + i * 16, true);
  }
  /** Low half of entry `i`'s data. */
  dataLo(i: number): number {
    return this.view.getUint32(16 + i * 16, true);
  }
  /** High half of entry `i`'s data. */
  dataHi(i: number): number {
    return this.view.getUint32(20 + i * 16, true);
  }
  /** Sets entry `i`'s data from a number. */
  setData(i: number, value: number): void {
    setU64(this.view, 16 + i * 16, value);
  }
  /** Sets entry `i`'s data from a bigint (masked to 64 bits). */
  setDataBig(i: number, value: bigint): void {
    this.view.setBigUint64(16 + i * 16, BigInt.asUintN(64, value), true);
  }
  /** Sets entry `i`'s data from halves. */
  setDataHalves(i: number, lo: number, hi: number): void {
    setU64Halves(this.view, 16 + i * 16, lo, hi);
  }

  /** Fills entries 0..n-1 from `indices` (data zeroed) and sets `nmsrs` = n. */
  setIndices(indices: readonly number[]): void {
    this.nmsrs = indices.length;
    indices.forEach((msr, i) => {
      this.setIndex(i, msr);
      this.setData(i, 0);
    });
  }
}

/** A `struct kvm_msr_list` with room for `capacity` indices. */
export class KvmMsrList extends KvmStruct {
  /** Indices this buffer has room for. */
  readonly capacity: number;

  /** Allocates a struct with `nmsrs` = `capacity`. */
  constructor(capacity: number) {
    super(4 + capacity * 4);
    this.capacity = capacity;
    this.view.setUint32(0, capacity, true);
  }

  /** `nmsrs`: capacity going in, count (or needed count on E2BIG) coming out. */
  get nmsrs(): number {
    return this.view.getUint32(0, true);
  }
  set nmsrs(n: number) {
    this.view.setUint32(0, n, true);
  }

  /** The first min(nmsrs, capacity) indices (allocates). */
  indices(): number[] {
    const n = Math.min(this.nmsrs, this.capacity);
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(this.view.getUint32(4 + i * 4, true));
    return out;
  }
}
