/**
 * `@hv/emulator`: hv's emulator backend. KVM runs the guest CPU; the composed enlightenment packages
 * serve the Hyper-V interface in TypeScript. Deno only (KVM through FFI).
 * @module
 */
export * from "./src/policy.ts";
export * from "./src/probe_report.ts";
export * from "./src/probe_guest.ts";
export * from "./src/run.ts";
export * from "./src/crash_report.ts";
export * from "./src/session.ts";
export * from "./src/pause.ts";
