import { HvRecommendationEax } from "@hv/tlfs";
import { definePlugin } from "@hv/x86";

/**
 * `hv-avic` (alias `hv-apicv`): sets 0x40000004.EAX[9] DeprecateAutoEoi and clears
 * 0x40000004.EAX[3] UseApicMsrs (QEMU sets UseApicMsrs for `vapic` only "unless hv-avic is on";
 * composition applies clears after every plugin's sets, so the order of plugins does not matter).
 * No MSRs or hypercalls. The point is to keep hardware APIC virtualization (Intel APICv, AMD AVIC)
 * enabled alongside SynIC, which only the passthrough backend has. Source: TLFS §2.4.5 bit 9;
 * QEMU `HYPERV_FEAT_AVIC` and `hyperv_fill_cpuids`; KVM `kvm_hv_set_cpuid` (AutoEOI inhibits APICv).
 */
export const avic = definePlugin({
  name: "avic",
  summary: "Deprecate AutoEOI: lets SynIC coexist with hardware APICv/AVIC (passthrough only)",
  requires: [],
  cpuid: { set: [HvRecommendationEax.DeprecateAutoEoi], clear: [HvRecommendationEax.UseApicMsrs] },
  msrs: [],
  hypercalls: [],
  emulator: {
    supported: false,
    reason: "needs hardware APIC virtualization (Intel APICv / AMD AVIC) in KVM's in-kernel APIC, which hv's userspace emulator does not use; use the passthrough backend",
  },
  passthrough: { capabilities: ["KVM_CAP_SYS_HYPERV_CPUID"], hvCpuid: [HvRecommendationEax.DeprecateAutoEoi] },
  formats: {
    qemu: { property: "hv-avic" },
    libvirt: { hyperv: "avic" },
    kubevirt: { unsupported: "KubeVirt's spec.domain.features.hyperv has no key for AutoEOI deprecation (hv-avic)" },
  },
  docs: {
    description: "Recommends the guest not use SynIC AutoEOI (0x40000004.EAX[9]) and stops recommending the APIC MSRs (clears EAX[3]), so KVM can keep APICv/AVIC active with SynIC.",
    guestGains: "Hardware-accelerated interrupt delivery and EOI (APICv/AVIC) stay on, instead of being inhibited by AutoEOI SINTs.",
    windows: "Windows versions that honour the DeprecateAutoEoi hint (no per-version source); virt-install enables it when the domain has <apic/>. Only useful on APICv/AVIC hardware.",
    sources: ["TLFS §2.4.5 bit 9 (DeprecateAutoEoi)", "QEMU hv-avic / hv-apicv (HYPERV_FEAT_AVIC; clears 4.EAX[3])", "KVM arch/x86/kvm/hyperv.c (AutoEOI APICv inhibit)"],
  },
});
