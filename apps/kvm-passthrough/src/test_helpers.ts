/**
 * Test helpers: compositions the tests share (a profile, or a list of names), built exactly as
 * `hv run` builds them (`@hv/builtins`, `@hv/profiles`' `profileRequest`).
 * @module
 */
import { Effect } from "effect";
import { builtins } from "@hv/builtins";
import { type ComposeRequest, type Composition, compose } from "@hv/compose";
import { findProfile, profileRequest } from "@hv/profiles";

/** The compose request `hv run --profile <name>` makes (throws on an unknown profile). */
export function profileComposeRequest(name: string): ComposeRequest {
  const p = findProfile(name);
  if (!p) throw new Error(`no profile ${name}`);
  return { registry: builtins, ...profileRequest(p, name) };
}

/** The composition of profile `name` (win10 = Proxmox's win10 set, profiles.md (c) column A). */
export const composeProfile = (name: string): Composition => Effect.runSync(compose(profileComposeRequest(name)));

/** The composition of exactly `names` (plus the base), with `set` parameters; dependencies must be listed. */
export const composeNames = (names: readonly string[], set: Readonly<Record<string, string>> = {}): Composition =>
  Effect.runSync(compose({ registry: builtins, requested: names.map((name) => ({ name, reason: "test" })), set }));

/**
 * profiles.md (c) column B, virt-install on an Intel host: relaxed, vapic, spinlocks 8191, time,
 * vpindex, runtime, synic, stimer, frequencies, tlbflush, ipi, evmcs, avic.
 */
export const VIRT_INSTALL_INTEL = ["relaxed", "vapic", "spinlocks", "time", "vpindex", "runtime", "synic", "stimer", "frequencies", "tlbflush", "ipi", "evmcs", "avic"] as const;
