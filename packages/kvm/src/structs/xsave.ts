/**
 * `struct kvm_xsave` (arch/x86/include/uapi/asm/kvm.h): `__u32 region[1024]`, plus `__u32 extra[]`
 * with KVM_CAP_XSAVE2: a vCPU's XSAVE area in the standard (non-compacted) format of Intel SDM vol. 1
 * §13.4: the legacy FXSAVE region (FCW @0, MXCSR @24, ST0-7 @32, XMM0-15 @160), the XSAVE header @512
 * (XSTATE_BV @512, XCOMP_BV @520, 0 here), then each state component at the offset
 * CPUID.(EAX=0DH,ECX=i).EBX reports (AVX's upper YMM halves at 576).
 *
 * KVM_GET_XSAVE / KVM_SET_XSAVE move 4096 bytes; when KVM_CHECK_EXTENSION(KVM_CAP_XSAVE2) is larger
 * (features enabled with arch_prctl(ARCH_REQ_XCOMP_GUEST_PERM), e.g. AMX tile data), KVM_GET_XSAVE
 * fails and KVM_GET_XSAVE2 moves that many bytes, and KVM_SET_XSAVE reads that many (api.rst
 * "KVM_GET_XSAVE", "KVM_GET_XSAVE2"; QEMU `kvm_get_xsave`).
 * @module
 */
import { KVM_CAP_XSAVE, KVM_CAP_XSAVE2 } from "../caps.ts";
import { KvmStruct } from "./struct.ts";

/** sizeof(struct kvm_xsave): 4096 bytes, the smallest XSAVE buffer KVM moves. */
export const KVM_XSAVE_SIZE = 4096;
const XMM = 160;
const XSTATE_BV = 512;

/**
 * The byte size of a vCPU XSAVE buffer, from KVM_CHECK_EXTENSION on `ext` (a `Vm` as QEMU asks, or the
 * `Kvm` system fd): 0 without KVM_CAP_XSAVE, else max(4096, KVM_CAP_XSAVE2's answer).
 */
export function kvmXsaveSize(ext: { checkExtension(cap: number): number }): number {
  if (ext.checkExtension(KVM_CAP_XSAVE) <= 0) return 0;
  return Math.max(KVM_XSAVE_SIZE, ext.checkExtension(KVM_CAP_XSAVE2));
}

/** A `struct kvm_xsave` of `size` bytes (see {@link kvmXsaveSize}), with the few fields tests and tools read. */
export class KvmXsave extends KvmStruct {
  /** Allocates `size` zeroed bytes (a multiple of 4, at least 4096), or wraps `bytes` of that size. */
  constructor(size: number = KVM_XSAVE_SIZE, bytes?: Uint8Array<ArrayBuffer>) {
    if (!Number.isInteger(size) || size < KVM_XSAVE_SIZE || size % 4 !== 0) {
      throw new RangeError(`an XSAVE buffer is a multiple of 4 bytes, at least ${KVM_XSAVE_SIZE}; got ${size}`);
    }
    super(size, bytes);
  }
  /** XSTATE_BV: the state components the area holds (bit i = component i; 0 x87, 1 SSE, 2 AVX). */
  get xstateBv(): bigint {
    return this.u64Big(XSTATE_BV);
  }
  set xstateBv(v: bigint) {
    this.setU64Big(XSTATE_BV, v);
  }
  /** Word `w` (0..3) of XMM`n` (0..15), as in {@link KvmFpu.xmm}. */
  xmm(n: number, w: number): number {
    return this.view.getUint32(XMM + n * 16 + w * 4, true);
  }
  /** MXCSR. */
  get mxcsr(): number {
    return this.view.getUint32(24, true);
  }
}
