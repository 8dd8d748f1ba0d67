/**
 * `@hv/vpindex`: the `hv-vpindex` enlightenment (part of the base).
 * @module
 */
export { vpindex } from "./src/vpindex.ts";
