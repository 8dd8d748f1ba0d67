import { HV_CPUID_NESTED_FEATURES, HvRecommendationEax } from "@hv/tlfs";
import { definePlugin } from "@hv/x86";

/** eVMCS version range 1..1: 0x4000000A.EAX[7:0] low = 1, [15:8] high = 1 (QEMU DEFAULT_EVMCS_VERSION). */
const EVMCS_VERSION_1_TO_1 = 0x0101;

/**
 * `hv-evmcs`: 0x40000004.EAX[14] UseVmcsEnlightenments, and 0x4000000A.EAX |= 0x0101 (supported
 * enlightened-VMCS versions 1..1). Leaf 0x4000000A makes composition raise the max leaf to
 * 0x4000000A with zeroed 0x40000006..0x40000009, as QEMU does. Requires `vapic`; Intel (VMX) only.
 * No MSRs, no hypercalls: the enlightened VMCS is consumed by L0 KVM's nested VMX, so it runs on
 * the passthrough backend only (`KVM_ENABLE_CAP(KVM_CAP_HYPERV_ENLIGHTENED_VMCS)` per vCPU, which
 * must report a version range containing 1). Source: TLFS "Nested Virtualization" (enlightened
 * VMCS) and §2.4.11; QEMU `HYPERV_FEAT_EVMCS`, `hyperv_init_vcpu`; KVM `nested_enable_evmcs`.
 */
export const evmcs = definePlugin({
  name: "evmcs",
  summary: "Enlightened VMCS: a nested hypervisor in the guest uses a memory VMCS instead of VMREAD/VMWRITE (Intel)",
  requires: ["vapic"],
  cpuid: {
    set: [HvRecommendationEax.UseVmcsEnlightenments],
    registers: [{ leaf: HV_CPUID_NESTED_FEATURES, register: "eax", value: EVMCS_VERSION_1_TO_1, mode: "or" }],
  },
  msrs: [],
  hypercalls: [],
  emulator: {
    supported: false,
    reason: "needs a nested hypervisor: the enlightened VMCS is implemented by KVM's nested VMX (Intel), which hv's userspace emulator cannot provide; use the passthrough backend on an Intel host",
  },
  passthrough: { capabilities: ["KVM_CAP_HYPERV_ENLIGHTENED_VMCS"], enableCapabilities: ["KVM_CAP_HYPERV_ENLIGHTENED_VMCS"] },
  formats: {
    qemu: { property: "hv-evmcs" },
    libvirt: { hyperv: "evmcs" },
    kubevirt: { hyperv: "evmcs" },
  },
  docs: {
    description: "Recommends the enlightened VMCS (0x40000004.EAX[14]) and reports versions 1..1 in 0x4000000A.EAX: a nested hypervisor in the guest keeps its VMCS in ordinary memory with clean-field bits.",
    guestGains: "Much cheaper nested virtualization for Hyper-V, WSL2 and VBS inside the guest: no trapping VMREAD/VMWRITE, and APICv need not be frozen.",
    windows: "Windows running a nested hypervisor (Hyper-V role, WSL2, VBS). Proxmox enables it for Windows 11 / 2022 / 2025 on Intel hosts (machine >= 11.0+pve2), virt-install on Intel hosts; Nova never.",
    sources: [
      "TLFS Nested Virtualization: Enlightened VMCS; §2.4.5 bit 14; §2.4.11 0x4000000A",
      "QEMU hv-evmcs (HYPERV_FEAT_EVMCS, requires hv-vapic; KVM_CAP_HYPERV_ENLIGHTENED_VMCS)",
      "KVM arch/x86/kvm/vmx/hyperv.c nested_enable_evmcs",
    ],
  },
});
