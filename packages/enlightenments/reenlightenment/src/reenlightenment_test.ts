import assert from "node:assert/strict";
import { HV_X64_MSR_REENLIGHTENMENT_CONTROL, HV_X64_MSR_TSC_EMULATION_CONTROL, HV_X64_MSR_TSC_EMULATION_STATUS } from "@hv/tlfs";
import { cpuidOf, MsrOutcome, newMsrAccess } from "@hv/x86";
import { rdmsr, TestPartition, wrmsr } from "@hv/testkit";
import {
  reenlightenment,
  reenlightenmentHandlers,
  reenlightenmentNotify,
  reenlightenmentPartitionState,
  type ReenlightenmentViews,
  tscEmulationRequested,
} from "../mod.ts";

Deno.test("reenlightenment sets 0x40000003.EAX[13] and claims its three MSRs", () => {
  assert.deepEqual(cpuidOf(reenlightenment, {}).set?.map((b) => [b.leaf, b.register, b.bit]), [[0x40000003, "eax", 13]]);
  assert.deepEqual(reenlightenment.msrs.map((m) => [m.index, m.name, m.access, m.gate?.bit]), [
    [0x40000106, "HV_X64_MSR_REENLIGHTENMENT_CONTROL", "rw", 13],
    [0x40000107, "HV_X64_MSR_TSC_EMULATION_CONTROL", "rw", 13],
    [0x40000108, "HV_X64_MSR_TSC_EMULATION_STATUS", "rw", 13],
  ]);
  assert.deepEqual(reenlightenment.requires, []);
  assert.equal(typeof reenlightenment.create, "function");
});

Deno.test("reenlightenment state is per partition and zero at power-on", () => {
  assert.equal(reenlightenment.state?.partition, reenlightenmentPartitionState);
  const buf = new SharedArrayBuffer(reenlightenmentPartitionState.byteLength);
  reenlightenmentPartitionState.reset(buf);
  assert.deepEqual(reenlightenmentPartitionState.inspect(buf), { control: 0n, emulation_control: 0n, emulation_status: 0n });
});

const make = (o: { vpIndices?: number[] } = {}) => TestPartition.create({ requested: ["reenlightenment"], ...o });
const GARBAGE = [0n, 1n, 0xeen, 0x100een, 0xffffffffffffffffn, 0xdeadbeefcafef00dn, 1n << 63n, 0x00000041000100een];

Deno.test("TLFS row REENLIGHTENMENT_CONTROL: power-on 0; any value (garbage included) stored as written, shared by all VPs", () => {
  const p = make({ vpIndices: [0, 65] });
  const [a, b] = p.vps;
  assert.equal(rdmsr(a, HV_X64_MSR_REENLIGHTENMENT_CONTROL), 0n);
  for (const v of GARBAGE) {
    assert.equal(wrmsr(a, HV_X64_MSR_REENLIGHTENMENT_CONTROL, v), "ok", `write 0x${v.toString(16)}`);
    assert.equal(rdmsr(b, HV_X64_MSR_REENLIGHTENMENT_CONTROL), v);
  }
  // Linux with kvm_intel in the guest: 0xEE | 1 << 16 | vp << 32 (hyperv_features.c: REENLIGHTENMENT := 1).
  assert.equal(wrmsr(b, HV_X64_MSR_REENLIGHTENMENT_CONTROL, 0xeen | (1n << 16n) | (65n << 32n)), "ok");
  assert.equal(rdmsr(a, HV_X64_MSR_REENLIGHTENMENT_CONTROL), 0x41000100een);
  assert.deepEqual(b.interrupts, [], "enabling raises nothing by itself");
});

Deno.test("TLFS row TSC_EMULATION_CONTROL: power-on 0; any value stored", () => {
  const p = make();
  const vp = p.vps[0];
  assert.equal(rdmsr(vp, HV_X64_MSR_TSC_EMULATION_CONTROL), 0n);
  for (const v of GARBAGE) {
    assert.equal(wrmsr(vp, HV_X64_MSR_TSC_EMULATION_CONTROL, v), "ok");
    assert.equal(rdmsr(vp, HV_X64_MSR_TSC_EMULATION_CONTROL), v);
  }
});

Deno.test("TLFS row TSC_EMULATION_STATUS: power-on 0; the guest may write only 0; anything else #GPs and changes nothing", () => {
  const p = make();
  const vp = p.vps[0];
  assert.equal(rdmsr(vp, HV_X64_MSR_TSC_EMULATION_STATUS), 0n);
  assert.equal(wrmsr(vp, HV_X64_MSR_TSC_EMULATION_STATUS, 0n), "ok");
  for (const v of GARBAGE.filter((v) => v !== 0n).concat([2n, 1n << 32n])) {
    assert.equal(wrmsr(vp, HV_X64_MSR_TSC_EMULATION_STATUS, v), "gp", `write 0x${v.toString(16)}`);
  }
  assert.equal(rdmsr(vp, HV_X64_MSR_TSC_EMULATION_STATUS), 0n);
  // A status the host set (the hook) is read back, and the guest clears it by writing 0.
  wrmsr(vp, HV_X64_MSR_TSC_EMULATION_CONTROL, 1n);
  reenlightenmentNotify(p);
  assert.equal(rdmsr(vp, HV_X64_MSR_TSC_EMULATION_STATUS), 1n);
  assert.equal(wrmsr(vp, HV_X64_MSR_TSC_EMULATION_STATUS, 1n), "gp", "writing back the same non-zero value still #GPs");
  assert.equal(wrmsr(vp, HV_X64_MSR_TSC_EMULATION_STATUS, 0n), "ok");
  assert.equal(rdmsr(vp, HV_X64_MSR_TSC_EMULATION_STATUS), 0n);
});

Deno.test("without hv-reenlightenment composed the three MSRs #GP on read and write", () => {
  const p = TestPartition.create({ requested: ["frequencies"] });
  for (const msr of [HV_X64_MSR_REENLIGHTENMENT_CONTROL, HV_X64_MSR_TSC_EMULATION_CONTROL, HV_X64_MSR_TSC_EMULATION_STATUS]) {
    assert.equal(rdmsr(p.vps[0], msr), "gp");
    assert.equal(wrmsr(p.vps[0], msr, 0n), "gp");
  }
});

Deno.test("reenlightenmentNotify hook: raises the vector on the target VP only when enabled, the VP exists and the vector is >= 16", () => {
  const p = make({ vpIndices: [0, 1] });
  const [a, b] = p.vps;
  assert.equal(reenlightenmentNotify(p), false, "disabled at power-on");
  assert.equal(rdmsr(a, HV_X64_MSR_TSC_EMULATION_STATUS), 0n, "no emulation requested: status untouched");
  wrmsr(a, HV_X64_MSR_REENLIGHTENMENT_CONTROL, 0xeen | (1n << 16n) | (1n << 32n));
  assert.equal(reenlightenmentNotify(p), true);
  assert.deepEqual(b.interrupts, [{ vector: 0xee, autoEoi: false }]);
  assert.deepEqual(a.interrupts, []);
  wrmsr(a, HV_X64_MSR_REENLIGHTENMENT_CONTROL, 0xeen | (1n << 16n) | (7n << 32n));
  assert.equal(reenlightenmentNotify(p), false, "target VP 7 does not exist");
  wrmsr(a, HV_X64_MSR_REENLIGHTENMENT_CONTROL, 0x0fn | (1n << 16n));
  assert.equal(reenlightenmentNotify(p), false, "vector 15 is not an interrupt");
  wrmsr(a, HV_X64_MSR_REENLIGHTENMENT_CONTROL, 0xffffffffffffffffn & ~(1n << 16n));
  assert.equal(reenlightenmentNotify(p), false, "enable bit clear");
  assert.equal(b.interrupts.length, 1);
});

Deno.test("tscEmulationRequested follows TSC_EMULATION_CONTROL", () => {
  const p = make();
  assert.equal(tscEmulationRequested(p), false);
  wrmsr(p.vps[0], HV_X64_MSR_TSC_EMULATION_CONTROL, 1n << 40n);
  assert.equal(tscEmulationRequested(p), true);
  wrmsr(p.vps[0], HV_X64_MSR_TSC_EMULATION_CONTROL, 0n);
  assert.equal(tscEmulationRequested(p), false);
});

Deno.test("handlers: MSRs around the range are NotMine", () => {
  const buf = new SharedArrayBuffer(reenlightenmentPartitionState.byteLength);
  const h = reenlightenmentHandlers(reenlightenmentPartitionState.views(buf) as ReenlightenmentViews);
  const p = make();
  const msr = newMsrAccess();
  for (const index of [HV_X64_MSR_REENLIGHTENMENT_CONTROL - 1, HV_X64_MSR_TSC_EMULATION_STATUS + 1]) {
    msr.index = index;
    assert.equal(h.rdmsr!(p.vps[0], msr), MsrOutcome.NotMine);
    assert.equal(h.wrmsr!(p.vps[0], msr), MsrOutcome.NotMine);
  }
});

Deno.test("save/restore and reset of the per-partition state through the arena", () => {
  const p = make();
  const vp = p.vps[0];
  wrmsr(vp, HV_X64_MSR_REENLIGHTENMENT_CONTROL, 0x00000003000100een);
  wrmsr(vp, HV_X64_MSR_TSC_EMULATION_CONTROL, 1n);
  reenlightenmentNotify(p); // status in progress
  const saved = p.arena.save();
  p.arena.reset();
  assert.deepEqual(p.arena.inspect().reenlightenment, { control: 0n, emulation_control: 0n, emulation_status: 0n });
  const q = make();
  q.arena.restore(saved);
  assert.deepEqual(q.arena.inspect().reenlightenment, { control: 0x00000003000100een, emulation_control: 1n, emulation_status: 1n });
  assert.equal(rdmsr(q.vps[0], HV_X64_MSR_REENLIGHTENMENT_CONTROL), 0x00000003000100een);
  assert.equal(rdmsr(q.vps[0], HV_X64_MSR_TSC_EMULATION_CONTROL), 1n);
  assert.equal(rdmsr(q.vps[0], HV_X64_MSR_TSC_EMULATION_STATUS), 1n);
});
