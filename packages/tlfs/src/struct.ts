/**
 * Byte-layout descriptors for the structures the guest and hypervisor share in memory (pages,
 * hypercall input blocks), and the hypervisor page size.
 *
 * Naming: a layout that mirrors a Linux struct keeps Linux's field names (snake_case, e.g.
 * `tsc_sequence` of `struct ms_hyperv_tsc_page`), so it can be checked against the header line by
 * line. All multi-byte fields are little-endian.
 * @module
 */

/**
 * One field of a shared structure.
 * - `offset`: byte offset from the start of the structure.
 * - `size`: size in bytes (1, 2, 4, 8, or the byte length of an array/blob).
 */
export interface ByteField {
  readonly offset: number;
  readonly size: number;
}

/** log2 of {@link HV_PAGE_SIZE}: the shift from a GPA to its page number (Linux `HV_HYP_PAGE_SHIFT`). */
export const HV_PAGE_SHIFT = 12;
/** Size in bytes of a hypervisor page (overlay pages, SynIC pages, hypercall page): 4096. TLFS §3. */
export const HV_PAGE_SIZE = 4096;

/** The byte just past `f`: `f.offset + f.size`. */
export const byteFieldEnd = (f: ByteField): number => f.offset + f.size;
