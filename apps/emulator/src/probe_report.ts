/**
 * The probe guest's report (tools/guests/README.md): lines `@@hvprobe-start {...}`, one
 * `@@hvprobe {...}` per check, `@@hvprobe-done {...}`, parsed with Schemas (the guest is hostile:
 * a malformed line is kept as a parse problem, never thrown), and rendered as the table `hv run` prints.
 * @module
 */
import { Exit, Schema } from "effect";

/** One check: its id, enlightenment, verdict, what the guest saw and expected, and costs in TSC cycles (-1: not measured). */
export const ProbeCheck = Schema.Struct({
  check: Schema.String,
  enl: Schema.String,
  ok: Schema.Boolean,
  saw: Schema.String,
  expect: Schema.optional(Schema.String),
  cycles: Schema.optional(Schema.Number),
  ref: Schema.optional(Schema.Number),
  skip: Schema.optional(Schema.Boolean),
});
/** See {@link ProbeCheck}. */
export type ProbeCheck = typeof ProbeCheck.Type;

/** The closing line's counts. */
export const ProbeDone = Schema.Struct({ passed: Schema.Number, failed: Schema.Number, skipped: Schema.optional(Schema.Number) });

/** Everything read from the guest's serial output. */
export interface ProbeReport {
  started: boolean;
  checks: ProbeCheck[];
  done?: typeof ProbeDone.Type;
  problems: string[];
}

/** An empty report to feed lines into. */
export const newProbeReport = (): ProbeReport => ({ started: false, checks: [], problems: [] });

const decodeCheck = Schema.decodeUnknownExit(Schema.fromJsonString(ProbeCheck));
const decodeSkip = Schema.decodeUnknownExit(Schema.fromJsonString(Schema.Struct({ check: Schema.String, enl: Schema.String, reason: Schema.String })));
const decodeDone = Schema.decodeUnknownExit(Schema.fromJsonString(ProbeDone));

/** Feeds one serial line (without its newline); other lines are ignored. */
export function feedProbeLine(r: ProbeReport, line: string): void {
  const l = line.replace(/\r$/, "");
  if (l.startsWith("@@hvprobe-start")) {
    r.started = true;
  } else if (l.startsWith("@@hvprobe-done ")) {
    const d = decodeDone(l.slice("@@hvprobe-done ".length));
    if (Exit.isSuccess(d)) r.done = d.value;
    else r.problems.push(`malformed done line: ${l.slice(0, 200)}`);
  } else if (l.startsWith("@@hvprobe-skip ")) {
    const c = decodeSkip(l.slice("@@hvprobe-skip ".length));
    if (Exit.isSuccess(c)) r.checks.push({ check: c.value.check, enl: c.value.enl, ok: true, skip: true, saw: c.value.reason });
    else r.problems.push(`malformed skip line: ${l.slice(0, 200)}`);
  } else if (l.startsWith("@@fatal")) {
    r.problems.push(`the probe hit an unexpected exception: ${l.slice(0, 300)}`);
  } else if (l.startsWith("@@hvprobe ")) {
    const c = decodeCheck(l.slice("@@hvprobe ".length));
    if (Exit.isSuccess(c)) r.checks.push(c.value);
    else r.problems.push(`malformed check line: ${l.slice(0, 200)}`);
  }
}

/** Whether the report is complete and every check passed. */
export const probePassed = (r: ProbeReport): boolean =>
  r.started && r.done !== undefined && r.problems.length === 0 && r.checks.every((c) => c.ok || c.skip === true);

const cost = (c: ProbeCheck) =>
  c.cycles === undefined || c.cycles < 0 ? "" : c.ref !== undefined && c.ref >= 0 ? `${c.cycles} vs ${c.ref} cycles` : `${c.cycles} cycles`;

/** The table `hv run` prints: enlightenment, check, verdict, what the guest saw, cost (vs. non-enlightened). */
export function renderProbeTable(r: ProbeReport): string {
  const rows = r.checks.map((c) => [c.enl, c.check, c.skip ? "skip" : c.ok ? "pass" : "FAIL", c.saw, cost(c)]);
  const head = ["ENLIGHTENMENT", "CHECK", "RESULT", "GUEST SAW", "COST"];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const fmt = (row: string[]) => row.map((s, i) => (i === row.length - 1 ? s : s.padEnd(w[i]))).join("  ").trimEnd();
  const lines = [fmt(head), ...rows.map(fmt)];
  const passed = r.checks.filter((c) => c.ok && !c.skip).length;
  const failed = r.checks.filter((c) => !c.ok && !c.skip).length;
  const skipped = r.checks.filter((c) => c.skip).length;
  lines.push("", `${passed} passed, ${failed} failed, ${skipped} skipped`);
  if (!r.started) lines.push("the probe never started (no @@hvprobe-start line)");
  else if (!r.done) lines.push("the probe did not finish (no @@hvprobe-done line)");
  for (const p of r.problems) lines.push(p);
  return lines.join("\n");
}
