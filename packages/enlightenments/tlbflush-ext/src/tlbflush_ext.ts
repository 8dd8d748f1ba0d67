import { HvFeatureEdx } from "@hv/tlfs";
import { definePlugin } from "@hv/x86";

/**
 * `hv-tlbflush-ext`: 0x40000003.EDX[14] ExtendedGvaRangesForFlushVirtualAddressListAvailable.
 * Requires `tlbflush`. Claims nothing: it widens what `tlbflush`'s HvCallFlushVirtualAddressList[Ex]
 * accept, letting a GVA range entry use the extended encoding (a large-page bit and a longer page
 * count) instead of only "base page + up to 4095 extra pages". No #GP rules.
 *
 * No behaviour of its own (no `create`): `tlbflush` flushes *every* cached translation of the named
 * VPs for each flush call (`PartitionView.flushTlb`), ignoring the GVA list, so the extended encoding
 * (and the HV_FLUSH_USE_EXTENDED_RANGE_FORMAT flag) needs no decoding: any list, in either format,
 * is covered, and every rep is reported complete. The TLFS allows flushing more than asked; KVM
 * does the same. Source: TLFS
 * HvFlushVirtualAddressList (HV_GVA_RANGE extended format); QEMU `HYPERV_FEAT_TLBFLUSH_EXT`; KVM
 * `kvm_hv_flush_tlb` (HV_FEATURE_EXT_GVA_RANGES_FLUSH).
 */
export const tlbflushExt = definePlugin({
  name: "tlbflush-ext",
  summary: "Extended GVA ranges for HvCallFlushVirtualAddressList: fewer, larger flush entries",
  requires: ["tlbflush"],
  cpuid: { set: [HvFeatureEdx.ExtendedGvaRangesForFlushVirtualAddressListAvailable] },
  msrs: [],
  hypercalls: [],
  emulator: { supported: true },
  passthrough: {
    capabilities: ["KVM_CAP_SYS_HYPERV_CPUID"],
    hvCpuid: [HvFeatureEdx.ExtendedGvaRangesForFlushVirtualAddressListAvailable],
  },
  formats: {
    qemu: { property: "hv-tlbflush-ext" },
    libvirt: { hyperv: "tlbflush", child: "extended" },
    kubevirt: { unsupported: "KubeVirt's hyperv.tlbflush has no 'extended' sub-option" },
  },
  docs: {
    description: "Advertises extended GVA ranges for the flush-list hypercalls (0x40000003.EDX[14]): a range entry may describe large pages and longer runs. hv's emulator needs no code for it: tlbflush flushes every translation of the named vCPUs, whatever the list says.",
    guestGains: "Large flushes fit in fewer rep elements (fewer, shorter hypercalls).",
    windows: "No per-version source; no distribution default (virt-install: CLI only).",
    sources: [
      "TLFS HvFlushVirtualAddressList, HV_GVA_RANGE; §2.4.4 bit 14",
      "QEMU hv-tlbflush-ext (HYPERV_FEAT_TLBFLUSH_EXT, requires hv-tlbflush)",
      "KVM arch/x86/kvm/hyperv.c kvm_hv_flush_tlb",
    ],
  },
});
