/**
 * `@hv/evmcs`: the `hv-evmcs` enlightenment (enlightened VMCS, passthrough only).
 * @module
 */
export { evmcs } from "./src/evmcs.ts";
