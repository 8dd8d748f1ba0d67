/**
 * `@hv/relaxed`: the `hv-relaxed` enlightenment (CPUID only).
 * @module
 */
export { relaxed } from "./src/relaxed.ts";
