/**
 * `@hv/stimer`: the `hv-stimer` enlightenment (synthetic timers): its MSRs, host timers and expiry
 * delivery (SynIC messages, or APIC vectors in direct mode with `stimer-direct`).
 * @module
 */
export { stimer, stimerVpState } from "./src/stimer.ts";
export {
  STIMER_CATCH_UP_LIMIT,
  STIMER_CATCH_UP_MAX_SPACING_NS,
  STIMER_OWNER,
  type StimerHandlers,
  stimerHandlers,
  StimerPending,
} from "./src/behaviour.ts";
export { allowDirectStimers, directStimersAllowed } from "./src/direct.ts";
