/**
 * `@hv/time`: the `hv-time` enlightenment (reference counter and reference TSC page).
 * @module
 */
export { time, timePartitionState, timeVpState } from "./src/time.ts";
export {
  loadReferenceParams,
  referenceParams,
  type ReferenceParams,
  TIME_OWNER,
  timeHandlers,
  tscChangeParams,
} from "./src/behaviour.ts";
export { add64, mulHi64, nextTscSequence, referenceTime, referenceTscScale, splitTsc } from "./src/ref_time.ts";
export { LastReturned, type LastSlot, loadLast, storeLast } from "./src/monotonic.ts";
