/**
 * Guest resets as power cycles. When the guest resets the VM (HV_X64_MSR_RESET through `hv-reset`,
 * or KVM_EXIT_SYSTEM_EVENT with KVM_SYSTEM_EVENT_RESET), {@link runMachineWithResets} tears the
 * machine down and builds it again from the same {@link MachineConfig}: a fresh KVM VM and vCPUs,
 * guest RAM reloaded from the kernel image, fresh plugin state arenas and fresh devices. Only what
 * is battery-backed on a PC survives: the RTC/CMOS state (its NVRAM), shared by every boot. The
 * run's `timeoutSeconds` bounds all boots together, and at most `maxResets` resets are served;
 * the next one ends the run with the reset outcome (as QEMU's `-no-reboot` does for every reset).
 * Triple faults stay faults (they are how hv reports a broken guest). A `cfg.restore` resumes the
 * first boot only; after a reset the kernel boots afresh, as on the machine that was saved.
 * @module
 */
import { newCmosState, resetCmos } from "@hv/devices";
import { EXIT_TIMEOUT, type MachineConfig, type RunOutcome, type RunResult, runMachine } from "./machine.ts";

/** How many guest resets `hv run` serves by power-cycling before a reset ends the run (`--max-resets`). */
export const DEFAULT_MAX_RESETS = 8;

/** The reset outcome of a boot: which vCPU asked, and through what (`reset` = `hv-reset`, `KVM_SYSTEM_EVENT_RESET`). */
export type ResetOutcome = Extract<RunOutcome, { kind: "reset" }>;

/** Options of {@link runMachineWithResets}. */
export interface PowerCycleOptions {
  /** Resets served by power-cycling (a non-negative integer); 0: the first reset ends the run. */
  readonly maxResets: number;
  /** Called before each power cycle with the reset that caused it and its number (1..maxResets). */
  readonly onReset?: (reset: ResetOutcome, cycle: number) => void;
  /** Runs one boot; default {@link runMachine} (tests inject a scripted one). */
  readonly run?: (cfg: MachineConfig) => Promise<RunResult>;
  /** A monotonic clock in milliseconds; default `performance.now`. */
  readonly now?: () => number;
}

/** A run across power cycles: the last boot's outcome, exit counts summed per vCPU over every boot, total seconds, and the resets served. */
export interface PowerCycleResult extends RunResult {
  /** Resets served by power-cycling. */
  readonly resets: number;
  /** True when the outcome is a reset that was not served because `maxResets` were already served. */
  readonly limitReached: boolean;
}

/** A readable name for a reset's source: `hv-reset` (QEMU's spelling) for the plugin, else the source as given. */
export const resetSourceName = (source: string): string => (source === "reset" ? "hv-reset" : source);

/**
 * Runs `cfg`, power-cycling on each guest reset (see the module documentation). `cfg.cmos` (or a
 * fresh RTC/CMOS state) is shared by every boot, with QEMU's `rtc_reset` applied between boots;
 * `cfg.timeoutSeconds` is the budget of all boots together (a boot that would start after it ends
 * the run with a timeout outcome). Throws a RangeError for a `maxResets` that is not a non-negative integer.
 */
export async function runMachineWithResets(cfg: MachineConfig, o: PowerCycleOptions): Promise<PowerCycleResult> {
  if (!Number.isInteger(o.maxResets) || o.maxResets < 0) throw new RangeError(`maxResets must be a non-negative integer, got ${o.maxResets}`);
  const run = o.run ?? runMachine;
  const now = o.now ?? (() => performance.now());
  const cmos = cfg.cmos ?? newCmosState();
  const t0 = now();
  const deadline = t0 + cfg.timeoutSeconds * 1000;
  const exits: Record<string, number>[] = [];
  const add = (r: RunResult) =>
    r.exits.forEach((e, i) => {
      const sum = (exits[i] ??= {});
      for (const [k, v] of Object.entries(e)) sum[k] = (sum[k] ?? 0) + v;
    });
  let resets = 0;
  for (;;) {
    const left = deadline - now();
    if (left <= 0) {
      const outcome: RunOutcome = { kind: "timeout", code: EXIT_TIMEOUT, registers: [] };
      return { outcome, exits, seconds: (now() - t0) / 1000, resets, limitReached: false };
    }
    // A restored VM resumes once: a reset after it boots the kernel afresh.
    const r = await run({ ...cfg, cmos, timeoutSeconds: left / 1000, restore: resets === 0 ? cfg.restore : undefined });
    add(r);
    const done = (limitReached: boolean): PowerCycleResult => ({ outcome: r.outcome, exits, seconds: (now() - t0) / 1000, resets, limitReached });
    if (r.outcome.kind !== "reset") return done(false);
    if (resets >= o.maxResets) return done(true);
    resets++;
    o.onReset?.(r.outcome, resets);
    resetCmos(cmos);
  }
}
