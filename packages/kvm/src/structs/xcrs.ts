/**
 * `struct kvm_xcrs` (arch/x86/include/uapi/asm/kvm.h), 392 bytes: `nr_xcrs` (u32), `flags` (u32),
 * 16 `struct kvm_xcr` {xcr u32, reserved u32, value u64}, padding. KVM_GET_XCRS / KVM_SET_XCRS
 * (KVM_CAP_XCRS), api.rst §4.43, §4.44. XCR0 is xcr 0.
 * @module
 */
import { getU64, KvmStruct, setU64 } from "./struct.ts";

/** sizeof(struct kvm_xcrs). */
export const KVM_XCRS_SIZE = 392;
/** KVM_MAX_XCRS. */
export const KVM_MAX_XCRS = 16;

/** A preallocated `struct kvm_xcrs`. */
export class KvmXcrs extends KvmStruct {
  /** Allocates a zeroed struct. */
  constructor() {
    super(KVM_XCRS_SIZE);
  }
  /** `nr_xcrs`: valid entries. */
  get nrXcrs(): number {
    return this.view.getUint32(0, true);
  }
  set nrXcrs(n: number) {
    this.view.setUint32(0, n, true);
  }
  /** Entry `i`'s XCR number. */
  xcr(i: number): number {
    return this.view.getUint32(8 + i * 16, true);
  }
  /** Entry `i`'s value. */
  value(i: number): number {
    return getU64(this.view, 16 + i * 16);
  }
  /** Sets entry `i`. */
  setEntry(i: number, xcr: number, value: number): void {
    this.view.setUint32(8 + i * 16, xcr, true);
    this.view.setUint32(12 + i * 16, 0, true);
    setU64(this.view, 16 + i * 16, value);
  }
  /** The value of XCR `xcr`, or undefined when not among the `nr_xcrs` entries. */
  get(xcr: number): number | undefined {
    for (let i = 0; i < Math.min(this.nrXcrs, KVM_MAX_XCRS); i++) if (this.xcr(i) === xcr) return this.value(i);
    return undefined;
  }
}
