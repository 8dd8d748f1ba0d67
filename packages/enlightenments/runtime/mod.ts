/**
 * `@hv/runtime`: the `hv-runtime` enlightenment (VP run time MSR).
 * @module
 */
export { runtime } from "./src/runtime.ts";
