/**
 * The vCPU-worker side of the passthrough backend, for `@hv/machine`'s
 * `MachineConfig.backend.workerModule`: the worker imports this module and calls
 * {@link createExitHook} once, with its attached vCPU, the VM, its partition view (the shared arenas
 * every worker sees) and the composition it re-composed from the `HypervSpec`; then, for each exit
 * reason its own loop does not handle, it calls the returned function and acts on the
 * `ExitAction` (continue, crash report, reset, or its usual fault). Deno only (KVM through FFI).
 *
 * When the main thread built SINT routes, their fd numbers arrive in this module's URL
 * (`?sint-routes=...`, see `machine_backend.ts`): the hook then raises SynIC interrupts through them
 * (its hypercall handlers run over a {@link routedPartition} of the worker's partition) and retries
 * queued messages when KVM acks an EOM.
 * @module
 */
import type { Composition } from "@hv/compose";
import type { Vcpu, Vm } from "@hv/kvm";
import type { PartitionView } from "@hv/x86";
import { createPassthroughHyperv, type ExitAction, PassthroughVcpuExits } from "./hyperv_exit.ts";
import { type KvmService, RealKvmService, type VcpuRef } from "./kvm_service.ts";
import { SINT_ROUTES_PARAM } from "./machine_backend.ts";
import { decodeSintRouteLayout, SintRouteTable } from "./sint_routes.ts";
import { PassthroughSynic, routedPartition } from "./synic_delivery.ts";

/** What the worker hands over: its vCPU (id = VP index), the VM, its partition view and the composition. */
export interface ExitHookContext {
  readonly vcpu: Vcpu;
  readonly vm: Vm;
  readonly partition: PartitionView;
  readonly composition: Composition;
}

/**
 * The parts of {@link passthroughExitHook}: the `service` the vCPU was adopted by, its `vcpu` ref
 * (id = VP index), the worker's `partition`, the `composition`, and `moduleUrl`, whose
 * `sint-routes` query parameter (if any) holds the SINT route layout.
 */
export interface PassthroughExitHookParts {
  readonly service: KvmService;
  readonly vcpu: VcpuRef;
  readonly partition: PartitionView;
  readonly composition: Composition;
  readonly moduleUrl: string;
}

/**
 * The exit hook and what it raises through: a {@link PassthroughVcpuExits} over `parts.service`,
 * with, when `moduleUrl` carries a route layout, a {@link PassthroughSynic} over the attached
 * routes and the hypercall handlers on a {@link routedPartition}. Throws when the vCPU's VP is not
 * in the partition, or RangeError for a malformed layout.
 */
export function passthroughExitHook(parts: PassthroughExitHookParts): { exits: PassthroughVcpuExits; synic?: PassthroughSynic } {
  const layout = new URL(parts.moduleUrl).searchParams.get(SINT_ROUTES_PARAM);
  const synic = layout ? new PassthroughSynic(SintRouteTable.attach(parts.service, decodeSintRouteLayout(layout))) : undefined;
  const partition = synic ? routedPartition(parts.partition, (vp, vector, autoEoi) => synic.requestInterrupt(vp, vector, autoEoi)) : parts.partition;
  const vp = partition.vp(parts.vcpu.id);
  if (!vp) throw new RangeError(`vCPU ${parts.vcpu.id} has no VP in the partition`);
  const exits = new PassthroughVcpuExits(parts.service, parts.vcpu, createPassthroughHyperv(parts.composition, partition), vp, synic);
  return synic ? { exits, synic } : { exits };
}

/**
 * Builds this vCPU's exit hook ({@link passthroughExitHook}) over a {@link RealKvmService} that
 * adopts the worker's `Vcpu`/`Vm` (nothing is opened or closed here).
 */
export function createExitHook(ctx: ExitHookContext): (reason: number) => ExitAction {
  const service = new RealKvmService();
  service.adoptVm(ctx.vm);
  const vcpu = service.adoptVcpu(ctx.vcpu);
  const { exits } = passthroughExitHook({ service, vcpu, partition: ctx.partition, composition: ctx.composition, moduleUrl: import.meta.url });
  return (reason) => exits.onExit(reason);
}
