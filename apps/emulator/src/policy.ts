/**
 * What the emulator agrees to serve. A plugin is served when the emulator can give the guest its
 * whole TLFS behaviour: CPUID-only plugins (no MSRs, no hypercalls) and plugins with behaviour
 * (`create`). Plugins the emulator can never serve (`emulator.supported: false`, e.g. evmcs) are
 * refused with their reason; plugins whose behaviour is not written yet are left out with a notice,
 * together with everything that depends on them, because advertising an enlightenment and then
 * #GP-ing its MSRs is worse for a guest than not advertising it.
 * @module
 */
import { emulatorServes, narrowSet } from "@hv/host";
import type { AnyPlugin } from "@hv/x86";

/** Why a requested plugin is not in the emulator's set. */
export interface LeftOut {
  readonly name: string;
  readonly reason: string;
}

/** The emulator's verdict on a requested set: names it serves, names left out (with why), names refused. */
export interface EmulatorPlan {
  readonly served: readonly string[];
  readonly leftOut: readonly LeftOut[];
  readonly refused: readonly LeftOut[];
}

export { emulatorServes };

/** Why a plugin that acts on the local APIC is refused with KVM's in-kernel irqchip. */
export const NEEDS_USERSPACE_APIC =
  "it needs hv's userspace local APIC (auto-EOI and exit-less EOI cannot be honoured through KVM's in-kernel LAPIC); run without --kernel-irqchip on";

/**
 * Splits `names` (a resolved, dependency-closed set) into served, left out and refused. A plugin that
 * depends, directly or not, on one that is not served is left out too, naming the missing one.
 * With `irqchip` "kernel" (KVM's in-kernel irqchip), plugins marked `emulator.userspaceApic` are
 * refused with {@link NEEDS_USERSPACE_APIC}.
 */
export function planEmulator(
  registry: ReadonlyMap<string, AnyPlugin>,
  names: readonly string[],
  irqchip: "userspace" | "kernel" = "userspace",
): EmulatorPlan {
  const why = (p: AnyPlugin): string | undefined =>
    !p.emulator.supported ? p.emulator.reason : irqchip === "kernel" && p.emulator.userspaceApic ? NEEDS_USERSPACE_APIC : undefined;
  const refused = names.map((n) => registry.get(n)!).flatMap((p) => {
    const reason = why(p);
    return reason === undefined ? [] : [{ name: p.name, reason }];
  });
  const { kept, dropped } = narrowSet(
    registry,
    names,
    (p) => (why(p) !== undefined ? "refused" : emulatorServes(p) ? undefined : "its package has no emulator behaviour yet"),
    "the emulator does not serve",
  );
  return { served: kept, leftOut: dropped.filter((d) => d.reason !== "refused"), refused };
}
