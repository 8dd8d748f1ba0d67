/**
 * The MSR dispatch table: synthetic MSR index -> the owning handler, built once from a composition.
 * The generic TLFS rules are applied here, so no plugin repeats them: an MSR no composed plugin
 * claims takes #GP (TLFS: unimplemented synthetic MSRs #GP; KVM `kvm_hv_{get,set}_msr`), a write of a
 * read-only MSR and a read of a write-only one take #GP. Exit path: one array lookup, no allocation.
 * @module
 */
import { HV_X64_MSR_RANGE_FIRST, HV_X64_MSR_RANGE_LAST } from "@hv/tlfs";
import { type MsrAccess, type MsrClaim, MsrOutcome, type PluginHandlers, type VpView } from "@hv/x86";

const SLOTS = HV_X64_MSR_RANGE_LAST - HV_X64_MSR_RANGE_FIRST + 1;

/** One row of the table: the claim (access rules) and the handlers that serve it. */
export interface MsrRoute {
  readonly claim: MsrClaim;
  readonly owner: string;
  readonly handlers: PluginHandlers;
}

/**
 * Routes RDMSR/WRMSR of 0x40000000..0x400001FF. Answers only `Ok` or `Gp` (never `NotMine`): the
 * caller turns `Gp` into #GP(0) in the guest (KVM: `kvm_run.msr.error = 1`).
 */
export class MsrDispatcher {
  readonly #routes: (MsrRoute | undefined)[] = new Array(SLOTS).fill(undefined);

  /** Builds the table; throws RangeError for an MSR outside the routed range or claimed twice (composition prevents both). */
  constructor(routes: Iterable<MsrRoute>) {
    for (const r of routes) {
      const slot = r.claim.index - HV_X64_MSR_RANGE_FIRST;
      if (slot < 0 || slot >= SLOTS) throw new RangeError(`MSR ${r.claim.name} (0x${r.claim.index.toString(16)}) is outside the routed synthetic range`);
      if (this.#routes[slot]) throw new RangeError(`MSR ${r.claim.name} claimed by ${this.#routes[slot]!.owner} and ${r.owner}`);
      this.#routes[slot] = r;
    }
  }

  /** The route for an MSR index, if any (diagnostics, tests). */
  route(index: number): MsrRoute | undefined {
    const slot = index - HV_X64_MSR_RANGE_FIRST;
    return slot >= 0 && slot < SLOTS ? this.#routes[slot] : undefined;
  }

  /** RDMSR `msr.index` on `vp`; on Ok the value is in `msr.lo`/`msr.hi`. */
  rdmsr(vp: VpView, msr: MsrAccess): MsrOutcome {
    const r = this.route(msr.index);
    if (r === undefined || r.claim.access === "wo" || r.handlers.rdmsr === undefined) return MsrOutcome.Gp;
    const out = r.handlers.rdmsr(vp, msr);
    return out === MsrOutcome.Ok ? MsrOutcome.Ok : MsrOutcome.Gp;
  }

  /** WRMSR `msr.index` = `msr.hi:msr.lo` on `vp`. */
  wrmsr(vp: VpView, msr: MsrAccess): MsrOutcome {
    const r = this.route(msr.index);
    if (r === undefined || r.claim.access === "ro" || r.handlers.wrmsr === undefined) return MsrOutcome.Gp;
    const out = r.handlers.wrmsr(vp, msr);
    return out === MsrOutcome.Ok ? MsrOutcome.Ok : MsrOutcome.Gp;
  }
}
