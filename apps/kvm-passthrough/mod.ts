/**
 * `@hv/kvm-passthrough`: hv's second backend. The guest's Hyper-V interface is KVM's in-kernel
 * implementation (what QEMU's hv-passthrough and explicit hv-* flags use), configured from the same
 * enlightenment packages and compositions as the emulator. Deno only (KVM through FFI).
 *
 * - `kvm_service.ts`: the KVM operations the backend needs ({@link KvmService}) and
 *   {@link RealKvmService} over `@hv/kvm`; `simulated_kvm.ts`: {@link SimulatedKvm}, a recording
 *   Hyper-V-capable kernel for tests ({@link HYPERV_CAPABLE_HOST}, {@link HOST_WITHOUT_HYPERV}).
 * - `preflight.ts`: {@link preflight} / {@link checkPassthrough}, the plan or the
 *   {@link PassthroughUnavailable} refusal, before anything is created.
 * - `setup.ts`: {@link setupPassthroughVm} / {@link configureVcpu}, the per-vCPU ioctl sequence.
 * - `sint_routes.ts`: {@link SintRouteTable}, one KVM_IRQ_ROUTING_HV_SINT route + irqfd per VP per
 *   SINT (and a resamplefd per VP for EOM acks); `synic_delivery.ts`: {@link PassthroughSynic}, SynIC
 *   messages/events written to guest RAM then raised through those routes, EOM retry on acks,
 *   {@link HypervEventConnections} (KVM_HYPERV_EVENTFD), the hyperv-testdev backend.
 * - `hyperv_exit.ts`: KVM_EXIT_HYPERV (SynIC mirror, HvPostMessage/HvSignalEvent) and crash read-back.
 * - `run.ts`: {@link runPassthrough}, `hv run --backend passthrough`; {@link chooseBackend} for `auto`.
 * - `machine_backend.ts`, `worker_hook.ts`: the hooks `@hv/machine` needs to host this backend.
 * @module
 */
export * from "./src/kvm_service.ts";
export * from "./src/simulated_kvm.ts";
export * from "./src/preflight.ts";
export * from "./src/setup.ts";
export * from "./src/sint_routes.ts";
export * from "./src/synic_delivery.ts";
export * from "./src/hyperv_exit.ts";
export * from "./src/machine_backend.ts";
export * from "./src/run.ts";
