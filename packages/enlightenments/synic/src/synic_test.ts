import assert from "node:assert/strict";
import { cpuidOf, MsrOutcome, newMsrAccess, type PartitionView, type VpView } from "@hv/x86";
import { synic, SYNIC_CONNECTION_CAPACITY, synicPartitionState, synicVpState } from "../mod.ts";

Deno.test("synic sets 0x40000003.EAX[2] and EBX[4,5], requires vpindex", () => {
  assert.deepEqual(cpuidOf(synic, {}).set?.map((b) => [b.leaf, b.register, b.bit, b.name]), [
    [0x40000003, "eax", 2, "AccessSynicRegs"],
    [0x40000003, "ebx", 4, "PostMessages"],
    [0x40000003, "ebx", 5, "SignalEvents"],
  ]);
  assert.deepEqual(synic.requires, ["vpindex"]);
});

Deno.test("synic claims SCONTROL..EOM and SINT0..15, SVERSION read-only", () => {
  const msrs = synic.msrs.map((m) => [m.index, m.name, m.access] as const);
  assert.equal(msrs.length, 21);
  assert.deepEqual(msrs.slice(0, 5), [
    [0x40000080, "HV_X64_MSR_SCONTROL", "rw"],
    [0x40000081, "HV_X64_MSR_SVERSION", "ro"],
    [0x40000082, "HV_X64_MSR_SIEFP", "rw"],
    [0x40000083, "HV_X64_MSR_SIMP", "rw"],
    [0x40000084, "HV_X64_MSR_EOM", "rw"],
  ]);
  for (let n = 0; n < 16; n++) assert.deepEqual(msrs[5 + n], [0x40000090 + n, `HV_X64_MSR_SINT${n}`, "rw"]);
  assert.ok(synic.msrs.every((m) => m.gate?.name === "AccessSynicRegs"));
});

Deno.test("synic claims PostMessage (slow, 256 bytes) and SignalEvent (fast allowed, 8 bytes)", () => {
  assert.deepEqual(synic.hypercalls.map((h) => [h.code, h.name, h.kind, h.fast, h.inputBytes, h.gate?.name]), [
    [0x5c, "HvCallPostMessage", "simple", "never", 256, "PostMessages"],
    [0x5d, "HvCallSignalEvent", "simple", "allowed", 8, "SignalEvents"],
  ]);
  assert.deepEqual(synic.passthrough.enableCapabilities, ["KVM_CAP_HYPERV_SYNIC2"]);
});

Deno.test("synic per-VP state: SINTs masked (0x10000) at power-on", () => {
  assert.equal(synic.state?.vp, synicVpState);
  const buf = new SharedArrayBuffer(synicVpState.byteLength);
  synicVpState.reset(buf);
  const s = synicVpState.inspect(buf);
  assert.deepEqual(s.sint, Array(16).fill(0x10000n));
  assert.equal(s.siefp, 0n);
  assert.equal(s.simp, 0n);
  assert.equal(s.scontrol, 1n);
  assert.ok(!("sversion" in s));
});

Deno.test("synic per-partition state: an empty connection table; create() serves its MSRs and answers NotMine for others", () => {
  assert.equal(synic.state?.partition, synicPartitionState);
  const buf = new SharedArrayBuffer(synicPartitionState.byteLength);
  synicPartitionState.reset(buf);
  const t = synicPartitionState.inspect(buf);
  assert.equal((t.connKind as number[]).length, SYNIC_CONNECTION_CAPACITY);
  assert.ok((t.connKind as number[]).every((k) => k === 0));
  assert.equal(typeof synic.create, "function");
  const h = synic.create!({ params: {}, partition: {} as PartitionView });
  const msr = newMsrAccess();
  for (const index of [0x40000000, 0x40000085, 0x4000008f, 0x400000a0, 0x400000b0]) {
    msr.index = index;
    assert.equal(h.rdmsr!({} as VpView, msr), MsrOutcome.NotMine, `0x${index.toString(16)}`);
    assert.equal(h.wrmsr!({} as VpView, msr), MsrOutcome.NotMine);
  }
});
