/**
 * The shapes that cross the exit path between the core dispatcher and plugin handlers. All are
 * preallocated per VP and mutated in place; outcomes are small integers, never objects, so that a
 * handled MSR or hypercall exit allocates nothing.
 * @module
 */

/**
 * What an MSR handler answers (OpenVMM's `MsrError` chaining, as integers):
 * - `Ok` (0): handled; for RDMSR the value is in {@link MsrAccess.lo}/{@link MsrAccess.hi}.
 * - `NotMine` (1): not this handler's MSR; the dispatcher asks the next one, and #GPs when none claims it.
 * - `Gp` (2): the access is invalid; the guest takes #GP(0) (KVM: `kvm_run.msr.error = 1`).
 */
export const MsrOutcome = { Ok: 0, NotMine: 1, Gp: 2 } as const;
/** One of {@link MsrOutcome}'s values. */
export type MsrOutcome = typeof MsrOutcome[keyof typeof MsrOutcome];

/**
 * One RDMSR/WRMSR in flight: `index` is the MSR number (ECX), `lo`/`hi` the 64-bit value as two
 * unsigned 32-bit halves (EAX/EDX). WRMSR handlers read them; RDMSR handlers set them.
 * One instance per VP, reused for every exit.
 */
export interface MsrAccess {
  index: number;
  lo: number;
  hi: number;
}

/** Creates a zeroed {@link MsrAccess} (once per VP, at VP creation). */
export const newMsrAccess = (): MsrAccess => ({ index: 0, lo: 0, hi: 0 });

/**
 * A hypercall handler's answer: an `HV_STATUS_*` value (0..0xFFFF), or `HYPERCALL_NOT_MINE`
 * (-1) so the dispatcher tries the next claimant and finally answers HV_STATUS_INVALID_HYPERCALL_CODE.
 */
export const HYPERCALL_NOT_MINE = -1;

/**
 * One decoded hypercall (TLFS §3.7), filled by the core's ABI decoder before the handler runs, after
 * the generic checks its {@link HypercallClaim} asks for (reserved bits, rep/variable rules, GPA
 * alignment and bounds). One instance per VP, reused.
 *
 * - `code`: call code (control bits 15:0).
 * - `fast`: register-based input (control bit 16).
 * - `varHeaderQwords`: variable header size in 8-byte units (control bits 26:17).
 * - `repCount`/`repStart`: rep count and start index (bits 43:32, 59:48).
 * - `inputGpa`/`outputGpa`: GPAs of the input/output pages (slow calls; validated in RAM).
 * - `fastInput`: for fast calls, the input qwords as u32 halves: RDX, R8, then XMM0..5 (two qwords
 *   each) = 14 qwords = 28 words; only the first two qwords are meaningful without xmm-input.
 * - `repsCompleted`: set by rep handlers (the TLFS requires all reps be reported complete, or the guest loops).
 */
export interface HypercallInput {
  code: number;
  fast: boolean;
  varHeaderQwords: number;
  repCount: number;
  repStart: number;
  inputGpa: number;
  outputGpa: number;
  readonly fastInput: Uint32Array;
  repsCompleted: number;
}

/** Creates a zeroed {@link HypercallInput} (once per VP). */
export const newHypercallInput = (): HypercallInput => ({
  code: 0,
  fast: false,
  varHeaderQwords: 0,
  repCount: 0,
  repStart: 0,
  inputGpa: 0,
  outputGpa: 0,
  fastInput: new Uint32Array(28),
  repsCompleted: 0,
});
