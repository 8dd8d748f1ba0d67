/**
 * `@hv/syndbg`: the `hv-syndbg` enlightenment (synthetic kernel debugger, passthrough only).
 * @module
 */
export { syndbg } from "./src/syndbg.ts";
