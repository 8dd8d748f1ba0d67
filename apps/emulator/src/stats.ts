/**
 * The run's interrupt statistics, from the machine's per-vCPU counters (`EXIT_COUNTERS` of
 * `@hv/machine`): what hv's userspace APIC injected and how many EOIs it completed for the guest
 * through the VP assist page (exit-less EOI: the guest skipped the EOI write).
 * @module
 */

/**
 * One stderr line, or undefined when nothing was injected (KVM's in-kernel irqchip, or a guest that
 * took no interrupt): "hv: userspace APIC: N interrupts injected, exit-less EOIs: M (vCPU0 a, vCPU1 b)".
 */
export function interruptSummary(exits: readonly Readonly<Record<string, number>>[]): string | undefined {
  const sum = (k: string) => exits.reduce((n, e) => n + (e?.[k] ?? 0), 0);
  const injected = sum("injected");
  if (injected === 0) return undefined;
  const per = exits.map((e, i) => `vCPU${i} ${e?.exitless_eoi ?? 0}`).join(", ");
  return `hv: userspace APIC: ${injected} interrupts injected, exit-less EOIs: ${sum("exitless_eoi")} (${per})`;
}
