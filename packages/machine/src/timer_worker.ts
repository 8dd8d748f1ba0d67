/**
 * The machine's timer thread: builds the partition's plugin instances like a vCPU worker, then
 * sleeps (`Atomics.wait`, sub-millisecond timeouts) until the earliest armed deadline and calls the
 * owner's `onTimer(vp, timer)` (a plugin's, or the userspace APIC's timer), which delivers through
 * shared state: the userspace APIC (kicking the VP) or KVM_SIGNAL_MSI to KVM's LAPIC. Expiry does
 * not depend on guest exits.
 * @module
 */
/// <reference lib="deno.worker" />
import { Vm } from "@hv/kvm";
import type { PartitionEvents, VpView } from "@hv/x86";
import { workerDispatch } from "./hv_partition.ts";
import { APIC_TIMER_OWNER } from "./irqchip.ts";
import type { WorkerInit } from "./protocol.ts";
import { threadContext } from "./thread_context.ts";

/** What the timer thread gets: the vCPU init fields it needs plus the tsc sample for estimates. */
export interface TimerInit extends Omit<WorkerInit, "type" | "vcpu" | "control" | "flush" | "exitModule"> {
  readonly type: "timer-init";
  readonly vcpuMmapSize: number;
  readonly stop: SharedArrayBuffer;
}

self.onmessage = async (e: MessageEvent<TimerInit | { type: string }>) => {
  if (e.data.type !== "timer-init") return;
  const msg = e.data as TimerInit;
  try {
    const vm = new Vm(msg.vmFd, msg.vcpuMmapSize);
    const events: PartitionEvents = {
      reset: (source) => self.postMessage({ type: "reset", vcpu: -1, source }),
      crash: (report) => self.postMessage({ type: "crash", report }),
    };
    const { composition: c, timers, apics, partition } = await threadContext(msg, vm, events);
    const layout = timers.layout;
    const instances = c ? workerDispatch(c, partition, msg.hypercallPort, () => {}).instances : new Map();
    const slots: { vp: number; timer: number; fire: ((vp: VpView, t: number) => void) | undefined }[] = [];
    for (const [owner, { base, perVp }] of layout.owners) {
      // The userspace APIC timers (one per VP) and the plugins' timers.
      const plugin = instances.get(owner);
      const fire = owner === APIC_TIMER_OWNER && apics
        ? (vp: VpView) => apics[vp.index].onTimer()
        : plugin?.onTimer?.bind(plugin);
      for (let vp = 0; vp < msg.vcpuCount; vp++) {
        for (let t = 0; t < perVp; t++) slots[base + vp * perVp + t] = { vp, timer: t, fire };
      }
    }
    const stop = new Int32Array(msg.stop);
    self.postMessage({ type: "timer-ready" });
    const d = timers.deadlines, gen = timers.generation;
    while (Atomics.load(stop, 0) === 0) {
      const g = Atomics.load(gen, 0);
      const now = timers.now();
      let next = Infinity;
      for (let i = 0; i < d.length; i++) {
        const at = d[i];
        if (at === 0) continue;
        if (at <= now) {
          d[i] = 0;
          const s = slots[i];
          if (s.fire) s.fire(partition.vp(s.vp)!, s.timer);
        } else if (at < next) next = at;
      }
      if (Atomics.load(gen, 0) !== g) continue;
      // Sleep to the earliest deadline (ms, fractional), at most 50 ms so a stop request is seen.
      const waitMs = Math.min(50, Math.max(0, (next - timers.now()) / 1e6));
      if (waitMs > 0) Atomics.wait(gen, 0, g, waitMs);
    }
    self.postMessage({ type: "timer-stopped" });
  } catch (err) {
    self.postMessage({ type: "error", vcpu: -1, message: err instanceof Error ? err.stack ?? err.message : String(err) });
  }
};
