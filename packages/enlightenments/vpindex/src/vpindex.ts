import { HvPrivilegeEax } from "@hv/tlfs";
import { definePlugin } from "@hv/x86";

/**
 * `hv-vpindex`: 0x40000003.EAX[6] AccessVpIndex. Always composed as part of the base (the
 * Requirements for Implementing the Microsoft Hypervisor Interface demand it), and `--without`
 * cannot remove it. It claims no MSR: HV_X64_MSR_VP_INDEX (0x40000002, read-only, write -> #GP,
 * value = the VP's index, unique per VP) is served by the base, so the dispatch table has one owner
 * whatever is requested. Source: TLFS §7.8.1; QEMU `HYPERV_FEAT_VPINDEX`; KVM `kvm_hv_get_msr`
 * (HV_X64_MSR_VP_INDEX), `KVM_CAP_HYPERV_VP_INDEX` to set the index from userspace.
 */
export const vpindex = definePlugin({
  name: "vpindex",
  summary: "VP index MSR: each vCPU can read its hypervisor VP index (needed by SynIC, PV TLB flush and PV IPI)",
  requires: [],
  cpuid: { set: [HvPrivilegeEax.AccessVpIndex] },
  msrs: [],
  hypercalls: [],
  emulator: { supported: true },
  passthrough: { capabilities: ["KVM_CAP_HYPERV_VP_INDEX"] },
  formats: {
    qemu: { property: "hv-vpindex" },
    libvirt: { hyperv: "vpindex" },
    kubevirt: { hyperv: "vpindex" },
  },
  docs: {
    description: "Advertises HV_X64_MSR_VP_INDEX (0x40000003.EAX[6]), the read-only per-vCPU index the guest uses to name processors in hypercalls and SynIC. Part of the base: the MSR is served by the core.",
    guestGains: "The guest can address vCPUs by VP index, which synic, tlbflush and ipi require; Hv#1 guests expect it (Linux refuses Hyper-V mode without it).",
    windows: "Every Hv#1 guest (Vista / 2008 and later) relies on it; Proxmox enables it from machine 2.6, virt-install and Nova always.",
    sources: [
      "TLFS §7.8.1 Virtual Processor Index",
      "Requirements for Implementing the Microsoft Hypervisor Interface (AccessVpIndex mandatory)",
      "QEMU hv-vpindex (HYPERV_FEAT_VPINDEX)",
      "KVM KVM_CAP_HYPERV_VP_INDEX",
    ],
  },
});
