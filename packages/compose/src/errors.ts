/**
 * The tagged errors composition can fail with. Each carries a `message` written for the person at
 * the command line: what is wrong, and the valid choices or the fix.
 * @module
 */
import { Schema } from "effect";

/** A requested, removed or `--set` name that no registered plugin has. `valid` lists the known names. */
export class UnknownEnlightenment extends Schema.TaggedError<UnknownEnlightenment>()("UnknownEnlightenment", {
  name: Schema.String,
  valid: Schema.Array(Schema.String),
  message: Schema.String,
}) {}

/**
 * A plugin in the set whose hard dependency is not (QEMU: "Hyper-V X requires Hyper-V Y"), either
 * because it was not requested or because `--without` removed it. `removed` is true in the latter case.
 */
export class MissingDependency extends Schema.TaggedError<MissingDependency>()("MissingDependency", {
  name: Schema.String,
  missing: Schema.String,
  removed: Schema.Boolean,
  message: Schema.String,
}) {}

/** Two plugins claiming one MSR, hypercall code or whole CPUID register. `what` names the resource. */
export class ClaimConflict extends Schema.TaggedError<ClaimConflict>()("ClaimConflict", {
  what: Schema.String,
  first: Schema.String,
  second: Schema.String,
  message: Schema.String,
}) {}

/** A malformed or out-of-range parameter (`--set spinlocks=banana`), or one for a plugin not in the set. */
export class InvalidParameter extends Schema.TaggedError<InvalidParameter>()("InvalidParameter", {
  name: Schema.String,
  param: Schema.String,
  value: Schema.String,
  message: Schema.String,
}) {}

/** A composition that would show the guest a privilege it must never see (AccessPartitionId, CpuManagement, ...). */
export class ForbiddenPrivilege extends Schema.TaggedError<ForbiddenPrivilege>()("ForbiddenPrivilege", {
  privilege: Schema.String,
  owner: Schema.String,
  message: Schema.String,
}) {}

/** Any composition failure. */
export type ComposeError = UnknownEnlightenment | MissingDependency | ClaimConflict | InvalidParameter | ForbiddenPrivilege;
