/**
 * `struct kvm_msr_filter` with its 16 `struct kvm_msr_filter_range`s (arch/x86/include/uapi/asm/kvm.h),
 * 392 bytes: `flags` (u32; KVM_MSR_FILTER_DEFAULT_ALLOW 0 / DENY 1), pad, then 24-byte ranges
 * {flags u32 (KVM_MSR_FILTER_READ 1 | WRITE 2), nmsrs u32, base u32, pad, bitmap pointer}.
 * In each range's bitmap, bit n covers MSR base + n: 1 allows the access, 0 denies it (a denied
 * access exits to userspace as KVM_EXIT_X86_RDMSR/WRMSR with reason KVM_MSR_EXIT_REASON_FILTER when
 * KVM_CAP_X86_USER_SPACE_MSR enables it, otherwise #GP). KVM_X86_SET_MSR_FILTER, api.rst §4.97.
 * @module
 */
import { KvmStruct } from "./struct.ts";

/** `flags`: MSRs outside every range are allowed. */
export const KVM_MSR_FILTER_DEFAULT_ALLOW = 0;
/** `flags`: MSRs outside every range are denied. */
export const KVM_MSR_FILTER_DEFAULT_DENY = 1;
/** Range flag: the bitmap filters reads. */
export const KVM_MSR_FILTER_READ = 1 << 0;
/** Range flag: the bitmap filters writes. */
export const KVM_MSR_FILTER_WRITE = 1 << 1;
/** KVM_MSR_FILTER_MAX_RANGES. */
export const KVM_MSR_FILTER_MAX_RANGES = 16;
/** KVM_MSR_FILTER_MAX_BITMAP_SIZE: a range's bitmap is at most 0x600 bytes (12288 MSRs). */
export const KVM_MSR_FILTER_MAX_BITMAP_SIZE = 0x600;

/** One range as given to {@link KvmMsrFilter.setRange}. */
export interface MsrFilterRange {
  /** {@link KVM_MSR_FILTER_READ} | {@link KVM_MSR_FILTER_WRITE}. */
  readonly flags: number;
  /** First MSR index covered. */
  readonly base: number;
  /** MSRs covered (bits of the bitmap used). */
  readonly nmsrs: number;
  /** ceil(nmsrs / 8) bytes or more; bit set = allow. */
  readonly bitmap: Uint8Array<ArrayBuffer>;
}

/**
 * A preallocated `struct kvm_msr_filter`. The range bitmaps are JS buffers whose addresses go into
 * the struct; the filter keeps references to them (KVM copies them during the ioctl, but a buffer
 * must not be collected before).
 */
export class KvmMsrFilter extends KvmStruct {
  readonly #bitmaps: (Uint8Array<ArrayBuffer> | undefined)[] = new Array(KVM_MSR_FILTER_MAX_RANGES);

  /** An empty filter with default action `flags` ({@link KVM_MSR_FILTER_DEFAULT_ALLOW} by default). */
  constructor(flags = KVM_MSR_FILTER_DEFAULT_ALLOW) {
    super(392);
    this.flags = flags;
  }

  /** A filter from `ranges` (at most 16). */
  static of(flags: number, ranges: readonly MsrFilterRange[]): KvmMsrFilter {
    const f = new KvmMsrFilter(flags);
    ranges.forEach((r, i) => f.setRange(i, r));
    return f;
  }

  /** The default action. */
  get flags(): number {
    return this.view.getUint32(0, true);
  }
  set flags(v: number) {
    this.view.setUint32(0, v, true);
  }

  /**
   * Sets range slot `i` (0..15). Throws RangeError for a bad slot, an empty or oversized range
   * (more than 0x600 bytes of bitmap), or a bitmap shorter than ceil(nmsrs / 8) bytes.
   */
  setRange(i: number, r: MsrFilterRange): void {
    if (!Number.isInteger(i) || i < 0 || i >= KVM_MSR_FILTER_MAX_RANGES) {
      throw new RangeError(`msr filter range slot ${i} is not 0..15`);
    }
    const need = Math.ceil(r.nmsrs / 8);
    if (r.nmsrs <= 0 || need > KVM_MSR_FILTER_MAX_BITMAP_SIZE) {
      throw new RangeError(`msr filter range of ${r.nmsrs} MSRs is out of bounds`);
    }
    if (r.bitmap.byteLength < need) {
      throw new RangeError(`msr filter bitmap needs ${need} bytes, has ${r.bitmap.byteLength}`);
    }
    const o = 8 + i * 24;
    this.view.setUint32(o, r.flags, true);
    this.view.setUint32(o + 4, r.nmsrs, true);
    this.view.setUint32(o + 8, r.base >>> 0, true);
    this.view.setUint32(o + 12, 0, true);
    this.view.setBigUint64(o + 16, Deno.UnsafePointer.value(Deno.UnsafePointer.of(r.bitmap)), true);
    this.#bitmaps[i] = r.bitmap;
  }

  /** Clears range slot `i` (nmsrs 0: KVM skips it). */
  clearRange(i: number): void {
    this.bytes.fill(0, 8 + i * 24, 8 + (i + 1) * 24);
    this.#bitmaps[i] = undefined;
  }

  /** Range slot `i`'s {flags, nmsrs, base} (allocates). */
  range(i: number): { flags: number; nmsrs: number; base: number } {
    const o = 8 + i * 24;
    return {
      flags: this.view.getUint32(o, true),
      nmsrs: this.view.getUint32(o + 4, true),
      base: this.view.getUint32(o + 8, true),
    };
  }
}

/**
 * A range that denies `flags` accesses to MSRs [base, base + count): an all-zero bitmap. With default
 * allow and KVM_CAP_X86_USER_SPACE_MSR(KVM_MSR_EXIT_REASON_FILTER), these MSRs exit to userspace.
 */
export function denyMsrRange(
  base: number,
  count: number,
  flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE,
): MsrFilterRange {
  return { flags, base, nmsrs: count, bitmap: new Uint8Array(Math.ceil(count / 8)) };
}
