/**
 * Guest-side helpers: RDMSR/WRMSR and hypercalls as a guest on a {@link TestVp} would issue them,
 * going through the real dispatch tables. Results are plain values: `"gp"` for #GP, `"ud"` for #UD.
 * @module
 */
import { HypercallOutcome } from "@hv/dispatch";
import { Gpr, MsrOutcome } from "@hv/x86";
import type { TestVp } from "./partition.ts";

/** RDMSR on `vp`: the value, or `"gp"`. */
export function rdmsr(vp: TestVp, index: number): bigint | "gp" {
  vp.msr.index = index;
  vp.msr.lo = 0;
  vp.msr.hi = 0;
  if (vp.partition.dispatch.msr.rdmsr(vp, vp.msr) !== MsrOutcome.Ok) return "gp";
  return (BigInt(vp.msr.hi >>> 0) << 32n) | BigInt(vp.msr.lo >>> 0);
}

/** WRMSR on `vp`: `"ok"` or `"gp"`. */
export function wrmsr(vp: TestVp, index: number, value: bigint | number): "ok" | "gp" {
  const v = BigInt.asUintN(64, BigInt(value));
  vp.msr.index = index;
  vp.msr.lo = Number(v & 0xffffffffn);
  vp.msr.hi = Number(v >> 32n);
  return vp.partition.dispatch.msr.wrmsr(vp, vp.msr) === MsrOutcome.Ok ? "ok" : "gp";
}

/**
 * A hypercall as the guest issues it. `control` is the full input value (or built from `code`,
 * `fast`, `repCount`, `repStart`, `varHeaderQwords`); slow calls take `input` bytes, copied to
 * `inputGpa` (default 0x1000) with output at `outputGpa` (default 0x2000); fast calls take `fast`
 * qwords [RDX, R8, XMM0.lo, XMM0.hi, ...]. `mode` overrides 64-bit ring 0.
 */
export interface HypercallRequest {
  readonly code?: number;
  readonly fast?: boolean;
  readonly repCount?: number;
  readonly repStart?: number;
  readonly varHeaderQwords?: number;
  readonly control?: bigint;
  readonly input?: Uint8Array;
  readonly inputGpa?: number;
  readonly outputGpa?: number;
  readonly fastInput?: readonly bigint[];
  readonly mode?: { readonly longMode?: boolean; readonly protectedMode?: boolean; readonly cpl?: number };
}

/** The outcome: `"ud"`, `"not-hypercall"` (GUEST_OS_ID is 0), or the status and reps completed. */
export type HypercallResult = "ud" | "not-hypercall" | { readonly status: number; readonly repsCompleted: number };

const set64 = (vp: TestVp, reg: number, v: bigint) => {
  const u = BigInt.asUintN(64, v);
  vp.gpr[2 * reg] = Number(u & 0xffffffffn);
  vp.gpr[2 * reg + 1] = Number(u >> 32n);
};

/** Issues `req` on `vp` through the partition's hypercall dispatcher. */
export function hypercall(vp: TestVp, req: HypercallRequest): HypercallResult {
  const control = req.control ??
    (BigInt(req.code ?? 0) | (req.fast ? 1n << 16n : 0n) | (BigInt(req.varHeaderQwords ?? 0) << 17n) |
      (BigInt(req.repCount ?? 0) << 32n) | (BigInt(req.repStart ?? 0) << 48n));
  const inGpa = req.inputGpa ?? 0x1000, outGpa = req.outputGpa ?? 0x2000;
  vp.gpr.fill(0);
  vp.mode.longMode = req.mode?.longMode ?? true;
  vp.mode.protectedMode = req.mode?.protectedMode ?? true;
  vp.mode.cpl = req.mode?.cpl ?? 0;
  let rdx = BigInt(inGpa), r8 = BigInt(outGpa);
  if (req.fast) {
    const f = req.fastInput ?? [];
    rdx = f[0] ?? 0n;
    r8 = f[1] ?? 0n;
    vp.xmm.fill(0);
    for (let i = 2; i < f.length && i < 14; i++) {
      const u = BigInt.asUintN(64, f[i]);
      vp.xmm[2 * (i - 2)] = Number(u & 0xffffffffn);
      vp.xmm[2 * (i - 2) + 1] = Number(u >> 32n);
    }
  } else if (req.input) {
    vp.partition.memory.write(inGpa, req.input);
  }
  if (vp.mode.longMode) {
    set64(vp, Gpr.RCX, control);
    set64(vp, Gpr.RDX, rdx);
    set64(vp, Gpr.R8, r8);
  } else {
    set64(vp, Gpr.RAX, control & 0xffffffffn);
    set64(vp, Gpr.RDX, control >> 32n);
    set64(vp, Gpr.RCX, rdx & 0xffffffffn);
    set64(vp, Gpr.RBX, rdx >> 32n);
    set64(vp, Gpr.RSI, r8 & 0xffffffffn);
    set64(vp, Gpr.RDI, r8 >> 32n);
  }
  const out = vp.partition.dispatch.hypercall.dispatch(vp, vp.gpr, vp.mode, vp.call);
  if (out === HypercallOutcome.Ud) return "ud";
  if (out === HypercallOutcome.NotHypercall) return "not-hypercall";
  return vp.mode.longMode
    ? { status: vp.gpr[0] & 0xffff, repsCompleted: vp.gpr[1] & 0xfff }
    : { status: vp.gpr[0] & 0xffff, repsCompleted: vp.gpr[2 * Gpr.RDX] & 0xfff };
}
