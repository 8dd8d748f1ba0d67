import { HvCallSendSyntheticClusterIpi, HvCallSendSyntheticClusterIpiEx, HvRecommendationEax } from "@hv/tlfs";
import { definePlugin } from "@hv/x86";
import { ipiHandlers } from "./behaviour.ts";

/**
 * `hv-ipi`: 0x40000004.EAX[10] UseSyntheticClusterIpi and EAX[11] UseExProcessorMasks. Requires
 * `vpindex`. No MSRs.
 *
 * Hypercalls (rep or variable-header violations -> HV_STATUS_INVALID_HYPERCALL_INPUT):
 * - HvCallSendSyntheticClusterIpi 0x000B: simple, slow or register-fast (RDX = vector, R8 = mask;
 *   not XMM); input {u32 vector, u32 reserved, u64 processor_mask} = 16 bytes. Fast with
 *   RDX[63:32] != 0, or vector < 0x10 or > 0xFF -> HV_STATUS_INVALID_HYPERCALL_INPUT. Gate EAX[10].
 * - HvCallSendSyntheticClusterIpiEx 0x0015: variable header (sparse VP set), XMM-fast capable (a
 *   fast call without `xmm-input` -> #UD); header {u32 vector, u32 reserved, u64 format, u64
 *   valid_bank_mask} = 24 bytes; var header size != popcount(valid_bank_mask) -> INVALID_HYPERCALL_INPUT;
 *   empty set -> success (vector unchecked); format 1 = every VP including the sender. Gate EAX[11]
 *   (KVM also needs EAX[10]).
 * Behaviour: `ipiHandlers` (one exit delivers a fixed interrupt to any number of VPs through
 * `VpView.requestInterrupt`; indices of VPs that do not exist are ignored). The VP-set decoder is
 * `readVpSet`/`readVpSetFast` (also used by `@hv/tlbflush`).
 * Source: TLFS Appendix A HvCallSendSyntheticClusterIpi[Ex]; KVM `kvm_hv_send_ipi`; QEMU `HYPERV_FEAT_IPI`.
 */
export const ipi = definePlugin({
  name: "ipi",
  summary: "PV IPIs: the guest sends an IPI to many vCPUs with one hypercall instead of one ICR write each",
  requires: ["vpindex"],
  cpuid: { set: [HvRecommendationEax.UseSyntheticClusterIpi, HvRecommendationEax.UseExProcessorMasks] },
  msrs: [],
  hypercalls: [
    {
      code: HvCallSendSyntheticClusterIpi,
      name: "HvCallSendSyntheticClusterIpi",
      kind: "simple",
      fast: "allowed",
      inputBytes: 16,
      outputBytes: 0,
      gate: HvRecommendationEax.UseSyntheticClusterIpi,
    },
    {
      code: HvCallSendSyntheticClusterIpiEx,
      name: "HvCallSendSyntheticClusterIpiEx",
      kind: "variable",
      fast: "xmm",
      inputBytes: 24,
      outputBytes: 0,
      gate: HvRecommendationEax.UseExProcessorMasks,
    },
  ],
  emulator: { supported: true },
  passthrough: { capabilities: ["KVM_CAP_HYPERV_SEND_IPI"] },
  formats: {
    qemu: { property: "hv-ipi" },
    libvirt: { hyperv: "ipi" },
    kubevirt: { hyperv: "ipi" },
  },
  docs: {
    description: "Recommends the synthetic cluster IPI hypercalls (0x40000004.EAX[10], with sparse VP sets EAX[11]): one HvCallSendSyntheticClusterIpi[Ex] delivers a fixed interrupt to a whole set of vCPUs.",
    guestGains: "One exit per multicast IPI instead of one per destination (and no ICR MMIO exits), which matters for TLB shootdowns and rescheduling on many-vCPU guests.",
    windows: "Windows 7 / 2008 R2 and later per Proxmox (machine >= 3.1); virt-install and Nova always; no primary per-version source. Linux 6.1 uses 0x000B fast, and 0x0015 only when a VP index is >= 64.",
    sources: [
      "TLFS Appendix A HvCallSendSyntheticClusterIpi 0x000B, HvCallSendSyntheticClusterIpiEx 0x0015; §2.4.5 bits 10 and 11",
      "QEMU hv-ipi (HYPERV_FEAT_IPI, requires hv-vpindex; KVM_CAP_HYPERV_SEND_IPI)",
      "KVM arch/x86/kvm/hyperv.c kvm_hv_send_ipi; selftest hyperv_ipi.c",
    ],
  },
  create: () => ipiHandlers(),
});
