/**
 * `hv compose --host report.json [--host ...] [--backend passthrough|emulator]`: narrows a
 * composition to what every named host can serve on that backend (the intersection, so one
 * composition is safe to live-migrate across a fleet), and says what was dropped and why.
 * Verdicts are recomputed from each report's capabilities and `KVM_GET_SUPPORTED_HV_CPUID` with this
 * hv's plugin definitions, so reports written by another hv version still apply.
 * @module
 */
import { readFileSync } from "node:fs";
import { Cause, Effect, Exit } from "effect";
import { compose, type ComposeRequest, type Composition } from "@hv/compose";
import { backendVerdicts, decodeHostReport, type Dropped, type HostReport, narrowSet, pluginVerdicts } from "@hv/host";
import { UsageError } from "./usage.ts";

/** The backends a composition can be narrowed for. */
export const BACKENDS = ["passthrough", "emulator"] as const;
/** One of {@link BACKENDS}. */
export type Backend = typeof BACKENDS[number];

/** Reads and validates the `--host` files: one clear message for an unreadable or malformed one. */
export const readHostReports = (paths: readonly string[]): Effect.Effect<{ path: string; report: HostReport }[], UsageError> =>
  Effect.forEach(paths, (path) =>
    Effect.gen(function* () {
      let text: string;
      try {
        text = readFileSync(path, "utf8");
      } catch (e) {
        return yield* Effect.fail(new UsageError({ message: `cannot read --host ${path}: ${e instanceof Error ? e.message : String(e)}` }));
      }
      const r = decodeHostReport(text);
      if (Exit.isFailure(r)) {
        return yield* Effect.fail(
          new UsageError({
            message: `--host ${path} is not an 'hv doctor --json' report: ${(Cause.squash(r.cause) as Error).message.split("\n")[0]}`,
          }),
        );
      }
      return { path, report: r.value };
    }));

/**
 * Narrows `c` (composed from `request`) to what every host serves on `backend`; returns the new
 * composition and what was dropped (with the host and reason), or the same composition when nothing was.
 */
export const narrowToHosts = (
  request: ComposeRequest,
  c: Composition,
  hosts: readonly { path: string; report: HostReport }[],
  backend: Backend,
): Effect.Effect<{ composition: Composition; dropped: Dropped[] }, UsageError> =>
  Effect.gen(function* () {
    const registry = new Map(request.registry.map((p) => [p.name, p] as const));
    const verdicts = hosts.map(({ path, report }) => {
      const b = backendVerdicts(report.kvm.available, report.kvm.reason, report.kvm.caps);
      return { label: report.host.hostname ?? path, backends: b, report };
    });
    const unusable = verdicts.find((v) => !v.backends[backend].ok);
    if (unusable) {
      const other = backend === "passthrough" ? "emulator" : "passthrough";
      return yield* Effect.fail(
        new UsageError({
          message: `host ${unusable.label} cannot run the ${backend} backend at all (${unusable.backends[backend].reason}); try --backend ${other}`,
        }),
      );
    }
    const { kept, dropped } = narrowSet(
      registry,
      c.enlightenments.map((e) => e.name),
      (p) => {
        for (const v of verdicts) {
          const r = pluginVerdicts(p, v.backends, v.report.kvm.caps, v.report.supportedHvCpuid)[backend];
          if (!r.ok) return `host ${v.label} (${backend}): ${r.reason}`;
        }
        return undefined;
      },
      "a host cannot serve",
    );
    if (dropped.length === 0) return { composition: c, dropped: [] };
    const reasons = new Map(c.enlightenments.map((e) => [e.name, e.reason] as const));
    const set = Object.fromEntries(Object.entries(request.set ?? {}).filter(([k]) => kept.includes(k.split(".")[0])));
    const narrowed = yield* compose({ ...request, requested: kept.map((name) => ({ name, reason: reasons.get(name)! })), without: [], set, autoResolve: false })
      .pipe(Effect.mapError((e) => new UsageError({ message: e.message })));
    return { composition: narrowed, dropped: [...dropped] };
  });
