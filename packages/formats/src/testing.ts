/**
 * Test helpers: compositions built with the real `compose` and the built-in plugins.
 * @module
 */
import { Effect } from "effect";
import { builtins } from "@hv/builtins";
import { compose, type Composition, type HvVersion } from "@hv/compose";

/** Composes `names` (reason "test"), adding dependencies; throws on a compose error. */
export const composeNames = (
  names: readonly string[],
  set: Readonly<Record<string, string>> = {},
  version?: HvVersion,
): Composition =>
  Effect.runSync(
    compose({
      registry: builtins,
      requested: names.map((name) => ({ name, reason: "test" })),
      set,
      autoResolve: true,
      ...(version ? { version } : {}),
    }),
  );

/**
 * The fixture most tests render: parameters (spinlocks 0x2000, vendor id), a child under its parent
 * (stimer-direct, tlbflush-ext), a clock timer (time), a panic device (crash), something libvirt
 * and KubeVirt cannot express (syndbg), extra leaves (syndbg), and dependencies added.
 */
export const fixture = (): Composition =>
  composeNames(
    ["relaxed", "spinlocks", "stimer-direct", "crash", "vendor-id", "syndbg", "tlbflush-ext", "xmm-input"],
    { spinlocks: "0x2000", "vendor-id": "hv-test" },
  );

/** A small one: relaxed and spinlocks (plus the base's vpindex). */
export const small = (): Composition => composeNames(["relaxed", "spinlocks"]);
