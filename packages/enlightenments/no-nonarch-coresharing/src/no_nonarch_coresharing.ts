import { HvRecommendationEax } from "@hv/tlfs";
import { definePlugin } from "@hv/x86";

/**
 * `hv-no-nonarch-coresharing=on`: 0x40000004.EAX[18] NoNonArchitecturalCoreSharing, a promise
 * that a vCPU never shares a physical core with another VM's or the host's threads except as the
 * architecture shows (its own SMT siblings). Claims nothing. It is only true with pinned vCPUs or
 * SMT off, which hv cannot check, so passthrough needs nothing from KVM (KVM itself reports the bit
 * only when SMT is impossible; QEMU's `=auto` copies that host bit and blocks migration). Source:
 * TLFS §2.4.5 bit 18; QEMU `hyperv_no_nonarch_cs` in `hyperv_fill_cpuids`.
 */
export const noNonarchCoresharing = definePlugin({
  name: "no-nonarch-coresharing",
  summary: "Core-sharing hint: vCPUs never share a physical core non-architecturally (only true with pinned vCPUs)",
  requires: [],
  cpuid: { set: [HvRecommendationEax.NoNonArchitecturalCoreSharing] },
  msrs: [],
  hypercalls: [],
  emulator: { supported: true },
  passthrough: { capabilities: [], hvCpuid: [] },
  formats: {
    qemu: { property: "hv-no-nonarch-coresharing", value: () => "on" },
    libvirt: { unsupported: "libvirt has no <hyperv> element for hv-no-nonarch-coresharing; pass it through <qemu:commandline>" },
    kubevirt: { unsupported: "KubeVirt's spec.domain.features.hyperv has no key for hv-no-nonarch-coresharing" },
  },
  docs: {
    description: "Tells the guest (0x40000004.EAX[18]) that its vCPUs never share a physical core with other workloads beyond the SMT topology it sees.",
    guestGains: "The guest can skip side-channel mitigations such as core scheduling or L1D flushes against non-architectural core sharing.",
    windows: "No per-version source; no distribution default. QEMU: enable only with pinned vCPUs (or SMT off on the host).",
    sources: ["TLFS §2.4.5 bit 18 (NoNonArchitecturalCoreSharing)", "QEMU hv-no-nonarch-coresharing=on/off/auto", "KVM kvm_get_hv_cpuid (set iff !cpu_smt_possible())"],
  },
});
