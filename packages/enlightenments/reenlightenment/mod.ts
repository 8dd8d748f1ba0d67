/**
 * `@hv/reenlightenment`: the `hv-reenlightenment` enlightenment (TSC frequency change notification).
 * @module
 */
export { reenlightenment, reenlightenmentPartitionState } from "./src/reenlightenment.ts";
