/**
 * `@hv/runtime`: the `hv-runtime` enlightenment (VP run time MSR).
 * @module
 */
export { runtime } from "./src/runtime.ts";
export { nextVpRuntime, RUNTIME, runtimeHandlers, type RuntimeVpViews, runtimeVpState } from "./src/behaviour.ts";
