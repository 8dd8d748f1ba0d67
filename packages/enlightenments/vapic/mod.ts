/**
 * `@hv/vapic`: the `hv-vapic` enlightenment (APIC access MSRs and VP assist page).
 * @module
 */
export { vapic, vapicVpState } from "./src/vapic.ts";
export { VAPIC, vapicHandlers } from "./src/behaviour.ts";
