/**
 * `@hv/emsr-bitmap`: the `hv-emsr-bitmap` enlightenment (enlightened MSR bitmap, passthrough only).
 * @module
 */
export { emsrBitmap } from "./src/emsr_bitmap.ts";
