/**
 * `struct kvm_mp_state` (include/uapi/linux/kvm.h): one u32, the vCPU's multiprocessing state.
 * KVM_GET_MP_STATE / KVM_SET_MP_STATE, api.rst §4.38, §4.39.
 * @module
 */
import { KvmStruct } from "./struct.ts";

/** `KVM_MP_STATE_*` values (x86 uses RUNNABLE, UNINITIALIZED, INIT_RECEIVED, HALTED, SIPI_RECEIVED, AP_RESET_HOLD, SUSPENDED). */
export const KVM_MP_STATE = {
  RUNNABLE: 0,
  UNINITIALIZED: 1,
  INIT_RECEIVED: 2,
  HALTED: 3,
  SIPI_RECEIVED: 4,
  STOPPED: 5,
  CHECK_STOP: 6,
  OPERATING: 7,
  LOAD: 8,
  AP_RESET_HOLD: 9,
  SUSPENDED: 10,
} as const;

/** A `struct kvm_mp_state`. */
export class KvmMpState extends KvmStruct {
  /** Allocates a zeroed struct (RUNNABLE). */
  constructor() {
    super(4);
  }
  /** `mp_state`: one of {@link KVM_MP_STATE}. */
  get mpState(): number {
    return this.view.getUint32(0, true);
  }
  set mpState(v: number) {
    this.view.setUint32(0, v, true);
  }
}
