/**
 * The passthrough backend's setup error, shared by `setup.ts` (per-vCPU configuration) and
 * `sint_routes.ts` (SynIC interrupt routes), which is why it lives on its own.
 * @module
 */
import { Schema } from "effect";

/**
 * A failure while setting up a VM the preflight accepted (the kernel changed its mind, or reports
 * something the preflight cannot see): `vcpu` (or -1 for the VM), `step` (the ioctl and capability,
 * e.g. "KVM_SET_GSI_ROUTING"), `message` for the person at the command line.
 */
export class PassthroughSetupError extends Schema.TaggedError<PassthroughSetupError>()("PassthroughSetupError", {
  vcpu: Schema.Number,
  step: Schema.String,
  message: Schema.String,
}) {}
