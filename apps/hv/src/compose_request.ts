/**
 * `hv compose`'s flags turned into an `@hv/compose` request, and the composition rendered in the
 * chosen format (with `--explain` reasons). Pure apart from the `Effect` failure channel, so the
 * command handler stays a thin shell.
 * @module
 */
import { Effect } from "effect";
import { builtins } from "@hv/builtins";
import { compose, type ComposeRequest, type Composition } from "@hv/compose";
import { commentLines, type Format, FORMATS, renderers } from "@hv/formats";
import { findProfile, profileNames, profileRequest } from "@hv/profiles";
import { UsageError } from "./usage.ts";
import { type Backend, BACKENDS, narrowToHosts, readHostReports } from "./host_narrow.ts";

/** The raw flag values of `hv compose`. */
export interface ComposeFlags {
  readonly profile?: string;
  readonly with: readonly string[];
  readonly without: readonly string[];
  readonly set: readonly string[];
  readonly format: string;
  readonly explain: boolean;
  readonly autoDeps: boolean;
  /** `hv doctor --json` reports to narrow to (`--host`, repeatable). */
  readonly host?: readonly string[];
  /** The backend the hosts must serve on (`--backend`, default passthrough). */
  readonly backend?: string;
}

/** `--with a,b --with c` -> `[a, b, c]` (trimmed, empty items dropped). */
export const splitList = (values: readonly string[]): string[] =>
  values.flatMap((v) => v.split(",")).map((s) => s.trim()).filter((s) => s !== "");

/** Validates `--format`. */
export const parseFormat = (format: string): Effect.Effect<Format, UsageError> =>
  (FORMATS as readonly string[]).includes(format)
    ? Effect.succeed(format as Format)
    : Effect.fail(new UsageError({ message: `unknown format '${format}'; valid: ${FORMATS.join(", ")}` }));

/** Parses each `--set name=value` / `name.param=value`; later values win. */
export const parseSets = (sets: readonly string[]): Effect.Effect<Record<string, string>, UsageError> =>
  Effect.gen(function* () {
    const out: Record<string, string> = {};
    for (const s of sets) {
      const eq = s.indexOf("=");
      if (eq <= 0) {
        return yield* Effect.fail(
          new UsageError({
            message: `malformed --set '${s}': expected name=value or name.param=value (e.g. --set spinlocks=0x1fff)`,
          }),
        );
      }
      out[s.slice(0, eq).trim()] = s.slice(eq + 1).trim();
    }
    return out;
  });

/** The compose request for the flags: the profile's set (if any), `--with`, `--without`, `--set`, `--auto-deps`. */
export const composeRequest = (flags: ComposeFlags): Effect.Effect<ComposeRequest, UsageError> =>
  Effect.gen(function* () {
    const requested: { name: string; reason: string }[] = [];
    let set: Record<string, string> = {};
    let version: ComposeRequest["version"];
    if (flags.profile !== undefined) {
      const p = findProfile(flags.profile);
      if (!p) {
        return yield* Effect.fail(
          new UsageError({ message: `unknown profile '${flags.profile}'; valid: ${profileNames().join(", ")}` }),
        );
      }
      const r = profileRequest(p, flags.profile);
      requested.push(...r.requested);
      set = { ...r.set };
      version = r.version;
    }
    for (const name of splitList(flags.with)) requested.push({ name, reason: "requested on the command line" });
    set = { ...set, ...(yield* parseSets(flags.set)) };
    return {
      registry: builtins,
      requested,
      without: splitList(flags.without),
      set,
      autoResolve: flags.autoDeps,
      ...(version ? { version } : {}),
    };
  });

/** `name  reason` lines, one per composed enlightenment (what `--explain` prints). */
export const reasonLines = (c: Composition): string[] => {
  const w = Math.max(0, ...c.enlightenments.map((e) => e.name.length));
  return c.enlightenments.map((e) => `${e.name.padEnd(w)}  ${e.reason}`);
};

/**
 * Renders `c` as `format`; with `explain`, the reasons follow a table under a heading, and precede
 * other formats as comments (JSON has no comments: its `reason` fields already carry them).
 */
export const renderComposition = (c: Composition, format: Format, explain: boolean): string => {
  const body = renderers[format](c);
  if (!explain) return body;
  const lines = reasonLines(c);
  if (format === "table") {
    return `${body}\nWhy each enlightenment is in the set:\n${lines.map((l) => `  ${l}`).join("\n")}\n`;
  }
  const comments = commentLines(format, ["Why each enlightenment is in the set:", ...lines]);
  return comments ? `${comments}\n${body}` : body;
};

/** Runs `hv compose`: flags -> request -> composition -> text; composition errors become usage errors. */
export const composeText = (flags: ComposeFlags): Effect.Effect<string, UsageError> =>
  Effect.gen(function* () {
    const format = yield* parseFormat(flags.format);
    const request = yield* composeRequest(flags);
    let c = yield* compose(request).pipe(Effect.mapError((e) => new UsageError({ message: e.message })));
    let notes = "";
    if (flags.host && flags.host.length > 0) {
      const backend = flags.backend ?? "passthrough";
      if (!(BACKENDS as readonly string[]).includes(backend)) {
        return yield* Effect.fail(new UsageError({ message: `unknown backend '${backend}'; valid: ${BACKENDS.join(", ")}` }));
      }
      const hosts = yield* readHostReports(flags.host);
      const n = yield* narrowToHosts(request, c, hosts, backend as Backend);
      c = n.composition;
      notes = n.dropped.map((d) => `dropped ${d.name}: ${d.reason}`).join("\n");
    }
    const text = renderComposition(c, format, flags.explain);
    if (!notes) return text;
    return format === "table" ? `${text.replace(/\n$/, "")}\n\n${notes}\n` : `${commentLines(format, notes.split("\n")) ?? ""}\n${text}`;
  });
