/**
 * `@hv/crash`: the `hv-crash` enlightenment (guest crash reporting MSRs).
 * @module
 */
export { crash, crashPartitionState } from "./src/crash.ts";
