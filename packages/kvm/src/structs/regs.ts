/**
 * `struct kvm_regs` (arch/x86/include/uapi/asm/kvm.h): the 16 general-purpose registers, RIP and
 * RFLAGS, each a `__u64`, 144 bytes. Used with KVM_GET_REGS / KVM_SET_REGS (api.rst §4.11, §4.12).
 * @module
 */
import { getU64, KvmStruct, setU64, setU64Halves } from "./struct.ts";

/** Register numbers: the index of each `__u64` field in `struct kvm_regs` (byte offset = index * 8). */
export const Reg = {
  rax: 0,
  rbx: 1,
  rcx: 2,
  rdx: 3,
  rsi: 4,
  rdi: 5,
  rsp: 6,
  rbp: 7,
  r8: 8,
  r9: 9,
  r10: 10,
  r11: 11,
  r12: 12,
  r13: 13,
  r14: 14,
  r15: 15,
  rip: 16,
  rflags: 17,
} as const;
/** One of {@link Reg}'s values. */
export type Reg = typeof Reg[keyof typeof Reg];

/** sizeof(struct kvm_regs). */
export const KVM_REGS_SIZE = 144;

/** RFLAGS bit 1, reserved and always 1: the minimum valid RFLAGS value. */
export const RFLAGS_FIXED = 0x2;

/**
 * A preallocated `struct kvm_regs`. Hot-path access by register number without allocation:
 * `lo(Reg.rax)`/`hi(Reg.rax)` (unsigned 32-bit halves, exact), `get(Reg.rcx)` (number, exact below
 * 2^53), `set(reg, number)`, `setHalves(reg, lo, hi)`; plus named number accessors (`rax`, `rip`, ...)
 * for readable edge code, and `getBig`/`setBig` (allocate).
 */
export class KvmRegs extends KvmStruct {
  /**
   * The same 144 bytes as 36 little-endian u32 words (register n = words 2n, 2n+1): the `GprFile`
   * shape of `@hv/x86`, zero copy.
   */
  readonly words: Uint32Array<ArrayBuffer>;

  /**
   * Allocates a zeroed struct, or wraps `bytes` (at least 144 bytes, 4-byte aligned): e.g. the
   * `s.regs.regs` area of the mmapped `kvm_run` ({@link KvmRun.syncRegs}), so that `words` is a
   * zero-copy view of the registers KVM synced.
   */
  constructor(bytes?: Uint8Array<ArrayBuffer>) {
    super(KVM_REGS_SIZE, bytes);
    this.words = new Uint32Array(this.bytes.buffer, this.bytes.byteOffset, KVM_REGS_SIZE / 4);
  }
  /** Low 32 bits of register `r`. */
  lo(r: Reg): number {
    return this.view.getUint32(r * 8, true);
  }
  /** High 32 bits of register `r`. */
  hi(r: Reg): number {
    return this.view.getUint32(r * 8 + 4, true);
  }
  /** Register `r` as a number (exact below 2^53). */
  get(r: Reg): number {
    return getU64(this.view, r * 8);
  }
  /** Sets register `r` from a number in [0, 2^64) (negative: two's complement). */
  set(r: Reg, value: number): void {
    setU64(this.view, r * 8, value);
  }
  /** Sets register `r` from unsigned 32-bit halves. */
  setHalves(r: Reg, lo: number, hi: number): void {
    setU64Halves(this.view, r * 8, lo, hi);
  }
  /** Register `r` as a bigint (allocates). */
  getBig(r: Reg): bigint {
    return this.view.getBigUint64(r * 8, true);
  }
  /** Sets register `r` from a bigint (masked to 64 bits). */
  setBig(r: Reg, value: bigint): void {
    this.view.setBigUint64(r * 8, BigInt.asUintN(64, value), true);
  }

  /** RAX as a number. */
  get rax(): number {
    return this.get(Reg.rax);
  }
  set rax(v: number) {
    this.set(Reg.rax, v);
  }
  /** RBX as a number. */
  get rbx(): number {
    return this.get(Reg.rbx);
  }
  set rbx(v: number) {
    this.set(Reg.rbx, v);
  }
  /** RCX as a number. */
  get rcx(): number {
    return this.get(Reg.rcx);
  }
  set rcx(v: number) {
    this.set(Reg.rcx, v);
  }
  /** RDX as a number. */
  get rdx(): number {
    return this.get(Reg.rdx);
  }
  set rdx(v: number) {
    this.set(Reg.rdx, v);
  }
  /** RSI as a number. */
  get rsi(): number {
    return this.get(Reg.rsi);
  }
  set rsi(v: number) {
    this.set(Reg.rsi, v);
  }
  /** RDI as a number. */
  get rdi(): number {
    return this.get(Reg.rdi);
  }
  set rdi(v: number) {
    this.set(Reg.rdi, v);
  }
  /** RSP as a number. */
  get rsp(): number {
    return this.get(Reg.rsp);
  }
  set rsp(v: number) {
    this.set(Reg.rsp, v);
  }
  /** RBP as a number. */
  get rbp(): number {
    return this.get(Reg.rbp);
  }
  set rbp(v: number) {
    this.set(Reg.rbp, v);
  }
  /** R8 as a number. */
  get r8(): number {
    return this.get(Reg.r8);
  }
  set r8(v: number) {
    this.set(Reg.r8, v);
  }
  /** R9 as a number. */
  get r9(): number {
    return this.get(Reg.r9);
  }
  set r9(v: number) {
    this.set(Reg.r9, v);
  }
  /** RIP as a number. */
  get rip(): number {
    return this.get(Reg.rip);
  }
  set rip(v: number) {
    this.set(Reg.rip, v);
  }
  /** RFLAGS as a number (bit 1 must stay set: {@link RFLAGS_FIXED}). */
  get rflags(): number {
    return this.get(Reg.rflags);
  }
  set rflags(v: number) {
    this.set(Reg.rflags, v);
  }
}
