/**
 * One vCPU thread of `flush_protocol.ts`: runs KVM_RUN synchronously and implements the proposed
 * `flushTlb` for the KVM machine (see flush_protocol.ts for the protocol). Experiment only.
 * @module
 */
/// <reference lib="deno.worker" />
import { currentThread, KVM_EXIT_IO, KVM_RUN_AGAIN, KVM_RUN_INTERRUPTED, Vcpu } from "@hv/kvm";
import { CR4_PGE } from "@hv/x86";

interface Init {
  readonly id: number;
  readonly count: number;
  readonly mmapSize: number;
  readonly fds: number[];
  readonly shared: SharedArrayBuffer;
  readonly iterations: number;
  /** Port the guest uses for "flush the VPs in the request mask". */
  readonly port: number;
}

// Shared words, per VP v (n = VP count): REQ + v: flush requests aimed at v (a counter); DONE + v:
// the request count v has served; BELL + v: v's doorbell (bumped + notified on every event for v);
// RUNNING + v: 1 while v is inside its run loop; FINISHED: VPs done with their own work.
const REQ = 0, DONE = 8, BELL = 16, RUNNING = 24, FINISHED = 32;

let me: Init;
let s: Int32Array;
let self_vcpu: Vcpu;
const vcpus: Vcpu[] = [];
const threads: bigint[] = [];
const target = new Int32Array(8);
const stats = { selfFlushes: 0, servedWhileWaiting: 0, waitNs: 0, flushCalls: 0, kicks: 0 };

/** The target side: KVM drops this vCPU's translations at its next entry (CR4 change -> MMU reset). */
function flushSelf(): void {
  const sr = self_vcpu.getSregs();
  const cr4 = sr.cr4;
  sr.cr4 = cr4 ^ CR4_PGE;
  self_vcpu.setSregs();
  sr.cr4 = cr4;
  self_vcpu.setSregs();
  stats.selfFlushes++;
}

/** Serves flush requests aimed at this VP (call whenever outside KVM_RUN); returns whether it flushed. */
function service(): boolean {
  const r = Atomics.load(s, REQ + me.id);
  if (r === Atomics.load(s, DONE + me.id)) return false;
  flushSelf();
  Atomics.store(s, DONE + me.id, r);
  for (let v = 0; v < me.count; v++) {
    if (v === me.id) continue;
    Atomics.add(s, BELL + v, 1);
    Atomics.notify(s, BELL + v);
  }
  return true;
}

/** The requester side: `PartitionView.flushTlb(vps, count)`. */
function flushTlb(vps: Int32Array, count: number): void {
  stats.flushCalls++;
  const t0 = performance.now();
  let self = false;
  for (let i = 0; i < count; i++) {
    const v = vps[i];
    if (v === me.id) {
      self = true;
      continue;
    }
    target[i] = Atomics.add(s, REQ + v, 1) + 1;
    Atomics.add(s, BELL + v, 1);
    Atomics.notify(s, BELL + v);
    if (Atomics.load(s, RUNNING + v) === 1) {
      vcpus[v].kick(threads[v]);
      stats.kicks++;
    }
  }
  if (self) flushSelf();
  for (let i = 0; i < count; i++) {
    const v = vps[i];
    if (v === me.id) continue;
    for (;;) {
      if (Atomics.load(s, DONE + v) - target[i] >= 0) break;
      // Deadlock avoidance: while waiting, serve requests aimed at us (the other VP may be waiting on us).
      if (service()) stats.servedWhileWaiting++;
      const bell = Atomics.load(s, BELL + me.id);
      if (Atomics.load(s, DONE + v) - target[i] >= 0) break;
      Atomics.wait(s, BELL + me.id, bell, 50);
    }
  }
  stats.waitNs += (performance.now() - t0) * 1e6;
}

const list = new Int32Array(8);

function loop(): void {
  let done = 0;
  Atomics.store(s, RUNNING + me.id, 1);
  while (done < me.iterations) {
    service();
    const r = self_vcpu.run();
    if (r === KVM_RUN_INTERRUPTED || r === KVM_RUN_AGAIN) continue;
    if (r !== KVM_EXIT_IO || self_vcpu.kvmRun.ioPort !== me.port) throw new Error(`vCPU ${me.id}: unexpected exit ${r}`);
    // The guest asks to flush every other VP.
    let n = 0;
    for (let v = 0; v < me.count; v++) if (v !== me.id) list[n++] = v;
    flushTlb(list, n);
    done++;
  }
  Atomics.store(s, RUNNING + me.id, 0);
  Atomics.add(s, FINISHED, 1);
  // Keep serving until every VP finished (others may still be waiting for our acknowledgement);
  // kick spinners so they notice the end.
  while (Atomics.load(s, FINISHED) < me.count) {
    service();
    for (let v = 0; v < me.count; v++) if (v !== me.id && Atomics.load(s, RUNNING + v) === 1) vcpus[v].kick(threads[v]);
    const bell = Atomics.load(s, BELL + me.id);
    if (Atomics.load(s, FINISHED) >= me.count) break;
    Atomics.wait(s, BELL + me.id, bell, 50);
  }
}

/** A spinning target: runs guest code that never exits, serving flush requests when kicked. */
function spin(): void {
  Atomics.store(s, RUNNING + me.id, 1);
  while (Atomics.load(s, FINISHED) < me.count - 1) {
    service();
    const r = self_vcpu.run();
    if (r === KVM_RUN_INTERRUPTED || r === KVM_RUN_AGAIN) continue;
    throw new Error(`spinner vCPU ${me.id}: unexpected exit ${r}`);
  }
  Atomics.store(s, RUNNING + me.id, 0);
  Atomics.add(s, FINISHED, 1);
}

self.onmessage = (e: MessageEvent) => {
  const m = e.data;
  if (m.type === "init") {
    me = m.init as Init;
    s = new Int32Array(me.shared);
    for (let v = 0; v < me.count; v++) vcpus.push(Vcpu.attach(me.fds[v], me.mmapSize, v));
    self_vcpu = vcpus[me.id];
    self.postMessage({ type: "ready", thread: currentThread() });
  } else if (m.type === "start") {
    threads.push(...(m.threads as bigint[]));
    try {
      if (m.spin) spin();
      else loop();
      self.postMessage({ type: "done", stats });
    } catch (err) {
      self.postMessage({ type: "error", message: String(err) });
    }
  }
};
