import assert from "node:assert/strict";
import {
  HV_X64_MSR_REENLIGHTENMENT_CONTROL,
  HV_X64_MSR_REFERENCE_TSC,
  HV_X64_MSR_TIME_REF_COUNT,
  HV_X64_MSR_TSC_EMULATION_CONTROL,
  HV_X64_MSR_TSC_EMULATION_STATUS,
  HV_X64_MSR_TSC_FREQUENCY,
} from "@hv/tlfs";
import { cpuidOf, MsrOutcome, newMsrAccess } from "@hv/x86";
import { rdmsr, TestPartition, type TestVp, wrmsr } from "@hv/testkit";
import {
  reenlightenment,
  reenlightenmentHandlers,
  ReenlightenmentNotice,
  reenlightenmentNotify,
  reenlightenmentPartitionState,
  type ReenlightenmentViews,
  tscEmulationInProgress,
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
  wrmsr(vp, HV_X64_MSR_REENLIGHTENMENT_CONTROL, 0xeen | (1n << 16n));
  wrmsr(vp, HV_X64_MSR_TSC_EMULATION_CONTROL, 1n);
  assert.equal(reenlightenmentNotify(p), ReenlightenmentNotice.Emulating);
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

Deno.test("reenlightenmentNotify: the vector on the target VP only when enabled, the VP exists and the vector is >= 16; status only with emulation", () => {
  const p = make({ vpIndices: [0, 1] });
  const [a, b] = p.vps;
  assert.equal(reenlightenmentNotify(p), ReenlightenmentNotice.None, "disabled at power-on");
  assert.equal(rdmsr(a, HV_X64_MSR_TSC_EMULATION_STATUS), 0n, "no emulation requested: status untouched");
  wrmsr(a, HV_X64_MSR_REENLIGHTENMENT_CONTROL, 0xeen | (1n << 16n) | (1n << 32n));
  assert.equal(reenlightenmentNotify(p), ReenlightenmentNotice.Notified);
  assert.deepEqual(b.interrupts, [{ vector: 0xee, autoEoi: false }]);
  assert.deepEqual(a.interrupts, []);
  assert.equal(rdmsr(a, HV_X64_MSR_TSC_EMULATION_STATUS), 0n, "notified without emulation: status stays 0");
  wrmsr(a, HV_X64_MSR_TSC_EMULATION_CONTROL, 1n);
  for (const [v, why] of [
    [0xeen | (1n << 16n) | (7n << 32n), "target VP 7 does not exist"],
    [0x0fn | (1n << 16n), "vector 15 is not an interrupt"],
    [0x00n | (1n << 16n), "vector 0"],
    [0xffffffffffffffffn & ~(1n << 16n), "enable bit clear"],
    [0xffffffffffffffffn, "all ones: target VP 0xFFFFFFFF"],
  ] as const) {
    wrmsr(a, HV_X64_MSR_REENLIGHTENMENT_CONTROL, v);
    assert.equal(reenlightenmentNotify(p), ReenlightenmentNotice.None, why);
    assert.equal(rdmsr(a, HV_X64_MSR_TSC_EMULATION_STATUS), 0n, `${why}: nobody told, nothing emulated`);
  }
  assert.equal(b.interrupts.length, 1);
  wrmsr(a, HV_X64_MSR_REENLIGHTENMENT_CONTROL, 0x10n | (1n << 16n));
  assert.equal(reenlightenmentNotify(p), ReenlightenmentNotice.Emulating, "vector 16 is the lowest interrupt");
  assert.deepEqual(a.interrupts, [{ vector: 0x10, autoEoi: false }]);
  assert.equal(rdmsr(a, HV_X64_MSR_TSC_EMULATION_STATUS), 1n);
  assert.equal(tscEmulationInProgress(p), true);
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
  const p = make();
  const h = reenlightenmentHandlers(p, reenlightenmentPartitionState.views(buf) as ReenlightenmentViews);
  const msr = newMsrAccess();
  for (const index of [HV_X64_MSR_REENLIGHTENMENT_CONTROL - 1, HV_X64_MSR_TSC_EMULATION_STATUS + 1]) {
    msr.index = index;
    assert.equal(h.rdmsr!(p.vps[0], msr), MsrOutcome.NotMine);
    assert.equal(h.wrmsr!(p.vps[0], msr), MsrOutcome.NotMine);
  }
});

Deno.test("save/restore and reset of the per-partition state through the arena", () => {
  const p = make({ vpIndices: [0, 3] });
  const vp = p.vps[0];
  wrmsr(vp, HV_X64_MSR_REENLIGHTENMENT_CONTROL, 0x00000003000100een);
  wrmsr(vp, HV_X64_MSR_TSC_EMULATION_CONTROL, 1n);
  assert.equal(reenlightenmentNotify(p), ReenlightenmentNotice.Emulating); // status in progress
  const saved = p.arena.save();
  p.arena.reset();
  assert.deepEqual(p.arena.inspect().reenlightenment, { control: 0n, emulation_control: 0n, emulation_status: 0n });
  const q = make();
  q.arena.restore(saved);
  assert.deepEqual(q.arena.inspect().reenlightenment, { control: 0x00000003000100een, emulation_control: 1n, emulation_status: 1n });
  assert.equal(rdmsr(q.vps[0], HV_X64_MSR_REENLIGHTENMENT_CONTROL), 0x00000003000100een);
  assert.equal(rdmsr(q.vps[0], HV_X64_MSR_TSC_EMULATION_CONTROL), 1n);
  assert.equal(rdmsr(q.vps[0], HV_X64_MSR_TSC_EMULATION_STATUS), 1n);
  // A restored InProgress on a backend that holds nothing: the acknowledgement just clears it.
  assert.equal(wrmsr(q.vps[0], HV_X64_MSR_TSC_EMULATION_STATUS, 0n), "ok");
  assert.equal(rdmsr(q.vps[0], HV_X64_MSR_TSC_EMULATION_STATUS), 0n);
  assert.equal(q.tscEmulated, false);
});

// ---- TSC frequency change, driven by the testkit as a backend (TestPartition.changeTscFrequency) ----

const PAGE = 0x5000;
const scaleFor = (hz: number) => (10_000_000n << 64n) / BigInt(hz);
/** The reference TSC page as the guest reads it from RAM. */
const readPage = (p: TestPartition) => {
  const v = p.memory.view;
  return { sequence: v.getUint32(PAGE, true), scale: v.getBigUint64(PAGE + 8, true), offset: v.getBigInt64(PAGE + 16, true) };
};
/** Reference time from the page at guest TSC `tsc` (Linux `hv_read_tsc_page`). */
const pageTime = (p: TestPartition, tsc = p.tsc) => {
  const pg = readPage(p);
  assert.notEqual(pg.sequence, 0, "page valid");
  return BigInt.asUintN(64, ((BigInt(tsc) * pg.scale) >> 64n) + pg.offset);
};
const refCount = (vp: TestVp) => rdmsr(vp, HV_X64_MSR_TIME_REF_COUNT) as bigint;
/** A partition with time, frequencies and reenlightenment, the page enabled; Linux (kvm_intel) registered on VP `target`. */
const linux = (o: { tscHz?: number; vpIndices?: number[]; target?: number; vector?: number; emulation?: boolean } = {}) => {
  const p = TestPartition.create({ requested: ["reenlightenment", "time", "frequencies"], tscHz: o.tscHz ?? 2.5e9, vpIndices: o.vpIndices ?? [0, 1] });
  const vp = p.vps[0];
  assert.equal(wrmsr(vp, HV_X64_MSR_REFERENCE_TSC, PAGE | 1), "ok");
  const ctl = BigInt(o.vector ?? 0xee) | (1n << 16n) | (BigInt(o.target ?? 1) << 32n);
  assert.equal(wrmsr(vp, HV_X64_MSR_REENLIGHTENMENT_CONTROL, ctl), "ok");
  assert.equal(wrmsr(vp, HV_X64_MSR_TSC_EMULATION_CONTROL, o.emulation === false ? 0n : 1n), "ok");
  return p;
};

Deno.test("frequency change with notification and emulation: vector on the target VP, STATUS.InProgress, old rate emulated, page frozen", () => {
  const p = linux({ tscHz: 2.5e9 });
  const [a, b] = p.vps;
  p.advance(7.5e9); // 3 s
  const page0 = readPage(p);
  const before = refCount(a);
  assert.equal(p.changeTscFrequency(3e9), true, "held");
  assert.deepEqual(b.interrupts, [{ vector: 0xee, autoEoi: false }], "the target VP gets the vector, fixed");
  assert.deepEqual(a.interrupts, [], "no other VP");
  assert.equal(rdmsr(a, HV_X64_MSR_TSC_EMULATION_STATUS), 1n, "InProgress");
  assert.equal(rdmsr(b, HV_X64_MSR_TSC_FREQUENCY), 3_000_000_000n, "TSC_FREQUENCY already reports the new frequency");
  assert.equal(p.tscEmulated, true);
  assert.equal(p.guestTscHz, 2.5e9, "the guest TSC keeps the old rate");
  assert.deepEqual(readPage(p), page0, "page untouched: same sequence, scale and offset");
  // While emulated, time is right: one host second is 2.5e9 guest cycles and 10^7 reference ticks.
  const tsc0 = p.tsc;
  p.advanceTime(1e9);
  assert.equal(p.tsc - tsc0, 2.5e9);
  const during = refCount(b);
  assert.ok(during - before >= 9_999_999n && during - before <= 10_000_001n, `one second = ${during - before} ticks`);
  assert.equal(during, pageTime(p), "page and MSR agree");
  assert.deepEqual(readPage(p), page0, "still frozen");
});

Deno.test("the guest's acknowledgement (Linux hyperv_stop_tsc_emulation: STATUS = 0, then TSC_FREQUENCY) makes the new frequency take effect, continuously", () => {
  const p = linux({ tscHz: 2.5e9 });
  const [a, b] = p.vps;
  p.advance(1e10);
  p.changeTscFrequency(3e9);
  p.advance(123_456_789);
  const page0 = readPage(p);
  const atAck = p.tsc;
  const timeAtAck = pageTime(p);
  // hyperv_stop_tsc_emulation: rdmsr STATUS, clear InProgress, wrmsr, then read the frequency.
  const status = rdmsr(b, HV_X64_MSR_TSC_EMULATION_STATUS) as bigint;
  assert.equal(wrmsr(b, HV_X64_MSR_TSC_EMULATION_STATUS, status & ~1n), "ok");
  assert.equal(rdmsr(b, HV_X64_MSR_TSC_FREQUENCY), 3_000_000_000n);
  assert.equal(rdmsr(a, HV_X64_MSR_TSC_EMULATION_STATUS), 0n);
  assert.equal(p.tscEmulated, false);
  assert.equal(p.guestTscHz, 3e9, "the guest TSC now ticks at the new rate");
  assert.equal(p.tsc, atAck, "no jump in the TSC value");
  const page1 = readPage(p);
  assert.equal(page1.sequence, page0.sequence + 1, "republished with the next sequence");
  assert.equal(page1.scale, scaleFor(3e9));
  assert.equal(pageTime(p), timeAtAck, "reference time continuous at the switch");
  assert.equal(refCount(a), timeAtAck);
  const t = refCount(a);
  p.advance(3e9);
  const d = refCount(b) - t;
  assert.ok(d >= 9_999_999n && d <= 10_000_001n, `one second at 3 GHz = ${d} ticks`);
  assert.equal(refCount(b), pageTime(p));
  assert.deepEqual(b.interrupts.length, 1, "no second interrupt");
});

Deno.test("bracket across a held change and its acknowledgement: page-before <= TIME_REF_COUNT <= page-after, never a step back", () => {
  for (const [from, to] of [[2.5e9, 3.1e9], [3.1e9, 1.9e9], [1e9, 1e9 + 1]]) {
    const p = linux({ tscHz: from });
    const [a, b] = p.vps;
    let last = 0n;
    const step = (i: number) => {
      p.advance(1 + ((i * 7919) % 400_000));
      const page1 = pageTime(p);
      p.advance(1 + (i % 37));
      const msr = refCount(i % 2 ? a : b);
      p.advance(1 + (i % 13));
      const page2 = pageTime(p);
      assert.ok(page1 <= msr && msr <= page2, `${from}->${to} read ${i}: ${page1} <= ${msr} <= ${page2}`);
      assert.ok(msr >= last, "no step back");
      last = msr;
    };
    for (let i = 0; i < 200; i++) step(i);
    assert.equal(p.changeTscFrequency(to), true);
    for (let i = 200; i < 400; i++) step(i);
    assert.equal(wrmsr(a, HV_X64_MSR_TSC_EMULATION_STATUS, 0n), "ok");
    assert.equal(readPage(p).scale, scaleFor(to));
    for (let i = 400; i < 600; i++) step(i);
  }
});

Deno.test("hostile REENLIGHTENMENT_CONTROL: vector < 16 or a target VP that does not exist: stored (KVM), no interrupt, no emulation, page updated at once", () => {
  for (const o of [{ vector: 0x0f }, { vector: 0 }, { target: 7 }, { target: 0xffffffff }]) {
    const p = linux(o);
    p.advance(5e9);
    const seq = readPage(p).sequence;
    const t = pageTime(p);
    assert.equal(p.changeTscFrequency(3e9), false, JSON.stringify(o));
    assert.deepEqual(p.vps.flatMap((vp) => vp.interrupts), [], "no interrupt anywhere");
    assert.equal(rdmsr(p.vps[0], HV_X64_MSR_TSC_EMULATION_STATUS), 0n, "nothing in progress");
    assert.equal(p.guestTscHz, 3e9, "not emulated: the guest that cannot be told is not held at the old rate");
    assert.equal(readPage(p).sequence, seq + 1);
    assert.equal(readPage(p).scale, scaleFor(3e9));
    assert.equal(pageTime(p), t, "continuous");
  }
});

Deno.test("a target VP with a sparse index (65) receives the notification", () => {
  const p = linux({ vpIndices: [0, 65], target: 65, vector: 0xef });
  assert.equal(p.changeTscFrequency(2e9), true);
  assert.deepEqual(p.vps[1].interrupts, [{ vector: 0xef, autoEoi: false }]);
  assert.deepEqual(p.vps[0].interrupts, []);
});

Deno.test("REENLIGHTENMENT_CONTROL disabled (TSC emulation requested): no interrupt, no emulation, page updated at once (KVM would freeze it)", () => {
  const p = linux();
  const vp = p.vps[0];
  assert.equal(wrmsr(vp, HV_X64_MSR_REENLIGHTENMENT_CONTROL, 0xeen | (1n << 32n)), "ok", "enable bit clear (Linux clear_hv_tscchange_cb)");
  assert.equal(tscEmulationRequested(p), true);
  p.advance(1e9);
  const seq = readPage(p).sequence, t = pageTime(p);
  assert.equal(p.changeTscFrequency(3e9), false);
  assert.deepEqual(p.vps.flatMap((v) => v.interrupts), []);
  assert.equal(rdmsr(vp, HV_X64_MSR_TSC_EMULATION_STATUS), 0n);
  assert.deepEqual([readPage(p).sequence, readPage(p).scale, pageTime(p)], [seq + 1, scaleFor(3e9), t]);
});

Deno.test("notification without TSC emulation: the vector is raised, STATUS stays 0, the change takes effect at once", () => {
  const p = linux({ emulation: false });
  p.advance(1e9);
  const t = pageTime(p);
  assert.equal(p.changeTscFrequency(3e9), false);
  assert.deepEqual(p.vps[1].interrupts, [{ vector: 0xee, autoEoi: false }]);
  assert.equal(rdmsr(p.vps[0], HV_X64_MSR_TSC_EMULATION_STATUS), 0n, "Linux's handler sees no emulation and does nothing");
  assert.equal(p.guestTscHz, 3e9);
  assert.equal(pageTime(p), t);
});

Deno.test("without hv-reenlightenment composed a change takes effect at once (time and frequencies only)", () => {
  const p = TestPartition.create({ requested: ["time", "frequencies"], tscHz: 2e9 });
  wrmsr(p.vps[0], HV_X64_MSR_REFERENCE_TSC, PAGE | 1);
  p.advance(2e9);
  const t = pageTime(p);
  assert.equal(p.changeTscFrequency(2.2e9), false);
  assert.deepEqual([readPage(p).sequence, readPage(p).scale, pageTime(p)], [2, scaleFor(2.2e9), t]);
  assert.equal(rdmsr(p.vps[0], HV_X64_MSR_TSC_FREQUENCY), 2_200_000_000n);
});

Deno.test("while held: a refused STATUS write, STATUS = 0 when nothing is in progress, and the guest turning both controls off change nothing", () => {
  const p = linux();
  const vp = p.vps[0];
  assert.equal(wrmsr(vp, HV_X64_MSR_TSC_EMULATION_STATUS, 0n), "ok", "nothing in progress: just stored");
  assert.equal(p.changeTscFrequency(3e9), true);
  assert.equal(wrmsr(vp, HV_X64_MSR_TSC_EMULATION_STATUS, 1n), "gp");
  assert.equal(wrmsr(vp, HV_X64_MSR_TSC_EMULATION_STATUS, 2n), "gp");
  assert.equal(wrmsr(vp, HV_X64_MSR_REENLIGHTENMENT_CONTROL, 0n), "ok");
  assert.equal(wrmsr(vp, HV_X64_MSR_TSC_EMULATION_CONTROL, 0n), "ok");
  assert.equal(p.tscEmulated, true, "only the acknowledgement ends the emulation");
  assert.equal(rdmsr(vp, HV_X64_MSR_TSC_EMULATION_STATUS), 1n);
  assert.equal(wrmsr(vp, HV_X64_MSR_TSC_EMULATION_STATUS, 0n), "ok");
  assert.equal(p.tscEmulated, false);
  assert.equal(p.guestTscHz, 3e9);
});

Deno.test("a second change while one is held: notified again, the original rate still emulated, the acknowledgement goes to the latest frequency", () => {
  const p = linux({ tscHz: 2.5e9 });
  const [a, b] = p.vps;
  p.advance(1e9);
  const page0 = readPage(p);
  assert.equal(p.changeTscFrequency(3e9), true);
  p.advance(1e9);
  assert.equal(p.changeTscFrequency(2e9), true);
  assert.deepEqual(b.interrupts, [{ vector: 0xee, autoEoi: false }, { vector: 0xee, autoEoi: false }]);
  assert.equal(p.guestTscHz, 2.5e9);
  assert.equal(rdmsr(a, HV_X64_MSR_TSC_FREQUENCY), 2_000_000_000n);
  assert.deepEqual(readPage(p), page0);
  assert.equal(p.changeTscFrequency(2e9), true, "the same frequency again: nothing new");
  assert.equal(b.interrupts.length, 2);
  p.advance(1e9);
  const t = pageTime(p);
  wrmsr(a, HV_X64_MSR_TSC_EMULATION_STATUS, 0n);
  assert.equal(p.guestTscHz, 2e9);
  assert.deepEqual([readPage(p).sequence, readPage(p).scale, pageTime(p)], [page0.sequence + 1, scaleFor(2e9), t]);
});

Deno.test("a VM reset while a change is held ends the emulation (the rebooted guest would never acknowledge)", () => {
  const p = linux({ tscHz: 2.5e9 });
  p.advance(1e9);
  assert.equal(p.changeTscFrequency(3e9), true);
  p.resetVm();
  assert.equal(p.tscEmulated, false);
  assert.equal(p.guestTscHz, 3e9);
  assert.equal(rdmsr(p.vps[0], HV_X64_MSR_TSC_EMULATION_STATUS), 0n);
  // Power-on reference time for the new frequency: the guest TSC in 100 ns units.
  assert.equal(refCount(p.vps[0]), (BigInt(p.tsc) * scaleFor(3e9)) >> 64n);
  p.resetVm(); // nothing held: nothing happens
  assert.equal(p.guestTscHz, 3e9);
});

Deno.test("reenlightenment alone (no time plugin): the hand-shake works and nothing else is touched", () => {
  const p = make({ vpIndices: [0, 1] });
  wrmsr(p.vps[0], HV_X64_MSR_REENLIGHTENMENT_CONTROL, 0xeen | (1n << 16n));
  wrmsr(p.vps[0], HV_X64_MSR_TSC_EMULATION_CONTROL, 1n);
  const ram = p.memory.bytes.slice();
  assert.equal(p.changeTscFrequency(1.5e9), true);
  assert.deepEqual(p.vps[0].interrupts, [{ vector: 0xee, autoEoi: false }]);
  assert.equal(wrmsr(p.vps[1], HV_X64_MSR_TSC_EMULATION_STATUS, 0n), "ok");
  assert.equal(p.guestTscHz, 1.5e9);
  assert.deepEqual(p.memory.bytes, ram);
});
