/**
 * `@hv/x86`: the architecture core of hv. The CPUID table model with its merge rules, the MSR and
 * hypercall exit shapes, bounds-checked guest memory, the partition and VP views a plugin sees,
 * declared plugin state (shared, saved, restored and inspected for free), and the plugin contract.
 * Knows nothing of KVM.
 * @module
 */
export * from "./src/cpuid_table.ts";
export * from "./src/guest_memory.ts";
export * from "./src/state.ts";
export * from "./src/arena.ts";
export * from "./src/exit.ts";
export * from "./src/views.ts";
export * from "./src/plugin.ts";
export * from "./src/registers.ts";
export * from "./src/boot.ts";
