/**
 * The crash report document hv writes when the guest reports a crash through the crash MSRs
 * (`hv-crash`): a stable, Schema-defined JSON file next to the run, so tooling can read it.
 * @module
 */
import { Schema } from "effect";
import type { GuestCrashReport } from "@hv/x86";

/**
 * `hv-crash-<time>.json`: schemaVersion 1; when (ISO time); the VP; CRASH_P0..P4 and CRASH_CTL as
 * 0x-hex u64 strings (JSON has no u64); the guest's message when it sent one; the guest OS
 * (profile and GUEST_OS_ID as composed); and how to read the parameters for Windows and Linux.
 */
export const CrashReportDocument = Schema.Struct({
  schemaVersion: Schema.Literal(1),
  time: Schema.String,
  vp: Schema.Number,
  parameters: Schema.Array(Schema.String),
  control: Schema.String,
  message: Schema.optional(Schema.String),
  profile: Schema.optional(Schema.String),
  meaning: Schema.String,
});
/** See {@link CrashReportDocument}. */
export type CrashReportDocument = typeof CrashReportDocument.Type;

const hex = (v: bigint) => `0x${v.toString(16).padStart(16, "0")}`;

/** Builds the document for `report`. */
export function crashDocument(report: GuestCrashReport, profile: string | undefined, now = new Date()): CrashReportDocument {
  return {
    schemaVersion: 1,
    time: now.toISOString(),
    vp: report.vp,
    parameters: report.parameters.map(hex),
    control: hex(report.control),
    ...(report.message !== undefined ? { message: report.message } : {}),
    ...(profile ? { profile } : {}),
    meaning: report.message !== undefined
      ? "CrashMessage: P3 = message GPA, P4 = length; the message is the guest's panic text"
      : "Windows: P0 = bugcheck code, P1..P4 = bugcheck parameters; Linux: P0 = error, P1 = guest id, P2 = RIP, P3 = RAX, P4 = RSP",
  };
}

/** Encodes the document as pretty JSON through its Schema. */
export const encodeCrashDocument = (d: CrashReportDocument): string =>
  JSON.stringify(Schema.encodeSync(CrashReportDocument)(d), null, 2) + "\n";
