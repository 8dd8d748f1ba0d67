/**
 * Test support: a vCPU Worker. It attaches to a vCPU created by the main thread (fd + mmap size),
 * reports its `pthread_t` for kicks, and runs KVM_RUN synchronously on request:
 * - `{ type: "attach", handle }` -> `{ type: "attached", thread, tid }`
 * - `{ type: "bench", rip }`: run the OUT loop at `rip` until HLT -> `{ type: "bench", exits, ms, other }`
 * - `{ type: "spin", rip }`: -> `{ type: "spinning" }`, then run until KVM_RUN_INTERRUPTED ->
 *   `{ type: "interrupted", exits, ms }` (exits: other exits seen before the kick)
 * - `{ type: "close" }`: unmap and close the worker.
 * @module
 */
/// <reference lib="deno.worker" />
import {
  currentThread,
  currentTid,
  KVM_EXIT_HLT,
  KVM_EXIT_IO,
  KVM_RUN_INTERRUPTED,
  RFLAGS_FIXED,
  Vcpu,
  type VcpuHandle,
} from "../mod.ts";

let vcpu: Vcpu | undefined;

function start(v: Vcpu, rip: number): void {
  const regs = v.regs;
  regs.clear();
  regs.rip = rip;
  regs.rsp = 0x7_0000;
  regs.rflags = RFLAGS_FIXED;
  v.setRegs();
}

type Msg = { type: "attach"; handle: VcpuHandle } | { type: "bench"; rip: number } | { type: "spin"; rip: number } | {
  type: "close";
};

self.onmessage = (e: MessageEvent<Msg>) => {
  const msg = e.data;
  switch (msg.type) {
    case "attach":
      vcpu = Vcpu.attach(msg.handle.fd, msg.handle.mmapSize, msg.handle.id);
      self.postMessage({ type: "attached", thread: currentThread(), tid: currentTid() });
      break;
    case "bench": {
      const v = vcpu!;
      start(v, msg.rip);
      let exits = 0, other = 0;
      const t0 = performance.now();
      for (;;) {
        const r = v.run();
        if (r === KVM_EXIT_IO) exits++;
        else if (r === KVM_EXIT_HLT) break;
        else if (++other > 100) break;
      }
      self.postMessage({ type: "bench", exits, ms: performance.now() - t0, other });
      break;
    }
    case "spin": {
      const v = vcpu!;
      start(v, msg.rip);
      self.postMessage({ type: "spinning" });
      let exits = 0;
      const t0 = performance.now();
      for (;;) {
        const r = v.run();
        if (r === KVM_RUN_INTERRUPTED) break;
        exits++;
      }
      self.postMessage({ type: "interrupted", exits, ms: performance.now() - t0 });
      break;
    }
    case "close":
      vcpu?.close();
      self.close();
      break;
  }
};
