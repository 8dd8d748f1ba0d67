/**
 * `@hv/builtins`: the registry of hv's built-in enlightenment plugins (the 23 QEMU hv-* properties
 * hv implements plus hv-vendor-id), in output order, and lookup by name.
 * @module
 */
export { builtins, findBuiltin } from "./src/builtins.ts";
