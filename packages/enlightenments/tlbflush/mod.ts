/**
 * `@hv/tlbflush`: the `hv-tlbflush` enlightenment (remote TLB flush hypercalls).
 * @module
 */
export { tlbflush } from "./src/tlbflush.ts";
export { tlbflushHandlers } from "./src/behaviour.ts";
