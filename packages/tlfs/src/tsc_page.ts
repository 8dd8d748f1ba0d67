/**
 * The reference TSC page (TLFS §12.7 "Partition Reference TSC Mechanism"; Linux
 * `include/clocksource/hyperv_timer.h` `struct ms_hyperv_tsc_page`). Mapped at the GPA given by
 * HV_X64_MSR_REFERENCE_TSC (layout `HvX64MsrReferenceTsc`).
 *
 * Reference time in 100 ns units: `((rdtsc * tsc_scale) >> 64) + tsc_offset`, with
 * `tsc_scale = floor((10^7 << 64) / tsc_hz)`.
 * @module
 */

/**
 * Byte layout of the reference TSC page (the rest of the 4096-byte page is reserved, zero):
 * - `tsc_sequence` u32 @0: 0 = page invalid (use HV_X64_MSR_TIME_REF_COUNT); changes on every update.
 * - `reserved1` u32 @4.
 * - `tsc_scale` u64 @8: 64.64 fixed-point multiplier from TSC ticks to 100 ns units.
 * - `tsc_offset` s64 @16: offset in 100 ns units.
 */
export const HvReferenceTscPage = {
  tsc_sequence: { offset: 0, size: 4 },
  reserved1: { offset: 4, size: 4 },
  tsc_scale: { offset: 8, size: 8 },
  tsc_offset: { offset: 16, size: 8 },
} as const;

/** Bytes of the reference TSC page that carry data (through `tsc_offset`): 24. */
export const HV_REFERENCE_TSC_PAGE_USED_BYTES = 24;

/**
 * `tsc_sequence` value meaning "page invalid, fall back to the TIME_REF_COUNT MSR": 0. Linux
 * `hv_read_tsc_page` (`hyperv_timer.h`) treats only 0 as invalid; the TLFS's 0xFFFFFFFF is a
 * documentation error (see {@link HV_TSC_PAGE_SEQUENCE_SKIP}).
 */
export const HV_TSC_PAGE_SEQUENCE_INVALID = 0;

/**
 * `tsc_sequence` value an updater skips as well as 0 (KVM `kvm_hv_setup_tsc_page` wraps from
 * 0xFFFFFFFE to 1), because the TLFS names it as the invalid marker: 0xFFFFFFFF.
 */
export const HV_TSC_PAGE_SEQUENCE_SKIP = 0xffffffff;

/** Frequency of the partition reference time (TIME_REF_COUNT, TSC page, STIMER counts): 10 MHz, i.e. 100 ns ticks. Linux `HV_CLOCK_HZ`. */
export const HV_CLOCK_HZ = 10_000_000;
