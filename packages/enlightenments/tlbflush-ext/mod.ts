/**
 * `@hv/tlbflush-ext`: the `hv-tlbflush-ext` enlightenment (extended GVA ranges for flushes).
 * @module
 */
export { tlbflushExt } from "./src/tlbflush_ext.ts";
