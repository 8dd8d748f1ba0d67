/**
 * `@hv/reset`: the `hv-reset` enlightenment (reset MSR).
 * @module
 */
export { reset } from "./src/reset.ts";
export { RESET, resetHandlers } from "./src/behaviour.ts";
