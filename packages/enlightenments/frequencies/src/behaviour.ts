/**
 * Behaviour of `hv-frequencies`: the two read-only frequency MSRs, answered from the partition's
 * clock description ({@link PartitionView.tscHz}, {@link PartitionView.apicHz}). No state.
 * @module
 */
import { HV_X64_MSR_APIC_FREQUENCY, HV_X64_MSR_TSC_FREQUENCY } from "@hv/tlfs";
import { type MsrAccess, MsrOutcome, type PluginHandlers } from "@hv/x86";

const TWO_32 = 0x1_0000_0000;

/**
 * Writes a frequency in Hz into `msr.lo`/`msr.hi` as an unsigned 64-bit integer: the value is
 * floored; a value that is negative, not finite or not below 2^53 gives 0 (a backend bug, never a
 * throw). Exit path: no allocation.
 */
export function setHz(msr: MsrAccess, hz: number): void {
  const v = hz >= 0 && hz <= Number.MAX_SAFE_INTEGER ? Math.floor(hz) : 0;
  msr.lo = v % TWO_32;
  msr.hi = Math.floor(v / TWO_32);
}

/**
 * The handlers of `hv-frequencies` (built once per partition by `create`):
 * - RDMSR HV_X64_MSR_TSC_FREQUENCY: the guest TSC frequency in Hz, u64 (`vp.partition.tscHz`;
 *   KVM: `tsc_khz * 1000`, the same value the reference TSC page scale is derived from);
 * - RDMSR HV_X64_MSR_APIC_FREQUENCY: the local APIC timer frequency in Hz, u64
 *   (`vp.partition.apicHz`; KVM: 1 000 000 000, its in-kernel LAPIC ticks at 1 ns);
 * - WRMSR of either: #GP (read-only; the dispatcher already refuses it for an "ro" claim);
 * - any other MSR: NotMine.
 * The partition is read at every access, so a later TSC frequency change is seen at once: after the
 * backend announces one (`PluginHandlers.tscFrequencyChanging`), TSC_FREQUENCY reports the new
 * frequency, also while hv-reenlightenment holds the change and the guest TSC still ticks at the old
 * rate (TSC emulation). That is the frequency the guest must reenlighten to, whether it reads it
 * before acknowledging through TSC_EMULATION_STATUS or after (Linux `hyperv_stop_tsc_emulation`
 * clears InProgress, then reads it). During that window TSC_FREQUENCY and the reference TSC page's
 * scale disagree by design; they agree again once the change takes effect. KVM never changes a
 * running guest's frequency, so its value is constant.
 * Source: TLFS synthetic MSRs 0x40000022/23; KVM `kvm_hv_get_msr`.
 */
export function frequenciesHandlers(): PluginHandlers {
  return {
    rdmsr(vp, msr) {
      if (msr.index === HV_X64_MSR_TSC_FREQUENCY) setHz(msr, vp.partition.tscHz);
      else if (msr.index === HV_X64_MSR_APIC_FREQUENCY) setHz(msr, vp.partition.apicHz);
      else return MsrOutcome.NotMine;
      return MsrOutcome.Ok;
    },
    wrmsr(_vp, msr) {
      return msr.index === HV_X64_MSR_TSC_FREQUENCY || msr.index === HV_X64_MSR_APIC_FREQUENCY ? MsrOutcome.Gp : MsrOutcome.NotMine;
    },
  };
}
