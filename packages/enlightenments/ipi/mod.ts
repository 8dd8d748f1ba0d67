/**
 * `@hv/ipi`: the `hv-ipi` enlightenment (PV IPI hypercalls).
 * @module
 */
export { ipi } from "./src/ipi.ts";
