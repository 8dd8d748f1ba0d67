import assert from "node:assert/strict";
import { HV_X64_MSR_RESET } from "@hv/tlfs";
import { cpuidOf, MsrOutcome, newMsrAccess } from "@hv/x86";
import { rdmsr, TestPartition, wrmsr } from "@hv/testkit";
import { reset, resetHandlers } from "../mod.ts";

Deno.test("reset sets 0x40000003.EAX[7] and claims HV_X64_MSR_RESET", () => {
  assert.deepEqual(cpuidOf(reset, {}).set?.map((b) => [b.leaf, b.register, b.bit, b.name]), [[0x40000003, "eax", 7, "AccessResetReg"]]);
  assert.deepEqual(reset.msrs.map((m) => [m.index, m.name, m.access, m.gate?.bit]), [[0x40000003, "HV_X64_MSR_RESET", "rw", 7]]);
  assert.deepEqual(reset.requires, []);
  assert.deepEqual(reset.formats.libvirt, { hyperv: "reset" });
});

Deno.test("TLFS row RESET: reads 0 at power-on and after any write", () => {
  const p = TestPartition.create({ requested: ["reset"] });
  const vp = p.vps[0];
  assert.equal(rdmsr(vp, HV_X64_MSR_RESET), 0n);
  assert.equal(wrmsr(vp, HV_X64_MSR_RESET, 0xdeadbeefn), "ok");
  assert.equal(rdmsr(vp, HV_X64_MSR_RESET), 0n, "nothing is stored");
  assert.deepEqual(p.resets, []);
});

Deno.test("TLFS row RESET: writing 1 resets the system (event 'reset'), once per write, from any VP", () => {
  const p = TestPartition.create({ requested: ["reset"], vpCount: 2 });
  assert.equal(wrmsr(p.vps[0], HV_X64_MSR_RESET, 1n), "ok");
  assert.deepEqual(p.resets, ["reset"]);
  assert.equal(wrmsr(p.vps[1], HV_X64_MSR_RESET, 1n), "ok");
  assert.deepEqual(p.resets, ["reset", "reset"]);
});

Deno.test("TLFS row RESET: other values are ignored and never #GP (KVM: data == 1 only)", () => {
  const p = TestPartition.create({ requested: ["reset"] });
  for (const v of [0n, 2n, 3n, 0xffn, 1n << 32n, (1n << 32n) | 1n, 1n << 63n, 0xffffffffffffffffn]) {
    assert.equal(wrmsr(p.vps[0], HV_X64_MSR_RESET, v), "ok", `write 0x${v.toString(16)}`);
  }
  assert.deepEqual(p.resets, []);
});

Deno.test("without hv-reset composed RESET #GPs on read and on write (no reset)", () => {
  const p = TestPartition.create({ requested: ["runtime"] });
  assert.equal(rdmsr(p.vps[0], HV_X64_MSR_RESET), "gp");
  assert.equal(wrmsr(p.vps[0], HV_X64_MSR_RESET, 1n), "gp");
  assert.deepEqual(p.resets, []);
});

Deno.test("handlers: other MSRs are NotMine; no state is declared", () => {
  const h = resetHandlers();
  const p = TestPartition.create({ requested: ["reset"] });
  const msr = newMsrAccess();
  msr.index = HV_X64_MSR_RESET + 1;
  msr.lo = 1;
  assert.equal(h.rdmsr!(p.vps[0], msr), MsrOutcome.NotMine);
  assert.equal(h.wrmsr!(p.vps[0], msr), MsrOutcome.NotMine);
  assert.deepEqual(p.resets, []);
  assert.equal(reset.state, undefined);
  assert.deepEqual(p.arena.save().reset, undefined, "nothing to save");
});
