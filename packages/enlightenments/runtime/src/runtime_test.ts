import assert from "node:assert/strict";
import { HV_X64_MSR_VP_RUNTIME } from "@hv/tlfs";
import { cpuidOf, MsrOutcome, newMsrAccess } from "@hv/x86";
import { rdmsr, TestPartition, wrmsr } from "@hv/testkit";
import { nextVpRuntime, runtime, runtimeHandlers, type RuntimeVpViews, runtimeVpState } from "../mod.ts";

Deno.test("runtime sets 0x40000003.EAX[0] and claims VP_RUNTIME read-only", () => {
  assert.deepEqual(cpuidOf(runtime, {}).set?.map((b) => [b.leaf, b.register, b.bit]), [[0x40000003, "eax", 0]]);
  assert.deepEqual(runtime.msrs.map((m) => [m.index, m.name, m.access, m.gate?.name]), [
    [0x40000010, "HV_X64_MSR_VP_RUNTIME", "ro", "AccessVpRunTimeReg"],
  ]);
  assert.deepEqual(runtime.requires, []);
  assert.equal(runtime.state?.vp, runtimeVpState);
  assert.equal(runtime.state?.partition, undefined);
  assert.equal(typeof runtime.create, "function");
  assert.equal(runtime.formats.qemu.property, "hv-runtime");
});

Deno.test("runtime state is per VP and zero at power-on", () => {
  const buf = new SharedArrayBuffer(runtimeVpState.byteLength);
  runtimeVpState.reset(buf);
  assert.deepEqual(runtimeVpState.inspect(buf), { last: 0n, offset: 0 });
});

Deno.test("TLFS row VP_RUNTIME: reads the VP's run time in 100 ns units; WRMSR of any value -> #GP", () => {
  const p = TestPartition.create({ requested: ["runtime"], tscHz: 1e9 });
  const vp = p.vps[0];
  assert.equal(rdmsr(vp, HV_X64_MSR_VP_RUNTIME), 0n, "no run time yet");
  p.advance(1e9); // one second of TSC = 10^7 units of 100 ns
  assert.equal(rdmsr(vp, HV_X64_MSR_VP_RUNTIME), 10_000_000n);
  vp.runTime100ns = 12345.9;
  assert.equal(rdmsr(vp, HV_X64_MSR_VP_RUNTIME), 10_000_000n, "never less than the last value");
  for (const v of [0n, 1n, 10_000_000n, 0xffffffffffffffffn]) assert.equal(wrmsr(vp, HV_X64_MSR_VP_RUNTIME, v), "gp", `write ${v}`);
  assert.equal(rdmsr(vp, HV_X64_MSR_VP_RUNTIME), 10_000_000n, "refused writes change nothing");
});

Deno.test("VP_RUNTIME without hv-runtime composed: read and write #GP", () => {
  const p = TestPartition.create({ requested: ["frequencies"] });
  assert.equal(rdmsr(p.vps[0], HV_X64_MSR_VP_RUNTIME), "gp");
  assert.equal(wrmsr(p.vps[0], HV_X64_MSR_VP_RUNTIME, 0n), "gp");
});

Deno.test("VP_RUNTIME is per VP and above 2^32 is split into both halves exactly", () => {
  const p = TestPartition.create({ requested: ["runtime"], vpIndices: [0, 65] });
  const [a, b] = p.vps;
  a.runTime100ns = 2 ** 40 + 7.75;
  b.runTime100ns = 3;
  assert.equal(rdmsr(a, HV_X64_MSR_VP_RUNTIME), (1n << 40n) + 7n, "floored, hi word used");
  assert.equal(rdmsr(b, HV_X64_MSR_VP_RUNTIME), 3n);
  assert.deepEqual(a.arena.inspect().runtime, { last: (1n << 40n) + 7n, offset: 0 });
  assert.deepEqual(b.arena.inspect().runtime, { last: 3n, offset: 0 });
});

Deno.test("VP_RUNTIME is monotonic: a backend counter that goes back is absorbed; the value resumes from the last one", () => {
  const p = TestPartition.create({ requested: ["runtime"] });
  const vp = p.vps[0];
  let prev = -1n;
  const seen: bigint[] = [];
  for (const t of [5, 100, 100, 40, 50, 45, 1000, 0, Number.NaN, Infinity, -5, 10]) {
    vp.runTime100ns = t;
    const v = rdmsr(vp, HV_X64_MSR_VP_RUNTIME) as bigint;
    assert.ok(v >= prev, `${v} after ${prev} (backend ${t})`);
    prev = v;
    seen.push(v);
  }
  // 40 after 100: offset 60, so 50 -> 110; 45 -> 110 (offset 65); 1000 -> 1065; 0 -> 1065 (offset 1065);
  // NaN / Infinity -> unchanged; -5 -> 1065 (offset 1070); 10 -> 1080.
  assert.deepEqual(seen, [5n, 100n, 100n, 100n, 110n, 110n, 1065n, 1065n, 1065n, 1065n, 1065n, 1080n]);
});

Deno.test("nextVpRuntime: non-finite stored offset counts as 0; values beyond 2^53 hold the last value", () => {
  const buf = new SharedArrayBuffer(runtimeVpState.byteLength);
  const s = runtimeVpState.views(buf) as RuntimeVpViews;
  s.offset[0] = Number.NaN;
  assert.equal(nextVpRuntime(42, s), 42);
  assert.equal(s.offset[0], 0);
  assert.equal(nextVpRuntime(2 ** 60, s), 42, "not representable: hold");
  assert.equal(nextVpRuntime(43.5, s), 43);
});

Deno.test("handlers: NotMine for other MSRs; RDMSR Ok with lo/hi, WRMSR Gp for VP_RUNTIME", () => {
  const h = runtimeHandlers();
  const p = TestPartition.create({ requested: ["runtime"] });
  const msr = newMsrAccess();
  msr.index = HV_X64_MSR_VP_RUNTIME + 1;
  assert.equal(h.rdmsr!(p.vps[0], msr), MsrOutcome.NotMine);
  assert.equal(h.wrmsr!(p.vps[0], msr), MsrOutcome.NotMine);
  msr.index = HV_X64_MSR_VP_RUNTIME;
  p.vps[0].runTime100ns = 9;
  assert.equal(h.rdmsr!(p.vps[0], msr), MsrOutcome.Ok);
  assert.deepEqual([msr.lo, msr.hi], [9, 0]);
  assert.equal(h.wrmsr!(p.vps[0], msr), MsrOutcome.Gp);
});

Deno.test("save/restore of the per-VP state: a restored VP never reads less than it read before the save", () => {
  const p = TestPartition.create({ requested: ["runtime"] });
  const vp = p.vps[0];
  vp.runTime100ns = 5_000_000;
  assert.equal(rdmsr(vp, HV_X64_MSR_VP_RUNTIME), 5_000_000n);
  const saved = vp.arena.save();

  // Restore into a fresh partition whose backend counter starts again at 0 (a new process).
  const q = TestPartition.create({ requested: ["runtime"] });
  const w = q.vps[0];
  w.arena.restore(saved);
  assert.equal(rdmsr(w, HV_X64_MSR_VP_RUNTIME), 5_000_000n);
  w.runTime100ns = 250;
  assert.equal(rdmsr(w, HV_X64_MSR_VP_RUNTIME), 5_000_250n, "keeps counting from the saved value");

  // Reset puts the state back to power-on values.
  w.arena.reset();
  assert.deepEqual(w.arena.inspect().runtime, { last: 0n, offset: 0 });
  w.runTime100ns = 300;
  assert.equal(rdmsr(w, HV_X64_MSR_VP_RUNTIME), 300n);
});
