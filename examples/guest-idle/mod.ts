/**
 * `@example/hv-guest-idle`: the worked example of `docs/plugin-authoring.md`, a third-party
 * enlightenment for HV_X64_MSR_GUEST_IDLE.
 * @module
 */
export { guestIdle, guestIdleVpState } from "./src/guest_idle.ts";
