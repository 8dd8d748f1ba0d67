import {
  HV_X64_MSR_EOI,
  HV_X64_MSR_ICR,
  HV_X64_MSR_TPR,
  HV_X64_MSR_VP_ASSIST_PAGE,
  HvPrivilegeEax,
  HvRecommendationEax,
} from "@hv/tlfs";
import { defineState, definePlugin } from "@hv/x86";
import { vapicHandlers } from "./behaviour.ts";

const gate = HvPrivilegeEax.AccessIntrCtrlRegs;

/**
 * Per-VP state: `vp_assist_page` is HV_X64_MSR_VP_ASSIST_PAGE as written (u64: bit 0 enable,
 * bits 63:12 GPA page number; bits 11:1 reserved). 0 at power-on (KVM). EOI, ICR and TPR are not
 * stored: they are views of the local APIC.
 */
export const vapicVpState = defineState({
  version: 1,
  fields: {
    vp_assist_page: { type: "u64", doc: "HV_X64_MSR_VP_ASSIST_PAGE: bit 0 enable, bits 63:12 GPA page number" },
  },
});

/**
 * `hv-vapic`: 0x40000003.EAX[4] AccessIntrCtrlRegs (the privilege) and 0x40000004.EAX[3]
 * UseApicMsrs (the recommendation; `avic` clears it again, as QEMU does).
 *
 * MSRs (gate AccessIntrCtrlRegs):
 * - HV_X64_MSR_EOI 0x40000070, write-only: performs an EOI on the local APIC; bits 63:32 != 0 -> #GP; RDMSR -> #GP.
 * - HV_X64_MSR_ICR 0x40000071, read/write: the 64-bit ICR (destination in 63:32); a write sends the IPI.
 * - HV_X64_MSR_TPR 0x40000072, read/write: the task priority; bits 63:32 != 0 -> #GP.
 * - HV_X64_MSR_VP_ASSIST_PAGE 0x40000073, read/write: bit 0 enable, 63:12 GPA; enabling with a GPA
 *   outside guest RAM -> #GP; on enable only the first u32 (apic_assist, PV-EOI) is zeroed.
 * Without the gate bit every access #GPs. Source: TLFS §10.5.1-§10.5.3 and §7.8.7; KVM
 * `kvm_hv_set_msr` (HV_X64_MSR_EOI/ICR/TPR/VP_ASSIST_PAGE); QEMU `HYPERV_FEAT_VAPIC`.
 */
export const vapic = definePlugin({
  name: "vapic",
  summary: "Virtual APIC MSRs: EOI, ICR and TPR through synthetic MSRs, plus the VP assist page (lazy EOI)",
  requires: [],
  cpuid: { set: [HvPrivilegeEax.AccessIntrCtrlRegs, HvRecommendationEax.UseApicMsrs] },
  msrs: [
    { index: HV_X64_MSR_EOI, name: "HV_X64_MSR_EOI", access: "wo", gate },
    { index: HV_X64_MSR_ICR, name: "HV_X64_MSR_ICR", access: "rw", gate },
    { index: HV_X64_MSR_TPR, name: "HV_X64_MSR_TPR", access: "rw", gate },
    { index: HV_X64_MSR_VP_ASSIST_PAGE, name: "HV_X64_MSR_VP_ASSIST_PAGE", access: "rw", gate },
  ],
  hypercalls: [],
  state: { vp: vapicVpState },
  create: ({ partition }) => vapicHandlers(partition),
  emulator: { supported: true, userspaceApic: true },
  passthrough: { capabilities: ["KVM_CAP_HYPERV"] },
  formats: {
    qemu: { property: "hv-vapic" },
    libvirt: { hyperv: "vapic" },
    kubevirt: { hyperv: "vapic" },
  },
  docs: {
    description: "Grants access to the synthetic APIC MSRs (EOI, ICR, TPR) and the VP assist page, and recommends the guest use them instead of the memory-mapped xAPIC (0x40000003.EAX[4], 0x40000004.EAX[3]).",
    guestGains: "Fewer MMIO exits for APIC accesses, and lazy EOI through the VP assist page: an EOI that needs no exit at all.",
    windows: "All Windows versions since Vista / 2008 (Proxmox enables it for every Windows ostype from machine 2.3; virt-install and Nova always enable it).",
    sources: [
      "TLFS §10.5 Virtual APIC MSRs (EOI, ICR, TPR) and §7.8.7 VP assist page",
      "TLFS §2.4.4 AccessIntrCtrlRegs; §2.4.5 UseApicMsrs",
      "QEMU hv-vapic (HYPERV_FEAT_VAPIC; 4.EAX[3] unless hv-avic)",
      "KVM arch/x86/kvm/hyperv.c kvm_hv_set_msr",
    ],
  },
});
