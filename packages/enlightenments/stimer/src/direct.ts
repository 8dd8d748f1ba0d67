/**
 * Whether a partition allows direct-mode synthetic timers (STIMERn_CONFIG bit 12), i.e. whether the
 * composition advertises 0x40000003.EDX[19] DirectSyntheticTimers (the `stimer-direct` plugin).
 *
 * `PartitionView` does not expose the composition's CPUID, so two sources are used:
 * - a backend whose partition has an `advertised(bit)` accessor answers directly (the proposed
 *   `PartitionView.advertised`, see the README);
 * - otherwise `stimer-direct`'s `create` calls {@link allowDirectStimers} for the partition it is
 *   built on. Every backend builds every composed plugin on every thread (vCPU workers, the timer
 *   thread, the testkit) before the guest runs, so by the first WRMSR the answer is settled.
 *
 * The set is keyed by the `PartitionView` object (weakly), exactly as `vp.partition` hands it to the
 * handlers. Exit-path safe: a WeakSet lookup, no allocation.
 * @module
 */
import { type CpuidBit, HvFeatureEdx } from "@hv/tlfs";
import type { PartitionView } from "@hv/x86";

const allowed = new WeakSet<PartitionView>();

/** A partition view that may answer CPUID questions itself (the proposed `PartitionView.advertised`). */
type MaybeAdvertised = PartitionView & { readonly advertised?: (bit: CpuidBit) => boolean };

/**
 * Records that `partition` advertises DirectSyntheticTimers (0x40000003.EDX[19]). Called by
 * `stimer-direct`'s `create`; edge code.
 */
export function allowDirectStimers(partition: PartitionView): void {
  allowed.add(partition);
}

/** Whether STIMERn_CONFIG may set direct mode (bit 12) on `partition`; otherwise such a write #GPs. */
export function directStimersAllowed(partition: PartitionView): boolean {
  const advertised = (partition as MaybeAdvertised).advertised;
  if (typeof advertised === "function") return advertised.call(partition, HvFeatureEdx.DirectSyntheticTimers);
  return allowed.has(partition);
}
