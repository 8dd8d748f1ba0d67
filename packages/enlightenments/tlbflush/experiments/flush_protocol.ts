/**
 * Experiment: the proposed `PartitionView.flushTlb` for the KVM machine, with real vCPU threads.
 * Not part of the package build or tests. Run from the repository root:
 *
 *   npx deno run -A packages/enlightenments/tlbflush/experiments/flush_protocol.ts [iterations]
 *
 * Protocol (flush_protocol_worker.ts), per target VP t, in shared memory:
 * - the requester bumps REQ[t] (remembering the value), rings t's doorbell, and kicks t out of
 *   KVM_RUN (`Vcpu.kick`: immediate_exit + SIGUSR2) if t is in its run loop;
 * - t, whenever it is outside KVM_RUN (after an EINTR, before each KVM_RUN, while it waits for its
 *   own flushes, or while idle), sees REQ[t] != DONE[t], makes KVM drop its translations at the next
 *   entry (KVM_SET_SREGS twice: CR4.PGE toggled then restored; a CR4 change makes KVM reset the vCPU
 *   MMU, and the next entry's `kvm_mmu_load` syncs the roots and flushes the current TLB context),
 *   publishes DONE[t] = REQ[t], and rings the requesters' doorbells;
 * - the requester flushes itself the same way if named, then waits on its own doorbell
 *   (Atomics.wait) until DONE[t] reaches its value for every t, serving requests aimed at itself
 *   meanwhile, so two VPs flushing each other cannot deadlock.
 *
 * Variant A: VP 0 flushes VP 1, which spins in guest code without exits (the kick is what brings it
 * out). Variant B: VPs 0 and 1 flush each other as fast as they can (mutual requests; deadlock check).
 *
 * Results on this host (2 host CPUs, PVM; 5000 calls per requester): A: 73 us per flushTlb (kick,
 * EINTR, the target's two KVM_SET_SREGS, ack, Atomics.wait wake-up), every request served. B: 63-100
 * us per call, no deadlock; ~600 of the 5000 requests per VP were served by a VP while it was itself
 * waiting for its own flush to be acknowledged (the case that deadlocks without serving-while-waiting).
 * @module
 */
import { installKickHandler, Kvm, KVM_MP_STATE, type Vcpu } from "@hv/kvm";
import { GuestMemory, longModeSregs, writeGdt, writeIdentityPageTables } from "@hv/x86";

const RAM = 4 << 20;
const REQUESTER = 0x10000, SPINNER = 0x11000;
const PORT = 0x20;
// REQUESTER: 1: out %eax, $0x20; jmp 1b     SPINNER: 1: mov 0x20000, %eax; jmp 1b
const REQUESTER_CODE = new Uint8Array([0xe7, PORT, 0xeb, 0xfc]);
const SPINNER_CODE = new Uint8Array([0x8b, 0x04, 0x25, 0x00, 0x00, 0x02, 0x00, 0xeb, 0xf7]);

interface Stats { selfFlushes: number; servedWhileWaiting: number; waitNs: number; flushCalls: number; kicks: number }

async function variant(kvm: Kvm, name: string, spinner: boolean, iterations: number): Promise<void> {
  const vm = kvm.createVm();
  vm.setTssAddr(0xfffbd000);
  vm.setIdentityMapAddr(0xfffbc000);
  vm.createIrqchip();
  const ram = vm.addRam(0, 0, RAM);
  const mem = new GuestMemory(ram.bytes);
  const gdt = writeGdt(mem, 0x1000);
  const cr3 = writeIdentityPageTables(mem, 0x2000, 1 << 30);
  mem.write(REQUESTER, REQUESTER_CODE);
  mem.write(SPINNER, SPINNER_CODE);
  const supported = kvm.supportedCpuid();
  const vcpus: Vcpu[] = [];
  for (let i = 0; i < 2; i++) {
    const v = vm.createVcpu(i);
    v.setCpuid2(supported);
    const sr = v.getSregs();
    sr.apply(longModeSregs({ gdt, cr3 }));
    v.setSregs();
    const r = v.regs;
    r.clear();
    r.rflags = 2;
    r.rip = i === 1 && spinner ? SPINNER : REQUESTER;
    r.rsp = 0x8ff0;
    v.setRegs();
    if (i > 0) v.setMpState(KVM_MP_STATE.RUNNABLE); // APs of an in-kernel irqchip otherwise wait for SIPI
    vcpus.push(v);
  }
  const shared = new SharedArrayBuffer(64 * 4);
  const workers = vcpus.map(() => new Worker(new URL("./flush_protocol_worker.ts", import.meta.url), { type: "module" }));
  const message = (w: Worker) => new Promise<MessageEvent>((res) => (w.onmessage = res));
  const ready = workers.map(message);
  workers.forEach((w, id) =>
    w.postMessage({ type: "init", init: { id, count: 2, mmapSize: kvm.vcpuMmapSize, fds: vcpus.map((v) => v.fd), shared, iterations, port: PORT } })
  );
  const threads = (await Promise.all(ready)).map((e) => e.data.thread as bigint);
  const done = workers.map(message);
  const t0 = performance.now();
  workers.forEach((w, id) => w.postMessage({ type: "start", threads, spin: spinner && id === 1 }));
  const results = await Promise.all(done);
  const seconds = (performance.now() - t0) / 1000;
  for (const w of workers) w.terminate();
  vm.close();
  console.log(`\n${name}: ${iterations} flush calls per requester in ${seconds.toFixed(2)} s`);
  results.forEach((e, id) => {
    if (e.data.type !== "done") throw new Error(`vCPU ${id}: ${e.data.message}`);
    const st = e.data.stats as Stats;
    const per = st.flushCalls ? `${(st.waitNs / st.flushCalls / 1000).toFixed(1)} us per flushTlb (kick + remote self-flush + ack)` : "no flushTlb calls";
    console.log(`  vCPU ${id}: ${st.flushCalls} flushTlb calls, ${st.kicks} kicks, ${st.selfFlushes} self-flushes served, ${st.servedWhileWaiting} served while waiting; ${per}`);
  });
}

const iterations = Number(Deno.args[0] ?? 2000);
const kick = installKickHandler();
const kvm = Kvm.open();
console.log(`host: ${Deno.osRelease()}, ${navigator.hardwareConcurrency} CPUs`);
await variant(kvm, "A: VP 0 flushes VP 1, which spins in the guest", true, iterations);
await variant(kvm, "B: VPs 0 and 1 flush each other concurrently", false, iterations);
kvm.close();
kick.remove();
