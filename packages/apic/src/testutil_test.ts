import { StateArena } from "@hv/x86";
import { APIC_STATE, type ApicBus, type ApicTimers, type ApicViews, LocalApic, type LocalApicOptions, PeerBus } from "../mod.ts";

/** A manual clock implementing the timer service. */
export class FakeTimers implements ApicTimers {
  t = 1_000_000;
  armed = new Map<string, number>();
  now(): number {
    return this.t;
  }
  arm(owner: string, vp: number, timer: number, atNs: number): void {
    this.armed.set(`${owner}/${vp}/${timer}`, atNs);
  }
  cancel(owner: string, vp: number, timer: number): void {
    this.armed.delete(`${owner}/${vp}/${timer}`);
  }
  at(vp: number): number | undefined {
    return this.armed.get(`apic/${vp}/0`);
  }
  /** Advances to `t` and fires due timers. */
  advance(ns: number, apics: LocalApic[]): void {
    this.t += ns;
    for (let guard = 0; guard < 10000; guard++) {
      let fired = false;
      for (const a of apics) {
        const due = this.at(a.apicId);
        if (due !== undefined && due <= this.t) {
          this.armed.delete(`apic/${a.apicId}/0`);
          a.onTimer();
          fired = true;
        }
      }
      if (!fired) return;
    }
  }
}

/** A bus that records deliveries. */
export class RecordingBus implements ApicBus {
  sent: { ids: number[]; vector: number; mode: number; level: boolean }[] = [];
  eois: number[] = [];
  deliver(ids: Uint32Array, count: number, vector: number, mode: number, level: boolean): void {
    this.sent.push({ ids: Array.from(ids.subarray(0, count)), vector, mode, level });
  }
  eoi(vector: number): void {
    this.eois.push(vector);
  }
}

export interface Machine {
  apics: LocalApic[];
  views: ApicViews[];
  timers: FakeTimers;
  bus: RecordingBus;
  arena: StateArena;
}

/** `n` APICs (ids 0..n-1, or `ids`) over one arena, connected, reset, software-enabled unless `swOff`. */
export const machine = (
  n: number,
  opts: { ids?: number[]; swOff?: boolean; peerBus?: PeerBus; extra?: Partial<LocalApicOptions> } = {},
): Machine => {
  const ids = opts.ids ?? Array.from({ length: n }, (_, i) => i);
  const arena = new StateArena(ids.map((id) => ({ owner: `apic${id}`, layout: APIC_STATE })));
  const timers = new FakeTimers();
  const bus = new RecordingBus();
  const views = ids.map((id) => arena.views(`apic${id}`) as unknown as ApicViews);
  const apics = ids.map((id, i) =>
    new LocalApic({ views: views[i], apicId: id, bsp: i === 0, bus: opts.peerBus ?? bus, timers, ...opts.extra })
  );
  if (opts.peerBus) opts.peerBus.attach(apics);
  else for (const a of apics) a.connect(apics);
  for (const a of apics) {
    a.reset();
    if (!opts.swOff) a.write(0xf0, 4, 0x1ff);
  }
  return { apics, views, timers, bus, arena };
};
