import assert from "node:assert/strict";
import { Effect } from "effect";
import { KVM_EXIT_HYPERV, KVM_EXIT_HYPERV_HCALL, KVM_EXIT_HYPERV_SYNIC, KVM_EXIT_SHUTDOWN, KvmRun } from "@hv/kvm";
import { createSynicEventConnection, createSynicMessageConnection, type SynicVpViews } from "@hv/synic";
import { hypercall, TestPartition, wrmsr } from "@hv/testkit";
import {
  HV_X64_MSR_GUEST_OS_ID,
  HV_X64_MSR_SCONTROL,
  HV_X64_MSR_SIEFP,
  HV_X64_MSR_SIMP,
  HvCallFlushVirtualAddressSpace,
  HvCallPostMessage,
  HvCallSignalEvent,
  hvMsrSint,
} from "@hv/tlfs";
import { GuestMemory, type VpView } from "@hv/x86";
import {
  createPassthroughHyperv,
  decodeHypervExit,
  encodeHypervExit,
  handleHypervExit,
  HYPERV_EXIT_IGNORED,
  HYPERV_EXIT_SYNIC,
  newHypervExit,
  passthroughPartition,
  PassthroughVcpuExits,
  preflight,
  setupPassthroughVm,
  SimulatedKvm,
} from "../mod.ts";
import { composeNames } from "./test_helpers.ts";

const SIMP = 0x10000, SIEFP = 0x11000; // VP n: SIMP + n * 0x2000, SIEFP + n * 0x2000 (as the synic package's tests)
const simpOf = (n: number) => SIMP + n * 0x2000;
const siefpOf = (n: number) => SIEFP + n * 0x2000;
const lo = (v: bigint) => Number(v & 0xffffffffn);
const hi = (v: bigint) => Number((v >> 32n) & 0xffffffffn);

/** A decoded SYNIC exit: the guest wrote `msr`; SCONTROL, SIEFP and SIMP now hold these values. */
function synicExit(msr: number, control: bigint, evtPage: bigint, msgPage: bigint) {
  return Object.assign(newHypervExit(), {
    type: KVM_EXIT_HYPERV_SYNIC,
    msr,
    controlLo: lo(control),
    controlHi: hi(control),
    evtPageLo: lo(evtPage),
    evtPageHi: hi(evtPage),
    msgPageLo: lo(msgPage),
    msgPageHi: hi(msgPage),
  });
}
/** A decoded HCALL exit: input value and the two params KVM passes. */
function hcallExit(input: bigint, p0: bigint, p1 = 0n) {
  return Object.assign(newHypervExit(), {
    type: KVM_EXIT_HYPERV_HCALL,
    inputLo: lo(input),
    inputHi: hi(input),
    param0Lo: lo(p0),
    param0Hi: hi(p0),
    param1Lo: lo(p1),
    param1Hi: hi(p1),
  });
}
const sints = (entries: Record<number, number>) => Array.from({ length: 16 }, (_, n) => BigInt(entries[n] ?? 0x10000));

/** The passthrough partition for `names` on 2 VPs, interrupts recorded per VP. */
function passthrough(names: string[] = ["synic"]) {
  const composition = composeNames(names);
  const memory = GuestMemory.allocate(1 << 20);
  const interrupts: { vp: number; vector: number; autoEoi: boolean }[] = [];
  const partition = passthroughPartition({
    composition,
    memory,
    vpCount: 2,
    requestInterrupt: (vp: VpView, vector, autoEoi) => void interrupts.push({ vp: vp.index, vector, autoEoi }),
  });
  return { composition, memory, partition, interrupts, h: createPassthroughHyperv(composition, partition) };
}

Deno.test("kvm_run.hyperv round-trips through KVM's layout (SYNIC and HCALL)", () => {
  const run = new KvmRun(new Uint8Array(4096));
  const s = synicExit(HV_X64_MSR_SIMP, 1n, 0x11001n, 0x1234_5678_9000_1001n);
  encodeHypervExit(run, s);
  assert.equal(run.exitReason, KVM_EXIT_HYPERV);
  assert.equal(run.hypervType, KVM_EXIT_HYPERV_SYNIC);
  assert.equal(run.hypervSynicMsr, HV_X64_MSR_SIMP);
  assert.equal(run.hypervSynicEvtPage, 0x11001);
  assert.deepEqual(decodeHypervExit(run, newHypervExit()), s);
  const h = hcallExit(0x0000_0000_0001_005cn, 0x1000n, 0xffff_ffff_0000_2000n);
  encodeHypervExit(run, h);
  assert.equal(run.hypervHcallInputLo, 0x1005c);
  assert.equal(run.hypervHcallParamHi(1), 0xffffffff);
  assert.deepEqual(decodeHypervExit(run, newHypervExit()), h);
});

Deno.test("SYNIC exits mirror SCONTROL, SIEFP, SIMP (and the SINTs read from KVM) into the synic package's state", () => {
  const { partition, h } = passthrough();
  const vp = partition.vp(1)!;
  const s = vp.state("synic") as unknown as SynicVpViews;
  assert.deepEqual([...s.scontrol], [1, 0], "power-on");
  assert.equal(handleHypervExit(h, vp, synicExit(HV_X64_MSR_SIMP, 0n, 0n, BigInt(simpOf(1) | 1))), HYPERV_EXIT_SYNIC);
  assert.deepEqual([...s.simp], [simpOf(1) | 1, 0]);
  assert.deepEqual([...s.scontrol], [0, 0], "the exit carries all three: SCONTROL is 0 until the guest enables it");
  handleHypervExit(h, vp, synicExit(HV_X64_MSR_SCONTROL, 1n, BigInt(siefpOf(1) | 1), BigInt(simpOf(1) | 1)), sints({ 2: 0x90, 5: 0x20091 }));
  assert.deepEqual([...s.scontrol, ...s.siefp, ...s.simp], [1, 0, siefpOf(1) | 1, 0, simpOf(1) | 1, 0]);
  assert.deepEqual([s.sint[4], s.sint[10], s.sint[0]], [0x90, 0x20091, 0x10000]);
  assert.deepEqual([...(partition.vp(0)!.state("synic") as unknown as SynicVpViews).simp], [0, 0], "VP 0 untouched");
  // Without synic composed there is no state: the exit is acknowledged and nothing is stored.
  const bare = passthrough(["relaxed"]);
  assert.equal(handleHypervExit(bare.h, bare.partition.vp(0)!, synicExit(HV_X64_MSR_SIMP, 1n, 0n, 0x10001n)), HYPERV_EXIT_SYNIC);
  assert.equal(handleHypervExit(bare.h, bare.partition.vp(0)!, { ...newHypervExit(), type: 3 }), HYPERV_EXIT_IGNORED, "SYNDBG");
});

Deno.test("HvPostMessage and HvSignalEvent answer exactly what the emulator answers, over the same connection table", () => {
  // The emulator (testkit: the emulator's dispatch tables) and the passthrough backend, set up alike.
  const emu = TestPartition.create({ requested: ["synic"], vpCount: 2 });
  assert.equal(wrmsr(emu.vps[0], HV_X64_MSR_GUEST_OS_ID, 0x0001040a00004f7cn), "ok");
  const pt = passthrough();
  emu.vps.forEach((vp, n) => {
    assert.equal(wrmsr(vp, HV_X64_MSR_SIMP, simpOf(n) | 1), "ok");
    assert.equal(wrmsr(vp, HV_X64_MSR_SIEFP, siefpOf(n) | 1), "ok");
    handleHypervExit(pt.h, pt.partition.vp(n)!, synicExit(HV_X64_MSR_SCONTROL, 1n, BigInt(siefpOf(n) | 1), BigInt(simpOf(n) | 1)), sints({ 8: 0xb0, 9: 0xb1 }));
  });
  assert.equal(wrmsr(emu.vps[0], hvMsrSint(8), 0xb0), "ok");
  assert.equal(wrmsr(emu.vps[0], hvMsrSint(9), 0xb1), "ok");
  assert.equal(wrmsr(emu.vps[1], hvMsrSint(8), 0xb0), "ok");
  assert.equal(wrmsr(emu.vps[1], hvMsrSint(9), 0xb1), "ok");
  for (const p of [emu, pt.partition]) {
    assert.ok(createSynicMessageConnection(p, 0x10, 0, 8));
    assert.ok(createSynicMessageConnection(p, 0x11, 1, 8));
    assert.ok(createSynicEventConnection(p, 0x21, 0, 9, 0x21));
  }

  const input = (conn: number, type: number, size: number) => {
    const b = new Uint8Array(256);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, conn >>> 0, true);
    dv.setUint32(8, type >>> 0, true);
    dv.setUint32(12, size >>> 0, true);
    b.fill(0x5a, 16);
    return b;
  };
  const post = BigInt(HvCallPostMessage), signal = BigInt(HvCallSignalEvent), FAST = 1n << 16n;
  type Case = { name: string; control: bigint; input?: Uint8Array; gpa?: number; fast?: bigint };
  const cases: Case[] = [
    { name: "post to VP 0", control: post, input: input(0x10, 1, 16) },
    { name: "post to VP 1", control: post, input: input(0x11, 2, 240) },
    { name: "post while the slot is busy: staged", control: post, input: input(0x10, 3, 0) },
    { name: "post again: staging busy", control: post, input: input(0x10, 4, 0) },
    { name: "payload 241", control: post, input: input(0x11, 1, 241) },
    { name: "hypervisor message type", control: post, input: input(0x11, 0x80000010, 0) },
    { name: "unknown connection", control: post, input: input(0x12, 1, 0) },
    { name: "bits 31:24 of the connection ignored", control: post, input: input(0xff000011, 5, 0) },
    { name: "fast post", control: post | FAST, fast: 0n },
    { name: "input crosses a page", control: post, gpa: 0x1f08 },
    { name: "input outside RAM", control: post, gpa: 1 << 20 },
    { name: "reserved control bit 27", control: post | (1n << 27n), input: input(0x10, 1, 0) },
    { name: "signal", control: signal | FAST, fast: 0x21n },
    { name: "signal, flag already set", control: signal | FAST, fast: 0x21n },
    { name: "signal, flag number != 0", control: signal | FAST, fast: (1n << 32n) | 0x21n },
    { name: "signal, bits 31:24", control: signal | FAST, fast: 0x01000021n },
    { name: "signal, unknown connection", control: signal | FAST, fast: 0x22n },
  ];
  const statuses: number[] = [];
  for (const c of cases) {
    const gpa = c.gpa ?? 0x1000;
    if (c.input) {
      emu.memory.write(gpa, c.input);
      pt.memory.write(gpa, c.input);
    }
    const e = hypercall(emu.vps[0], c.fast === undefined
      ? { control: c.control, inputGpa: gpa, outputGpa: 0 }
      : { control: c.control, fast: true, fastInput: [c.fast] });
    assert.notEqual(typeof e, "string", c.name);
    // KVM's exit: params[0] = the input GPA, or (HvSignalEvent, converted to fast by KVM) the parameter
    // itself, with the fast bit left as the guest set it: here cleared, as after a slow call.
    const isSignal = (c.control & 0xffffn) === signal;
    const control = isSignal ? c.control & ~FAST : c.control;
    const p = handleHypervExit(pt.h, pt.partition.vp(0)!, hcallExit(control, c.fast ?? BigInt(gpa)));
    assert.equal(p, (e as { status: number }).status, c.name);
    statuses.push(p);
  }
  // Same guest-visible effects: both SIMP pages, the event flags, and the interrupts raised.
  for (const n of [0, 1]) {
    assert.deepEqual(pt.memory.slice(simpOf(n), 4096), emu.memory.slice(simpOf(n), 4096), `SIMP of VP ${n}`);
    assert.deepEqual(pt.memory.slice(siefpOf(n), 4096), emu.memory.slice(siefpOf(n), 4096), `SIEFP of VP ${n}`);
  }
  assert.deepEqual(pt.interrupts.map((i) => [i.vp, i.vector]), [[0, 0xb0], [1, 0xb0], [0, 0xb1]]);
  assert.deepEqual(emu.vps[0].interrupts.map((i) => i.vector), [0xb0, 0xb1]);
  assert.deepEqual(emu.vps[1].interrupts.map((i) => i.vector), [0xb0]);
  assert.deepEqual(statuses, [0, 0, 0, 0x13, 3, 5, 0x12, 0, 3, 4, 3, 3, 0, 0, 0x11, 3, 0x12], "the cases cover every status");
});

Deno.test("hypercalls KVM serves in-kernel never reach userspace; if one did, it is HV_STATUS_INVALID_HYPERCALL_CODE (QEMU)", () => {
  const { partition, h } = passthrough(["synic", "tlbflush"]);
  assert.equal(handleHypervExit(h, partition.vp(0)!, hcallExit(BigInt(HvCallFlushVirtualAddressSpace), 0x1000n)), 2);
  assert.equal(handleHypervExit(h, partition.vp(0)!, hcallExit(0x8001n, 0x1000n, 0x2000n)), 2, "HvExtCallQueryCapabilities");
  const bare = passthrough(["relaxed"]);
  assert.equal(handleHypervExit(bare.h, bare.partition.vp(0)!, hcallExit(BigInt(HvCallPostMessage), 0x1000n)), 2, "no synic composed: no route");
});

Deno.test("the vCPU run-loop hook over the simulated kernel: SYNIC mirror, HvPostMessage result written back, crash read back", () => {
  const c = composeNames(["synic", "crash"]);
  const k = new SimulatedKvm();
  const plan = Effect.runSync(preflight(c, k));
  const { vm, vcpus } = setupPassthroughVm(k, plan, 2);
  const memory = GuestMemory.allocate(1 << 20);
  const partition = passthroughPartition({
    composition: c,
    memory,
    vpCount: 2,
    requestInterrupt: (vp, vector) => k.signalMsi(vm, vp.apicId, vector),
  });
  const h = createPassthroughHyperv(c, partition);
  const exits = new PassthroughVcpuExits(k, vcpus[1], h, partition.vp(1)!);
  assert.ok(createSynicMessageConnection(partition, 7, 1, 2));
  const msg = new Uint8Array(256);
  new DataView(msg.buffer).setUint32(0, 7, true);
  new DataView(msg.buffer).setUint32(8, 0x42, true);
  memory.write(0x3000, msg);

  k.guestWroteSint(1, 2, 0x90n); // in-kernel: no exit; read back at the next SYNIC exit
  k.queueExit(
    1,
    { kind: "synic", msr: HV_X64_MSR_SCONTROL, control: 1n, evtPage: BigInt(siefpOf(1) | 1), msgPage: BigInt(simpOf(1) | 1) },
    { kind: "hcall", input: BigInt(HvCallPostMessage), params: [0x3000n, 0n] },
    { kind: "hcall", input: BigInt(HvCallPostMessage), params: [0x3008n, 0n] },
    { kind: "crash", parameters: [0x1en, 0xc0000005n, 0xfffff80000001234n, 0n, 0n] },
    { kind: "reset" },
    { kind: "shutdown" },
  );
  for (let i = 0; i < 3; i++) assert.deepEqual(exits.onExit(k.run(vcpus[1])), { kind: "continue" });
  assert.deepEqual(k.hypercallResults.get(1), [0, 0x12], "SUCCESS, then INVALID_CONNECTION_ID for a connection id of 0");
  assert.equal(k.kvmRun(1).hypervHcallResult, 0x12, "hcall.result in kvm_run");
  assert.equal(memory.readU32(simpOf(1) + 2 * 256), 0x42, "message in VP 1's SIMP slot 2");
  assert.ok(k.log().includes("KVM_SIGNAL_MSI vm 0xfee01000 0x90"), "SINT 2's vector to APIC 1");
  assert.ok(k.log().includes(`KVM_GET_MSRS vcpu1 ${Array.from({ length: 16 }, (_, n) => `0x${(0x40000090 + n).toString(16)}`).join(" ")}`));

  const crash = exits.onExit(k.run(vcpus[1]));
  assert.deepEqual(crash, {
    kind: "crash",
    report: { vp: 1, parameters: [0x1en, 0xc0000005n, 0xfffff80000001234n, 0n, 0n], control: 0x8000000000000000n },
  });
  assert.ok(k.log().includes("KVM_GET_MSRS vcpu1 0x40000100 0x40000101 0x40000102 0x40000103 0x40000104 0x40000105"));
  const s = partition.state("crash") as unknown as { p: Uint32Array; ctl: Uint32Array };
  assert.deepEqual([s.p[2], s.p[3], s.ctl[1]], [0xc0000005, 0, 0x80000000], "mirrored into the crash package's state");
  assert.deepEqual(exits.onExit(k.run(vcpus[1])), { kind: "reset", source: "HV_X64_MSR_RESET (KVM_SYSTEM_EVENT_RESET)" });
  assert.deepEqual(exits.onExit(k.run(vcpus[1])), { kind: "unhandled" });
  assert.equal(k.kvmRun(1).exitReason, KVM_EXIT_SHUTDOWN);
  assert.deepEqual(exits.counts, { synic: 1, hcall: 2, ignored: 0 });
});
