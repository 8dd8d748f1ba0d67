/**
 * `@hv/xmm-input`: the `hv-xmm-input` enlightenment (XMM fast hypercall input).
 * @module
 */
export { xmmInput } from "./src/xmm_input.ts";
