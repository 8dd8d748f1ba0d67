/**
 * The machine's timer thread: builds the partition's plugin instances like a vCPU worker, then
 * sleeps (`Atomics.wait`, sub-millisecond timeouts) until the earliest armed deadline and calls the
 * owner's `onTimer(vp, timer)`, which delivers through shared state and KVM_SIGNAL_MSI. Expiry does
 * not depend on guest exits.
 * @module
 */
/// <reference lib="deno.worker" />
import { attachHostMemory, Vm } from "@hv/kvm";
import { GuestMemory, type PartitionEvents, StateArena, type VpView } from "@hv/x86";
import { advertisedIn, arenaEntries, composeSpec, loadRegistry, WorkerPartition, workerDispatch } from "./hv_partition.ts";
import type { WorkerInit } from "./protocol.ts";
import { SharedTimers, timerLayout } from "./timers.ts";

/** What the timer thread gets: the vCPU init fields it needs plus the tsc sample for estimates. */
export interface TimerInit extends Omit<WorkerInit, "type" | "vcpu" | "control"> {
  readonly type: "timer-init";
  readonly vcpuMmapSize: number;
  readonly stop: SharedArrayBuffer;
}

self.onmessage = async (e: MessageEvent<TimerInit | { type: string }>) => {
  if (e.data.type !== "timer-init") return;
  const msg = e.data as TimerInit;
  try {
    const ram = attachHostMemory(msg.ram.address, msg.ram.size);
    const memory = new GuestMemory(ram.bytes);
    const vm = new Vm(msg.vmFd, msg.vcpuMmapSize);
    const registry = await loadRegistry(msg.hyperv!);
    const c = composeSpec(msg.hyperv!, registry);
    const layout = timerLayout(c, msg.vcpuCount);
    const timers = new SharedTimers(layout, msg.timers, msg.vcpuCount, msg.epochMs);
    const vpEntries = arenaEntries(c, "vp");
    const events: PartitionEvents = {
      reset: (source) => self.postMessage({ type: "reset", vcpu: -1, source }),
      crash: (report) => self.postMessage({ type: "crash", report }),
    };
    const makeVp = (index: number, partition: WorkerPartition): VpView => {
      const arena = new StateArena(vpEntries, msg.vpStates[index]);
      return {
        index,
        apicId: index,
        partition,
        state: (owner) => arena.views(owner),
        guestTsc: () => msg.tscSample.tsc + ((timers.now() - msg.tscSample.ns) * msg.tscHz) / 1e9,
        runTime: () => Number.NaN,
        requestInterrupt: (vector) => void vm.signalMsi(0xfee00000 + index * 4096, vector & 0xff),
        yieldCpu: () => {},
      };
    };
    const partition = new WorkerPartition(
      memory, msg.tscHz, new StateArena(arenaEntries(c, "partition"), msg.partitionState), makeVp, msg.vcpuCount, events, timers, advertisedIn(c),
    );
    const { instances } = workerDispatch(c, partition, msg.hypercallPort, () => {});
    const slots: { owner: string; vp: number; timer: number; fire: ((vp: VpView, t: number) => void) | undefined }[] = [];
    for (const [owner, { base, perVp }] of layout.owners) {
      for (let vp = 0; vp < msg.vcpuCount; vp++) {
        for (let t = 0; t < perVp; t++) slots[base + vp * perVp + t] = { owner, vp, timer: t, fire: instances.get(owner)?.onTimer?.bind(instances.get(owner)) };
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
  } catch (err) {
    self.postMessage({ type: "error", vcpu: -1, message: err instanceof Error ? err.stack ?? err.message : String(err) });
  }
};
