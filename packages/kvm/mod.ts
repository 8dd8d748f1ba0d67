/**
 * `@hv/kvm`: KVM bindings over Deno FFI, with KVM's names. **Deno only**: it calls libc through
 * `Deno.dlopen`, so there is no npm build (`dist/`); run with `--allow-ffi`.
 *
 * - `Kvm` (the /dev/kvm fd), `Vm`, `Vcpu`: the ioctls a VMM needs, failing with `KvmIoctlError`
 *   ("KVM_SET_CPUID2 failed: EINVAL (invalid argument)") or, when opening, `KvmUnavailable` with the fix.
 * - `structs/`: zero-allocation codecs over preallocated buffers for `kvm_regs`, `kvm_sregs`,
 *   the mmapped `kvm_run` (exit reasons `KVM_EXIT_*`), `kvm_cpuid2`, `kvm_msrs`, `kvm_msr_filter`,
 *   `kvm_xsave`, `kvm_debugregs`, `kvm_vcpu_events`, ...
 * - `ioctls.ts`, `caps.ts`: request and capability numbers; `probeCapabilities` and its Effect Schema
 *   `CapabilityReport`.
 * - Interrupt routing: `Vm.setGsiRouting` (`KvmIrqRouting`, `defaultIrqchipRoutes`, MSI and
 *   Hyper-V SINT entries), `Vm.irqfd` over an `EventFd` (signalled allocation-free with
 *   `eventfdSignal`), `Vm.hypervEventfd` (KVM_HYPERV_EVENTFD).
 * - vCPU threads: `Vcpu.attach(fd, mmapSize)` in a Worker, `installKickHandler` + `Vcpu.kick(thread)`
 *   to interrupt a synchronous KVM_RUN from another thread.
 * - `openKvmOrSkip` for tests.
 * @module
 */
export * from "./src/libc.ts";
export * from "./src/ioctls.ts";
export * from "./src/caps.ts";
export * from "./src/errors.ts";
export * from "./src/sys.ts";
export * from "./src/memory.ts";
export * from "./src/kick.ts";
export * from "./src/eventfd.ts";
export * from "./src/kvm.ts";
export * from "./src/vcpu.ts";
export * from "./src/probe.ts";
export * from "./src/structs/struct.ts";
export * from "./src/structs/regs.ts";
export * from "./src/structs/sregs.ts";
export * from "./src/structs/run.ts";
export * from "./src/structs/cpuid2.ts";
export * from "./src/structs/msrs.ts";
export * from "./src/structs/msr_filter.ts";
export * from "./src/structs/lapic.ts";
export * from "./src/structs/fpu.ts";
export * from "./src/structs/xcrs.ts";
export * from "./src/structs/xsave.ts";
export * from "./src/structs/debugregs.ts";
export * from "./src/structs/vcpu_events.ts";
export * from "./src/structs/memory_region.ts";
export * from "./src/structs/irq.ts";
export * from "./src/structs/irq_routing.ts";
export * from "./src/structs/mp_state.ts";
export * from "./src/structs/enable_cap.ts";
export * from "./src/structs/clock.ts";
