import { HvFeatureEdx } from "@hv/tlfs";
import { definePlugin } from "@hv/x86";

/**
 * `hv-xmm-input`: 0x40000003.EDX[4] XmmRegistersForFastHypercallAvailable. Claims nothing: it
 * changes the core's fast-hypercall decoding. With the bit, a fast call whose descriptor says
 * `fast: "xmm"` (FlushVirtualAddress*, SendSyntheticClusterIpiEx) takes up to 112 input bytes from
 * RDX, R8 and XMM0..XMM5; without it such an XMM-fast call raises #UD (KVM `kvm_hv_hypercall`,
 * selftest hyperv_features.c).
 *
 * No behaviour of its own (no `create`): the core dispatcher (`@hv/dispatch`) reads XMM0..5 for an
 * XMM-fast call into `HypercallInput.fastInput` words 4..27, after RDX (0..1) and R8 (2..3), so the
 * fast input has the same qword layout as the memory input, and the handlers of `ipi`
 * (SendSyntheticClusterIpiEx) and `tlbflush` (the four flush calls) decode both the same way. Input
 * beyond 112 bytes -> HV_STATUS_INVALID_HYPERCALL_INPUT (dispatcher). Source: TLFS §3.7 hypercall calling conventions (XMM fast
 * hypercalls); QEMU `HYPERV_FEAT_XMM_INPUT`; KVM `kvm_hv_hypercall_read_xmm`.
 */
export const xmmInput = definePlugin({
  name: "xmm-input",
  summary: "XMM fast hypercall input: up to 112 bytes of input in registers, no input page",
  requires: [],
  cpuid: { set: [HvFeatureEdx.XmmRegistersForFastHypercallAvailable] },
  msrs: [],
  hypercalls: [],
  emulator: { supported: true },
  passthrough: { capabilities: ["KVM_CAP_SYS_HYPERV_CPUID"], hvCpuid: [HvFeatureEdx.XmmRegistersForFastHypercallAvailable] },
  formats: {
    qemu: { property: "hv-xmm-input" },
    libvirt: { hyperv: "xmm_input" },
    kubevirt: { unsupported: "KubeVirt's spec.domain.features.hyperv has no key for XMM fast hypercall input" },
  },
  docs: {
    description: "Advertises XMM registers for fast hypercall input (0x40000003.EDX[4]): fast calls may pass up to 112 bytes in RDX, R8 and XMM0-5.",
    guestGains: "Flush and IPI hypercalls with small sparse VP sets need no input page in memory (no guest memory reads by the hypervisor).",
    windows: "No per-version source; no distribution default (virt-install: CLI only). Linux 6.1 does not use it.",
    sources: ["TLFS §3.7 XMM Fast Hypercalls; §2.4.4 bit 4", "QEMU hv-xmm-input (HYPERV_FEAT_XMM_INPUT)", "KVM arch/x86/kvm/hyperv.c kvm_hv_hypercall"],
  },
});
