/**
 * `@hv/tlbflush-direct`: the `hv-tlbflush-direct` enlightenment (nested direct TLB flush, passthrough only).
 * @module
 */
export { tlbflushDirect } from "./src/tlbflush_direct.ts";
