/**
 * `@hv/stimer-direct`: the `hv-stimer-direct` enlightenment (direct-mode synthetic timers).
 * @module
 */
export { stimerDirect } from "./src/stimer_direct.ts";
