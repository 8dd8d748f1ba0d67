import assert from "node:assert/strict";
import { Effect } from "effect";
import { createSynicEventConnection, createSynicMessageConnection, type SynicVpViews } from "@hv/synic";
import { HV_X64_MSR_EOM, HV_X64_MSR_SCONTROL, HvCallPostMessage, HvCallSignalEvent } from "@hv/tlfs";
import { GuestMemory, type VpView } from "@hv/x86";
import {
  createPassthroughHyperv,
  encodeSintRouteLayout,
  hostWith,
  HYPERV_CAPABLE_HOST,
  HypervEventConnections,
  PASSTHROUGH_WORKER_MODULE,
  passthroughPartition,
  passthroughTestDevBackend,
  PassthroughSynic,
  PassthroughVcpuExits,
  preflight,
  routedPartition,
  SINT_ROUTES_PARAM,
  setupPassthroughVm,
  SimulatedKvm,
} from "../mod.ts";
import { composeNames } from "./test_helpers.ts";
import { passthroughExitHook } from "./worker_hook.ts";

const simpOf = (n: number) => 0x10000 + n * 0x2000;
const siefpOf = (n: number) => 0x11000 + n * 0x2000;
const MSG_PENDING = 0x100; // message_flags bit 0 in header word 1

/**
 * A 2-VP passthrough partition on the simulated Hyper-V kernel, wired as `bootWithService` wires it:
 * routes from the setup, the partition's requestInterrupt = the PassthroughSynic's, one exit hook per vCPU.
 */
function world(names: string[] = ["synic"], host = HYPERV_CAPABLE_HOST) {
  const k = new SimulatedKvm(host);
  const composition = composeNames(names);
  const plan = Effect.runSync(preflight(composition, k));
  const { vm, vcpus, routes } = setupPassthroughVm(k, plan, 2);
  const memory = GuestMemory.allocate(1 << 20);
  const synic = new PassthroughSynic(routes);
  const partition = passthroughPartition({
    composition,
    memory,
    vpCount: 2,
    requestInterrupt: (vp, vector, autoEoi) => synic.requestInterrupt(vp, vector, autoEoi),
  });
  const h = createPassthroughHyperv(composition, partition);
  const exits = vcpus.map((v, i) => new PassthroughVcpuExits(k, v, h, partition.vp(i)!, synic));
  /** Runs vCPU `i` once with `script` queued, offering the exit to its hook. */
  const run = (i: number, ...script: Parameters<SimulatedKvm["queueExit"]>[1][]) => {
    k.queueExit(i, ...script);
    return exits[i].onExit(k.run(vcpus[i]));
  };
  /** The guest of VP `i` programs SINTs (in-kernel: no exit), then enables SIMP/SIEFP/SCONTROL (a SYNIC exit, which refreshes the mirror). */
  const enable = (i: number, sints: Record<number, bigint>) => {
    for (const [n, value] of Object.entries(sints)) k.guestWroteSint(i, Number(n), value);
    run(i, { kind: "synic", msr: HV_X64_MSR_SCONTROL, control: 1n, evtPage: BigInt(siefpOf(i) | 1), msgPage: BigInt(simpOf(i) | 1) });
  };
  const vp = (i: number) => partition.vp(i)!;
  return { k, plan, vm, vcpus, routes: routes!, memory, synic, partition, h, exits, run, enable, vp };
}

const payload = (...words: number[]) => Uint32Array.from(words);
const delivered = (vp: number, sint: number, vector: number) => ({ gsi: 24 + 16 * vp + sint, route: "KVM_IRQ_ROUTING_HV_SINT", outcome: "delivered", vp, sint, vector });

Deno.test("a message the VMM posts lands in VP 1's SIMP slot in guest RAM, then the route's eventfd is written and KVM delivers SINT 2's vector", () => {
  const w = world();
  w.enable(1, { 2: 0x90n });
  assert.equal(w.synic.postMessage(w.vp(1), 2, 0x42, payload(0xdeadbeef, 0x1234), 8), "delivered");
  const slot = simpOf(1) + 2 * 256;
  assert.deepEqual([w.memory.readU32(slot), w.memory.readU32(slot + 4) & 0xff, w.memory.readU32(slot + 16), w.memory.readU32(slot + 20)], [0x42, 8, 0xdeadbeef, 0x1234]);
  assert.deepEqual(w.k.deliveries, [delivered(1, 2, 0x90)]);
  assert.deepEqual(w.synic.counts, { raised: 1, unrouted: 0, acks: 0, eoms: 0 });
  assert.ok(!w.k.log().some((l) => l.startsWith("KVM_SIGNAL_MSI")), "no MSI: the SINT goes through KVM's SynIC");
  // SCONTROL disabled (mirror from the SYNIC exit) or SIMP off: dropped, nothing raised (QEMU -ENXIO).
  assert.equal(w.synic.postMessage(w.vp(0), 2, 0x42, payload(), 0), "disabled");
  assert.equal(w.k.deliveries.length, 1);
});

Deno.test("a stale SINT mirror: the VMM's message is still signalled when the mirror says masked, and KVM (which holds the real SINT) decides", () => {
  const w = world();
  w.enable(1, { 2: 0x90n }); // SINT 3 masked in the mirror
  w.k.guestWroteSint(1, 3, 0x93n); // the guest unmasks SINT 3 later: no exit, the mirror does not know
  assert.equal(w.synic.postMessage(w.vp(1), 3, 0x43, payload(), 0), "masked", "the mirror's view");
  assert.deepEqual(w.k.deliveries.at(-1), delivered(1, 3, 0x93), "KVM's view wins");
  w.k.guestWroteSint(1, 2, 0x10090n); // and masks SINT 2: the mirror still says unmasked
  assert.equal(w.synic.postMessage(w.vp(1), 2, 0x44, payload(), 0), "delivered");
  assert.deepEqual(w.k.deliveries.at(-1), { gsi: 42, route: "KVM_IRQ_ROUTING_HV_SINT", outcome: "masked", vp: 1, sint: 2 }, "KVM drops it");
});

Deno.test("busy slot: msg_pending set and queued; the guest frees the slot and writes EOM (no exit); KVM's ack reaches the resamplefd; the VP's next exit retries and raises", () => {
  const w = world();
  w.enable(1, { 2: 0x90n });
  const slot = simpOf(1) + 2 * 256;
  assert.equal(w.synic.postMessage(w.vp(1), 2, 0x51, payload(1), 4), "delivered");
  assert.equal(w.synic.postMessage(w.vp(1), 2, 0x52, payload(2), 4), "pending");
  assert.equal(w.memory.readU32(slot + 4) & MSG_PENDING, MSG_PENDING, "msg_pending in the slot");
  assert.equal(w.k.deliveries.length, 1, "no interrupt for a queued message");
  // The guest consumes message 0x51: message_type = HVMSG_NONE, then WRMSR EOM (KVM: no exit).
  w.memory.writeU32(slot, 0);
  assert.deepEqual(w.run(1, { kind: "eom" }, { kind: "io-out", port: 0x80, value: 0 }), { kind: "unhandled" });
  assert.equal(w.memory.readU32(slot), 0x52, "retried at the VP's next exit");
  assert.equal(w.memory.readU32(slot + 16), 2);
  assert.deepEqual(w.k.deliveries.at(-1), delivered(1, 2, 0x90), "raised through the route (the SINT found from the mirror)");
  assert.deepEqual(w.synic.counts, { raised: 2, unrouted: 0, acks: 1, eoms: 1 });
  // Nothing queued: an ack is not even looked at (no read syscall per exit).
  w.run(1, { kind: "eom" }, { kind: "io-out", port: 0x80, value: 0 });
  assert.equal(w.synic.counts.acks, 1);
  assert.equal(w.routes.takeAck(1), true, "the ack still waits in the eventfd");
});

Deno.test("a SYNIC exit naming HV_X64_MSR_EOM (Linux KVM makes none; accepted should a kernel make one) retries the queue too", () => {
  const w = world();
  w.enable(0, { 6: 0xa6n });
  const slot = simpOf(0) + 6 * 256;
  w.synic.postMessage(w.vp(0), 6, 0x61, payload(), 0);
  assert.equal(w.synic.postMessage(w.vp(0), 6, 0x62, payload(), 0), "pending");
  w.memory.writeU32(slot, 0);
  w.run(0, { kind: "synic", msr: HV_X64_MSR_EOM, control: 1n, evtPage: BigInt(siefpOf(0) | 1), msgPage: BigInt(simpOf(0) | 1) });
  assert.equal(w.memory.readU32(slot), 0x62);
  assert.equal(w.synic.counts.eoms, 1);
});

Deno.test("event flags: 0 -> 1 sets the SIEFP bit and raises the SINT through its route; a flag already set is coalesced (no eventfd write)", () => {
  const w = world();
  w.enable(0, { 9: 0xb9n });
  assert.equal(w.synic.signalEvent(w.vp(0), 9, 37), "delivered");
  assert.equal(w.memory.readU32(siefpOf(0) + 9 * 256 + 4) >>> 5 & 1, 1, "bit 37 of SINT 9's flags");
  assert.equal(w.synic.signalEvent(w.vp(0), 9, 37), "coalesced");
  assert.deepEqual(w.k.deliveries, [delivered(0, 9, 0xb9)]);
});

Deno.test("the guest's HvPostMessage (KVM_EXIT_HYPERV on VP 0) to a connection on VP 1: the synic plugin writes VP 1's slot and the raise goes through VP 1's route", () => {
  const w = world();
  w.enable(1, { 2: 0x90n });
  assert.ok(createSynicMessageConnection(w.partition, 7, 1, 2));
  const msg = new Uint8Array(256);
  new DataView(msg.buffer).setUint32(0, 7, true);
  new DataView(msg.buffer).setUint32(8, 0x77, true);
  w.memory.write(0x3000, msg);
  assert.deepEqual(w.run(0, { kind: "hcall", input: BigInt(HvCallPostMessage), params: [0x3000n, 0n] }), { kind: "continue" });
  assert.deepEqual(w.k.hypercallResults.get(0), [0]);
  assert.equal(w.memory.readU32(simpOf(1) + 2 * 256), 0x77);
  assert.deepEqual(w.k.deliveries, [delivered(1, 2, 0x90)]);
  assert.ok(!w.k.log().some((l) => l.startsWith("KVM_SIGNAL_MSI")));
});

Deno.test("KVM_HYPERV_EVENTFD: HvSignalEvent on a bound connection completes in-kernel (no exit); draining the eventfd sets the connection's flag and raises; other connections still exit", () => {
  const w = world();
  assert.equal(w.plan.hypervEventfd, true);
  w.enable(1, { 5: 0x95n });
  const events = new HypervEventConnections(w.k, w.vm, w.partition, w.synic);
  assert.ok(createSynicEventConnection(w.partition, 0x21, 1, 5, 12));
  assert.equal(events.bind(0x22), false, "no such connection");
  assert.ok(events.bind(0x21));
  assert.equal(events.bind(0x21), false, "bound already");
  const fd = w.k.hypervEventfds().get(0x21)!;
  assert.ok(w.k.log().includes(`KVM_HYPERV_EVENTFD vm conn=0x21 fd=${fd}`));
  const signal = BigInt(HvCallSignalEvent);
  const r = w.run(
    0,
    { kind: "hcall", input: signal, params: [0x21n, 0n] }, // bound: in-kernel
    { kind: "hcall", input: signal, params: [0x1_0000_0021n, 0n] }, // flag number 1: KVM exits (INVALID_PORT_ID in-kernel)
  );
  assert.deepEqual(r, { kind: "continue" });
  assert.deepEqual(w.k.kernelHypercalls, [{ vcpu: 0, code: HvCallSignalEvent, status: 0 }]);
  assert.deepEqual(w.k.hypercallResults.get(0), [0x11], "the exiting one: the emulator's HV_STATUS_INVALID_PORT_ID");
  assert.equal(w.k.log().filter((l) => l === "KVM_RUN vcpu0").length, 1, "one KVM_RUN: the bound call made no exit, the flagged one did");
  assert.equal(events.drain(), 1);
  assert.equal(events.drain(), 0, "drained");
  assert.equal(w.memory.readU32(siefpOf(1) + 5 * 256) >>> 12 & 1, 1, "flag 12 of SINT 5 on VP 1");
  assert.deepEqual(w.k.deliveries, [delivered(1, 5, 0x95)]);
  assert.ok(events.unbind(0x21));
  assert.deepEqual([...w.k.hypervEventfds()], []);
  // A kernel without KVM_CAP_HYPERV_EVENTFD answers ENOTTY (this host's KVM does too).
  const no = world(["synic"], hostWith(HYPERV_CAPABLE_HOST, { caps: { KVM_CAP_HYPERV_EVENTFD: 0 } }));
  assert.ok(createSynicEventConnection(no.partition, 0x21, 1, 5, 12));
  assert.throws(() => new HypervEventConnections(no.k, no.vm, no.partition, no.synic).bind(0x21), /KVM_HYPERV_EVENTFD failed: ENOTTY/);
  assert.equal(no.k.log().at(-1)?.startsWith("close host fd="), true, "its eventfd closed again");
});

Deno.test("hyperv-testdev on passthrough: a routed SINT is raised through KVM without consulting the mirror; event connections are bound with KVM_HYPERV_EVENTFD", () => {
  const w = world();
  w.enable(0, {});
  const events = new HypervEventConnections(w.k, w.vm, w.partition, w.synic);
  const dev = passthroughTestDevBackend(w.partition, w.synic, events);
  dev.raiseSint(0, 4);
  assert.equal(dev.ignored, 1, "no route created: ignored (QEMU asserts)");
  dev.createSintRoute(0, 4);
  w.k.guestWroteSint(0, 4, 0x94n); // kvm-unit-tests: route, then the SINT MSR (no exit: the mirror has it masked)
  dev.raiseSint(0, 4);
  assert.deepEqual(w.k.deliveries, [delivered(0, 4, 0x94)]);
  dev.createEventConnection(0x30, 0, 4);
  assert.deepEqual([...w.k.hypervEventfds().keys()], [0x30]);
  dev.createEventConnection(0x30, 0, 4);
  assert.equal(dev.ignored, 2, "duplicate connection ignored, not bound twice");
  dev.destroyEventConnection(0x30);
  assert.deepEqual([...w.k.hypervEventfds().keys()], []);
});

Deno.test("routedPartition: the same state, memory and VPs, with requestInterrupt replaced", () => {
  const w = world();
  const seen: [number, number, boolean][] = [];
  const p = routedPartition(w.partition, (vp, vector, autoEoi) => void seen.push([vp.index, vector, autoEoi]));
  const vp = p.vp(1)!;
  assert.equal(p.vp(1), vp, "cached");
  assert.equal(vp.partition, p);
  assert.equal(p.memory, w.partition.memory);
  assert.equal(p.vpCount, 2);
  assert.equal(p.state("synic"), w.partition.state("synic"));
  assert.equal((vp.state("synic") as unknown as SynicVpViews).sint, (w.vp(1).state("synic") as unknown as SynicVpViews).sint);
  vp.requestInterrupt(0x90, true);
  assert.deepEqual(seen, [[1, 0x90, true]]);
  assert.equal(p.vp(5), undefined);
});

Deno.test("a vCPU worker rebuilds the routes from its module URL: the guest's HvPostMessage handled there raises through the main thread's eventfds, not KVM_SIGNAL_MSI", () => {
  const w = world();
  w.enable(1, { 2: 0x90n });
  assert.ok(createSynicMessageConnection(w.partition, 7, 1, 2));
  // The worker's partition as the machine builds it: the shared arenas and RAM, raising with KVM_SIGNAL_MSI.
  const msi: number[] = [];
  const machinePartition = routedPartition(w.partition, (_vp: VpView, vector) => void msi.push(vector));
  const url = `${PASSTHROUGH_WORKER_MODULE}?${SINT_ROUTES_PARAM}=${encodeSintRouteLayout(w.routes.layout())}`;
  const hook = passthroughExitHook({ service: w.k, vcpu: w.vcpus[0], partition: machinePartition, composition: w.plan.composition, moduleUrl: url });
  assert.ok(hook.synic, "routes found in the URL");
  const msg = new Uint8Array(256);
  new DataView(msg.buffer).setUint32(0, 7, true);
  new DataView(msg.buffer).setUint32(8, 0x78, true);
  w.memory.write(0x3000, msg);
  w.k.queueExit(0, { kind: "hcall", input: BigInt(HvCallPostMessage), params: [0x3000n, 0n] });
  assert.deepEqual(hook.exits.onExit(w.k.run(w.vcpus[0])), { kind: "continue" });
  assert.deepEqual(msi, [], "the machine's raise is not used");
  assert.deepEqual(w.k.deliveries, [delivered(1, 2, 0x90)]);
  // Without a layout in the URL the worker keeps the machine's partition (and its raise).
  assert.equal(passthroughExitHook({ service: w.k, vcpu: w.vcpus[0], partition: w.partition, composition: w.plan.composition, moduleUrl: PASSTHROUGH_WORKER_MODULE }).synic, undefined);
});
