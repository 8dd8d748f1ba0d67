import { HvNestedEax } from "@hv/tlfs";
import { definePlugin } from "@hv/x86";

/**
 * `hv-emsr-bitmap`: 0x4000000A.EAX[19] EnlightenedMsrBitmap (leaf 0x4000000A makes composition
 * raise the max leaf to 0x4000000A, as QEMU's nested_eax). No MSRs or hypercalls: a nested
 * hypervisor in the guest marks its MSR bitmap clean so L0 KVM can skip re-merging it on every L2
 * entry; only KVM's nested VMX (with eVMCS) / SVM can honour that, so the emulator does not support
 * it. Source: TLFS Nested Virtualization (enlightened MSR bitmap) and §2.4.11; QEMU
 * `HYPERV_FEAT_MSR_BITMAP`; KVM `kvm_get_hv_cpuid` (always offers bit 19).
 */
export const emsrBitmap = definePlugin({
  name: "emsr-bitmap",
  summary: "Enlightened MSR bitmap for nested hypervisors: L0 skips re-merging an unchanged MSR bitmap (passthrough only)",
  requires: [],
  cpuid: { set: [HvNestedEax.EnlightenedMsrBitmap] },
  msrs: [],
  hypercalls: [],
  emulator: {
    supported: false,
    reason: "needs a nested hypervisor: the enlightened MSR bitmap is honoured by KVM's nested VMX/SVM, which hv's userspace emulator cannot provide; use the passthrough backend",
  },
  passthrough: { capabilities: ["KVM_CAP_SYS_HYPERV_CPUID"], hvCpuid: [HvNestedEax.EnlightenedMsrBitmap] },
  formats: {
    qemu: { property: "hv-emsr-bitmap" },
    libvirt: { hyperv: "emsr_bitmap" },
    kubevirt: { unsupported: "KubeVirt's spec.domain.features.hyperv has no key for the enlightened MSR bitmap" },
  },
  docs: {
    description: "Advertises the enlightened MSR bitmap (0x4000000A.EAX[19]): a nested hypervisor in the guest tells L0 when its MSR bitmap has not changed.",
    guestGains: "Cheaper L2 VM entries for Hyper-V/WSL2/VBS running inside the guest.",
    windows: "Only matters for Windows running a nested hypervisor; no distribution default (virt-install: CLI only). On VMX it needs evmcs to be useful.",
    sources: ["TLFS Nested Virtualization, enlightened MSR bitmap; §2.4.11 0x4000000A.EAX[19]", "QEMU hv-emsr-bitmap", "KVM arch/x86/kvm/hyperv.c kvm_get_hv_cpuid"],
  },
});
