import assert from "node:assert/strict";
import { HvPrivilegeEax } from "@hv/tlfs";
import { MsrOutcome, newMsrAccess, type VpView } from "@hv/x86";
import { hypercallStub, MsrDispatcher } from "../mod.ts";

const vp = {} as VpView;
const calls: string[] = [];
const handlers = {
  rdmsr: (_: VpView, m: { index: number; lo: number }) => (calls.push(`r${m.index.toString(16)}`), m.lo = 7, MsrOutcome.Ok),
  wrmsr: (_: VpView, m: { index: number }) => (calls.push(`w${m.index.toString(16)}`), m.index === 0x40000012 ? MsrOutcome.NotMine : MsrOutcome.Ok),
};
const d = new MsrDispatcher([
  { owner: "p", handlers, claim: { index: 0x40000010, name: "RO", access: "ro", gate: HvPrivilegeEax.AccessVpRunTimeReg } },
  { owner: "p", handlers, claim: { index: 0x40000011, name: "WO", access: "wo" } },
  { owner: "p", handlers, claim: { index: 0x40000012, name: "RW", access: "rw" } },
  { owner: "q", handlers: {}, claim: { index: 0x40000013, name: "NOBEHAVIOUR", access: "rw" } },
]);

Deno.test("generic rules: ro writes, wo reads, unclaimed, behaviour-less and NotMine answers all become #GP before or after the handler", () => {
  const m = newMsrAccess();
  const at = (i: number) => (m.index = i, m);
  calls.length = 0;
  assert.equal(d.rdmsr(vp, at(0x40000010)), MsrOutcome.Ok);
  assert.equal(m.lo, 7);
  assert.equal(d.wrmsr(vp, at(0x40000010)), MsrOutcome.Gp);
  assert.equal(d.rdmsr(vp, at(0x40000011)), MsrOutcome.Gp);
  assert.equal(d.wrmsr(vp, at(0x40000011)), MsrOutcome.Ok);
  assert.equal(d.wrmsr(vp, at(0x40000012)), MsrOutcome.Gp, "a handler's NotMine for its own claim is #GP");
  assert.equal(d.rdmsr(vp, at(0x40000013)), MsrOutcome.Gp);
  assert.equal(d.rdmsr(vp, at(0x400001ff)), MsrOutcome.Gp);
  assert.equal(d.rdmsr(vp, at(0x3fffffff)), MsrOutcome.Gp);
  assert.equal(d.rdmsr(vp, at(0x40000200)), MsrOutcome.Gp);
  assert.deepEqual(calls, ["r40000010", "w40000011", "w40000012"], "refused accesses never reach the handler");
  assert.equal(d.route(0x40000013)?.owner, "q");
});

Deno.test("the table refuses MSRs outside the routed range and double claims", () => {
  assert.throws(() => new MsrDispatcher([{ owner: "x", handlers, claim: { index: 0x40000200, name: "X", access: "rw" } }]), RangeError);
  const c = { index: 0x40000010, name: "X", access: "rw" as const };
  assert.throws(() => new MsrDispatcher([{ owner: "a", handlers, claim: c }, { owner: "b", handlers, claim: c }]), /claimed by a and b/);
});

Deno.test("the emulator's stub is OUT imm8, EAX; RET and the port must be 8-bit", () => {
  assert.deepEqual([...hypercallStub(0xe4)], [0xe7, 0xe4, 0xc3]);
  assert.throws(() => hypercallStub(0x100), RangeError);
});
