/**
 * `@hv/spinlocks`: the `hv-spinlocks=N` enlightenment.
 * @module
 */
export { spinlocks, SpinlockRetries } from "./src/spinlocks.ts";
export { longSpinWaitOffered, spinlocksHandlers } from "./src/behaviour.ts";
