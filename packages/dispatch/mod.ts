/**
 * `@hv/dispatch`: the exit-path core shared by hv's backends and the testkit. The partition MSRs
 * (GUEST_OS_ID, HYPERCALL, VP_INDEX), the MSR table with the generic #GP rules, and the hypercall
 * ABI (both calling conventions, fast/slow/rep/variable, checks in KVM's order), built once per
 * partition from a composition. Knows nothing of KVM.
 * @module
 */
export * from "./src/partition_msrs.ts";
export * from "./src/msr_dispatch.ts";
export * from "./src/hypercall_dispatch.ts";
export * from "./src/build.ts";
