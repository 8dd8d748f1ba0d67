/**
 * Input blocks of the TLB-flush hypercalls: HvCallFlushVirtualAddressSpace (0x0002),
 * HvCallFlushVirtualAddressList (0x0003) and their Ex forms (0x0013, 0x0014). TLFS "Virtual MMU"
 * chapter and the `HvCallFlushVirtualAddressSpace(Ex)` / `...List(Ex)` reference pages; Linux `hyperv-tlfs.h` (`struct hv_tlb_flush`, `struct hv_tlb_flush_ex`,
 * `HV_FLUSH_*`), `arch/x86/hyperv/mmu.c`.
 * @module
 */

import { bitRange } from "./bits.ts";

/**
 * Byte layout of the FlushVirtualAddressSpace / FlushVirtualAddressList input (`struct hv_tlb_flush`):
 * - `address_space` u64 @0: CR3 of the address space (Linux: without PCID bits).
 * - `flags` u64 @8: `HV_FLUSH_*`.
 * - `processor_mask` u64 @16: bit n = VP index n (0..63).
 * - `gva_list` u64[] @24 (List only, one entry per rep; size below is one element, see {@link HvGvaRange}).
 */
export const HvFlushVirtualAddressSpaceInput = {
  address_space: { offset: 0, size: 8 },
  flags: { offset: 8, size: 8 },
  processor_mask: { offset: 16, size: 8 },
  gva_list: { offset: 24, size: 8 },
} as const;

/**
 * Byte layout of the Ex input (`struct hv_tlb_flush_ex`):
 * - `address_space` u64 @0, `flags` u64 @8: as above.
 * - `hv_vp_set` @16: an HV_VP_SET (`HvVpSet`), 16 + 8 * banks bytes; the banks are the variable header.
 * - `gva_list` u64[] (ListEx only) follows the VP set at `16 + hvVpSetSize(banks)`.
 * The size below is the fixed part of the VP set (format + valid_bank_mask).
 */
export const HvFlushVirtualAddressSpaceExInput = {
  address_space: { offset: 0, size: 8 },
  flags: { offset: 8, size: 8 },
  hv_vp_set: { offset: 16, size: 16 },
} as const;

/** Flush on every VP (processor_mask / VP set ignored). Linux `HV_FLUSH_ALL_PROCESSORS` BIT(0). */
export const HV_FLUSH_ALL_PROCESSORS = 0x1;
/** Flush every address space (address_space ignored). Linux `HV_FLUSH_ALL_VIRTUAL_ADDRESS_SPACES` BIT(1). */
export const HV_FLUSH_ALL_VIRTUAL_ADDRESS_SPACES = 0x2;
/** Only non-global mappings need flushing. Linux `HV_FLUSH_NON_GLOBAL_MAPPINGS_ONLY` BIT(2). */
export const HV_FLUSH_NON_GLOBAL_MAPPINGS_ONLY = 0x4;
/** GVA list entries use the extended range format (CPUID 0x40000003.EDX[14]). Linux `HV_FLUSH_USE_EXTENDED_RANGE_FORMAT` BIT(3). */
export const HV_FLUSH_USE_EXTENDED_RANGE_FORMAT = 0x8;

/**
 * One GVA list entry (`HV_GVA_RANGE`, simple format), a u64:
 * - `additional_pages` 11:0: number of pages after the first to flush (0..4095).
 * - `page_number` 63:12: GVA page number of the first page.
 * Linux `fill_gva_list` packs up to `HV_TLB_FLUSH_UNIT` (4096 pages) per entry.
 */
export const HvGvaRange = Object.freeze({
  additional_pages: bitRange(11, 0),
  page_number: bitRange(63, 12),
});
