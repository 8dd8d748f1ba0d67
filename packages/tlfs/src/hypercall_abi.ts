/**
 * The hypercall ABI: the hypercall input value (control word, RCX on x64), the result value (RAX),
 * fast-call limits and the HV_X64_MSR_HYPERCALL layout.
 *
 * TLFS §3.7 "Hypercall Inputs", §3.8 "Hypercall Result Value", §3.13 "Establishing the Hypercall
 * Interface"; Linux `hyperv-tlfs.h` (`HV_HYPERCALL_*`); KVM `arch/x86/kvm/hyperv.c`
 * (`kvm_hv_hypercall`). Register conventions (x64): RCX = input value, RDX = input GPA (or first fast
 * input qword), R8 = output GPA (or second fast input qword), XMM0-5 = further fast input; result in RAX.
 * @module
 */

import {
  type BitField,
  bitField,
  bitRange,
  fieldGet,
  fieldGet64,
  fieldMaskHi,
  fieldMaskLo,
  fieldSet64,
} from "./bits.ts";

/**
 * Fields of the 64-bit hypercall input value. TLFS §3.7 "Hypercall Inputs":
 * - `callCode` 15:0: the call code (`HvCall*`); bit 15 marks an extended call (TLFS §3.9).
 * - `fast` 16: 1 = register-based ("fast") call, 0 = memory-based.
 * - `variableHeaderSize` 26:17: size of the variable header in qwords (8-byte units).
 * - `rsvdZ0` 31:27: reserved, must be zero (newer TLFS editions name bit 31 "IsNested", for nested
 *   root partitions only; KVM treats 31:27 as reserved).
 * - `repCount` 43:32: total number of reps for a rep call (0 for simple calls).
 * - `rsvdZ1` 47:44: reserved, must be zero.
 * - `repStartIndex` 59:48: first rep to process (non-zero when a rep call is resumed).
 * - `rsvdZ2` 63:60: reserved, must be zero.
 *
 * A set reserved bit yields HV_STATUS_INVALID_HYPERCALL_INPUT.
 */
export const HvHypercallInput = Object.freeze({
  callCode: bitRange(15, 0),
  fast: bitField(16, 1),
  variableHeaderSize: bitRange(26, 17),
  rsvdZ0: bitRange(31, 27),
  repCount: bitRange(43, 32),
  rsvdZ1: bitRange(47, 44),
  repStartIndex: bitRange(59, 48),
  rsvdZ2: bitRange(63, 60),
});

/** Reserved bits of the input value's low half (bits 31:27): 0xF8000000. Linux `HV_HYPERCALL_RSVD0_MASK`. */
export const HV_HYPERCALL_INPUT_RSVD_MASK_LO: number = fieldMaskLo(HvHypercallInput.rsvdZ0);
/**
 * Reserved bits of the input value's high half (bits 47:44 and 63:60, as bits 15:12 and 31:28 of the
 * high u32): 0xF000F000. Linux `HV_HYPERCALL_RSVD1_MASK | HV_HYPERCALL_RSVD2_MASK`.
 */
export const HV_HYPERCALL_INPUT_RSVD_MASK_HI: number =
  (fieldMaskHi(HvHypercallInput.rsvdZ1) | fieldMaskHi(HvHypercallInput.rsvdZ2)) >>> 0;
/** All reserved bits of the input value as a u64: 0xF000F000F8000000. Linux `HV_HYPERCALL_RSVD_MASK`. */
export const HV_HYPERCALL_INPUT_RSVD_MASK = 0xf000f000f8000000n;

/**
 * Fields of the 64-bit hypercall result value (RAX). TLFS §3.8 "Hypercall Result Value":
 * - `status` 15:0: an `HV_STATUS_*` code.
 * - `rsvd0` 31:16: reserved, returned as zero.
 * - `repsCompleted` 43:32: number of reps completed in total (a rep call is done when it equals the
 *   rep count; Linux `hv_do_rep_hypercall` loops until then).
 * - `rsvd1` 63:44: reserved, returned as zero.
 */
export const HvHypercallResult = Object.freeze({
  status: bitRange(15, 0),
  rsvd0: bitRange(31, 16),
  repsCompleted: bitRange(43, 32),
  rsvd1: bitRange(63, 44),
});

/** Largest rep count / rep start index / reps completed (12-bit fields): 0xFFF. TLFS §3.7. */
export const HV_HYPERCALL_MAX_REP_COUNT = 0xfff;
/** Largest variable header size, in qwords (10-bit field): 0x3FF. TLFS §3.7. */
export const HV_HYPERCALL_MAX_VARIABLE_HEADER_QWORDS = 0x3ff;
/** Call-code bit 15: set for extended hypercalls (`HvExtCall*`, 0x8001..). TLFS §3.9 "Extended Hypercall Interface". */
export const HV_HYPERCALL_CODE_EXTENDED = 0x8000;
/** Number of XMM registers that carry fast hypercall input (XMM0-XMM5). TLFS §3.7 "XMM Fast Hypercalls"; Linux `HV_HYPERCALL_MAX_XMM_REGISTERS`. */
export const HV_HYPERCALL_FAST_XMM_REGISTERS = 6;
/** Bytes of fast input in the general-purpose registers (RDX and R8): 16. TLFS §3.7. */
export const HV_HYPERCALL_FAST_GPR_INPUT_BYTES = 16;
/** Maximum fast input in bytes: RDX + R8 + XMM0-5 = 16 + 6 * 16 = 112 (XMM input needs CPUID 0x40000003.EDX[4]). TLFS §3.7. */
export const HV_HYPERCALL_MAX_FAST_INPUT_BYTES = 112;
/** Required alignment (bytes) of the input and output GPAs of a memory-based call; neither may cross a page. TLFS §3.7. */
export const HV_HYPERCALL_PARAM_ALIGNMENT = 8;

/** True if `code` (the 16-bit call code) names an extended hypercall (bit 15 set). */
export const isExtendedHypercall = (code: number): boolean => (code & HV_HYPERCALL_CODE_EXTENDED) !== 0;

/** True if any reserved bit of the input value `hi:lo` is set (→ HV_STATUS_INVALID_HYPERCALL_INPUT). Does not allocate. */
export const hypercallInputHasReservedBits = (lo: number, hi: number): boolean =>
  (lo & HV_HYPERCALL_INPUT_RSVD_MASK_LO) !== 0 || (hi & HV_HYPERCALL_INPUT_RSVD_MASK_HI) !== 0;

/** The call code (bits 15:0) of the input value's low half. Does not allocate. */
export const hypercallCode = (lo: number): number => fieldGet(lo, 0, HvHypercallInput.callCode);

/** Low half of a result value: `status` in bits 15:0 (bits 31:16 zero). Does not allocate. */
export const hypercallResultLo = (status: number): number => status & 0xffff;
/** High half of a result value: `repsCompleted` in bits 43:32 (bits 63:44 zero). Does not allocate. */
export const hypercallResultHi = (repsCompleted: number): number => repsCompleted & HV_HYPERCALL_MAX_REP_COUNT;

/** A decoded hypercall input value (edge code, tests). All fields are the raw unsigned field values. */
export interface HypercallInput {
  readonly callCode: number;
  readonly fast: boolean;
  /** Variable header size in qwords. */
  readonly variableHeaderSize: number;
  readonly repCount: number;
  readonly repStartIndex: number;
}

/** Encodes a {@link HypercallInput} as the u64 input value; reserved bits are zero, fields are truncated to their widths. */
export const encodeHypercallInput = (i: HypercallInput): bigint => {
  let v = 0n;
  v = fieldSet64(v, HvHypercallInput.callCode, i.callCode);
  v = fieldSet64(v, HvHypercallInput.fast, i.fast ? 1 : 0);
  v = fieldSet64(v, HvHypercallInput.variableHeaderSize, i.variableHeaderSize);
  v = fieldSet64(v, HvHypercallInput.repCount, i.repCount);
  return fieldSet64(v, HvHypercallInput.repStartIndex, i.repStartIndex);
};

/** Decodes the u64 input value `v` (reserved bits are ignored; test them with {@link HV_HYPERCALL_INPUT_RSVD_MASK}). */
export const decodeHypercallInput = (v: bigint): HypercallInput => ({
  callCode: Number(fieldGet64(v, HvHypercallInput.callCode)),
  fast: fieldGet64(v, HvHypercallInput.fast) === 1n,
  variableHeaderSize: Number(fieldGet64(v, HvHypercallInput.variableHeaderSize)),
  repCount: Number(fieldGet64(v, HvHypercallInput.repCount)),
  repStartIndex: Number(fieldGet64(v, HvHypercallInput.repStartIndex)),
});

/** Encodes a result value: `status` in 15:0, `repsCompleted` in 43:32 (TLFS §3.8). Edge code. */
export const encodeHypercallResult = (status: number, repsCompleted = 0): bigint =>
  fieldSet64(fieldSet64(0n, HvHypercallResult.status, status), HvHypercallResult.repsCompleted, repsCompleted);

/**
 * HV_X64_MSR_HYPERCALL (0x40000001) layout. TLFS §3.13 "Establishing the Hypercall Interface":
 * - `enable` bit 0: the hypercall page is mapped (ignored while GUEST_OS_ID is 0).
 * - `locked` bit 1: the MSR is immutable until reset (only with CPUID 0x40000003.EDX[18]).
 * - `reserved` bits 11:2: preserved as written.
 * - `page_number` bits 63:12: GPA page number of the hypercall page (52 bits; use `fieldGetWide`
 *   or `overlayPageGpa`).
 * Linux `HV_X64_MSR_HYPERCALL_ENABLE 0x1`, `HV_X64_MSR_HYPERCALL_PAGE_ADDRESS_SHIFT 12`.
 */
export const HvX64MsrHypercall: {
  readonly enable: BitField;
  readonly locked: BitField;
  readonly reserved: BitField;
  readonly page_number: BitField;
} = Object.freeze({
  enable: bitField(0, 1),
  locked: bitField(1, 1),
  reserved: bitRange(11, 2),
  page_number: bitRange(63, 12),
});
