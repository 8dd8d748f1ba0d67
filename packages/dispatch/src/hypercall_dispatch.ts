/**
 * The hypercall ABI, once for every plugin (TLFS §3 "Hypercall Interface"): decode the input value
 * from the registers of either calling convention, apply the checks in KVM's order
 * (`kvm_hv_hypercall`), validate against the claimed descriptor, call the handler, and write the
 * result value back. Exit path: no allocation, no Effect.
 *
 * Order of checks (tlfs-conformance.md (b)):
 * 1. CPL > 0 or real mode: #UD.
 * 2. The claim's gate bit not advertised: HV_STATUS_ACCESS_DENIED.
 * 3. Reserved bits 31:27, 47:44, 63:60 set: HV_STATUS_INVALID_HYPERCALL_INPUT.
 * 4. A fast call of an XMM-input hypercall without hv-xmm-input (0x40000003.EDX[4]): #UD.
 * 5. No claimant: HV_STATUS_INVALID_HYPERCALL_CODE.
 * 6. Descriptor rules: a simple call with a rep count or variable header, a rep call with rep count
 *    0 or rep start >= rep count, a variable call with a rep count, a fast call of a slow-only
 *    hypercall: HV_STATUS_INVALID_HYPERCALL_INPUT. Slow calls: an input/output GPA not 8-byte aligned,
 *    or a parameter list that crosses a page: HV_STATUS_INVALID_ALIGNMENT; one outside guest RAM:
 *    HV_STATUS_INVALID_HYPERCALL_INPUT (KVM answers an unreadable input so).
 * @module
 */
import {
  HV_HYPERCALL_INPUT_RSVD_MASK_HI,
  HV_HYPERCALL_INPUT_RSVD_MASK_LO,
  HV_PAGE_SIZE,
  HV_STATUS_ACCESS_DENIED,
  HV_STATUS_INVALID_ALIGNMENT,
  HV_STATUS_INVALID_HYPERCALL_CODE,
  HV_STATUS_INVALID_HYPERCALL_INPUT,
} from "@hv/tlfs";
import {
  type CpuMode,
  Gpr,
  type GprFile,
  HYPERCALL_NOT_MINE,
  type HypercallClaim,
  type HypercallInput,
  type PluginHandlers,
  type VpView,
} from "@hv/x86";

/** What the backend must do after {@link HypercallDispatcher.dispatch}. */
export const HypercallOutcome = {
  /** The result is in the register file (RAX, or EDX:EAX in 32-bit mode): write the registers back. */
  Done: 0,
  /** Inject #UD (CPL > 0, real mode, XMM input without hv-xmm-input). */
  Ud: 1,
  /** Not a hypercall (GUEST_OS_ID is 0, so no hypercall interface exists): treat as a plain port write. */
  NotHypercall: 2,
} as const;
/** One of {@link HypercallOutcome}'s values. */
export type HypercallOutcome = typeof HypercallOutcome[keyof typeof HypercallOutcome];

/** One row: the descriptor and the handlers serving it. */
export interface HypercallRoute {
  readonly claim: HypercallClaim;
  readonly owner: string;
  readonly handlers: PluginHandlers;
}

/**
 * What the dispatcher needs from the backend at a hypercall exit besides registers:
 * - `isAdvertised(bit)` answers whether a gate CPUID bit is in the composition (precomputed);
 * - `xmmInput`: hv-xmm-input is advertised (0x40000003.EDX[4]);
 * - `readXmm(into)`: fills `into[0..23]` with XMM0..5 as u32 words (called only for XMM fast calls);
 * - `hypercallsLive(vp)`: GUEST_OS_ID != 0.
 */
export interface HypercallEnvironment {
  readonly isAdvertised: (gate: NonNullable<HypercallClaim["gate"]>) => boolean;
  readonly xmmInput: boolean;
  readonly readXmm: (vp: VpView, into: Uint32Array) => void;
  readonly hypercallsLive: (vp: VpView) => boolean;
}

const lo = (g: GprFile, r: number) => g[2 * r];
const hi = (g: GprFile, r: number) => g[2 * r + 1];

/** Decodes, validates and dispatches hypercalls; one instance per partition, shared by its VPs. */
export class HypercallDispatcher {
  readonly #routes = new Map<number, HypercallRoute>();
  readonly #env: HypercallEnvironment;

  constructor(routes: Iterable<HypercallRoute>, env: HypercallEnvironment) {
    for (const r of routes) {
      if (this.#routes.has(r.claim.code)) throw new RangeError(`hypercall ${r.claim.name} claimed twice`);
      this.#routes.set(r.claim.code, r);
    }
    this.#env = env;
  }

  /**
   * Handles the hypercall the VP just made. `gpr` holds its registers (kvm_regs order) and receives
   * the result; `mode` is its execution mode; `call` is the VP's reused {@link HypercallInput}.
   */
  dispatch(vp: VpView, gpr: GprFile, mode: CpuMode, call: HypercallInput): HypercallOutcome {
    if (!this.#env.hypercallsLive(vp)) return HypercallOutcome.NotHypercall;
    if (!mode.protectedMode || mode.cpl !== 0) return HypercallOutcome.Ud;

    // Input value, input and output GPAs (TLFS §3.5: 64-bit RCX/RDX/R8; 32-bit EDX:EAX/EBX:ECX/EDI:ESI).
    let cLo: number, cHi: number, inLo: number, inHi: number, outLo: number, outHi: number;
    if (mode.longMode) {
      cLo = lo(gpr, Gpr.RCX); cHi = hi(gpr, Gpr.RCX);
      inLo = lo(gpr, Gpr.RDX); inHi = hi(gpr, Gpr.RDX);
      outLo = lo(gpr, Gpr.R8); outHi = hi(gpr, Gpr.R8);
    } else {
      cLo = lo(gpr, Gpr.RAX); cHi = lo(gpr, Gpr.RDX);
      inLo = lo(gpr, Gpr.RCX); inHi = lo(gpr, Gpr.RBX);
      outLo = lo(gpr, Gpr.RSI); outHi = lo(gpr, Gpr.RDI);
    }
    call.code = cLo & 0xffff;
    call.fast = (cLo & 0x10000) !== 0;
    call.varHeaderQwords = (cLo >>> 17) & 0x3ff;
    call.repCount = cHi & 0xfff;
    call.repStart = (cHi >>> 16) & 0xfff;
    call.repsCompleted = 0;
    const route = this.#routes.get(call.code);
    const status = this.#check(vp, route, call, cLo, cHi, inLo, inHi, outLo, outHi);
    if (status === -2) return HypercallOutcome.Ud;
    let result = status;
    if (status < 0) {
      const r = route!.handlers.hypercall!(vp, call);
      result = r === HYPERCALL_NOT_MINE ? HV_STATUS_INVALID_HYPERCALL_CODE : r & 0xffff;
    }
    // Result value (TLFS §3.8): status [15:0], reps completed [43:32].
    const reps = call.repsCompleted & 0xfff;
    if (mode.longMode) {
      gpr[2 * Gpr.RAX] = result;
      gpr[2 * Gpr.RAX + 1] = reps;
    } else {
      gpr[2 * Gpr.RAX] = result;
      gpr[2 * Gpr.RDX] = reps;
    }
    return HypercallOutcome.Done;
  }

  /** -1: go to the handler; -2: #UD; otherwise the HV_STATUS to return without calling the handler. */
  #check(
    vp: VpView,
    route: HypercallRoute | undefined,
    call: HypercallInput,
    cLo: number,
    cHi: number,
    inLo: number,
    inHi: number,
    outLo: number,
    outHi: number,
  ): number {
    const claim = route?.claim;
    if (claim?.gate && !this.#env.isAdvertised(claim.gate)) return HV_STATUS_ACCESS_DENIED;
    if ((cLo & HV_HYPERCALL_INPUT_RSVD_MASK_LO) !== 0 || (cHi & HV_HYPERCALL_INPUT_RSVD_MASK_HI) !== 0) {
      return HV_STATUS_INVALID_HYPERCALL_INPUT;
    }
    if (claim && call.fast && claim.fast === "xmm" && !this.#env.xmmInput && this.#needsXmm(claim, call)) return -2;
    if (!claim || !route!.handlers.hypercall) return HV_STATUS_INVALID_HYPERCALL_CODE;

    const rep = claim.kind === "rep" || claim.kind === "variable-rep";
    const variable = claim.kind === "variable" || claim.kind === "variable-rep";
    if (!rep && (call.repCount !== 0 || call.repStart !== 0)) return HV_STATUS_INVALID_HYPERCALL_INPUT;
    if (rep && (call.repCount === 0 || call.repStart >= call.repCount)) return HV_STATUS_INVALID_HYPERCALL_INPUT;
    if (!variable && call.varHeaderQwords !== 0) return HV_STATUS_INVALID_HYPERCALL_INPUT;

    const inputBytes = claim.inputBytes + 8 * call.varHeaderQwords + call.repCount * (claim.repInputBytes ?? 0);
    const fi = call.fastInput;
    if (call.fast) {
      if (claim.fast === "never") return HV_STATUS_INVALID_HYPERCALL_INPUT;
      // Fast input: RDX, R8 then XMM0..5 (TLFS §3.7.1 "Extended Fast Hypercalls").
      fi[0] = inLo; fi[1] = inHi; fi[2] = outLo; fi[3] = outHi;
      if (inputBytes > 16) {
        if (!(claim.fast === "xmm" && this.#env.xmmInput) || inputBytes > 112) return HV_STATUS_INVALID_HYPERCALL_INPUT;
        this.#env.readXmm(vp, fi.subarray(4, 28));
      }
      call.inputGpa = 0;
      call.outputGpa = 0;
      return -1;
    }
    // Slow: GPAs as numbers (a value >= 2^53 is far outside RAM and fails contains()).
    const inGpa = inHi * 0x100000000 + inLo;
    const outGpa = outHi * 0x100000000 + outLo;
    const mem = vp.partition.memory;
    if (inputBytes > 0) {
      if (inLo % 8 !== 0 || (inLo % HV_PAGE_SIZE) + inputBytes > HV_PAGE_SIZE) return HV_STATUS_INVALID_ALIGNMENT;
      if (!mem.contains(inGpa, inputBytes)) return HV_STATUS_INVALID_HYPERCALL_INPUT;
    }
    if (claim.outputBytes > 0) {
      if (outLo % 8 !== 0 || (outLo % HV_PAGE_SIZE) + claim.outputBytes > HV_PAGE_SIZE) return HV_STATUS_INVALID_ALIGNMENT;
      if (!mem.contains(outGpa, claim.outputBytes)) return HV_STATUS_INVALID_HYPERCALL_INPUT;
    }
    call.inputGpa = inGpa;
    call.outputGpa = outGpa;
    return -1;
  }

  /** KVM `is_xmm_fast_hypercall`: the call's input does not fit RDX and R8. */
  #needsXmm(claim: HypercallClaim, call: HypercallInput): boolean {
    return claim.inputBytes + 8 * call.varHeaderQwords + call.repCount * (claim.repInputBytes ?? 0) > 16;
  }
}
