/**
 * The bridge from Hyper-V's synthetic APIC MSRs to a {@link LocalApic}: `@hv/x86`'s `VpApic`
 * (HV_X64_MSR_EOI / ICR / TPR and the VP assist page's exit-less EOI), as KVM's
 * `kvm_hv_vapic_msr_write`/`read` route them to its LAPIC.
 * @module
 */
import type { VpApic } from "@hv/x86";
import type { LocalApic } from "./apic.ts";
import type { PvEoi } from "./pv_eoi.ts";

/** `VpApic` over `apic`; `pvEoi` receives assist-page changes (absent: the page is ignored). */
export function vpApicOf(apic: LocalApic, pvEoi?: PvEoi): VpApic {
  return {
    eoi: () => void apic.eoi(),
    writeIcr: (lo, hi) => apic.writeIcr(lo, hi),
    icrLo: () => apic.icrLo,
    icrHi: () => apic.icrHi,
    tpr: () => apic.tpr,
    setTpr: (value) => apic.setTpr(value),
    setAssistPage: (gpa, enabled) => pvEoi?.setPage(gpa, enabled),
  };
}
