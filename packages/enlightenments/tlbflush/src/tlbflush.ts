import {
  HvCallFlushVirtualAddressList,
  HvCallFlushVirtualAddressListEx,
  HvCallFlushVirtualAddressSpace,
  HvCallFlushVirtualAddressSpaceEx,
  HvRecommendationEax,
} from "@hv/tlfs";
import { definePlugin } from "@hv/x86";
import { tlbflushHandlers } from "./behaviour.ts";

/**
 * `hv-tlbflush`: 0x40000004.EAX[2] UseHypercallForRemoteFlush and EAX[11] UseExProcessorMasks.
 * Requires `vpindex` (processor masks name VP indexes). No MSRs.
 *
 * Hypercalls (all XMM-fast capable: a fast call without `xmm-input` -> #UD; rep/variable-header
 * rules -> HV_STATUS_INVALID_HYPERCALL_INPUT). The flush must be complete when the call returns.
 * - HvCallFlushVirtualAddressSpace 0x0002: simple; input {address_space, flags, processor_mask} = 24 bytes;
 *   processor_mask 0 means all VPs (WS2012 workaround). Gate UseHypercallForRemoteFlush.
 * - HvCallFlushVirtualAddressList 0x0003: rep (rep count 0 or rep start != 0 -> INVALID_HYPERCALL_INPUT),
 *   same 24-byte header, one 8-byte GVA per rep (bits 11:0 = extra pages); reports every rep completed.
 * - HvCallFlushVirtualAddressSpaceEx 0x0013: variable header (sparse VP set); header {address_space,
 *   flags, format, valid_bank_mask} = 32 bytes; var header size != popcount(valid_bank_mask) or > 64
 *   -> INVALID_HYPERCALL_INPUT; empty set -> success. Gate UseExProcessorMasks (KVM also needs EAX[2]).
 * - HvCallFlushVirtualAddressListEx 0x0014: variable header + rep, the union of both rules.
 * Behaviour: `tlbflushHandlers`. Every call flushes *all* translations of the named VPs through
 * `PartitionView.flushTlb` (flushing more than asked is allowed by the TLFS; KVM does the same), so
 * the address space, GVA list and extended ranges (`tlbflush-ext`) need no decoding and List calls
 * report every rep completed. VP sets are decoded by `@hv/ipi`'s `readVpSet`/`readVpSetFast`.
 * Source: TLFS "Virtual MMU" HvFlushVirtualAddress{Space,List}[Ex]; KVM `kvm_hv_flush_tlb`;
 * QEMU `HYPERV_FEAT_TLBFLUSH`.
 */
export const tlbflush = definePlugin({
  name: "tlbflush",
  summary: "PV remote TLB flush: the guest flushes other vCPUs' TLBs with one hypercall instead of IPIs",
  requires: ["vpindex"],
  cpuid: { set: [HvRecommendationEax.UseHypercallForRemoteFlush, HvRecommendationEax.UseExProcessorMasks] },
  msrs: [],
  hypercalls: [
    {
      code: HvCallFlushVirtualAddressSpace,
      name: "HvCallFlushVirtualAddressSpace",
      kind: "simple",
      fast: "xmm",
      inputBytes: 24,
      outputBytes: 0,
      gate: HvRecommendationEax.UseHypercallForRemoteFlush,
    },
    {
      code: HvCallFlushVirtualAddressList,
      name: "HvCallFlushVirtualAddressList",
      kind: "rep",
      fast: "xmm",
      inputBytes: 24,
      outputBytes: 0,
      repInputBytes: 8,
      gate: HvRecommendationEax.UseHypercallForRemoteFlush,
    },
    {
      code: HvCallFlushVirtualAddressSpaceEx,
      name: "HvCallFlushVirtualAddressSpaceEx",
      kind: "variable",
      fast: "xmm",
      inputBytes: 32,
      outputBytes: 0,
      gate: HvRecommendationEax.UseExProcessorMasks,
    },
    {
      code: HvCallFlushVirtualAddressListEx,
      name: "HvCallFlushVirtualAddressListEx",
      kind: "variable-rep",
      fast: "xmm",
      inputBytes: 32,
      outputBytes: 0,
      repInputBytes: 8,
      gate: HvRecommendationEax.UseExProcessorMasks,
    },
  ],
  emulator: { supported: true },
  passthrough: { capabilities: ["KVM_CAP_HYPERV_TLBFLUSH"] },
  formats: {
    qemu: { property: "hv-tlbflush" },
    libvirt: { hyperv: "tlbflush" },
    kubevirt: { hyperv: "tlbflush" },
  },
  docs: {
    description: "Recommends the remote TLB flush hypercalls (0x40000004.EAX[2]) with sparse VP sets (EAX[11]): HvCallFlushVirtualAddressSpace/List and their Ex forms, which flush a set of vCPUs' TLBs in one call. hv flushes every translation of the named vCPUs (more than asked, which the TLFS allows), complete before the call returns.",
    guestGains: "No IPI storm (and no waiting for preempted vCPUs to acknowledge) on every remote TLB shootdown; the hypervisor flushes descheduled vCPUs lazily.",
    windows: "No per-version source; virt-install and Nova enable it for all Windows, Proxmox only as an opt-in flag ('may lead to guest bluescreens on old CPUs'). A guest with more than 64 VPs sees 0x40000005.EAX = -1, for which the Requirements PDF says the flush hypercalls must not be recommended.",
    sources: [
      "TLFS Appendix A HvCallFlushVirtualAddressSpace/List 0x0002/0x0003 and Ex 0x0013/0x0014; §2.4.5 bits 2 and 11",
      "QEMU hv-tlbflush (HYPERV_FEAT_TLBFLUSH, requires hv-vpindex; KVM_CAP_HYPERV_TLBFLUSH)",
      "KVM arch/x86/kvm/hyperv.c kvm_hv_flush_tlb; selftest hyperv_tlb_flush.c",
    ],
  },
  create: () => tlbflushHandlers(),
});
