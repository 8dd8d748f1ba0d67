/**
 * The vCPU-worker side of the passthrough backend, for `@hv/machine`'s proposed
 * `MachineConfig.backend.workerModule`: the worker imports this module and calls
 * {@link createExitHook} once, with its attached vCPU, the VM, its partition view (the shared arenas
 * every worker sees) and the composition it re-composed from the `HypervSpec`; then, for each exit
 * reason its own loop does not handle, it calls the returned function and acts on the
 * `ExitAction` (continue, crash report, reset, or its usual fault). Deno only (KVM through FFI).
 * @module
 */
import type { Composition } from "@hv/compose";
import type { Vcpu, Vm } from "@hv/kvm";
import type { PartitionView } from "@hv/x86";
import { createPassthroughHyperv, type ExitAction, PassthroughVcpuExits } from "./hyperv_exit.ts";
import { RealKvmService } from "./kvm_service.ts";

/** What the worker hands over: its vCPU (id = VP index), the VM, its partition view and the composition. */
export interface ExitHookContext {
  readonly vcpu: Vcpu;
  readonly vm: Vm;
  readonly partition: PartitionView;
  readonly composition: Composition;
}

/**
 * Builds this vCPU's exit hook: a {@link PassthroughVcpuExits} over a {@link RealKvmService} that
 * adopts the worker's `Vcpu`/`Vm` (nothing is opened or closed here). Throws when the vCPU's VP is
 * not in the partition.
 */
export function createExitHook(ctx: ExitHookContext): (reason: number) => ExitAction {
  const service = new RealKvmService();
  service.adoptVm(ctx.vm);
  const ref = service.adoptVcpu(ctx.vcpu);
  const vp = ctx.partition.vp(ctx.vcpu.id);
  if (!vp) throw new RangeError(`vCPU ${ctx.vcpu.id} has no VP in the partition`);
  const exits = new PassthroughVcpuExits(service, ref, createPassthroughHyperv(ctx.composition, ctx.partition), vp);
  return (reason) => exits.onExit(reason);
}
