/**
 * Behaviour of `hv-vapic`: HV_X64_MSR_EOI, HV_X64_MSR_ICR and HV_X64_MSR_TPR acting on the VP's
 * local APIC ({@link VpView.apic}), and HV_X64_MSR_VP_ASSIST_PAGE with exit-less EOI.
 * @module
 */
import { HV_X64_MSR_EOI, HV_X64_MSR_ICR, HV_X64_MSR_TPR, HV_X64_MSR_VP_ASSIST_PAGE } from "@hv/tlfs";
import { MsrOutcome, type MsrAccess, type PartitionView, type PluginHandlers, type StateViews, type VpView } from "@hv/x86";
import type { vapicVpState } from "./vapic.ts";

/** The plugin's name, which is also the owner of its declared state. */
export const VAPIC = "vapic";

type VapicViews = StateViews<typeof vapicVpState.spec.fields>;

const PAGE_MASK_LO = 0xfffff000;

/**
 * The handlers of `hv-vapic` (one instance per partition; per-VP state in {@link vapicVpState}):
 * - WRMSR HV_X64_MSR_EOI: bits 63:32 != 0 -> #GP; else an EOI on the VP's APIC. RDMSR -> #GP
 *   (write-only; the dispatcher refuses it for a "wo" claim).
 * - HV_X64_MSR_ICR: RDMSR returns the ICR as last written (lo = bits 31:0, hi = 63:32); WRMSR stores
 *   it and sends the IPI (`VpApic.writeIcr`); reserved bits of ICR[31:0] -> #GP.
 * - HV_X64_MSR_TPR: RDMSR the TPR (0..255); WRMSR bits 63:32 != 0 -> #GP, else TPR = bits 7:0.
 * - HV_X64_MSR_VP_ASSIST_PAGE: RDMSR the value as written; WRMSR with bit 0 (enable) set and a page
 *   (bits 63:12, a GPA) not in guest RAM -> #GP; on enable only the first u32 (`apic_assist`) is
 *   zeroed; the APIC learns the page for exit-less EOI (`VpApic.setAssistPage`). Bits 11:1 are
 *   kept as written (KVM stores the value unchecked).
 * Without a userspace APIC (`vp.apic` absent, e.g. KVM's in-kernel irqchip under the emulator)
 * EOI, ICR and TPR #GP, as KVM answers without an in-kernel LAPIC; the assist page still works as
 * memory. Source: TLFS §10.5.1-§10.5.3 and §7.8.7; KVM `kvm_hv_set_msr`/`kvm_hv_get_msr`
 * (`kvm_hv_vapic_msr_write`, `kvm_lapic_set_pv_eoi`). Exit path: no allocation.
 *
 * `restored()` (after a restore, with `partition` given): every VP of `partition` whose `apic` this
 * thread holds learns its restored assist page again (`VpApic.setAssistPage`), so exit-less EOI
 * goes on; the page's contents are guest RAM, restored with it (KVM: `kvm_lapic_set_pv_eoi` from
 * the restored MSR).
 */
export function vapicHandlers(partition?: PartitionView): PluginHandlers {
  // `VpView.state` returns the arena's cached views: no allocation per access.
  const stateOf = (vp: VpView): VapicViews => vp.state(VAPIC) as unknown as VapicViews;
  return {
    restored() {
      for (let i = 0; partition !== undefined && i < partition.vpCount; i++) {
        const vp = partition.vp(i);
        if (vp?.apic === undefined) continue;
        const s = stateOf(vp).vp_assist_page, lo = s[0] >>> 0, hi = s[1] >>> 0;
        vp.apic.setAssistPage(hi * 0x1_0000_0000 + (lo & PAGE_MASK_LO), (lo & 1) !== 0);
      }
    },
    rdmsr(vp: VpView, msr: MsrAccess): MsrOutcome {
      switch (msr.index) {
        case HV_X64_MSR_VP_ASSIST_PAGE: {
          const s = stateOf(vp).vp_assist_page;
          msr.lo = s[0];
          msr.hi = s[1];
          return MsrOutcome.Ok;
        }
        case HV_X64_MSR_ICR:
          if (vp.apic === undefined) return MsrOutcome.Gp;
          msr.lo = vp.apic.icrLo();
          msr.hi = vp.apic.icrHi();
          return MsrOutcome.Ok;
        case HV_X64_MSR_TPR:
          if (vp.apic === undefined) return MsrOutcome.Gp;
          msr.lo = vp.apic.tpr();
          msr.hi = 0;
          return MsrOutcome.Ok;
        case HV_X64_MSR_EOI:
          return MsrOutcome.Gp;
        default:
          return MsrOutcome.NotMine;
      }
    },
    wrmsr(vp: VpView, msr: MsrAccess): MsrOutcome {
      switch (msr.index) {
        case HV_X64_MSR_VP_ASSIST_PAGE: {
          const lo = msr.lo >>> 0, hi = msr.hi >>> 0;
          const enable = (lo & 1) !== 0;
          const gpa = hi * 0x1_0000_0000 + (lo & PAGE_MASK_LO);
          const memory = vp.partition.memory;
          if (enable && (hi > 0xfffff || !memory.contains(gpa, 4096))) return MsrOutcome.Gp;
          const s = stateOf(vp).vp_assist_page;
          s[0] = lo;
          s[1] = hi;
          if (enable) memory.writeU32(gpa, 0);
          vp.apic?.setAssistPage(gpa, enable);
          return MsrOutcome.Ok;
        }
        case HV_X64_MSR_EOI:
          if (vp.apic === undefined || msr.hi !== 0) return MsrOutcome.Gp;
          vp.apic.eoi();
          return MsrOutcome.Ok;
        case HV_X64_MSR_ICR:
          if (vp.apic === undefined) return MsrOutcome.Gp;
          return vp.apic.writeIcr(msr.lo >>> 0, msr.hi >>> 0) ? MsrOutcome.Ok : MsrOutcome.Gp;
        case HV_X64_MSR_TPR:
          if (vp.apic === undefined || msr.hi !== 0) return MsrOutcome.Gp;
          vp.apic.setTpr(msr.lo & 0xff);
          return MsrOutcome.Ok;
        default:
          return MsrOutcome.NotMine;
      }
    },
  };
}
