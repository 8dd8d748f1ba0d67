/**
 * `@hv/host`: what a host can serve. The `hv doctor` report as a Schema'd document and the pure
 * per-enlightenment verdicts for the emulator and the passthrough backend (used by `hv doctor` on
 * this host and by `hv compose --host` on reports from others). Probing a live host is in
 * `@hv/host/probe` (Deno only).
 * @module
 */
export * from "./src/report.ts";
export * from "./src/verdicts.ts";
export * from "./src/narrow.ts";
