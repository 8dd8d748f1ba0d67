/**
 * HV_VP_SET decoding for the "Ex" hypercalls (HvCallSendSyntheticClusterIpiEx,
 * HvCallFlushVirtualAddressSpaceEx/ListEx) and the 64-bit processor masks of their non-Ex forms,
 * shared by `@hv/ipi` and `@hv/tlbflush`. Exit-path code: no allocation, no BigInt; every guest
 * value is treated as hostile.
 *
 * HV_VP_SET (TLFS "Virtual Processor Sets"; Linux `struct hv_vpset`): `u64 format`, `u64
 * valid_bank_mask`, `u64 bank_contents[]`. With HV_GENERIC_SET_SPARSE_4K (0), bank `b` covers VP
 * indices `64b..64b+63`; bit `b` of valid_bank_mask says bank `b` is present, and the present banks
 * follow in ascending bank order. In the Ex calls the bank contents are the hypercall's variable
 * header, so its size in qwords must equal popcount(valid_bank_mask) (KVM `kvm_hv_flush_tlb`,
 * `kvm_hv_send_ipi`: `hc->var_cnt != hweight64(valid_bank_mask)` -> HV_STATUS_INVALID_HYPERCALL_INPUT).
 * At most 64 banks, so VP indices 0..4095.
 *
 * The set is read either from guest memory (slow calls: the dispatcher has already checked that the
 * whole input, variable header included, lies in RAM within one page; reads are bounds-checked again
 * here) or from the fast-input words (`HypercallInput.fastInput`: RDX, R8, XMM0..5 as u32 halves; the
 * qwords follow the same layout as the memory input, so a field at byte offset `o` of the input is
 * qword `o / 8` of the fast input, exactly as KVM's `kvm_hv_hypercall_read_xmm` lays them out).
 *
 * Not thread-safe across one module instance (a module-level scratch pair is reused); each vCPU
 * worker has its own module instance, and handlers run synchronously.
 * @module
 */
import {
  HV_GENERIC_SET_ALL,
  HV_GENERIC_SET_SPARSE_4K,
  HV_VP_SET_BANK_SIZE,
  HV_VP_SET_HEADER_SIZE,
  HV_VP_SET_MAX_BANKS,
  HV_VP_SET_VPS_PER_BANK,
  hvVpSetBankCount,
} from "@hv/tlfs";
import type { GuestMemory, HypercallInput, PartitionView } from "@hv/x86";

/** Largest number of VP indices a VP set can name: 64 banks x 64 VPs = 4096 (indices 0..4095). */
export const HV_VP_SET_MAX_VPS = HV_VP_SET_MAX_BANKS * HV_VP_SET_VPS_PER_BANK;

/**
 * {@link readVpSet} / {@link readVpSetFast} result: the input is malformed (variable header size !=
 * popcount(valid_bank_mask), more than 64 banks, unreadable input, or `out` too small). The caller
 * answers HV_STATUS_INVALID_HYPERCALL_INPUT.
 */
export const VP_SET_INVALID = -1;
/** Result: format HV_GENERIC_SET_ALL, every VP of the partition (the banks, if any, are ignored). */
export const VP_SET_ALL = -2;
/**
 * Result: a format other than HV_GENERIC_SET_SPARSE_4K (0) or HV_GENERIC_SET_ALL (1), after the
 * variable header passed its consistency check. The TLFS defines no other format: a flush may treat
 * it as "all" (flushing more than asked is allowed, KVM does so), an IPI refuses it.
 */
export const VP_SET_UNKNOWN_FORMAT = -3;

/** Module-level scratch for one u64 read from guest memory (lo, hi); reused, never escapes. */
const q = new Uint32Array(2);

/**
 * Appends the VP indices named by one 64-bit bank (`lo`/`hi` halves; bit n = VP index `base + n`) to
 * `out` from position `n`, in ascending order, and returns the new count. Writes stop at
 * `out.length` (the return value then exceeds it, so callers can detect the overflow).
 */
export function appendBankVps(lo: number, hi: number, base: number, out: Uint32Array, n: number): number {
  let w = lo | 0;
  while (w !== 0) {
    const low = w & -w;
    if (n < out.length) out[n] = base + 31 - Math.clz32(low);
    n++;
    w ^= low;
  }
  w = hi | 0;
  while (w !== 0) {
    const low = w & -w;
    if (n < out.length) out[n] = base + 63 - Math.clz32(low);
    n++;
    w ^= low;
  }
  return n;
}

/**
 * Decodes the bank contents once the set's header passed {@link checkHeader}: `maskLo`/`maskHi` is
 * valid_bank_mask; the i-th present bank is read from guest memory at `gpa + 16 + 8i` when `mem` is
 * given, else from qword `qword + 2 + i` of `words`. Shared tail of both readers.
 */
function decodeBanks(
  maskLo: number,
  maskHi: number,
  mem: GuestMemory | undefined,
  gpa: number,
  words: Uint32Array | undefined,
  qword: number,
  out: Uint32Array,
): number {
  let n = 0;
  let i = 0;
  for (let b = 0; b < HV_VP_SET_MAX_BANKS; b++) {
    const present = b < 32 ? (maskLo >>> b) & 1 : (maskHi >>> (b - 32)) & 1;
    if (present === 0) continue;
    if (mem !== undefined) {
      if (!mem.readU64(gpa + HV_VP_SET_HEADER_SIZE + HV_VP_SET_BANK_SIZE * i, q, 0)) return VP_SET_INVALID;
    } else {
      const at = 2 * (qword + 2 + i);
      if (at + 1 >= words!.length) return VP_SET_INVALID;
      q[0] = words![at];
      q[1] = words![at + 1];
    }
    n = appendBankVps(q[0], q[1], b * HV_VP_SET_VPS_PER_BANK, out, n);
    i++;
  }
  return n > out.length ? VP_SET_INVALID : n;
}

/** Header checks common to both readers; returns 0 to go on decoding banks, or a result code. */
function checkHeader(formatLo: number, formatHi: number, maskLo: number, maskHi: number, varHeaderQwords: number): number {
  // var_cnt > 64 can never equal a u64's popcount; checked first so a huge header is refused cheaply.
  if (varHeaderQwords > HV_VP_SET_MAX_BANKS || varHeaderQwords !== hvVpSetBankCount(maskLo, maskHi)) return VP_SET_INVALID;
  if (formatHi !== 0) return VP_SET_UNKNOWN_FORMAT;
  if (formatLo === HV_GENERIC_SET_ALL) return VP_SET_ALL;
  if (formatLo !== HV_GENERIC_SET_SPARSE_4K) return VP_SET_UNKNOWN_FORMAT;
  return 0;
}

/**
 * Reads an HV_VP_SET at guest-physical `gpa` (slow calls) whose bank count, per the hypercall's
 * variable header, is `varHeaderQwords`, and writes the VP indices it names to `out` (ascending;
 * size it {@link HV_VP_SET_MAX_VPS}). Returns the number of indices (0 for an empty sparse set:
 * valid_bank_mask 0, or present banks that are all zero), or {@link VP_SET_ALL},
 * {@link VP_SET_UNKNOWN_FORMAT}, {@link VP_SET_INVALID}. Indices of VPs that do not exist are
 * included: the caller ignores them. No allocation.
 */
export function readVpSet(mem: GuestMemory, gpa: number, varHeaderQwords: number, out: Uint32Array): number {
  if (!mem.readU64(gpa, q, 0)) return VP_SET_INVALID;
  const formatLo = q[0], formatHi = q[1];
  if (!mem.readU64(gpa + 8, q, 0)) return VP_SET_INVALID;
  const maskLo = q[0], maskHi = q[1];
  const h = checkHeader(formatLo, formatHi, maskLo, maskHi, varHeaderQwords);
  if (h !== 0) return h;
  if (varHeaderQwords === 0) return 0;
  return decodeBanks(maskLo, maskHi, mem, gpa, undefined, 0, out);
}

/**
 * {@link readVpSet} for fast calls: the set starts at qword `qword` of the fast-input words `words`
 * (`HypercallInput.fastInput`: qword 0 = RDX, 1 = R8, 2.. = XMM0 low, XMM0 high, ...). Sets whose
 * banks would run past the words are {@link VP_SET_INVALID}. No allocation.
 */
export function readVpSetFast(words: Uint32Array, qword: number, varHeaderQwords: number, out: Uint32Array): number {
  const at = 2 * qword;
  if (qword < 0 || at + 3 >= words.length) return VP_SET_INVALID;
  const h = checkHeader(words[at], words[at + 1], words[at + 2], words[at + 3], varHeaderQwords);
  if (h !== 0) return h;
  if (varHeaderQwords === 0) return 0;
  return decodeBanks(words[at + 2], words[at + 3], undefined, 0, words, qword, out);
}

/**
 * The u32 field at byte `offset` of a hypercall's fixed input (TLFS §3.6/§3.7: fast calls pass it
 * in RDX, R8 and the XMM registers, slow calls in the input page): `call.fastInput[offset / 4]` for
 * a fast call (`offset` a multiple of 4 within the fast words), else the u32 at GPA
 * `call.inputGpa + offset`, -1 when that is not in guest RAM (`GuestMemory.readU32`). Exit path:
 * no allocation.
 */
export function inputU32(mem: GuestMemory, call: HypercallInput, offset: number): number {
  return call.fast ? call.fastInput[offset >> 2] : mem.readU32(call.inputGpa + offset);
}

/**
 * The HV_VP_SET at byte `offset` (a multiple of 8) of a hypercall's input, fast ({@link readVpSetFast})
 * or slow ({@link readVpSet} at `call.inputGpa + offset`), with the call's variable-header size;
 * same result. Exit path: no allocation.
 */
export function readInputVpSet(mem: GuestMemory, call: HypercallInput, offset: number, out: Uint32Array): number {
  return call.fast
    ? readVpSetFast(call.fastInput, offset / 8, call.varHeaderQwords, out)
    : readVpSet(mem, call.inputGpa + offset, call.varHeaderQwords, out);
}

/**
 * Writes the VP index of every VP of `partition` to `out` and returns how many. VP indices are
 * usually 0..vpCount-1, but a backend may assign others (sparse indices up to 4095, which is what
 * a VP set can address); the scan stops as soon as `vpCount` VPs were found. Edge code: call it
 * once (e.g. on first use) and keep the result; it makes up to 4096 `partition.vp` lookups.
 */
export function allVpIndices(partition: PartitionView, out: Uint32Array): number {
  let n = 0;
  for (let i = 0; i < HV_VP_SET_MAX_VPS && n < partition.vpCount && n < out.length; i++) {
    if (partition.vp(i) !== undefined) out[n++] = i;
  }
  return n;
}
