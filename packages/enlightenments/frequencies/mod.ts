/**
 * `@hv/frequencies`: the `hv-frequencies` enlightenment (TSC/APIC frequency MSRs).
 * @module
 */
export { frequencies } from "./src/frequencies.ts";
export { frequenciesHandlers, setHz } from "./src/behaviour.ts";
