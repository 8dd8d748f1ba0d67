/**
 * The passthrough backend as hooks for `@hv/machine`'s `runMachine`, so the machine (RAM, loader,
 * boot registers, vCPU workers, devices, timeout, reports) is reused rather than copied. The machine
 * does not take these hooks yet: {@link MachineBackendHooks} is the exact shape proposed for
 * `MachineConfig.backend` (see the package README / the lead's notes), and `run.ts` checks for the
 * machine's `MACHINE_BACKEND_HOOKS` export before using it.
 * @module
 */
import type { Vcpu, Vm } from "@hv/kvm";
import type { CpuidLeaf } from "@hv/x86";
import { RealKvmService, type VmRef } from "./kvm_service.ts";
import type { PassthroughPlan } from "./preflight.ts";
import { configureVcpu } from "./setup.ts";
import { encodeSintRouteLayout, SintRouteTable } from "./sint_routes.ts";

/**
 * Proposed `MachineConfig.backend` (absent: the emulator, exactly as today):
 * - `setupVm(vm)`: called after KVM_CREATE_IRQCHIP/KVM_CREATE_PIT2 and guest RAM, *instead of* the
 *   emulator's KVM_CAP_X86_USER_SPACE_MSR + KVM_X86_SET_MSR_FILTER (the synthetic MSRs must reach
 *   KVM's in-kernel Hyper-V, not userspace);
 * - `setupVcpu(vcpu, index, supportedCpuid)`: called right after KVM_CREATE_VCPU(index), *instead
 *   of* `vcpu.setCpuid2(guestCpuid(supported, composition.cpuid, index))`;
 * - `workerModule`: a module URL every vCPU worker imports at setup; its `createExitHook(ctx)`
 *   (see `worker_hook.ts`) returns `(reason) => ExitAction`, called for exit reasons the worker's
 *   loop does not handle itself (KVM_EXIT_HYPERV, KVM_EXIT_SYSTEM_EVENT) before it reports a fault;
 *   with a backend the worker builds no emulator dispatch (no userspace MSR exits, no hypercall port).
 * - `routes`: the SINT route table, built (synic composed, `vcpuCount` known) right after the last
 *   vCPU's `setupVcpu`, when every SynIC is active; its fd numbers reach the workers in
 *   `workerModule`'s query ({@link SINT_ROUTES_PARAM}), read once the machine starts them.
 */
export interface MachineBackendHooks {
  readonly name: "passthrough";
  setupVm(vm: Vm): void;
  setupVcpu(vcpu: Vcpu, index: number, supportedCpuid: readonly CpuidLeaf[]): void;
  readonly workerModule: string;
  readonly routes?: SintRouteTable;
}

/** The vCPU workers' hook module (`worker_hook.ts`). */
export const PASSTHROUGH_WORKER_MODULE: string = new URL("./worker_hook.ts", import.meta.url).href;

/** The query parameter of {@link PASSTHROUGH_WORKER_MODULE} carrying the SINT route layout (`encodeSintRouteLayout`). */
export const SINT_ROUTES_PARAM = "sint-routes";

/** Options of {@link passthroughMachineBackend}: `vcpuCount`, the machine's vCPU count (needed to build the SINT routes after the last vCPU). */
export interface MachineBackendOptions {
  readonly vcpuCount?: number;
}

/**
 * The hooks for `plan`: no VM-level setup (KVM's Hyper-V needs no VM capability: SynIC2, eVMCS and
 * enforce-cpuid are per vCPU), `configureVcpu` per vCPU through a {@link RealKvmService} adopting
 * the machine's `Vcpu` objects (the machine keeps ownership), and with synic composed and
 * `options.vcpuCount` given, the SINT routes after vCPU `vcpuCount - 1` (their eventfds belong to
 * `service`; closing it releases them). Without `vcpuCount` no routes are built and the machine's
 * own raise (KVM_SIGNAL_MSI) stays in use.
 */
export function passthroughMachineBackend(
  plan: PassthroughPlan,
  service: RealKvmService = new RealKvmService(),
  options: MachineBackendOptions = {},
): MachineBackendHooks {
  let vmRef: VmRef | undefined;
  let routes: SintRouteTable | undefined;
  return {
    name: "passthrough",
    setupVm: (vm) => void (vmRef = service.adoptVm(vm)),
    setupVcpu(vcpu, index, supported) {
      configureVcpu(service, plan, service.adoptVcpu(vcpu), index, supported);
      if (plan.sintRoutes && vmRef && options.vcpuCount !== undefined && index === options.vcpuCount - 1) {
        routes = SintRouteTable.create(service, vmRef, options.vcpuCount, plan.maxRoutes > 0 ? { maxRoutes: plan.maxRoutes } : {});
      }
    },
    get workerModule() {
      return routes ? `${PASSTHROUGH_WORKER_MODULE}?${SINT_ROUTES_PARAM}=${encodeSintRouteLayout(routes.layout())}` : PASSTHROUGH_WORKER_MODULE;
    },
    get routes() {
      return routes;
    },
  };
}
