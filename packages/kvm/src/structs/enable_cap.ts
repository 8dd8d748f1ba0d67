/**
 * `struct kvm_enable_cap` (include/uapi/linux/kvm.h), 104 bytes: cap (u32), flags (u32), args[4] (u64),
 * pad[64]. KVM_ENABLE_CAP on a VM or vCPU fd, api.rst §4.37 and §7 (per-capability arguments).
 * @module
 */
import { KvmStruct, setU64 } from "./struct.ts";

/** A `struct kvm_enable_cap`. */
export class KvmEnableCap extends KvmStruct {
  /** Allocates a zeroed struct. */
  constructor() {
    super(104);
  }
  /** Sets `cap`, clears `flags`, and sets args[0..3] from `args` (missing ones 0; numbers below 2^53). */
  set(cap: number, args: readonly number[] = []): this {
    this.clear();
    this.view.setUint32(0, cap, true);
    for (let i = 0; i < 4; i++) setU64(this.view, 8 + i * 8, args[i] ?? 0);
    return this;
  }
  /** `cap`. */
  get cap(): number {
    return this.view.getUint32(0, true);
  }
  /** `args[i]` as a number. */
  arg(i: number): number {
    return this.u64(8 + i * 8);
  }
}
