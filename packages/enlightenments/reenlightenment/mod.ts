/**
 * `@hv/reenlightenment`: the `hv-reenlightenment` enlightenment (TSC frequency change notification).
 * @module
 */
export { reenlightenment } from "./src/reenlightenment.ts";
export {
  REENLIGHTENMENT,
  reenlightenmentHandlers,
  reenlightenmentNotify,
  ReenlightenmentNotice,
  reenlightenmentPartitionState,
  type ReenlightenmentViews,
  tscEmulationInProgress,
  tscEmulationRequested,
} from "./src/behaviour.ts";
