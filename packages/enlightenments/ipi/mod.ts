/**
 * `@hv/ipi`: the `hv-ipi` enlightenment (PV IPI hypercalls), and the HV_VP_SET decoder the Ex
 * hypercalls share (also used by `@hv/tlbflush`).
 * @module
 */
export { ipi } from "./src/ipi.ts";
export { ipiHandlers } from "./src/behaviour.ts";
export {
  allVpIndices,
  appendBankVps,
  HV_VP_SET_MAX_VPS,
  inputU32,
  readInputVpSet,
  readVpSet,
  readVpSetFast,
  VP_SET_ALL,
  VP_SET_INVALID,
  VP_SET_UNKNOWN_FORMAT,
} from "./src/vp_set.ts";
