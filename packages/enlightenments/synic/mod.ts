/**
 * `@hv/synic`: the `hv-synic` enlightenment (synthetic interrupt controller).
 * @module
 */
export { synic, synicVpState } from "./src/synic.ts";
