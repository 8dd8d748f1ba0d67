/**
 * `struct kvm_clock_data` (include/uapi/linux/kvm.h), 48 bytes: clock (u64, ns of kvmclock), flags
 * (u32), pad0, realtime (u64), host_tsc (u64), pad[4]. KVM_GET_CLOCK / KVM_SET_CLOCK, api.rst §4.50, §4.51.
 *
 * There is no `kvm_tsc_khz` struct: KVM_GET_TSC_KHZ returns the frequency (kHz) as the ioctl result and
 * KVM_SET_TSC_KHZ takes it as the ioctl argument (see `Vm.getTscKhz`, `Vcpu.setTscKhz`).
 * @module
 */
import { getU64, KvmStruct, setU64 } from "./struct.ts";

/** `flags`: the clock is stable across host CPUs (KVM_CLOCK_TSC_STABLE). */
export const KVM_CLOCK_TSC_STABLE = 2;
/** `flags`: `realtime` is valid. */
export const KVM_CLOCK_REALTIME = 1 << 2;
/** `flags`: `host_tsc` is valid. */
export const KVM_CLOCK_HOST_TSC = 1 << 3;

/** A `struct kvm_clock_data`. */
export class KvmClockData extends KvmStruct {
  /** Allocates a zeroed struct. */
  constructor() {
    super(48);
  }
  /** `clock`: kvmclock in nanoseconds. */
  get clock(): number {
    return getU64(this.view, 0);
  }
  set clock(v: number) {
    setU64(this.view, 0, v);
  }
  /** `flags`. */
  get flags(): number {
    return this.view.getUint32(8, true);
  }
  set flags(v: number) {
    this.view.setUint32(8, v, true);
  }
  /** `realtime`: CLOCK_REALTIME ns at the same instant (KVM_CLOCK_REALTIME). */
  get realtime(): number {
    return getU64(this.view, 16);
  }
  /** `host_tsc`: host TSC at the same instant (KVM_CLOCK_HOST_TSC). */
  get hostTsc(): number {
    return getU64(this.view, 24);
  }
}
