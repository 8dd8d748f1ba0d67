/**
 * The general-purpose register file as KVM's `struct kvm_regs` lays it out in memory (18 u64:
 * rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp, r8..r15, rip, rflags), seen as 36 little-endian u32 words
 * so the exit path reads and writes 64-bit registers as lo/hi halves without BigInt. A backend can
 * view its `kvm_regs` buffer directly as this array (zero copy).
 * @module
 */

/** Register numbers (u64 slots) in `kvm_regs` order. Word index of the low half is 2 * n. */
export const Gpr = {
  RAX: 0, RBX: 1, RCX: 2, RDX: 3, RSI: 4, RDI: 5, RSP: 6, RBP: 7,
  R8: 8, R9: 9, R10: 10, R11: 11, R12: 12, R13: 13, R14: 14, R15: 15,
  RIP: 16, RFLAGS: 17,
} as const;

/** Number of u32 words in a register file (18 registers × 2). */
export const GPR_FILE_WORDS = 36;

/** A register file: `Uint32Array(36)`; register n is words 2n (bits 31:0) and 2n+1 (bits 63:32). */
export type GprFile = Uint32Array;

/** Allocates a zeroed register file (once per VP). */
export const newGprFile = (): GprFile => new Uint32Array(GPR_FILE_WORDS);

/**
 * The execution mode of the vCPU at an exit, as far as the Hyper-V ABI cares (TLFS §3.5 "Hypercall
 * Calling Conventions"): `longMode` = EFER.LMA && CS.L (64-bit convention), `protectedMode` = CR0.PE,
 * `cpl` = the current privilege level (CS.DPL; hypercalls from CPL > 0 raise #UD).
 */
export interface CpuMode {
  longMode: boolean;
  protectedMode: boolean;
  cpl: number;
}

/** A mutable {@link CpuMode} for 64-bit ring 0 (reused per VP; the backend refreshes it at each exit). */
export const newCpuMode = (): CpuMode => ({ longMode: true, protectedMode: true, cpl: 0 });
