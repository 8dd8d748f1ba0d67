/**
 * `@hv/stimer`: the `hv-stimer` enlightenment (synthetic timers).
 * @module
 */
export { stimer, stimerVpState } from "./src/stimer.ts";
