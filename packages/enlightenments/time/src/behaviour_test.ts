import assert from "node:assert/strict";
import {
  HV_X64_MSR_REENLIGHTENMENT_CONTROL,
  HV_X64_MSR_REFERENCE_TSC,
  HV_X64_MSR_TIME_REF_COUNT,
  HV_X64_MSR_TSC_EMULATION_CONTROL,
  HV_X64_MSR_TSC_EMULATION_STATUS,
  HV_X64_MSR_TSC_FREQUENCY,
} from "@hv/tlfs";
import { MsrOutcome, newMsrAccess } from "@hv/x86";
import { rdmsr, TestPartition, type TestVp, wrmsr } from "@hv/testkit";
import { loadReferenceParams, referenceParams, timeHandlers, tscChangeParams } from "../mod.ts";

const M64 = (1n << 64n) - 1n;
const PAGE = 0x5000;
const HZ = [1e9, 2.5e9, 3_000_123_457, 3_092_974_311, 2_596_144_000];

const scaleFor = (hz: number) => (10_000_000n << 64n) / BigInt(hz);
/** Reference time for `tsc` cycles at `hz` with offset 0 (BigInt reference). */
const refAt = (tsc: number, hz: number) => (BigInt(tsc) * scaleFor(hz)) >> 64n;

/** The page as the guest sees it in RAM. */
const readPage = (p: TestPartition, gpa = PAGE) => {
  const v = p.memory.view;
  return {
    sequence: v.getUint32(gpa, true),
    reserved: v.getUint32(gpa + 4, true),
    scale: v.getBigUint64(gpa + 8, true),
    offset: v.getBigInt64(gpa + 16, true),
  };
};

/** Reference time the way Linux's `hv_read_tsc_page` computes it, from the page contents in guest memory. */
const pageTime = (p: TestPartition, tsc: number, gpa = PAGE): bigint => {
  const pg = readPage(p, gpa);
  assert.notEqual(pg.sequence, 0, "page valid");
  return BigInt.asUintN(64, ((BigInt(tsc) * pg.scale) >> 64n) + pg.offset);
};

const refCount = (vp: TestVp) => {
  const v = rdmsr(vp, HV_X64_MSR_TIME_REF_COUNT);
  assert.notEqual(v, "gp");
  return v as bigint;
};

/** Deterministic xorshift32. */
const rng = (seed: number) => {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>>= 0);
  };
};

const ram = (p: TestPartition) => p.memory.bytes.slice();
/** The time plugin's partition state by name, without the parameter lock word (`params_seq`). */
const timeState = (p: TestPartition) => {
  const { params_seq: _lock, ...rest } = p.arena.inspect().time as Record<string, unknown>;
  return rest;
};

Deno.test("enable: page = {seq != 0, reserved 0, scale = floor(10^7*2^64/Hz), offset 0}, rest of the page zeroed, nothing else touched", () => {
  for (const hz of HZ) {
    const p = TestPartition.create({ requested: ["time", "frequencies"], tscHz: hz });
    const vp = p.vps[0];
    p.memory.bytes.fill(0xaa);
    const before = ram(p);
    assert.equal(wrmsr(vp, HV_X64_MSR_REFERENCE_TSC, PAGE | 1), "ok");
    const pg = readPage(p);
    assert.deepEqual(pg, { sequence: 1, reserved: 0, scale: scaleFor(hz), offset: 0n }, String(hz));
    assert.equal(rdmsr(vp, HV_X64_MSR_TSC_FREQUENCY), BigInt(hz), "the scale's Hz is TSC_FREQUENCY's");
    assert.ok(p.memory.bytes.subarray(PAGE + 24, PAGE + 4096).every((b) => b === 0), "reserved tail zeroed (KVM writes the whole page)");
    const after = ram(p);
    for (let i = 0; i < after.length; i++) {
      if ((i < PAGE || i >= PAGE + 4096) && after[i] !== before[i]) assert.fail(`byte ${i} outside the page written`);
    }
    assert.equal(rdmsr(vp, HV_X64_MSR_REFERENCE_TSC), BigInt(PAGE | 1));
    assert.deepEqual(timeState(p), { reference_tsc: BigInt(PAGE | 1), tsc_sequence: 1, tsc_scale: scaleFor(hz), tsc_offset: 0n });
  }
});

Deno.test("TIME_REF_COUNT = ((guest TSC * page scale) >> 64) + page offset, before and after enabling, for several Hz", () => {
  for (const hz of HZ) {
    const p = TestPartition.create({ requested: ["time"], tscHz: hz });
    const vp = p.vps[0];
    const next = rng(hz);
    const scale = scaleFor(hz);
    p.advance(12_345);
    assert.equal(refCount(vp), (12_345n * scale) >> 64n, "page disabled: the same formula");
    wrmsr(vp, HV_X64_MSR_REFERENCE_TSC, PAGE | 1);
    for (let i = 0; i < 500; i++) {
      p.advance(next() * (1 + (next() & 0xff)));
      assert.equal(refCount(vp), pageTime(p, p.tsc), `hz=${hz} tsc=${p.tsc}`);
    }
    // One second of guest TSC is 10^7 ticks (less at most one, the floor of the scale).
    const a = refCount(vp);
    p.advance(hz);
    const d = refCount(vp) - a;
    assert.ok(d === 10_000_000n || d === 9_999_999n || d === 10_000_001n, `one second = ${d} ticks`);
  }
});

Deno.test("reference time starts at 0 with the guest TSC (offset 0) and exceeds 2^32 ticks exactly", () => {
  const p = TestPartition.create({ requested: ["time"], tscHz: 3_000_123_457 });
  assert.equal(refCount(p.vps[0]), 0n, "TSC 0 -> 0");
  p.advance(2 ** 52); // ~17 days at 3 GHz
  assert.equal(refCount(p.vps[0]), ((1n << 52n) * scaleFor(3_000_123_457)) >> 64n);
  assert.ok(refCount(p.vps[0]) > 1n << 32n);
});

Deno.test("bracket: page1 <= TIME_REF_COUNT <= page2 in program order, on every VP, from the page in guest memory", () => {
  for (const hz of HZ) {
    const p = TestPartition.create({ requested: ["time"], tscHz: hz, vpCount: 3 });
    wrmsr(p.vps[1], HV_X64_MSR_REFERENCE_TSC, PAGE | 1);
    const next = rng(99);
    for (let i = 0; i < 300; i++) {
      const vp = p.vps[next() % 3];
      p.advance(next() & 0xfffff);
      const page1 = pageTime(p, p.tsc);
      p.advance(next() & 0xff);
      const msr = refCount(vp);
      p.advance(next() & 0xff);
      const page2 = pageTime(p, p.tsc);
      assert.ok(page1 <= msr && msr <= page2, `hz=${hz} vp=${vp.index}: ${page1} <= ${msr} <= ${page2}`);
    }
  }
});

Deno.test("sequence: 1, 2, 3 on each enable; never 0; 0xFFFFFFFD -> 0xFFFFFFFE -> 1 (skips 0xFFFFFFFF and 0)", () => {
  const p = TestPartition.create({ requested: ["time"] });
  const vp = p.vps[0];
  for (const want of [1, 2, 3]) {
    wrmsr(vp, HV_X64_MSR_REFERENCE_TSC, PAGE | 1);
    assert.equal(readPage(p).sequence, want);
  }
  (p.state("time").tsc_sequence as Uint32Array)[0] = 0xfffffffd;
  const seen: number[] = [];
  for (let i = 0; i < 3; i++) {
    wrmsr(vp, HV_X64_MSR_REFERENCE_TSC, PAGE | 1);
    seen.push(readPage(p).sequence);
  }
  assert.deepEqual(seen, [0xfffffffe, 1, 2]);
  // The sequence is the partition's: a page moved to another GPA continues it.
  wrmsr(p.vps[0], HV_X64_MSR_REFERENCE_TSC, 0x9000 | 1);
  assert.equal(readPage(p, 0x9000).sequence, 3);
  assert.equal(readPage(p).sequence, 2, "the old page is left alone");
});

Deno.test("a guest that scribbles on its page gets it rewritten whole at the next enable", () => {
  const p = TestPartition.create({ requested: ["time"], tscHz: 2.5e9 });
  wrmsr(p.vps[0], HV_X64_MSR_REFERENCE_TSC, PAGE | 1);
  p.memory.bytes.fill(0x5a, PAGE, PAGE + 4096);
  wrmsr(p.vps[0], HV_X64_MSR_REFERENCE_TSC, PAGE | 1);
  assert.deepEqual(readPage(p), { sequence: 2, reserved: 0, scale: scaleFor(2.5e9), offset: 0n });
});

Deno.test("enable=0 never writes the page (hyperv_clock.c), with or without bits 11:1, before and after an enable", () => {
  const p = TestPartition.create({ requested: ["time"] });
  const vp = p.vps[0];
  for (const v of [BigInt(PAGE), BigInt(PAGE | 0xffe), 0n, 0xffff_ffff_ffff_f000n]) {
    const before = ram(p);
    assert.equal(wrmsr(vp, HV_X64_MSR_REFERENCE_TSC, v), "ok");
    assert.deepEqual(ram(p), before, `0x${v.toString(16)}`);
    assert.equal(rdmsr(vp, HV_X64_MSR_REFERENCE_TSC), v, "stored as written");
  }
  assert.equal(timeState(p).tsc_sequence, 0, "nothing published");
  wrmsr(vp, HV_X64_MSR_REFERENCE_TSC, PAGE | 1);
  p.memory.bytes.fill(0, PAGE, PAGE + 4096); // the guest clears it
  wrmsr(vp, HV_X64_MSR_REFERENCE_TSC, PAGE);
  assert.ok(p.memory.bytes.subarray(PAGE, PAGE + 4096).every((b) => b === 0), "disabling does not write");
});

Deno.test("page GPA: outside RAM -> stored, nothing written, no #GP; the last page of RAM works; bits 11:1 kept, page at bits 63:12", () => {
  const size = 1 << 20;
  const p = TestPartition.create({ requested: ["time"], memoryBytes: size });
  const vp = p.vps[0];
  for (const v of [BigInt(size | 1), BigInt(size + 0x1000) | 1n, (1n << 52n) | 1n, M64, 0xffff_ffff_0000_0001n]) {
    const before = ram(p);
    assert.equal(wrmsr(vp, HV_X64_MSR_REFERENCE_TSC, v), "ok", `0x${v.toString(16)}: no #GP (KVM has no check)`);
    assert.equal(rdmsr(vp, HV_X64_MSR_REFERENCE_TSC), v, "stored as written");
    assert.deepEqual(ram(p), before, `0x${v.toString(16)}: nothing written`);
  }
  assert.equal(timeState(p).tsc_sequence, 0, "no page was published");
  // The last page of RAM.
  const last = size - 4096;
  assert.equal(wrmsr(vp, HV_X64_MSR_REFERENCE_TSC, last | 1), "ok");
  assert.equal(readPage(p, last).sequence, 1);
  assert.equal(readPage(p, last).scale, scaleFor(1e9));
  // Bits 11:1 set: no reserved-bit check, read back as written, page at bits 63:12.
  p.memory.bytes.fill(0xcc, PAGE, PAGE + 8192);
  assert.equal(wrmsr(vp, HV_X64_MSR_REFERENCE_TSC, PAGE | 0xffe | 1), "ok");
  assert.equal(rdmsr(vp, HV_X64_MSR_REFERENCE_TSC), BigInt(PAGE | 0xfff));
  assert.deepEqual(readPage(p), { sequence: 2, reserved: 0, scale: scaleFor(1e9), offset: 0n });
  assert.ok(p.memory.bytes.subarray(PAGE + 4096, PAGE + 8192).every((b) => b === 0xcc), "the next page is untouched");
});

Deno.test("a RAM that is not a whole number of pages: a page that straddles its end is not written", () => {
  const size = (1 << 16) + 100;
  const p = TestPartition.create({ requested: ["time"], memoryBytes: size });
  const before = ram(p);
  assert.equal(wrmsr(p.vps[0], HV_X64_MSR_REFERENCE_TSC, (1 << 16) | 1), "ok");
  assert.deepEqual(ram(p), before);
});

Deno.test("TIME_REF_COUNT is read-only: every write #GPs and changes nothing", () => {
  const p = TestPartition.create({ requested: ["time"] });
  const vp = p.vps[0];
  p.advance(1e9);
  const a = refCount(vp);
  for (const v of [0n, 1n, a + 1_000_000n, M64]) assert.equal(wrmsr(vp, HV_X64_MSR_TIME_REF_COUNT, v), "gp");
  assert.equal(refCount(vp), a);
  // The handler itself also refuses (defence in depth behind the "ro" claim).
  const h = timeHandlers(p);
  const msr = newMsrAccess();
  msr.index = HV_X64_MSR_TIME_REF_COUNT;
  assert.equal(h.wrmsr!(vp, msr), MsrOutcome.Gp);
  msr.index = HV_X64_MSR_TSC_FREQUENCY;
  assert.equal(h.wrmsr!(vp, msr), MsrOutcome.NotMine);
  assert.equal(h.rdmsr!(vp, msr), MsrOutcome.NotMine);
});

Deno.test("without hv-time composed both MSRs #GP", () => {
  const p = TestPartition.create({ requested: ["frequencies"] });
  for (const msr of [HV_X64_MSR_TIME_REF_COUNT, HV_X64_MSR_REFERENCE_TSC]) {
    assert.equal(rdmsr(p.vps[0], msr), "gp");
    assert.equal(wrmsr(p.vps[0], msr, 0n), "gp");
  }
});

/** Gives each VP its own guest TSC: the partition's plus a per-VP skew (a VP whose TSC lags or leads). */
const skewTscs = (p: TestPartition, skew: number[]) => {
  p.vps.forEach((vp, i) => (vp.guestTsc = () => Math.max(0, p.tsc + skew[i])));
};

Deno.test("monotonic across VPs whose TSCs differ: a lagging VP is clamped to the last value any VP returned", () => {
  const p = TestPartition.create({ requested: ["time"], vpCount: 2, tscHz: 1e9 });
  skewTscs(p, [0, -1_000_000]); // VP 1 lags 1 ms
  p.advance(1e9);
  const a = refCount(p.vps[0]);
  assert.equal(a, refAt(1e9, 1e9), "~10 000 000");
  assert.equal(refCount(p.vps[1]), a, "VP 1 computes ~9 990 000 and is clamped");
  p.advance(2_000_000);
  assert.equal(refCount(p.vps[1]), refAt(1_001_000_000, 1e9), "VP 1 ahead of the last value: its own time");
  assert.equal(refCount(p.vps[0]), refAt(1_002_000_000, 1e9));
  assert.equal(refCount(p.vps[1]), refAt(1_002_000_000, 1e9));
  assert.deepEqual(p.vps.map((vp) => vp.arena.inspect().time.ref_last), [refAt(1_002_000_000, 1e9), refAt(1_002_000_000, 1e9)], "per-VP slots");
});

Deno.test("monotonic property: random skews, backward TSC jumps (a guest writing IA32_TSC), sparse VP indices: never a step back", () => {
  for (const vpIndices of [[0, 1, 2, 3], [0, 65, 7]]) {
    const p = TestPartition.create({ requested: ["time"], vpIndices, tscHz: 2_596_144_000 });
    const next = rng(vpIndices.length * 31);
    const skew = p.vps.map(() => (next() % 2_000_000) - 1_000_000);
    skewTscs(p, skew);
    wrmsr(p.vps[0], HV_X64_MSR_REFERENCE_TSC, PAGE | 1);
    let last = 0n, maxComputed = 0n;
    const scale = scaleFor(2_596_144_000);
    for (let i = 0; i < 5000; i++) {
      const k = next() % p.vps.length;
      p.advance(next() % 3_000_000);
      if ((next() & 63) === 0) skew[k] -= next() % 50_000_000; // this VP's TSC jumps back
      const computed = (BigInt(p.vps[k].guestTsc()) * scale) >> 64n;
      if (computed > maxComputed) maxComputed = computed;
      const v = refCount(p.vps[k]);
      assert.ok(v >= last, `read ${i} on VP ${p.vps[k].index}: ${v} < ${last}`);
      assert.equal(v, maxComputed, "sequential reads return the max computed so far: never ahead of some VP's clock");
      last = v;
    }
  }
});

Deno.test("a TSC the backend cannot read (NaN) or beyond 2^64 never moves time back or throws", () => {
  const p = TestPartition.create({ requested: ["time"], vpCount: 2 });
  p.advance(5e9);
  const a = refCount(p.vps[0]);
  p.vps[1].guestTsc = () => Number.NaN;
  assert.equal(refCount(p.vps[1]), a);
  p.vps[1].guestTsc = () => 2 ** 64;
  assert.equal(refCount(p.vps[1]), ((M64 * scaleFor(1e9)) >> 64n));
});

Deno.test("a signed offset: page and MSR agree (handlers built with referenceParams(hz, offset))", () => {
  const p = TestPartition.create({ requested: ["time"], tscHz: 2.5e9 });
  const vp = p.vps[0];
  const h = timeHandlers(p, referenceParams(p.tscHz, -123_456_789n));
  const msr = newMsrAccess();
  msr.index = HV_X64_MSR_REFERENCE_TSC;
  msr.lo = PAGE | 1;
  msr.hi = 0;
  assert.equal(h.wrmsr!(vp, msr), MsrOutcome.Ok);
  assert.equal(readPage(p).offset, -123_456_789n);
  p.advance(1e12); // 400 s: 4e9 ticks
  msr.index = HV_X64_MSR_TIME_REF_COUNT;
  assert.equal(h.rdmsr!(vp, msr), MsrOutcome.Ok);
  const v = (BigInt(msr.hi) << 32n) | BigInt(msr.lo);
  assert.equal(v, pageTime(p, p.tsc));
  assert.equal(v, refAt(1e12, 2.5e9) - 123_456_789n);
  assert.ok(v > 3_876_543_209n && v <= 3_876_543_211n, "~4e9 ticks less the offset");
});

Deno.test("save/restore and reset through the arenas: state by name, page parameters and the per-VP last values", () => {
  const p = TestPartition.create({ requested: ["time"], vpCount: 2, tscHz: 2.5e9 });
  p.advance(7.5e9);
  wrmsr(p.vps[1], HV_X64_MSR_REFERENCE_TSC, PAGE | 0x10 | 1);
  wrmsr(p.vps[1], HV_X64_MSR_REFERENCE_TSC, PAGE | 0x10 | 1);
  const a = refCount(p.vps[0]);
  assert.equal(a, refAt(7.5e9, 2.5e9));
  const saved = p.arena.save();
  const savedVps = p.vps.map((vp) => vp.arena.save());
  const want = { reference_tsc: BigInt(PAGE | 0x11), tsc_sequence: 2, tsc_scale: scaleFor(2.5e9), tsc_offset: 0n };
  assert.deepEqual(timeState(p), want);

  p.arena.reset();
  p.vps.forEach((vp) => vp.arena.reset());
  assert.deepEqual(timeState(p), { reference_tsc: 0n, tsc_sequence: 0, tsc_scale: 0n, tsc_offset: 0n }, "everything back to 0");
  assert.deepEqual(p.vps[0].arena.inspect().time, { ref_last: 0n, ref_last_hi_first: 0 });
  assert.equal(rdmsr(p.vps[0], HV_X64_MSR_REFERENCE_TSC), 0n);
  assert.equal(refCount(p.vps[1]), a, "after a reset the MSR still follows the guest TSC");
  wrmsr(p.vps[0], HV_X64_MSR_REFERENCE_TSC, PAGE | 1);
  assert.equal(readPage(p).sequence, 1, "the sequence restarts at 1");

  p.arena.restore(saved);
  p.vps.forEach((vp, i) => vp.arena.restore(savedVps[i]));
  assert.deepEqual(timeState(p), want);
  assert.equal(rdmsr(p.vps[0], HV_X64_MSR_REFERENCE_TSC), BigInt(PAGE | 0x11));
  assert.equal(p.vps[0].arena.inspect().time.ref_last, a);
  wrmsr(p.vps[0], HV_X64_MSR_REFERENCE_TSC, PAGE | 1);
  assert.equal(readPage(p).sequence, 3, "the restored sequence continues");
});

Deno.test("two VPs enabling pages at two GPAs: both valid, distinct sequences", () => {
  const p = TestPartition.create({ requested: ["time"], vpCount: 2 });
  wrmsr(p.vps[0], HV_X64_MSR_REFERENCE_TSC, 0x3000 | 1);
  wrmsr(p.vps[1], HV_X64_MSR_REFERENCE_TSC, 0x4000 | 1);
  assert.deepEqual([readPage(p, 0x3000).sequence, readPage(p, 0x4000).sequence], [1, 2]);
  assert.equal(rdmsr(p.vps[0], HV_X64_MSR_REFERENCE_TSC), BigInt(0x4000 | 1), "one partition-wide MSR");
});

// ---- TSC frequency change (PluginHandlers.tscFrequencyChanging / tscFrequencyChanged) ----

/** tscChangeParams with BigInt operands, for the expected values. */
const changeRef = (scale: bigint, offset: bigint, t: bigint, hz: number) => {
  const r0 = BigInt.asUintN(64, ((t * scale) >> 64n) + offset);
  const s = scaleFor(hz);
  return { scale: s, offset: BigInt.asIntN(64, r0 - ((t * s) >> 64n)), r0 };
};
const paramsOf = (p: { scaleLo: number; scaleHi: number; offsetLo: number; offsetHi: number }) => ({
  scale: (BigInt(p.scaleHi) << 32n) | BigInt(p.scaleLo),
  offset: BigInt.asIntN(64, (BigInt(p.offsetHi) << 32n) | BigInt(p.offsetLo)),
});

Deno.test("tscChangeParams: new scale for the new Hz, offset keeping reference time exactly continuous at the switch (both directions, signed offsets)", () => {
  const next = rng(7);
  for (const [from, to] of [[2.5e9, 3e9], [3e9, 2.5e9], [1e9, 3_092_974_311], [3_000_123_457, 1e9 + 1]]) {
    for (let i = 0; i < 200; i++) {
      const t = next() * 2 ** 20 + next(); // up to ~2^52 cycles
      const cur = i % 2 ? referenceParams(from) : referenceParams(from, BigInt(next()) - (1n << 31n));
      const got = paramsOf(tscChangeParams(cur, t, to));
      const c = paramsOf(cur);
      const want = changeRef(c.scale, c.offset, BigInt(t), to);
      assert.deepEqual(got, { scale: want.scale, offset: want.offset }, `${from}->${to} t=${t}`);
      assert.equal(BigInt.asUintN(64, ((BigInt(t) * got.scale) >> 64n) + got.offset), want.r0, "same reference time at the switch");
    }
  }
  assert.throws(() => tscChangeParams(referenceParams(1e9), 0, 0), RangeError);
});

Deno.test("tscChangeParams with a TSC value jump (restore where KVM could not set the TSC): reference time goes on from sinceTsc, forward or back", () => {
  const hz = 2_596_144_000;
  const cur = referenceParams(hz, 12345n);
  const c = paramsOf(cur);
  const refAt = (p: { scale: bigint; offset: bigint }, t: number) => BigInt.asUintN(64, ((BigInt(t) * p.scale) >> 64n) + p.offset);
  for (const [since, at] of [[5e12, 9e12], [9e12, 5e12], [7e11, 7e11]]) {
    const got = paramsOf(tscChangeParams(cur, at, hz, since));
    assert.equal(got.scale, c.scale, "same rate: same scale");
    assert.equal(refAt(got, at), refAt(c, since), `reference time at ${at} = the old one at ${since}`);
    assert.equal(refAt(got, at + hz) - refAt(got, at), 10_000_000n, "and 1 s later, 10^7 ticks more");
  }
});

Deno.test("change without reenlightenment: page republished at once (next sequence, new scale, continuous offset), MSR follows, 1 s = 10^7 ticks", () => {
  for (const [from, to] of [[2.5e9, 3e9], [3e9, 2.5e9], [2_596_144_000, 3_000_123_457]]) {
    const p = TestPartition.create({ requested: ["time", "frequencies"], tscHz: from, vpCount: 2 });
    const [a, b] = p.vps;
    wrmsr(a, HV_X64_MSR_REFERENCE_TSC, PAGE | 1);
    p.advance(from * 3.7);
    const t0 = p.tsc;
    const before = pageTime(p, t0);
    assert.equal(refCount(b), before);
    assert.equal(p.changeTscFrequency(to), false, "nobody holds");
    const want = changeRef(scaleFor(from), 0n, BigInt(t0), to);
    assert.deepEqual(readPage(p), { sequence: 2, reserved: 0, scale: want.scale, offset: want.offset }, `${from}->${to}`);
    assert.equal(pageTime(p, t0), before, "same reference time at the switch");
    assert.equal(refCount(a), before);
    assert.deepEqual(timeState(p), { reference_tsc: BigInt(PAGE | 1), tsc_sequence: 2, tsc_scale: want.scale, tsc_offset: BigInt.asUintN(64, want.offset) });
    assert.equal(rdmsr(a, HV_X64_MSR_TSC_FREQUENCY), BigInt(to), "TSC_FREQUENCY and the page scale agree again");
    const r = refCount(a);
    p.advance(to);
    const d = refCount(b) - r;
    assert.ok(d >= 9_999_999n && d <= 10_000_001n, `${from}->${to}: one second = ${d} ticks`);
    assert.equal(refCount(b), pageTime(p, p.tsc));
  }
});

Deno.test("bracket and monotonicity across several unheld changes, on every VP, from the page in guest memory", () => {
  const p = TestPartition.create({ requested: ["time"], tscHz: 2.5e9, vpCount: 3 });
  wrmsr(p.vps[2], HV_X64_MSR_REFERENCE_TSC, PAGE | 1);
  const next = rng(4242);
  const hzs = [3e9, 1e9, 3_092_974_311, 2.5e9, 2_500_000_001];
  let last = 0n;
  for (let i = 0; i < 1000; i++) {
    if (i % 200 === 199) {
      const seq = readPage(p).sequence;
      p.changeTscFrequency(hzs[(i / 200) | 0]);
      assert.equal(readPage(p).sequence, seq + 1);
    }
    const vp = p.vps[next() % 3];
    p.advance(next() & 0xfffff);
    const page1 = pageTime(p, p.tsc);
    p.advance(next() & 0xff);
    const msr = refCount(vp);
    p.advance(next() & 0xff);
    const page2 = pageTime(p, p.tsc);
    assert.ok(page1 <= msr && msr <= page2, `read ${i}: ${page1} <= ${msr} <= ${page2}`);
    assert.ok(msr >= last, `read ${i}: step back`);
    last = msr;
  }
});

Deno.test("change with the page disabled: nothing written to RAM, TIME_REF_COUNT continuous; a later enable publishes the new parameters", () => {
  const p = TestPartition.create({ requested: ["time"], tscHz: 2e9 });
  const vp = p.vps[0];
  p.advance(4e9);
  const ramBefore = ram(p);
  const r0 = refCount(vp);
  const st = new Uint32Array(4);
  assert.equal(loadReferenceParams(p.state("time"), st), false, "initial parameters: nothing stored yet");
  p.changeTscFrequency(3e9);
  assert.deepEqual(ram(p), ramBefore);
  assert.equal(loadReferenceParams(p.state("time"), st), true);
  assert.equal(refCount(vp), r0, "continuous");
  p.advance(3e9);
  const r1 = refCount(vp);
  assert.ok(r1 - r0 >= 9_999_999n && r1 - r0 <= 10_000_001n);
  wrmsr(vp, HV_X64_MSR_REFERENCE_TSC, PAGE | 1);
  const want = changeRef(scaleFor(2e9), 0n, 4_000_000_000n, 3e9);
  assert.deepEqual(readPage(p), { sequence: 1, reserved: 0, scale: want.scale, offset: want.offset });
  assert.equal(pageTime(p, p.tsc), refCount(vp));
});

Deno.test("a change that wraps the sequence: 0xFFFFFFFE -> 1 (skips 0xFFFFFFFF and 0)", () => {
  const p = TestPartition.create({ requested: ["time"] });
  wrmsr(p.vps[0], HV_X64_MSR_REFERENCE_TSC, PAGE | 1);
  (p.state("time").tsc_sequence as Uint32Array)[0] = 0xfffffffd;
  p.changeTscFrequency(2e9);
  assert.equal(readPage(p).sequence, 0xfffffffe);
  p.changeTscFrequency(3e9);
  assert.equal(readPage(p).sequence, 1);
});

Deno.test("held change (hv-reenlightenment): page and TIME_REF_COUNT keep the old parameters and rate until the acknowledgement, then republish", () => {
  const p = TestPartition.create({ requested: ["time", "reenlightenment", "frequencies"], tscHz: 2.5e9, vpCount: 2 });
  const [a, b] = p.vps;
  wrmsr(a, HV_X64_MSR_REENLIGHTENMENT_CONTROL, 0xeen | (1n << 16n) | (1n << 32n));
  wrmsr(a, HV_X64_MSR_TSC_EMULATION_CONTROL, 1n);
  p.advance(2.5e9);
  // The page is enabled only during the emulation: it must publish the old (pinned) parameters.
  assert.equal(p.changeTscFrequency(3e9), true);
  wrmsr(b, HV_X64_MSR_REFERENCE_TSC, PAGE | 1);
  assert.deepEqual(readPage(p), { sequence: 1, reserved: 0, scale: scaleFor(2.5e9), offset: 0n }, "old scale while emulated");
  const page0 = readPage(p);
  for (let i = 0; i < 50; i++) {
    p.advanceTime(20_000_000); // 20 ms
    assert.equal(refCount(i % 2 ? a : b), refAt(p.tsc, 2.5e9), "TIME_REF_COUNT still at the old parameters");
  }
  assert.deepEqual(readPage(p), page0, "frozen");
  const t0 = p.tsc, r0 = refAt(t0, 2.5e9);
  assert.equal(wrmsr(b, HV_X64_MSR_TSC_EMULATION_STATUS, 0n), "ok");
  const want = changeRef(scaleFor(2.5e9), 0n, BigInt(t0), 3e9);
  assert.deepEqual(readPage(p), { sequence: 2, reserved: 0, scale: want.scale, offset: want.offset });
  assert.equal(pageTime(p, t0), r0);
  p.advanceTime(1e9);
  assert.equal(p.tsc - t0, 3e9, "the guest TSC runs at the new rate");
  const d = refCount(a) - r0;
  assert.ok(d >= 9_999_999n && d <= 10_000_001n, `one second = ${d} ticks`);
});

Deno.test("VM reset after a change: power-on parameters for the new frequency (offset 0)", () => {
  const p = TestPartition.create({ requested: ["time"], tscHz: 2.5e9 });
  p.advance(1e10);
  p.changeTscFrequency(3e9);
  p.advance(1e9);
  p.resetVm();
  assert.deepEqual(timeState(p), { reference_tsc: 0n, tsc_sequence: 0, tsc_scale: 0n, tsc_offset: 0n });
  assert.equal(refCount(p.vps[0]), refAt(p.tsc, 3e9));
  wrmsr(p.vps[0], HV_X64_MSR_REFERENCE_TSC, PAGE | 1);
  assert.deepEqual(readPage(p), { sequence: 1, reserved: 0, scale: scaleFor(3e9), offset: 0n });
});

Deno.test("frequency-change hooks directly: changing pins the parameters and never holds; a nonsensical Hz is ignored (no throw)", () => {
  const p = TestPartition.create({ requested: ["time"], tscHz: 2e9 });
  const h = p.dispatch.instances.get("time")!;
  assert.equal(h.tscFrequencyChanging!(2e9, 3e9), false);
  assert.equal(timeState(p).tsc_scale, scaleFor(2e9), "pinned");
  for (const bad of [0, -1, Number.NaN, Infinity]) h.tscFrequencyChanged!(2e9, bad, 1234);
  assert.equal(timeState(p).tsc_scale, scaleFor(2e9));
  assert.equal(timeState(p).tsc_offset, 0n);
  assert.equal((p.state("time").params_seq as Uint32Array)[0] % 2, 0, "the lock is free");
});
