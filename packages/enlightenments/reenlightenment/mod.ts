/**
 * `@hv/reenlightenment`: the `hv-reenlightenment` enlightenment (TSC frequency change notification).
 * @module
 */
export { reenlightenment } from "./src/reenlightenment.ts";
export {
  REENLIGHTENMENT,
  reenlightenmentHandlers,
  reenlightenmentNotify,
  reenlightenmentPartitionState,
  type ReenlightenmentViews,
  tscEmulationRequested,
} from "./src/behaviour.ts";
