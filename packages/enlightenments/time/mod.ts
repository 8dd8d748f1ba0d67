/**
 * `@hv/time`: the `hv-time` enlightenment (reference counter and reference TSC page).
 * @module
 */
export { time, timePartitionState } from "./src/time.ts";
