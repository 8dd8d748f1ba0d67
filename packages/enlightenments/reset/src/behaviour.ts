/**
 * Behaviour of `hv-reset`: HV_X64_MSR_RESET reads 0; a guest write of exactly 1 asks the backend to
 * reset the partition through {@link PartitionEvents.reset}. No state.
 * @module
 */
import { HV_X64_MSR_RESET } from "@hv/tlfs";
import { MsrOutcome, type PluginHandlers } from "@hv/x86";

/** The plugin's name, also the `source` it passes to `PartitionEvents.reset`. */
export const RESET = "reset";

/**
 * The handlers of `hv-reset` (built once per partition by `create`):
 * - RDMSR HV_X64_MSR_RESET: 0 (lo = hi = 0).
 * - WRMSR HV_X64_MSR_RESET: the 64-bit value 1 (bit 0 set, every other bit clear) calls
 *   `vp.partition.events.reset("reset")`; any other value is accepted and ignored. Never #GP on the
 *   value (the gate is the dispatcher's). KVM `kvm_hv_set_msr_pw`: `if (data == 1)
 *   kvm_make_request(KVM_REQ_HV_RESET)`; TLFS HV_X64_MSR_RESET bit 0 "Reset", 63:1 reserved.
 * - Any other MSR: NotMine.
 * Exit path: no allocation (the event itself is the backend's and rare).
 */
export function resetHandlers(): PluginHandlers {
  return {
    rdmsr(_vp, msr) {
      if (msr.index !== HV_X64_MSR_RESET) return MsrOutcome.NotMine;
      msr.lo = 0;
      msr.hi = 0;
      return MsrOutcome.Ok;
    },
    wrmsr(vp, msr) {
      if (msr.index !== HV_X64_MSR_RESET) return MsrOutcome.NotMine;
      if (msr.lo === 1 && msr.hi === 0) vp.partition.events.reset(RESET);
      return MsrOutcome.Ok;
    },
  };
}
