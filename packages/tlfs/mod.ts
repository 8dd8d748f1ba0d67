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
export * from "./src/status.ts";
export * from "./src/bits.ts";
export * from "./src/struct.ts";
export * from "./src/hypercall_abi.ts";
export * from "./src/overlay_page.ts";
export * from "./src/tsc_page.ts";
export * from "./src/vp_assist.ts";
export * from "./src/synic.ts";
export * from "./src/stimer.ts";
export * from "./src/crash.ts";
export * from "./src/reenlightenment.ts";
export * from "./src/vp_set.ts";
export * from "./src/flush.ts";
export * from "./src/ipi.ts";
export * from "./src/synic_hypercalls.ts";
export * from "./src/guest_os_id.ts";
