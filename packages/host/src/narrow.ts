/**
 * Narrowing a resolved set to what can be served: each name either stays or is dropped with a
 * reason, and whatever depends (directly or not) on a dropped name is dropped too, naming it.
 * Used by the emulator (what it serves) and by `hv compose --host` (what a fleet can serve).
 * @module
 */
import type { AnyPlugin } from "@hv/x86";

/** A dropped name and why. */
export interface Dropped {
  readonly name: string;
  readonly reason: string;
}

/**
 * Splits `names` (dependency-closed, in order) by `why(plugin)`: undefined keeps it, a string drops
 * it with that reason. Dependents of dropped names are dropped with "it requires X, which ...".
 */
export function narrowSet(
  registry: ReadonlyMap<string, AnyPlugin>,
  names: readonly string[],
  why: (p: AnyPlugin) => string | undefined,
  what = "is not served",
): { readonly kept: readonly string[]; readonly dropped: readonly Dropped[] } {
  const out = new Map<string, string>();
  for (const n of names) {
    const r = why(registry.get(n)!);
    if (r !== undefined) out.set(n, r);
  }
  for (let changed = true; changed;) {
    changed = false;
    for (const n of names) {
      if (out.has(n)) continue;
      const dep = registry.get(n)!.requires.find((d) => out.has(d));
      if (dep) {
        out.set(n, `it requires ${dep}, which ${what}`);
        changed = true;
      }
    }
  }
  return { kept: names.filter((n) => !out.has(n)), dropped: [...out].map(([name, reason]) => ({ name, reason })) };
}
