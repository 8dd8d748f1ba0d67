/**
 * `struct kvm_fpu` (arch/x86/include/uapi/asm/kvm.h), 416 bytes in FXSAVE-like order: fpr[8][16] @0,
 * fcw @128, fsw @130, ftwx @132, last_opcode @134, last_ip @136, last_dp @144, xmm[16][16] @152,
 * mxcsr @408. KVM_GET_FPU / KVM_SET_FPU, api.rst §4.22, §4.23. Hyper-V "XMM fast" hypercalls pass
 * input and output in XMM0-5, read and written through this struct.
 * @module
 */
import { KvmStruct } from "./struct.ts";

/** sizeof(struct kvm_fpu). */
export const KVM_FPU_SIZE = 416;
const XMM = 152;

/** A preallocated `struct kvm_fpu`; XMM registers as four u32 words each (word 0 = bits 31:0). */
export class KvmFpu extends KvmStruct {
  /** Allocates a zeroed struct. */
  constructor() {
    super(KVM_FPU_SIZE);
  }
  /** Word `w` (0..3) of XMM`n` (0..15). */
  xmm(n: number, w: number): number {
    return this.view.getUint32(XMM + n * 16 + w * 4, true);
  }
  /** Sets word `w` of XMM`n`. */
  setXmm(n: number, w: number, value: number): void {
    this.view.setUint32(XMM + n * 16 + w * 4, value >>> 0, true);
  }
  /** The 16 bytes of XMM`n` (a view, not a copy; allocates the view object). */
  xmmBytes(n: number): Uint8Array<ArrayBuffer> {
    return this.bytes.subarray(XMM + n * 16, XMM + n * 16 + 16);
  }
  /** x87 control word. */
  get fcw(): number {
    return this.view.getUint16(128, true);
  }
  set fcw(v: number) {
    this.view.setUint16(128, v, true);
  }
  /** x87 status word. */
  get fsw(): number {
    return this.view.getUint16(130, true);
  }
  /** MXCSR. */
  get mxcsr(): number {
    return this.view.getUint32(408, true);
  }
  set mxcsr(v: number) {
    this.view.setUint32(408, v >>> 0, true);
  }
}
