/**
 * HV_VP_SET, the sparse set of VP indices used by the "Ex" hypercalls (FlushVirtualAddressSpaceEx /
 * ListEx, SendSyntheticClusterIpiEx). TLFS data types `HV_VP_SET` and `HV_GENERIC_SET_FORMAT`
 * ("Virtual Processor Sets"); Linux `hyperv-tlfs.h` `struct hv_vpset`.
 *
 * With format HV_GENERIC_SET_SPARSE_4K, bank `b` covers VP indices `64b..64b+63`; bit `b` of
 * `valid_bank_mask` says bank `b` is present, and the present banks follow in ascending order as
 * `bank_contents[]` (one u64 each). In the Ex calls the bank contents are the variable header, so the
 * input value's variable header size must equal popcount(valid_bank_mask).
 * @module
 */

/**
 * Byte layout of the fixed part of HV_VP_SET:
 * - `format` u64 @0: HV_GENERIC_SET_SPARSE_4K (0) or HV_GENERIC_SET_ALL (1).
 * - `valid_bank_mask` u64 @8: bit b = bank b present.
 * - `bank_contents` u64[] @16: element i at `16 + 8 * i` (size below is one element).
 */
export const HvVpSet = {
  format: { offset: 0, size: 8 },
  valid_bank_mask: { offset: 8, size: 8 },
  bank_contents: { offset: 16, size: 8 },
} as const;

/** Size of HV_VP_SET without bank contents (format + valid_bank_mask): 16 bytes. */
export const HV_VP_SET_HEADER_SIZE = 16;
/** Size of one bank (a u64 bitmap of 64 VPs): 8 bytes. */
export const HV_VP_SET_BANK_SIZE = 8;
/** VP indices per bank: 64. */
export const HV_VP_SET_VPS_PER_BANK = 64;
/** Maximum number of banks (bits of valid_bank_mask): 64, i.e. VP indices 0..4095. */
export const HV_VP_SET_MAX_BANKS = 64;

/** HV_GENERIC_SET_FORMAT: sparse 4K-style bank set. Linux `HV_GENERIC_SET_SPARSE_4K`. */
export const HV_GENERIC_SET_SPARSE_4K = 0;
/** HV_GENERIC_SET_FORMAT: every VP in the partition (banks ignored). Linux `HV_GENERIC_SET_ALL`. */
export const HV_GENERIC_SET_ALL = 1;

/** Byte size of an HV_VP_SET holding `banks` bank_contents entries: `16 + 8 * banks`. */
export const hvVpSetSize = (banks: number): number => HV_VP_SET_HEADER_SIZE + HV_VP_SET_BANK_SIZE * banks;

const popcount32 = (x: number): number => {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
};

/**
 * Number of present banks, popcount(valid_bank_mask), for the mask given as u32 halves `hi:lo`.
 * Does not allocate.
 */
export const hvVpSetBankCount = (maskLo: number, maskHi: number): number =>
  popcount32(maskLo >>> 0) + popcount32(maskHi >>> 0);
