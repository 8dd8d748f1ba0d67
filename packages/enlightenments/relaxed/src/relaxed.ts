import { HvRecommendationEax } from "@hv/tlfs";
import { definePlugin } from "@hv/x86";

/**
 * `hv-relaxed`: sets 0x40000004.EAX[5] UseRelaxedTiming, so Windows disables its watchdog timeouts
 * (a vCPU descheduled by the host no longer bugchecks with CLOCK_WATCHDOG_TIMEOUT). CPUID only: no
 * MSRs, no hypercalls, no state. Source: TLFS §2.4.5; QEMU `kvm_hyperv_properties[HYPERV_FEAT_RELAXED]`.
 */
export const relaxed = definePlugin({
  name: "relaxed",
  summary: "Relaxed timing: the guest disables watchdog timeouts that fire when a vCPU is descheduled",
  requires: [],
  cpuid: { set: [HvRecommendationEax.UseRelaxedTiming] },
  msrs: [],
  hypercalls: [],
  emulator: { supported: true },
  passthrough: { capabilities: ["KVM_CAP_HYPERV"] },
  formats: {
    qemu: { property: "hv-relaxed" },
    libvirt: { hyperv: "relaxed" },
    kubevirt: { hyperv: "relaxed" },
  },
  docs: {
    description: "Recommends relaxed timing (0x40000004.EAX[5] UseRelaxedTiming): the guest should not treat late timer interrupts or slow IPIs as hardware faults.",
    guestGains: "No CLOCK_WATCHDOG_TIMEOUT / DPC watchdog bugchecks when the host deschedules a vCPU.",
    windows: "Windows 7 / 2008 R2 and later honour it; Vista RTM ignores it; from Windows 8 / 2012 it is used whenever any hypervisor is present.",
    sources: [
      "TLFS §2.4.5 Implementation Recommendations, bit 5",
      "QEMU docs/system/i386/hyperv.rst (hv-relaxed)",
      "Requirements for Implementing the Microsoft Hypervisor Interface, footnote 3",
    ],
  },
});
