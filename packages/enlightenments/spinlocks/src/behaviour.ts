/**
 * Behaviour of `hv-spinlocks`: HvCallNotifyLongSpinWait yields the calling VP's host CPU. No state.
 * @module
 */
import { HV_SPINLOCK_RETRIES_NEVER_NOTIFY, HV_STATUS_ACCESS_DENIED, HV_STATUS_SUCCESS, HvCallNotifyLongSpinWait } from "@hv/tlfs";
import { HYPERCALL_NOT_MINE, type PluginHandlers } from "@hv/x86";

/**
 * Whether HvCallNotifyLongSpinWait is offered for a spinlock retry count (0x40000004.EBX): not when
 * the count is 0 or 0xFFFFFFFF ("never notify"). KVM `hv_check_hypercall_access`
 * (`hv_vcpu->cpuid_cache.enlightenments_ebx && != U32_MAX`).
 */
export const longSpinWaitOffered = (retries: number): boolean => retries !== 0 && retries !== HV_SPINLOCK_RETRIES_NEVER_NOTIFY;

/**
 * The handlers of `hv-spinlocks` for the retry count `retries` (the plugin's parameter, which is
 * also what composition puts in 0x40000004.EBX); built once per partition by `create`.
 *
 * HvCallNotifyLongSpinWait (0x0008; simple, fast or slow; the input, a u64 spin count, is ignored
 * as KVM ignores it; rep/variable misuse is refused by the dispatcher with
 * HV_STATUS_INVALID_HYPERCALL_INPUT before this runs):
 * - retries 0 or 0xFFFFFFFF: the call is not offered, HV_STATUS_ACCESS_DENIED (KVM's access check);
 * - otherwise `vp.yieldCpu()` and HV_STATUS_SUCCESS (KVM `kvm_vcpu_on_spin`).
 * Any other code: HYPERCALL_NOT_MINE. Exit path: no allocation.
 * Source: TLFS HvCallNotifyLongSpinWait, §2.4.5; KVM `kvm_hv_hypercall` (HVCALL_NOTIFY_LONG_SPIN_WAIT).
 */
export function spinlocksHandlers(retries: number): PluginHandlers {
  const offered = longSpinWaitOffered(retries);
  return {
    hypercall(vp, call) {
      if (call.code !== HvCallNotifyLongSpinWait) return HYPERCALL_NOT_MINE;
      if (!offered) return HV_STATUS_ACCESS_DENIED;
      vp.yieldCpu();
      return HV_STATUS_SUCCESS;
    },
  };
}
