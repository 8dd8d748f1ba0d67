// Synthetic timers across a guest TSC frequency change (TestPartition.changeTscFrequency, hv-time's
// tscFrequencyChanging / tscFrequencyChanged, hv-reenlightenment holding the change until the guest
// acknowledges it): COUNT stays reference time (100 ns), so a 1 ms periodic timer keeps 1 ms of
// reference time per expiry and a one-shot fires when TIME_REF_COUNT reaches it, whatever the TSC rate.
import assert from "node:assert/strict";
import {
  HV_X64_MSR_REENLIGHTENMENT_CONTROL,
  HV_X64_MSR_REFERENCE_TSC,
  HV_X64_MSR_SIMP,
  HV_X64_MSR_TIME_REF_COUNT,
  HV_X64_MSR_TSC_EMULATION_CONTROL,
  HV_X64_MSR_TSC_EMULATION_STATUS,
  HVMSG_TIMER_EXPIRED,
  hvMsrSint,
  hvMsrStimerConfig,
  hvMsrStimerCount,
} from "@hv/tlfs";
import { rdmsr, TestPartition, type TestVp, wrmsr } from "@hv/testkit";
import { stimer, STIMER_OWNER, type StimerHandlers } from "../mod.ts";

const MS = 1e6; // ns
const TICKS_PER_MS = 10_000n; // reference time (100 ns) per ms
/** Half the window around an expected expiry, ns: reference time floors, so expiries land up to 100 ns late. */
const SLACK = 1_000;
const SIMP = 0x10000; // VP n: SIMP + n * 0x1000
const PAGE = 0x30000; // the reference TSC page
const SINT = 2;
const VECTOR = 0x50;
const REENLIGHTENMENT_VECTOR = 0xee;

const ENABLE = 1n, PERIODIC = 2n, DIRECT = 1n << 12n;
const sintx = (n: number) => BigInt(n) << 16n;
const vector = (v: number) => BigInt(v) << 4n;

interface Opts {
  readonly vpCount?: number;
  /** Linux's reenlightenment set-up (vector 0xEE on VP 0, TSC emulation requested): changes are held. */
  readonly hold?: boolean;
  readonly direct?: boolean;
  /** Enable the reference TSC page (time then stores its pair before any change). */
  readonly page?: boolean;
}

/** stimer + reenlightenment (+ time, synic) at 1 GHz; SIMP enabled and SINT 2 unmasked on every VP. */
function partition(o: Opts = {}): TestPartition {
  const p = TestPartition.create({
    requested: ["stimer", "reenlightenment", "frequencies", ...(o.direct ? ["stimer-direct"] : [])],
    vpCount: o.vpCount ?? 1,
    tscHz: 1e9,
  });
  p.vps.forEach((vp, n) => {
    assert.equal(wrmsr(vp, HV_X64_MSR_SIMP, SIMP + n * 0x1000 + 1), "ok");
    assert.equal(wrmsr(vp, hvMsrSint(SINT), VECTOR), "ok");
  });
  const vp = p.vps[0];
  if (o.page) assert.equal(wrmsr(vp, HV_X64_MSR_REFERENCE_TSC, PAGE | 1), "ok");
  if (o.hold) {
    assert.equal(wrmsr(vp, HV_X64_MSR_REENLIGHTENMENT_CONTROL, REENLIGHTENMENT_VECTOR | (1 << 16)), "ok");
    assert.equal(wrmsr(vp, HV_X64_MSR_TSC_EMULATION_CONTROL, 1n), "ok");
  }
  return p;
}

const handlers = (p: TestPartition) => p.dispatch.instances.get(STIMER_OWNER) as StimerHandlers;
const refNow = (vp: TestVp): bigint => rdmsr(vp, HV_X64_MSR_TIME_REF_COUNT) as bigint;
const setConfig = (vp: TestVp, n: number, v: bigint) => wrmsr(vp, hvMsrStimerConfig(n), v);
const setCount = (vp: TestVp, n: number, v: bigint) => wrmsr(vp, hvMsrStimerCount(n), v);
/** The guest acknowledges a held change (Linux `hyperv_stop_tsc_emulation`: STATUS = 0). */
const acknowledge = (vp: TestVp) => assert.equal(wrmsr(vp, HV_X64_MSR_TSC_EMULATION_STATUS, 0n), "ok");

/** The SIMP slot of SINT 2 on VP `n`, decoded as a timer message. */
function slot(p: TestPartition, n = 0) {
  const at = SIMP + n * 0x1000 + SINT * 256;
  const v = p.memory.view;
  return {
    type: v.getUint32(at, true),
    timer: v.getUint32(at + 16, true),
    expiration: v.getBigUint64(at + 24, true),
    delivery: v.getBigUint64(at + 32, true),
  };
}
/** The guest consumes the message in the slot (no EOM needed: msg_pending is never set here). */
const consume = (p: TestPartition, n = 0) => p.memory.writeU32(SIMP + n * 0x1000 + SINT * 256, 0);
/** Advances the host clock to `ns` (absolute). */
const advanceTo = (p: TestPartition, ns: number) => p.advanceTime(ns - p.timers.now());
const armedAt = (p: TestPartition, vp: number, t: number) => p.timers.armed.get(`${STIMER_OWNER}/${vp}/${t}`)?.atNs;

/**
 * Expects the expiry of timer `t` on VP `n` with expiration_time `expiration` at host time `atNs`:
 * nothing in the slot just before, the message just after, delivered at reference time
 * `expiration` (or one tick later: the reference clock floors) = what TIME_REF_COUNT reads then.
 * Consumes it.
 */
function expectExpiry(p: TestPartition, n: number, t: number, expiration: bigint, atNs: number, why: string): void {
  advanceTo(p, atNs - SLACK);
  assert.equal(slot(p, n).type, 0, `${why}: not before ${atNs} ns`);
  advanceTo(p, atNs + SLACK);
  const m = slot(p, n);
  assert.equal(m.type, HVMSG_TIMER_EXPIRED, `${why}: fired by ${atNs} ns`);
  assert.equal(m.timer, t);
  assert.equal(m.expiration, expiration, `${why}: expiration_time`);
  assert.ok(m.delivery >= m.expiration && m.delivery <= m.expiration + 1n, `${why}: delivery_time ${m.delivery} for ${m.expiration}`);
  const now = refNow(p.vps[n]);
  assert.ok(now >= m.delivery && now <= m.expiration + BigInt(SLACK / 100), `${why}: TIME_REF_COUNT ${now}`);
  consume(p, n);
}

// ------------------------------------------------------------------------------ periodic timers

Deno.test("periodic 1 ms, immediate change 1 GHz -> 2.5 GHz mid-period: every expiry 1 ms of reference time (and host time) after the last", () => {
  for (const page of [false, true]) {
    const p = partition({ page });
    const vp = p.vps[0];
    advanceTo(p, 3.3 * MS);
    const start = p.timers.now();
    const t0 = refNow(vp);
    assert.equal(setConfig(vp, 1, ENABLE | PERIODIC | sintx(SINT)), "ok");
    assert.equal(setCount(vp, 1, TICKS_PER_MS), "ok");
    for (let k = 1; k <= 40; k++) {
      if (k === 11) {
        advanceTo(p, start + 10.37 * MS);
        assert.equal(p.changeTscFrequency(2.5e9), false, "nobody holds: the change takes effect at once");
        assert.equal(p.guestTscHz, 2.5e9);
      }
      expectExpiry(p, 0, 1, t0 + BigInt(k) * TICKS_PER_MS, start + k * MS, `page ${page}, expiry ${k}`);
    }
    // A second change, downwards, keeps the grid too.
    advanceTo(p, start + 40.9 * MS);
    assert.equal(p.changeTscFrequency(1.7e9), false);
    for (let k = 41; k <= 60; k++) expectExpiry(p, 0, 1, t0 + BigInt(k) * TICKS_PER_MS, start + k * MS, `page ${page}, 1.7 GHz ${k}`);
  }
});

Deno.test("periodic 1 ms, change held by reenlightenment (old rate emulated), acknowledged mid-period: 1 ms of reference time per expiry throughout", () => {
  const p = partition({ hold: true, page: true });
  const vp = p.vps[0];
  advanceTo(p, 0.8 * MS);
  const start = p.timers.now();
  const t0 = refNow(vp);
  assert.equal(setConfig(vp, 0, ENABLE | PERIODIC | sintx(SINT)), "ok");
  assert.equal(setCount(vp, 0, TICKS_PER_MS), "ok");
  for (let k = 1; k <= 45; k++) {
    if (k === 11) {
      advanceTo(p, start + 10.5 * MS);
      assert.equal(p.changeTscFrequency(2.5e9), true, "held: Linux asked for TSC emulation");
      assert.deepEqual(vp.interrupts.filter((i) => i.vector === REENLIGHTENMENT_VECTOR).length, 1);
      assert.equal(p.guestTscHz, 1e9, "the guest TSC keeps the old rate while held");
    }
    if (k === 26) {
      advanceTo(p, start + 25.61 * MS);
      acknowledge(vp);
      assert.equal(p.tscEmulated, false);
      assert.equal(p.guestTscHz, 2.5e9, "the change took effect");
    }
    expectExpiry(p, 0, 0, t0 + BigInt(k) * TICKS_PER_MS, start + k * MS, `expiry ${k}`);
  }
});

Deno.test("periodic 1 ms, direct mode, across an immediate and a held change: exactly one interrupt per ms of host time, 1 ms apart", () => {
  for (const hold of [false, true]) {
    const p = partition({ direct: true, hold });
    const vp = p.vps[0];
    const times: number[] = [];
    const request = vp.requestInterrupt.bind(vp);
    vp.requestInterrupt = (v, autoEoi) => {
      if (v === 0x61) times.push(p.timers.now());
      request(v, autoEoi);
    };
    advanceTo(p, 2.2 * MS);
    const start = p.timers.now();
    assert.equal(setConfig(vp, 3, ENABLE | PERIODIC | DIRECT | vector(0x61)), "ok");
    assert.equal(setCount(vp, 3, TICKS_PER_MS), "ok");
    advanceTo(p, start + 50.5 * MS);
    assert.equal(p.changeTscFrequency(2.5e9), hold);
    advanceTo(p, start + 120.25 * MS);
    if (hold) acknowledge(vp);
    advanceTo(p, start + 200 * MS + SLACK);
    assert.equal(times.length, 200, `hold ${hold}`);
    times.forEach((at, i) => assert.ok(Math.abs(at - (start + (i + 1) * MS)) <= 200, `hold ${hold}: interrupt ${i + 1} at ${at}`));
  }
});

// ------------------------------------------------------------------------------ one-shot timers

Deno.test("one-shot armed before an immediate change fires when TIME_REF_COUNT reaches COUNT; one armed after it too (VP 1)", () => {
  const p = partition({ vpCount: 2 });
  const vp = p.vps[1];
  advanceTo(p, 7 * MS);
  const start = p.timers.now();
  const at = refNow(vp) + 50n * TICKS_PER_MS;
  assert.equal(setConfig(vp, 2, ENABLE | sintx(SINT)), "ok");
  assert.equal(setCount(vp, 2, at), "ok");
  advanceTo(p, start + 20.3 * MS);
  assert.equal(p.changeTscFrequency(2.5e9), false);
  expectExpiry(p, 1, 2, at, start + 50 * MS, "armed before the change");
  assert.equal(rdmsr(vp, hvMsrStimerConfig(2)), sintx(SINT), "one-shot: enable cleared");

  // Programmed after the change (the guest reads TIME_REF_COUNT, adds 5 ms): 5 ms later, not at once.
  const at2 = refNow(vp) + 5n * TICKS_PER_MS;
  const from = p.timers.now();
  assert.equal(setCount(vp, 2, at2), "ok"); // disabled: stored
  assert.equal(setConfig(vp, 2, ENABLE | sintx(SINT)), "ok");
  assert.equal(slot(p, 1).type, 0, "not in the past");
  expectExpiry(p, 1, 2, at2, from + 5 * MS, "armed after the change");
});

Deno.test("one-shots across a held change: armed before the hold, and during it, fire at their reference time before and after the acknowledgement", () => {
  const p = partition({ hold: true });
  const vp = p.vps[0];
  advanceTo(p, 1.1 * MS);
  const start = p.timers.now();
  const r0 = refNow(vp);
  assert.equal(setConfig(vp, 0, ENABLE | sintx(SINT)), "ok");
  assert.equal(setCount(vp, 0, r0 + 20n * TICKS_PER_MS), "ok"); // fires while held
  assert.equal(setConfig(vp, 1, ENABLE | sintx(SINT)), "ok");
  assert.equal(setCount(vp, 1, r0 + 60n * TICKS_PER_MS), "ok"); // fires after the acknowledgement
  advanceTo(p, start + 5 * MS);
  assert.equal(p.changeTscFrequency(2.5e9), true);
  const r1 = refNow(vp);
  assert.equal(setConfig(vp, 2, ENABLE | sintx(SINT)), "ok");
  assert.equal(setCount(vp, 2, r1 + 40n * TICKS_PER_MS), "ok"); // armed while held, fires after
  expectExpiry(p, 0, 0, r0 + 20n * TICKS_PER_MS, start + 20 * MS, "while held");
  advanceTo(p, start + 30.45 * MS);
  acknowledge(vp);
  assert.equal(p.guestTscHz, 2.5e9);
  expectExpiry(p, 0, 2, r1 + 40n * TICKS_PER_MS, start + 45 * MS, "armed while held");
  expectExpiry(p, 0, 1, r0 + 60n * TICKS_PER_MS, start + 60 * MS, "armed before the hold");
});

// ------------------------------------------------------------------------------ host deadlines

Deno.test("tscFrequencyChanged recomputes the host deadlines of armed timers from their expiry; disabled and stopped timers stay unarmed", () => {
  const p = partition({ vpCount: 2 });
  const [a, b] = p.vps;
  advanceTo(p, 4 * MS);
  const start = p.timers.now();
  const oneShotAt = refNow(a) + 30n * TICKS_PER_MS;
  const periodicAt = refNow(b) + 7n * TICKS_PER_MS;
  assert.equal(setConfig(a, 0, ENABLE | sintx(SINT)), "ok");
  assert.equal(setCount(a, 0, oneShotAt), "ok");
  assert.equal(setConfig(b, 1, ENABLE | PERIODIC | sintx(SINT)), "ok");
  assert.equal(setCount(b, 1, 7n * TICKS_PER_MS), "ok");
  assert.equal(setConfig(b, 2, sintx(SINT)), "ok"); // disabled
  // A host deadline off by 5 ms (as a stale time base would put it): the change puts it right.
  p.timers.arm(STIMER_OWNER, 0, 0, start + 35 * MS);
  (a.state(STIMER_OWNER).deadline as Float64Array)[0] = start + 35 * MS;
  advanceTo(p, start + 2 * MS);
  assert.equal(p.changeTscFrequency(2.5e9), false);
  assert.ok(Math.abs(armedAt(p, 0, 0)! - (start + 30 * MS)) <= 100, `VP 0 timer 0 re-armed at ${armedAt(p, 0, 0)}`);
  assert.ok(Math.abs(armedAt(p, 1, 1)! - (start + 7 * MS)) <= 100, `VP 1 timer 1 at ${armedAt(p, 1, 1)}`);
  assert.equal(armedAt(p, 1, 2), undefined);
  assert.equal([...p.timers.armed.values()].filter((t) => t.owner === STIMER_OWNER).length, 2);
  // Idempotent: calling the hook again changes nothing.
  const before = [...p.timers.armed.values()].map((t) => t.atNs);
  handlers(p).tscFrequencyChanged(2.5e9, 2.5e9, p.tsc);
  assert.deepEqual([...p.timers.armed.values()].map((t) => t.atNs), before);
  expectExpiry(p, 1, 1, periodicAt, start + 7 * MS, "periodic on VP 1");
  expectExpiry(p, 0, 0, oneShotAt, start + 30 * MS, "one-shot on VP 0");
});

Deno.test("an expiry already due by the new clock whose host timer waits is fired at once by the change", () => {
  const p = partition();
  const vp = p.vps[0];
  advanceTo(p, 3 * MS);
  const at = refNow(vp) + 2n * TICKS_PER_MS;
  assert.equal(setConfig(vp, 0, ENABLE | sintx(SINT)), "ok");
  assert.equal(setCount(vp, 0, at), "ok");
  p.timers.arm(STIMER_OWNER, 0, 0, p.timers.now() + 100 * MS); // a host deadline far too late
  (vp.state(STIMER_OWNER).deadline as Float64Array)[0] = p.timers.now() + 100 * MS;
  advanceTo(p, p.timers.now() + 3 * MS);
  assert.equal(slot(p).type, 0);
  assert.equal(p.changeTscFrequency(2.5e9), false);
  assert.equal(armedAt(p, 0, 0), p.timers.now());
  p.advanceTime(0);
  assert.equal(slot(p).expiration, at);
});

// ------------------------------------------------------------------------------ parameters in force

Deno.test("after an immediate change and a VM reset, stimer uses the pair time serves then (the new frequency's initial one)", () => {
  const p = partition();
  const vp = p.vps[0];
  advanceTo(p, 100 * MS);
  assert.equal(p.changeTscFrequency(2.5e9), false);
  advanceTo(p, 130 * MS);
  p.resetVm(); // time's pair is zeroed: TIME_REF_COUNT = guest TSC at 2.5 GHz in 100 ns units
  assert.equal(wrmsr(vp, HV_X64_MSR_SIMP, SIMP + 1), "ok");
  assert.equal(wrmsr(vp, hvMsrSint(SINT), VECTOR), "ok");
  const at = refNow(vp) + 3n * TICKS_PER_MS;
  assert.ok(at < BigInt(p.tsc) / 100n, "reference time restarted below the guest TSC in 100 ns at 1 GHz");
  const from = p.timers.now();
  assert.equal(setConfig(vp, 0, ENABLE | sintx(SINT)), "ok");
  assert.equal(setCount(vp, 0, at), "ok");
  expectExpiry(p, 0, 0, at, from + 3 * MS, "after the reset");
});

Deno.test("without time composed (a registry whose stimer does not require it): the initial pair for tscHz, timers fire on time", () => {
  const loose = { ...stimer, requires: ["synic"] } as typeof stimer;
  // The built-ins stimer needs, minus time: those a synic partition composes (synic, vpindex, base).
  const registry = TestPartition.create({ requested: ["synic"] }).composition.enlightenments.map((e) => e.plugin);
  assert.ok(!registry.some((x) => x.name === "time" || x.name === "stimer"));
  const p = TestPartition.create({
    registry: [...registry, loose],
    requested: ["stimer"],
    tscHz: 2.5e9,
  });
  assert.ok(!p.composition.enlightenments.some((e) => e.name === "time"));
  const vp = p.vps[0];
  assert.equal(wrmsr(vp, HV_X64_MSR_SIMP, SIMP + 1), "ok");
  assert.equal(wrmsr(vp, hvMsrSint(SINT), VECTOR), "ok");
  advanceTo(p, 10 * MS);
  const now = (BigInt(p.tsc) * ((10_000_000n << 64n) / 2_500_000_000n)) >> 64n;
  assert.equal(setConfig(vp, 0, ENABLE | sintx(SINT)), "ok");
  assert.equal(setCount(vp, 0, now + 2n * TICKS_PER_MS), "ok");
  advanceTo(p, 12 * MS - SLACK);
  assert.equal(slot(p).type, 0);
  advanceTo(p, 12 * MS + SLACK);
  assert.equal(slot(p).expiration, now + 2n * TICKS_PER_MS);
});
