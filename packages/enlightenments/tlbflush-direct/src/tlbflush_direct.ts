import { HvNestedEax } from "@hv/tlfs";
import { definePlugin } from "@hv/x86";

/**
 * `hv-tlbflush-direct`: 0x4000000A.EAX[17] DirectVirtualFlush (leaf 0x4000000A makes composition
 * raise the max leaf to 0x4000000A, as QEMU's nested_eax). Requires `vapic` (QEMU; `evmcs`
 * recommended on Intel). No MSRs or hypercalls of its own: a nested hypervisor in the guest lets
 * its L2 guests issue TLB flush hypercalls that L0 KVM serves directly, which only KVM's nested
 * VMX/SVM can do, so the emulator does not support it. Source: TLFS Nested Virtualization (direct
 * virtual flush) and §2.4.11; QEMU `HYPERV_FEAT_TLBFLUSH_DIRECT`; KVM `nested_svm/vmx` L2 TLB flush.
 */
export const tlbflushDirect = definePlugin({
  name: "tlbflush-direct",
  summary: "Direct TLB flush for nested guests: L2 flush hypercalls go straight to L0 (passthrough only)",
  requires: ["vapic"],
  cpuid: { set: [HvNestedEax.DirectVirtualFlush] },
  msrs: [],
  hypercalls: [],
  emulator: {
    supported: false,
    reason: "needs a nested hypervisor: L2 TLB-flush hypercalls are handled directly by KVM's nested VMX/SVM, which hv's userspace emulator cannot provide; use the passthrough backend",
  },
  passthrough: { capabilities: ["KVM_CAP_SYS_HYPERV_CPUID"], hvCpuid: [HvNestedEax.DirectVirtualFlush] },
  formats: {
    qemu: { property: "hv-tlbflush-direct" },
    libvirt: { hyperv: "tlbflush", child: "direct" },
    kubevirt: { unsupported: "KubeVirt's hyperv.tlbflush has no 'direct' sub-option" },
  },
  docs: {
    description: "Advertises direct virtual flush (0x4000000A.EAX[17]): a nested hypervisor in the guest can let its L2 guests' TLB flush hypercalls be handled by L0 without exiting to it.",
    guestGains: "Faster TLB shootdowns inside nested guests (Hyper-V/WSL2/VBS in the guest): no L1 round trip per flush.",
    windows: "Only matters for Windows running a nested hypervisor; no distribution default (virt-install: CLI only).",
    sources: [
      "TLFS Nested Virtualization, direct virtual flush; §2.4.11 0x4000000A.EAX[17]",
      "QEMU hv-tlbflush-direct (HYPERV_FEAT_TLBFLUSH_DIRECT, requires hv-vapic)",
      "KVM arch/x86/kvm/hyperv.c / vmx,svm hyperv.c L2 TLB flush",
    ],
  },
});
