/**
 * Builds a partition's dispatch tables from a composition: instantiates every composed plugin that
 * has behaviour (`create`) once, routes each claimed MSR and hypercall to its owner's handlers, and
 * adds the core's partition MSRs. Edge code (once per VM).
 * @module
 */
import type { Composition } from "@hv/compose";
import { BASE_OWNER } from "@hv/compose";
import { type CpuidBit, HvFeatureEdx } from "@hv/tlfs";
import { CpuidTable, type PartitionView, type PluginHandlers, type VpView } from "@hv/x86";
import { HypercallDispatcher, type HypercallEnvironment, type HypercallRoute } from "./hypercall_dispatch.ts";
import { MsrDispatcher, type MsrRoute } from "./msr_dispatch.ts";
import { corePartitionMsrs, CORE_OWNER, guestOsIdSet } from "./partition_msrs.ts";

/** The built tables plus each plugin's handler instance (for reset). */
export interface Dispatch {
  readonly msr: MsrDispatcher;
  readonly hypercall: HypercallDispatcher;
  readonly instances: ReadonlyMap<string, PluginHandlers>;
}

/**
 * Options: `stub` is written into the hypercall page on enable (see `hypercallStub`);
 * `readXmm` supplies XMM0..5 for XMM fast calls (the backend reads the vCPU's FPU state).
 */
export interface DispatchOptions {
  readonly stub: Uint8Array;
  readonly readXmm: HypercallEnvironment["readXmm"];
}

/** Whether `bit` is set in the composition's CPUID leaves. */
export const advertised = (c: Composition) => {
  const t = new CpuidTable(c.cpuid);
  return (bit: CpuidBit) => t.hasBit(bit);
};

/** Builds {@link Dispatch} for `composition` on `partition`. */
export function buildDispatch(composition: Composition, partition: PartitionView, options: DispatchOptions): Dispatch {
  const instances = new Map<string, PluginHandlers>();
  instances.set(BASE_OWNER, corePartitionMsrs(options.stub));
  for (const e of composition.enlightenments) {
    if (e.plugin.create) instances.set(e.name, e.plugin.create({ params: e.params, partition }));
  }
  const none: PluginHandlers = {};
  const isAdvertised = advertised(composition);
  const msrRoutes: MsrRoute[] = [];
  // An MSR whose gate bit the composition does not advertise is left out of the table: #GP
  // (KVM `hv_check_msr_access` with KVM_CAP_HYPERV_ENFORCE_CPUID, the TLFS behaviour).
  for (const [, { owner, claim }] of composition.msrs) {
    if (claim.gate === undefined || isAdvertised(claim.gate)) msrRoutes.push({ claim, owner, handlers: instances.get(owner) ?? none });
  }
  const hcRoutes: HypercallRoute[] = [];
  for (const [, { owner, claim }] of composition.hypercalls) hcRoutes.push({ claim, owner, handlers: instances.get(owner) ?? none });
  const env: HypercallEnvironment = {
    isAdvertised,
    xmmInput: isAdvertised(HvFeatureEdx.XmmRegistersForFastHypercallAvailable),
    readXmm: options.readXmm,
    hypercallsLive: (vp: VpView) => guestOsIdSet(vp.partition.state(CORE_OWNER)),
  };
  return { msr: new MsrDispatcher(msrRoutes), hypercall: new HypercallDispatcher(hcRoutes, env), instances };
}
