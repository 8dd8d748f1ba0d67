/**
 * `@hv/machine`: the hv virtual machine on KVM (Deno only, `--allow-ffi`). Guest RAM, one Worker per
 * vCPU with synchronous KVM_RUN, the exit loop, QEMU-compatible devices, multiboot/ELF64 boot, and
 * failure reports.
 * @module
 */
export * from "./src/machine.ts";
export * from "./src/guest_cpuid.ts";
export * from "./src/protocol.ts";
export * from "./src/hv_partition.ts";
export * from "./src/timers.ts";
export * from "./src/power_cycle.ts";
export * from "./src/snapshot.ts";
export * from "./src/vcpu_state.ts";
