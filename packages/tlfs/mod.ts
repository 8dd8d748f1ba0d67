/**
 * `@hv/tlfs`: the Microsoft Hypervisor Top-Level Functional Specification (TLFS) as data.
 *
 * CPUID leaves and bits, synthetic MSR indices, hypercall codes, `HV_STATUS_*` values, and the
 * layouts of the structures the guest and hypervisor share. No behaviour and no dependencies:
 * every other hv package spells a TLFS number only through this package.
 * @module
 */
export * from "./src/cpuid.ts";
export * from "./src/msr.ts";
export * from "./src/hypercall_codes.ts";
