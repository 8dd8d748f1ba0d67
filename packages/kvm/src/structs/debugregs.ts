/**
 * `struct kvm_debugregs` (arch/x86/include/uapi/asm/kvm.h), 128 bytes: `db[4]` (DR0-DR3, u64) @0,
 * `dr6` @32, `dr7` @40, `flags` @48 (must be 0), `reserved[9]`. KVM_GET_DEBUGREGS /
 * KVM_SET_DEBUGREGS (KVM_CAP_DEBUGREGS), api.rst "KVM_GET_DEBUGREGS".
 * @module
 */
import { KvmStruct } from "./struct.ts";

/** sizeof(struct kvm_debugregs). */
export const KVM_DEBUGREGS_SIZE = 128;

/** A preallocated `struct kvm_debugregs`. DR0-3 are linear addresses (bigint: kernel addresses exceed 2^53). */
export class KvmDebugregs extends KvmStruct {
  /** Allocates a zeroed struct. */
  constructor() {
    super(KVM_DEBUGREGS_SIZE);
  }
  /** DR`i` (0..3). */
  db(i: number): bigint {
    return this.u64Big(i * 8);
  }
  /** Sets DR`i` (0..3). */
  setDb(i: number, value: bigint): void {
    this.setU64Big(i * 8, value);
  }
  /** DR6 (bits 63:32 are 0). */
  get dr6(): number {
    return this.u64(32);
  }
  set dr6(v: number) {
    this.setU64(32, v);
  }
  /** DR7 (bits 63:32 are 0). */
  get dr7(): number {
    return this.u64(40);
  }
  set dr7(v: number) {
    this.setU64(40, v);
  }
  /** `flags`: KVM accepts only 0. */
  get flags(): number {
    return this.u64(48);
  }
}
