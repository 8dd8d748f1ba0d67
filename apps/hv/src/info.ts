/**
 * `hv list` and `hv explain <name>` as text.
 * @module
 */
import { Effect } from "effect";
import { builtins, findBuiltin } from "@hv/builtins";
import { columns, renderExplain, versionText } from "@hv/formats";
import { findProfile, type Profile, profileNames, profiles } from "@hv/profiles";
import { UsageError } from "./usage.ts";

/** Every enlightenment (name, summary) and every profile (name, aliases, title), one line each. */
export const listText = (): string => {
  const enl = columns(builtins.map((p) => [`  ${p.name}`, p.summary]));
  const prof = columns(
    profiles.map((p) => [`  ${p.name}`, p.aliases.length ? `(${p.aliases.join(", ")})` : "", p.title]),
  );
  return `Enlightenments (${builtins.length}):\n${enl}\n\nProfiles (${profiles.length}):\n${prof}\n`;
};

/** A profile: its members with why and source, the version it reports, GUEST_OS_ID, notes. */
export const explainProfile = (p: Profile): string => {
  const out = [`${p.name}${p.aliases.length ? ` (aliases: ${p.aliases.join(", ")})` : ""}: ${p.title}`, ""];
  out.push(`Hypervisor version: ${versionText(p.version)}`);
  if (p.spinlockRetries !== undefined) {
    out.push(`Spinlock retries:   0x${p.spinlockRetries.toString(16)} (${p.spinlockRetries})`);
  }
  if (p.guestOsId !== undefined) out.push(`GUEST_OS_ID:        ${p.guestOsId} (written by the guest)`);
  out.push("", `Enlightenments (${p.enlightenments.length}):`);
  const w = Math.max(...p.enlightenments.map((e) => e.name.length));
  for (const e of p.enlightenments) {
    out.push(`  ${e.name.padEnd(w)}  ${e.why}`);
    out.push(`  ${"".padEnd(w)}  source: ${e.source}`);
  }
  if (p.notes.length) {
    out.push("", "Notes:");
    for (const n of p.notes) out.push(`  - ${n}`);
  }
  out.push("", `Compose it with: hv compose --profile ${p.name} [--format qemu|libvirt|kubevirt|json|cpuid]`);
  return out.join("\n") + "\n";
};

/** `hv explain <name>`: an enlightenment first, else a profile (name or alias), else a usage error. */
export const explainText = (name: string): Effect.Effect<string, UsageError> => {
  const plugin = findBuiltin(name.trim().toLowerCase());
  if (plugin) return Effect.succeed(renderExplain(plugin, { registry: builtins }));
  const profile = findProfile(name);
  if (profile) return Effect.succeed(explainProfile(profile));
  return Effect.fail(
    new UsageError({
      message: `unknown enlightenment or profile '${name}'; valid enlightenments: ${
        builtins.map((p) => p.name).join(", ")
      }; valid profiles: ${profileNames().join(", ")}`,
    }),
  );
};
