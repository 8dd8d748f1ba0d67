/**
 * Host timers shared by every thread of a machine: one `SharedArrayBuffer` holds a deadline per
 * (plugin, VP, timer) and a generation word; vCPU threads arm and cancel with plain stores plus
 * `Atomics.notify`, and the timer thread (`timer_worker.ts`) sleeps with `Atomics.wait` until the
 * earliest deadline, then calls the owners' `onTimer`. Deadlines are ns on a clock common to all
 * threads: `performance.timeOrigin + performance.now()` relative to the machine's start.
 * @module
 */
import type { Composition } from "@hv/compose";
import type { TimerService } from "@hv/x86";

/** Where each timer-owning plugin's slots start: slot = base + vp * perVp + timer. */
export interface TimerLayout {
  readonly owners: ReadonlyMap<string, { readonly base: number; readonly perVp: number }>;
  readonly slots: number;
}

/**
 * The slots of a composition's timer-owning plugins for `vpCount` VPs (none without a composition),
 * then `extra` owners (the machine's own, e.g. the userspace APIC timers), in that order.
 */
export function timerLayout(
  c: Composition | undefined,
  vpCount: number,
  extra: readonly { readonly owner: string; readonly perVp: number }[] = [],
): TimerLayout {
  const owners = new Map<string, { base: number; perVp: number }>();
  let n = 0;
  const all = [...(c?.enlightenments ?? []).map((e) => ({ owner: e.name, perVp: e.plugin.timers?.perVp ?? 0 })), ...extra];
  for (const e of all) {
    const perVp = e.perVp;
    if (perVp > 0) {
      owners.set(e.owner, { base: n, perVp });
      n += perVp * vpCount;
    }
  }
  return { owners, slots: n };
}

/** Bytes of the shared timer buffer: one f64 deadline per slot, then the generation word. */
export const timerBytes = (l: TimerLayout): number => 8 * l.slots + 8;

/**
 * The {@link TimerService} over the shared buffer (one instance per thread, same buffer).
 * `epochMs` is the machine's start on the `timeOrigin + now()` clock. Arming an unknown owner, VP or
 * timer number is ignored (plugins validate guest values; this is a second fence, never a throw).
 */
export class SharedTimers implements TimerService {
  readonly deadlines: Float64Array;
  readonly generation: Int32Array;
  constructor(readonly layout: TimerLayout, buffer: SharedArrayBuffer, readonly vpCount: number, readonly epochMs: number) {
    this.deadlines = new Float64Array(buffer, 0, layout.slots);
    this.generation = new Int32Array(buffer, 8 * layout.slots, 2);
  }
  /** Host ns since the machine started. */
  now(): number {
    return (performance.timeOrigin + performance.now() - this.epochMs) * 1e6;
  }
  #slot(owner: string, vp: number, timer: number): number {
    const o = this.layout.owners.get(owner);
    if (!o || !(vp >= 0 && vp < this.vpCount) || !(timer >= 0 && timer < o.perVp)) return -1;
    return o.base + (vp | 0) * o.perVp + (timer | 0);
  }
  arm(owner: string, vp: number, timer: number, atNs: number): void {
    const s = this.#slot(owner, vp, timer);
    if (s < 0) return;
    this.deadlines[s] = atNs > 0 ? atNs : 1; // 0 means disarmed
    Atomics.add(this.generation, 0, 1);
    Atomics.notify(this.generation, 0);
  }
  cancel(owner: string, vp: number, timer: number): void {
    const s = this.#slot(owner, vp, timer);
    if (s >= 0) this.deadlines[s] = 0;
  }
}
