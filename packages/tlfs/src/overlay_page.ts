/**
 * Layout of the "GPA overlay page" MSRs: a 64-bit MSR whose bit 0 enables a hypervisor-provided page
 * and whose bits 63:12 give its guest-physical page number (TLFS §5.2.1 "GPA Overlay Pages"). Used by
 * HV_X64_MSR_REFERENCE_TSC (TLFS §12.7), HV_X64_MSR_VP_ASSIST_PAGE (TLFS §7.8.7) and the SynIC
 * HV_X64_MSR_SIMP / HV_X64_MSR_SIEFP (TLFS §11.8.3-4). Linux `hyperv-tlfs.h`:
 * `*_ENABLE 0x1`, `*_ADDRESS_SHIFT 12`. HV_X64_MSR_HYPERCALL adds a lock bit, see `hypercall_abi.ts`.
 * @module
 */

import { type BitField, bitField, bitRange, u64ToNumber } from "./bits.ts";

/**
 * The common overlay-page MSR layout:
 * - `enable` bit 0: the page is mapped over the GPA.
 * - `reserved` bits 11:1: preserved as written by KVM (no reserved-bit check).
 * - `page_number` bits 63:12: guest-physical page number (GPA >> 12); 52 bits, read with
 *   `fieldGetWide` or take the GPA with {@link overlayPageGpa}.
 */
export const HvOverlayPageMsr: {
  readonly enable: BitField;
  readonly reserved: BitField;
  readonly page_number: BitField;
} = Object.freeze({
  enable: bitField(0, 1),
  reserved: bitRange(11, 1),
  page_number: bitRange(63, 12),
});

/** HV_X64_MSR_REFERENCE_TSC (0x40000021) layout: enable bit 0, page number 63:12. TLFS §12.7.1. */
export const HvX64MsrReferenceTsc = HvOverlayPageMsr;
/** HV_X64_MSR_VP_ASSIST_PAGE (0x40000073) layout: enable bit 0, page number 63:12. TLFS §7.8.7. */
export const HvX64MsrVpAssistPage = HvOverlayPageMsr;
/** HV_X64_MSR_SIMP (0x40000083) layout: enable bit 0, page number 63:12. TLFS §11.8.4. */
export const HvX64MsrSimp = HvOverlayPageMsr;
/** HV_X64_MSR_SIEFP (0x40000082) layout: enable bit 0, page number 63:12. TLFS §11.8.3. */
export const HvX64MsrSiefp = HvOverlayPageMsr;

/** Low-half mask of the page-number bits of an overlay MSR (bits 31:12): 0xFFFFF000. */
export const HV_OVERLAY_PAGE_GPA_MASK_LO = 0xfffff000;

/**
 * The page GPA (bytes) named by an overlay-page MSR value `hi:lo`, i.e. the value with bits 11:0
 * cleared, as a number (exact, GPAs are below 2^52). Does not allocate.
 */
export const overlayPageGpa = (lo: number, hi: number): number =>
  u64ToNumber((lo & HV_OVERLAY_PAGE_GPA_MASK_LO) >>> 0, hi);
