/**
 * Test helper: open /dev/kvm or say why not, so KVM tests skip (with the reason printed) only when
 * the device cannot be opened, never silently (`Deno.statSync` guards were silently ignored without
 * --allow-all; toolchain.md §6).
 *
 * ```ts
 * const probe = openKvmOrSkip();
 * if (!probe.kvm) console.log(`skipping KVM tests: ${probe.reason}`);
 * Deno.test({ name: "...", ignore: !probe.kvm, fn() { ... } });
 * ```
 * @module
 */
import { KvmUnavailable } from "./errors.ts";
import { Kvm } from "./kvm.ts";

/** Either an open {@link Kvm} or the reason it could not be opened (KvmUnavailable's message). */
export type KvmProbe = { readonly kvm: Kvm; readonly reason?: undefined } | {
  readonly kvm?: undefined;
  readonly reason: string;
};

/** Tries {@link Kvm.open}; returns the Kvm, or `{ reason }` on KvmUnavailable (other errors propagate). */
export function openKvmOrSkip(path = "/dev/kvm"): KvmProbe {
  try {
    return { kvm: Kvm.open(path) };
  } catch (e) {
    if (e instanceof KvmUnavailable) return { reason: e.message };
    throw e;
  }
}
