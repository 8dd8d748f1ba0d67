// Synthetic timers through @hv/testkit, i.e. through the real dispatch tables and the testkit's
// deterministic host timers: every STIMERn_CONFIG / STIMERn_COUNT row of tlfs-conformance.md (a)
// with its #GP paths and hostile values, one-shot and periodic timers in message and direct mode,
// busy message slots and EOM, drift-free periodic re-arming, auto_enable, reset and save/restore.
import assert from "node:assert/strict";
import {
  HV_SYNIC_STIMER_COUNT,
  HV_X64_MSR_EOM,
  HV_X64_MSR_SIMP,
  HV_X64_MSR_TIME_REF_COUNT,
  HVMSG_TIMER_EXPIRED,
  hvMsrSint,
  hvMsrStimerConfig,
  hvMsrStimerCount,
} from "@hv/tlfs";
import { postSynicMessage, SYNIC_MESSAGE_QUEUE_DEPTH, synicQueuedMessages } from "@hv/synic";
import { rdmsr, TestPartition, type TestVp, wrmsr } from "@hv/testkit";
import {
  STIMER_CATCH_UP_LIMIT,
  STIMER_CATCH_UP_MAX_SPACING_NS,
  STIMER_OWNER,
  type StimerHandlers,
  StimerPending,
} from "../mod.ts";

// 2.56 GHz makes time's scale exact (10^7 * 2^64 / 2.56e9 = 2^56): reference time = host ns / 100
// exactly, so deadlines land on the nanosecond. The 1 GHz tests cover a floored scale.
const HZ = 2.56e9;
const MS = 1e6; // ns
/** The smallest step that keeps the 2.56 GHz guest TSC integral in the testkit (25 ns = 64 cycles). */
const EPS = 25;
const TICKS_PER_MS = 10_000n; // reference time (100 ns) per ms
const SIMP = 0x10000; // VP n: SIMP + n * 0x1000
const SINT = 2;
const VECTOR = 0x50;

const ENABLE = 1n, PERIODIC = 2n, LAZY = 4n, AUTO = 8n, DIRECT = 1n << 12n;
const sintx = (n: number) => BigInt(n) << 16n;
const vector = (v: number) => BigInt(v) << 4n;
const M64 = (1n << 64n) - 1n;

interface Opts {
  readonly vpCount?: number;
  readonly direct?: boolean;
  readonly tscHz?: number;
  readonly simp?: boolean;
}

/** stimer (+ synic, time) and optionally stimer-direct; SIMP enabled and SINT 2 unmasked on every VP. */
function partition(o: Opts = {}): TestPartition {
  const p = TestPartition.create({
    requested: o.direct ? ["stimer", "stimer-direct"] : ["stimer"],
    vpCount: o.vpCount ?? 1,
    tscHz: o.tscHz ?? HZ,
  });
  p.vps.forEach((vp, n) => {
    if (o.simp ?? true) assert.equal(wrmsr(vp, HV_X64_MSR_SIMP, SIMP + n * 0x1000 + 1), "ok");
    assert.equal(wrmsr(vp, hvMsrSint(SINT), VECTOR), "ok");
  });
  return p;
}

const handlers = (p: TestPartition) => p.dispatch.instances.get(STIMER_OWNER) as StimerHandlers;
const refNow = (vp: TestVp): bigint => rdmsr(vp, HV_X64_MSR_TIME_REF_COUNT) as bigint;
const config = (vp: TestVp, n: number) => rdmsr(vp, hvMsrStimerConfig(n));
const count = (vp: TestVp, n: number) => rdmsr(vp, hvMsrStimerCount(n));
const setConfig = (vp: TestVp, n: number, v: bigint) => wrmsr(vp, hvMsrStimerConfig(n), v);
const setCount = (vp: TestVp, n: number, v: bigint) => wrmsr(vp, hvMsrStimerCount(n), v);

/** The SIMP slot of `sint` on VP `n`, decoded as a timer message. */
function slot(p: TestPartition, n = 0, sint = SINT) {
  const at = SIMP + n * 0x1000 + sint * 256;
  const v = p.memory.view;
  return {
    type: v.getUint32(at, true),
    size: v.getUint8(at + 4),
    pending: v.getUint8(at + 5) & 1,
    timer: v.getUint32(at + 16, true),
    reserved: v.getUint32(at + 20, true),
    expiration: v.getBigUint64(at + 24, true),
    delivery: v.getBigUint64(at + 32, true),
  };
}
/** The guest consumes the message: frees the slot, and writes EOM when msg_pending was set (TLFS). */
function consume(p: TestPartition, n = 0, sint = SINT, eom = false): void {
  const s = slot(p, n, sint);
  p.memory.writeU32(SIMP + n * 0x1000 + sint * 256, 0);
  if (s.pending || eom) assert.equal(wrmsr(p.vps[n], HV_X64_MSR_EOM, 0), "ok");
}
const vectors = (vp: TestVp) => vp.interrupts.map((i) => i.vector);
/** The timer thread is stuck for `ns`: the host clock and the guest TSC move on, nothing fires; then it wakes. */
function stall(p: TestPartition, ns: number): void {
  p.timers.nowNs += ns;
  p.tsc += (ns * p.tscHz) / 1e9;
  p.advanceTime(0);
}
/** A guest draining SINT `sint` of VP `n` (Linux order: clear the slot, EOM only if msg_pending): the timer messages seen. */
function drain(p: TestPartition, n = 0, sint = SINT) {
  const seen: ReturnType<typeof slot>[] = [];
  for (let i = 0; i < 10_000 && slot(p, n, sint).type === HVMSG_TIMER_EXPIRED; i++) {
    seen.push(slot(p, n, sint));
    consume(p, n, sint);
  }
  return seen;
}
/** Records the host time of every interrupt requested on `vp` (the testkit records vectors only). */
function interruptTimes(p: TestPartition, vp: TestVp): number[] {
  const times: number[] = [];
  const request = vp.requestInterrupt.bind(vp);
  vp.requestInterrupt = (vector, autoEoi) => {
    times.push(p.timers.now());
    request(vector, autoEoi);
  };
  return times;
}
const ms = (k: number) => BigInt(k) * TICKS_PER_MS;
const armedCount = (p: TestPartition) => [...p.timers.armed.values()].filter((t) => t.owner === STIMER_OWNER).length;

// ------------------------------------------------------------------------------------------ MSRs

Deno.test("power-on: CONFIG and COUNT of timers 0..3 read 0 on every VP; the plugin declares 4 host timers per VP", () => {
  const p = partition({ vpCount: 2 });
  for (const vp of p.vps) {
    for (let n = 0; n < HV_SYNIC_STIMER_COUNT; n++) {
      assert.equal(config(vp, n), 0n);
      assert.equal(count(vp, n), 0n);
    }
  }
  const e = p.composition.enlightenments.find((x) => x.name === "stimer")!;
  assert.deepEqual(e.plugin.timers, { perVp: 4 });
});

Deno.test("CONFIG and COUNT read back as written while disabled (probe stimer.config.rw / stimer.count.rw), per timer", () => {
  const vp = partition().vps[0];
  for (let n = 0; n < HV_SYNIC_STIMER_COUNT; n++) {
    assert.equal(setConfig(vp, n, 0x20000n), "ok");
    assert.equal(config(vp, n), 0x20000n);
    assert.equal(setCount(vp, n, 0x123456789n), "ok");
    assert.equal(count(vp, n), 0x123456789n);
  }
  // Timers are independent, and no host timer runs for disabled ones.
  assert.equal(setConfig(vp, 1, 0x30000n | LAZY | PERIODIC), "ok");
  assert.equal(config(vp, 0), 0x20000n);
  assert.equal(config(vp, 1), 0x30000n | LAZY | PERIODIC);
  assert.equal(armedCount(vp.partition as TestPartition), 0);
});

Deno.test("CONFIG: no reserved-bit check (KVM stores the value as written), any vector and sintx", () => {
  const vp = partition().vps[0];
  for (const v of [0xffff_ffff_fff0_effen, 0x8000_0000_0000_0000n, 0xe000n, 0xf_0ff0n, M64 & ~DIRECT & ~ENABLE]) {
    assert.equal(setConfig(vp, 3, v), "ok");
    assert.equal(config(vp, 3), v);
  }
});

Deno.test("CONFIG with direct mode (bit 12) without stimer-direct (3.EDX[19]) -> #GP, whatever else is set; the old value stays", () => {
  const vp = partition().vps[0];
  for (let n = 0; n < HV_SYNIC_STIMER_COUNT; n++) {
    assert.equal(setConfig(vp, n, 0x20000n), "ok");
    for (const v of [DIRECT, 0x1ed9n, DIRECT | sintx(2) | ENABLE, M64]) assert.equal(setConfig(vp, n, v), "gp");
    assert.equal(config(vp, n), 0x20000n);
  }
  assert.equal(armedCount(vp.partition as TestPartition), 0);
});

Deno.test("CONFIG with direct mode and stimer-direct composed: accepted and read back (probe stimer-direct.config)", () => {
  const vp = partition({ direct: true }).vps[0];
  const v = DIRECT | vector(0xed);
  assert.equal(setConfig(vp, 0, v), "ok");
  assert.equal(config(vp, 0), v);
});

Deno.test("STIMER MSRs #GP when stimer is not composed (synic alone), and are not claimed by anyone else", () => {
  const p = TestPartition.create({ requested: ["synic", "time"] });
  const vp = p.vps[0];
  for (let n = 0; n < HV_SYNIC_STIMER_COUNT; n++) {
    assert.equal(config(vp, n), "gp");
    assert.equal(count(vp, n), "gp");
    assert.equal(setConfig(vp, n, 0n), "gp");
    assert.equal(setCount(vp, n, 0n), "gp");
  }
});

Deno.test("sintx = 0, direct = 0: enable is cleared only when the timer was enabled before (KVM stimer_set_config)", () => {
  const p = partition({ direct: true });
  const vp = p.vps[0];
  // Not enabled before: enable|sintx 0 is stored as written (no COUNT, so nothing is armed).
  assert.equal(setConfig(vp, 0, ENABLE), "ok");
  assert.equal(config(vp, 0), ENABLE);
  // Enabled before: the same write clears enable.
  assert.equal(setConfig(vp, 0, ENABLE | PERIODIC), "ok");
  assert.equal(config(vp, 0), PERIODIC);
  // sintx != 0 keeps it; direct mode with sintx 0 keeps it.
  assert.equal(setConfig(vp, 1, ENABLE | sintx(3)), "ok");
  assert.equal(setConfig(vp, 1, ENABLE | sintx(3) | PERIODIC), "ok");
  assert.equal(config(vp, 1), ENABLE | sintx(3) | PERIODIC);
  assert.equal(setConfig(vp, 2, ENABLE | DIRECT | vector(0x40)), "ok");
  assert.equal(setConfig(vp, 2, ENABLE | DIRECT | vector(0x41)), "ok");
  assert.equal(config(vp, 2), ENABLE | DIRECT | vector(0x41));
  // An enabled message-mode timer moved to sintx 0 stops: it no longer fires.
  assert.equal(setCount(vp, 3, refNow(vp) + 10n), "ok");
  assert.equal(setConfig(vp, 3, ENABLE | sintx(SINT)), "ok");
  assert.equal(setConfig(vp, 3, ENABLE), "ok");
  assert.equal(config(vp, 3), 0n);
  p.advanceTime(10 * MS);
  assert.equal(slot(p).type, 0);
});

Deno.test("COUNT: 0 clears enable; non-zero with auto_enable sets it; without auto_enable leaves it", () => {
  const p = partition();
  const vp = p.vps[0];
  assert.equal(setConfig(vp, 0, sintx(SINT) | AUTO), "ok");
  assert.equal(setCount(vp, 0, 1n << 62n), "ok"); // far future: armed, not fired
  assert.equal(config(vp, 0), sintx(SINT) | AUTO | ENABLE);
  assert.equal(armedCount(p), 1);
  assert.equal(setCount(vp, 0, 0n), "ok");
  assert.equal(config(vp, 0), sintx(SINT) | AUTO);
  assert.equal(count(vp, 0), 0n);
  assert.equal(armedCount(p), 0);
  // No auto_enable: a COUNT write neither enables nor arms.
  assert.equal(setConfig(vp, 1, sintx(SINT)), "ok");
  assert.equal(setCount(vp, 1, 1n << 62n), "ok");
  assert.equal(config(vp, 1), sintx(SINT));
  assert.equal(armedCount(p), 0);
  // ... and a COUNT of 0 on an enabled timer disables it.
  assert.equal(setConfig(vp, 1, sintx(SINT) | ENABLE), "ok");
  assert.equal(armedCount(p), 1);
  assert.equal(setCount(vp, 1, 0n), "ok");
  assert.equal(config(vp, 1), sintx(SINT));
  assert.equal(armedCount(p), 0);
});

Deno.test("auto_enable: CONFIG=auto|sintx then COUNT=now+1ms arms the timer, which fires once", () => {
  const p = partition();
  const vp = p.vps[0];
  assert.equal(setConfig(vp, 2, sintx(SINT) | AUTO), "ok");
  const at = refNow(vp) + TICKS_PER_MS;
  assert.equal(setCount(vp, 2, at), "ok");
  p.advanceTime(MS - EPS);
  assert.equal(slot(p).type, 0);
  p.advanceTime(EPS);
  assert.equal(slot(p).type, HVMSG_TIMER_EXPIRED);
  assert.equal(slot(p).timer, 2);
  assert.equal(config(vp, 2), sintx(SINT) | AUTO, "one-shot: enable cleared after firing");
});

Deno.test("COUNT = 0 with enable|periodic: nothing armed (period 0), and a later non-zero period starts it", () => {
  const p = partition();
  const vp = p.vps[0];
  assert.equal(setConfig(vp, 0, ENABLE | PERIODIC | sintx(SINT)), "ok");
  assert.equal(config(vp, 0), ENABLE | PERIODIC | sintx(SINT), "KVM keeps enable; COUNT 0 just arms nothing");
  assert.equal(armedCount(p), 0);
  p.advanceTime(100 * MS);
  assert.equal(slot(p).type, 0);
  assert.equal(setCount(vp, 0, 0n), "ok");
  assert.equal(config(vp, 0), PERIODIC | sintx(SINT));
  assert.equal(setConfig(vp, 0, ENABLE | PERIODIC | sintx(SINT) | AUTO), "ok");
  assert.equal(setCount(vp, 0, TICKS_PER_MS), "ok");
  p.advanceTime(MS);
  assert.equal(slot(p).type, HVMSG_TIMER_EXPIRED);
});

// ------------------------------------------------------------------------------ one-shot, messages

Deno.test("one-shot, message mode: HVMSG_TIMER_EXPIRED in SIMP slot sintx at COUNT, payload {index, 0, expiration, delivery}, SINT raised, enable cleared", () => {
  const p = partition();
  const vp = p.vps[0];
  p.advanceTime(123_400_000);
  for (let n = 0; n < HV_SYNIC_STIMER_COUNT; n++) {
    const at = refNow(vp) + 5n * TICKS_PER_MS;
    assert.equal(setConfig(vp, n, ENABLE | sintx(SINT)), "ok");
    assert.equal(setCount(vp, n, at), "ok");
    p.advanceTime(5 * MS - EPS);
    assert.equal(slot(p).type, 0, "never before the expiration time");
    p.advanceTime(EPS);
    const m = slot(p);
    assert.deepEqual(m, {
      type: HVMSG_TIMER_EXPIRED,
      size: 24,
      pending: 0,
      timer: n,
      reserved: 0,
      expiration: at,
      delivery: at,
    });
    assert.deepEqual(vectors(vp), [VECTOR]);
    assert.equal(config(vp, n), sintx(SINT), "enable cleared after a one-shot expiry");
    assert.equal(count(vp, n), at, "COUNT is kept");
    assert.equal(armedCount(p), 0);
    p.advanceTime(50 * MS);
    assert.equal(vp.interrupts.length, 1, "fires once");
    consume(p);
    vp.interrupts.length = 0;
  }
});

Deno.test("one-shot: COUNT in the past or equal to now expires at once, during the WRMSR", () => {
  const p = partition({ direct: true });
  const vp = p.vps[0];
  p.advanceTime(10 * MS);
  const now = refNow(vp);
  for (const at of [1n, now - 1n, now]) {
    assert.equal(setConfig(vp, 0, sintx(SINT) | AUTO), "ok");
    assert.equal(setCount(vp, 0, at), "ok");
    const m = slot(p);
    assert.equal(m.type, HVMSG_TIMER_EXPIRED);
    assert.equal(m.expiration, at);
    assert.equal(m.delivery, now);
    assert.equal(config(vp, 0), sintx(SINT) | AUTO);
    consume(p);
  }
  // Direct mode too (Linux writes COUNT = now + delta with a tiny delta).
  assert.equal(setConfig(vp, 1, DIRECT | vector(0xed) | AUTO), "ok");
  assert.equal(setCount(vp, 1, now), "ok");
  assert.deepEqual(vectors(vp).slice(-1), [0xed]);
  assert.equal(config(vp, 1), DIRECT | vector(0xed) | AUTO);
  assert.equal(armedCount(p), 0);
});

Deno.test("one-shot: a CONFIG or COUNT write re-arms (the old deadline never fires); CONFIG=0 stops it", () => {
  const p = partition();
  const vp = p.vps[0];
  const t0 = refNow(vp);
  assert.equal(setConfig(vp, 0, ENABLE | sintx(SINT)), "ok");
  assert.equal(setCount(vp, 0, t0 + TICKS_PER_MS), "ok");
  assert.equal(setCount(vp, 0, t0 + 3n * TICKS_PER_MS), "ok"); // moved later
  p.advanceTime(2 * MS);
  assert.equal(slot(p).type, 0);
  p.advanceTime(MS);
  assert.equal(slot(p).expiration, t0 + 3n * TICKS_PER_MS);
  consume(p);
  // CONFIG with enable and a COUNT already in the past fires at once (KVM stimer_set_config starts it).
  assert.equal(setConfig(vp, 0, ENABLE | sintx(SINT)), "ok");
  assert.equal(slot(p).expiration, t0 + 3n * TICKS_PER_MS);
  consume(p);
  assert.equal(setCount(vp, 0, refNow(vp) + TICKS_PER_MS), "ok");
  assert.equal(setConfig(vp, 0, ENABLE | sintx(SINT)), "ok");
  assert.equal(armedCount(p), 1);
  assert.equal(setConfig(vp, 0, 0n), "ok");
  assert.equal(armedCount(p), 0);
  p.advanceTime(10 * MS);
  assert.equal(slot(p).type, 0);
  assert.equal(vp.interrupts.length, 2);
});

Deno.test("huge COUNTs near 2^64: stored exactly, armed far in the future, never fire in 10 s; periodic expiry saturates", () => {
  const p = partition();
  const vp = p.vps[0];
  p.advanceTime(MS);
  for (const c of [M64, M64 - 1n, 1n << 63n, (1n << 32n) | 5n]) {
    assert.equal(setConfig(vp, 0, ENABLE | sintx(SINT)), "ok");
    assert.equal(setCount(vp, 0, c), "ok");
    assert.equal(count(vp, 0), c);
    assert.equal(armedCount(p), 1);
    const t = [...p.timers.armed.values()][0];
    assert.ok(t.atNs > p.timers.now() + 1e9, `deadline ${t.atNs} is far out`);
  }
  assert.equal(setConfig(vp, 1, ENABLE | PERIODIC | sintx(SINT)), "ok");
  assert.equal(setCount(vp, 1, M64), "ok");
  const s = vp.state(STIMER_OWNER) as { expiry: Uint32Array };
  assert.deepEqual(
    [s.expiry[2], s.expiry[3]],
    [0xffffffff, 0xffffffff],
    "refNow + 2^64-1 saturates, never wraps into the past",
  );
  p.advanceTime(10_000 * MS);
  assert.equal(slot(p).type, 0);
  assert.equal(vp.interrupts.length, 0);
});

// ------------------------------------------------------------------------------ periodic, messages

Deno.test("periodic, message mode: first expiry one period after the write, then every period, expiration_time = write + k periods", () => {
  const p = partition();
  const vp = p.vps[0];
  p.advanceTime(0.25 * MS);
  const t0 = refNow(vp);
  assert.equal(setConfig(vp, 1, ENABLE | PERIODIC | sintx(SINT)), "ok");
  assert.equal(setCount(vp, 1, 2n * TICKS_PER_MS), "ok");
  for (let k = 1n; k <= 5n; k++) {
    p.advanceTime(2 * MS - EPS);
    assert.equal(slot(p).type, 0);
    p.advanceTime(EPS);
    const m = slot(p);
    assert.equal(m.type, HVMSG_TIMER_EXPIRED);
    assert.equal(m.timer, 1);
    assert.equal(m.expiration, t0 + k * 2n * TICKS_PER_MS);
    assert.equal(m.delivery, m.expiration);
    consume(p);
  }
  assert.equal(config(vp, 1), ENABLE | PERIODIC | sintx(SINT), "periodic timers stay enabled");
  assert.equal(vp.interrupts.length, 5);
});

Deno.test("1000 periodic 1 ms expiries over 1 s of advanced time deliver exactly 1000 (direct mode, one advance)", () => {
  const p = partition({ direct: true });
  const vp = p.vps[0];
  p.advanceTime(7_300_000);
  assert.equal(setConfig(vp, 0, ENABLE | PERIODIC | DIRECT | vector(0xee)), "ok");
  assert.equal(setCount(vp, 0, TICKS_PER_MS), "ok");
  p.advanceTime(1000 * MS);
  assert.equal(vp.interrupts.length, 1000);
  assert.ok(vp.interrupts.every((i) => i.vector === 0xee && !i.autoEoi));
  p.advanceTime(MS - EPS);
  assert.equal(vp.interrupts.length, 1000, "no drift: the next one is due exactly 1 ms later");
  p.advanceTime(EPS);
  assert.equal(vp.interrupts.length, 1001);
});

Deno.test("1000 periodic 1 ms expiries in message mode, consumed each ms: 1000 messages, expiration_time k ms after the write", () => {
  const p = partition();
  const vp = p.vps[0];
  const t0 = refNow(vp);
  assert.equal(setConfig(vp, 3, ENABLE | PERIODIC | sintx(SINT)), "ok");
  assert.equal(setCount(vp, 3, TICKS_PER_MS), "ok");
  let got = 0;
  for (let k = 1n; k <= 1000n; k++) {
    p.advanceTime(MS);
    const m = slot(p);
    if (m.type === HVMSG_TIMER_EXPIRED && m.expiration === t0 + k * TICKS_PER_MS && m.delivery === m.expiration) got++;
    consume(p);
  }
  assert.equal(got, 1000);
  assert.equal(vp.interrupts.length, 1000);
});

Deno.test("1 GHz (floored reference scale): reference time trails host ns/100 by a tick, so expiries land 100 ns late, never early, without drift", () => {
  const p = partition({ tscHz: 1e9 });
  const vp = p.vps[0];
  assert.equal(setConfig(vp, 0, ENABLE | PERIODIC | sintx(SINT)), "ok");
  assert.equal(setCount(vp, 0, TICKS_PER_MS), "ok");
  const t0 = refNow(vp);
  for (let k = 1; k <= 1000; k++) {
    p.advanceTime(k * MS + 99 - p.timers.now());
    assert.equal(slot(p).type, 0, "not before the guest's reference time reaches the expiration time");
    p.advanceTime(1);
    const m = slot(p);
    assert.equal(m.type, HVMSG_TIMER_EXPIRED);
    assert.equal(m.expiration, t0 + BigInt(k) * TICKS_PER_MS, "expiration_time stays on the write + k ms grid");
    assert.ok(m.delivery >= m.expiration, "delivery_time >= expiration_time");
    assert.ok(refNow(vp) >= m.expiration);
    consume(p);
  }
  assert.equal(p.timers.now(), 1000 * MS + 100, "1000 expiries in 1 s + 100 ns");
  assert.equal(vp.interrupts.length, 1000);
});

Deno.test("lazy periodic: a host that fell more than a period behind skips the missed periods (KVM remainder rule), no burst", () => {
  const p = partition();
  const vp = p.vps[0];
  const t0 = refNow(vp);
  assert.equal(setConfig(vp, 0, ENABLE | PERIODIC | LAZY | sintx(SINT)), "ok");
  assert.equal(setCount(vp, 0, TICKS_PER_MS), "ok");
  // The timer thread was stuck: the clock (and guest TSC) move 6.5 ms without firing anything.
  p.timers.nowNs += 6.5 * MS;
  p.tsc += 6.5 * MS * HZ / 1e9;
  p.advanceTime(0);
  let m = slot(p);
  assert.equal(m.expiration, t0 + TICKS_PER_MS, "the overdue expiry is delivered once, late");
  assert.equal(m.delivery, t0 + 65_000n);
  consume(p);
  const [armed] = [...p.timers.armed.values()];
  assert.equal(armed.atNs, 7 * MS, "next = previous deadline + k periods, the first in the future");
  p.advanceTime(0.5 * MS - EPS);
  assert.equal(slot(p).type, 0);
  p.advanceTime(EPS);
  m = slot(p);
  assert.equal(m.expiration, t0 + 7n * TICKS_PER_MS);
  assert.equal(vp.interrupts.length, 2);
});

Deno.test("lazy bit: stored and read back; with a host on time, lazy and non-lazy periodic timers tick the same", () => {
  const p = partition({ direct: true });
  const vp = p.vps[0];
  assert.equal(setConfig(vp, 0, ENABLE | PERIODIC | LAZY | DIRECT | vector(0x60)), "ok");
  assert.equal(setConfig(vp, 1, ENABLE | PERIODIC | DIRECT | vector(0x61)), "ok");
  assert.equal(config(vp, 0), ENABLE | PERIODIC | LAZY | DIRECT | vector(0x60));
  assert.equal(setCount(vp, 0, TICKS_PER_MS), "ok");
  assert.equal(setCount(vp, 1, TICKS_PER_MS), "ok");
  p.advanceTime(10 * MS);
  assert.equal(vectors(vp).filter((v) => v === 0x60).length, 10);
  assert.equal(vectors(vp).filter((v) => v === 0x61).length, 10);
});

// ------------------------------------------------------------------------------ non-lazy catch-up

Deno.test("non-lazy periodic, message mode: a wake 5.5 periods late delivers every missed period, one message and one SINT each, expiration_time = its own deadline", () => {
  const p = partition();
  const vp = p.vps[0];
  const t0 = refNow(vp);
  assert.equal(setConfig(vp, 0, ENABLE | PERIODIC | sintx(SINT)), "ok");
  assert.equal(setCount(vp, 0, TICKS_PER_MS), "ok");
  stall(p, 6.5 * MS); // deadlines 1..6 ms have passed
  // Tick 1 is in the slot, tick 2 queued behind it (msg_pending tells the guest to EOM); the timer
  // holds with no host timer until the guest frees the slot.
  assert.equal(slot(p).expiration, t0 + ms(1));
  assert.equal(slot(p).pending, 1);
  assert.equal(synicQueuedMessages(vp, SINT), 1);
  assert.equal((vp.state(STIMER_OWNER) as { pending: Uint8Array }).pending[0], StimerPending.Queued);
  assert.equal(armedCount(p), 0);
  assert.equal(vp.interrupts.length, 1);
  const seen = drain(p); // each EOM moves the next one in and queues the one after
  assert.deepEqual(seen.map((m) => m.expiration), [1, 2, 3, 4, 5, 6].map((k) => t0 + ms(k)));
  assert.ok(seen.every((m) => m.timer === 0 && m.delivery === t0 + 65_000n), "all delivered at the late wake");
  assert.deepEqual(vectors(vp), Array(6).fill(VECTOR), "one SINT per message");
  // Caught up: tick 7 on the original grid, on time.
  assert.equal(armedCount(p), 1);
  p.advanceTime(0.5 * MS - EPS);
  assert.equal(slot(p).type, 0);
  p.advanceTime(EPS);
  assert.equal(slot(p).expiration, t0 + ms(7));
  assert.equal(slot(p).delivery, t0 + ms(7));
  assert.equal(vp.interrupts.length, 7);
});

Deno.test("non-lazy periodic, message mode: 1000 expiries in 1 s with the timer thread waking 4-8 ms late every 50 ms: exactly 1000 messages, none skipped", () => {
  const p = partition();
  const vp = p.vps[0];
  const t0 = refNow(vp);
  assert.equal(setConfig(vp, 0, ENABLE | PERIODIC | sintx(SINT)), "ok");
  assert.equal(setCount(vp, 0, TICKS_PER_MS), "ok");
  const seen: bigint[] = [];
  for (let step = 0; step < 1000; step++) {
    if (step % 50 === 25 && p.timers.nowNs < 950 * MS) stall(p, (4 + (((step / 50) | 0) % 5)) * MS);
    p.advanceTime(MS - (p.timers.nowNs % MS)); // the guest runs until the next ms boundary
    for (const m of drain(p)) seen.push(m.expiration);
    if (p.timers.nowNs >= 1000 * MS) break;
  }
  assert.equal(p.timers.nowNs, 1000 * MS);
  assert.equal(seen.length, 1000);
  assert.deepEqual(seen, Array.from({ length: 1000 }, (_, k) => t0 + ms(k + 1)), "every period once, in order");
  assert.equal(vp.interrupts.length, 1000);
});

Deno.test("non-lazy periodic, message mode: a guest that holds the slot gets the held expiries at its EOMs, in order, none lost (lazy would lose them)", () => {
  const p = partition();
  const vp = p.vps[0];
  const t0 = refNow(vp);
  assert.equal(setConfig(vp, 0, ENABLE | PERIODIC | sintx(SINT)), "ok");
  assert.equal(setCount(vp, 0, TICKS_PER_MS), "ok");
  p.advanceTime(MS); // tick 1: delivered, the guest does not consume it
  p.advanceTime(MS); // tick 2: queued; the timer holds
  assert.equal(synicQueuedMessages(vp, SINT), 1);
  assert.equal(armedCount(p), 0, "no host timer while an expiry waits for the EOM");
  p.advanceTime(10 * MS); // ticks 3..12 fall due while it holds
  assert.equal(synicQueuedMessages(vp, SINT), 1, "never more than one message of this timer queued");
  assert.equal(vp.interrupts.length, 1);
  const seen = drain(p);
  assert.deepEqual(seen.map((m) => m.expiration), Array.from({ length: 12 }, (_, k) => t0 + ms(k + 1)));
  assert.equal(seen[1].delivery, t0 + ms(2), "tick 2 was posted (queued) on time");
  assert.ok(seen.slice(2).every((m) => m.delivery === t0 + ms(12)), "ticks 3..12 are posted at the EOMs");
  assert.equal(vp.interrupts.length, 12);
  p.advanceTime(MS);
  assert.equal(slot(p).expiration, t0 + ms(13), "then on the original grid");
  assert.equal(config(vp, 0), ENABLE | PERIODIC | sintx(SINT));
});

Deno.test("non-lazy periodic with the SINT's queue full of other messages: the expiry waits (Retry), then every period comes after the older messages", () => {
  const p = partition();
  const vp = p.vps[0];
  const t0 = refNow(vp);
  const w = Uint32Array.of(0);
  assert.equal(postSynicMessage(vp, SINT, 0x100, w, 4), "delivered");
  for (let i = 0; i < SYNIC_MESSAGE_QUEUE_DEPTH; i++) {
    assert.equal(postSynicMessage(vp, SINT, 0x101 + i, w, 4), "pending");
  }
  assert.equal(setConfig(vp, 2, ENABLE | PERIODIC | sintx(SINT)), "ok");
  assert.equal(setCount(vp, 2, TICKS_PER_MS), "ok");
  p.advanceTime(MS);
  assert.equal((vp.state(STIMER_OWNER) as { pending: Uint8Array }).pending[2], StimerPending.Retry);
  p.advanceTime(5 * MS);
  assert.equal(armedCount(p), 0);
  const types: number[] = [];
  const expirations: bigint[] = [];
  for (let i = 0; i < 50 && slot(p).type !== 0; i++) {
    types.push(slot(p).type);
    if (slot(p).type === HVMSG_TIMER_EXPIRED) expirations.push(slot(p).expiration);
    consume(p);
  }
  assert.deepEqual(types.slice(0, 6), [0x100, 0x101, 0x102, 0x103, 0x104, 0x105]);
  assert.deepEqual(expirations, [1, 2, 3, 4, 5, 6].map((k) => t0 + ms(k)));
  assert.equal(armedCount(p), 1);
});

Deno.test("direct mode after a late wake: non-lazy raises every missed period from its own host timer, at half a period apart (no IRR merge); lazy skips them", () => {
  const p = partition({ direct: true });
  const vp = p.vps[0];
  const times = interruptTimes(p, vp);
  assert.equal(setConfig(vp, 0, ENABLE | PERIODIC | DIRECT | vector(0x60)), "ok");
  assert.equal(setConfig(vp, 1, ENABLE | PERIODIC | LAZY | DIRECT | vector(0x61)), "ok");
  assert.equal(setCount(vp, 0, TICKS_PER_MS), "ok");
  assert.equal(setCount(vp, 1, TICKS_PER_MS), "ok");
  stall(p, 6.5 * MS);
  p.advanceTime(12 * MS - p.timers.nowNs);
  const at = (v: number) => vp.interrupts.flatMap((x, i) => (x.vector === v ? [times[i] / MS] : []));
  // Non-lazy: ticks 1..12 by 12 ms; the late one at 6.5, then one every 0.5 ms until caught up.
  assert.deepEqual(at(0x60), [6.5, 7, 7.5, 8, 8.5, 9, 9.5, 10, 10.5, 11, 11.5, 12]);
  at(0x60).forEach((t, k) => assert.ok(t >= k + 1, `tick ${k + 1} never before its deadline`));
  // Lazy: ticks 2..6 skipped, back on the grid at 7 ms.
  assert.deepEqual(at(0x61), [6.5, 7, 8, 9, 10, 11, 12]);
  p.advanceTime(MS);
  assert.deepEqual(at(0x60).slice(-1), [13]);
  assert.deepEqual(at(0x61).slice(-1), [13]);
});

Deno.test("direct mode: catch-up interrupts of a long-period non-lazy timer are at most 1 ms apart", () => {
  const p = partition({ direct: true });
  const vp = p.vps[0];
  const times = interruptTimes(p, vp);
  assert.equal(STIMER_CATCH_UP_MAX_SPACING_NS, MS);
  assert.equal(setConfig(vp, 0, ENABLE | PERIODIC | DIRECT | vector(0x60)), "ok");
  assert.equal(setCount(vp, 0, 100n * TICKS_PER_MS), "ok");
  stall(p, 350 * MS); // deadlines 100, 200, 300 ms have passed
  p.advanceTime(400 * MS - p.timers.nowNs);
  assert.deepEqual(times.map((t) => t / MS), [350, 351, 352, 400]);
});

Deno.test("catch-up cap: more than STIMER_CATCH_UP_LIMIT overdue periods -> the oldest are skipped, exactly that many caught up (message and direct mode)", () => {
  assert.equal(STIMER_CATCH_UP_LIMIT, 32);
  // Message mode: the timer thread stuck for 1 s.
  const p = partition({ direct: true });
  const vp = p.vps[0];
  const t0 = refNow(vp);
  assert.equal(setConfig(vp, 0, ENABLE | PERIODIC | sintx(SINT)), "ok");
  assert.equal(setCount(vp, 0, TICKS_PER_MS), "ok");
  assert.equal(setConfig(vp, 1, ENABLE | PERIODIC | DIRECT | vector(0x61)), "ok");
  assert.equal(setCount(vp, 1, TICKS_PER_MS), "ok");
  stall(p, 1000.5 * MS); // deadlines 1..1000 ms have passed
  const seen = drain(p).map((m) => m.expiration);
  // Tick 1 (due when the timer thread woke), then the last 32 overdue: 969..1000; 2..968 skipped.
  assert.equal(seen.length, 1 + STIMER_CATCH_UP_LIMIT);
  assert.deepEqual(seen, [t0 + ms(1), ...Array.from({ length: 32 }, (_, k) => t0 + ms(969 + k))]);
  p.advanceTime(0.5 * MS);
  assert.equal(slot(p).expiration, t0 + ms(1001));
  consume(p);
  // Direct mode, same stall: tick 1, then 969.. caught up at half-period spacing, none lost after.
  p.advanceTime(1100 * MS - p.timers.nowNs);
  assert.equal(vectors(vp).filter((v) => v === 0x61).length, 1 + (1100 - 968));

  // A guest that keeps the slot busy for 1 s: the same cap applies at its EOM.
  const q = partition();
  const qvp = q.vps[0];
  const q0 = refNow(qvp);
  assert.equal(setConfig(qvp, 0, ENABLE | PERIODIC | sintx(SINT)), "ok");
  assert.equal(setCount(qvp, 0, TICKS_PER_MS), "ok");
  q.advanceTime(1002 * MS); // tick 1 delivered, tick 2 queued, the guest never looks
  assert.equal(qvp.interrupts.length, 1);
  const held = drain(q).map((m) => m.expiration);
  assert.deepEqual(held, [q0 + ms(1), q0 + ms(2), ...Array.from({ length: 32 }, (_, k) => q0 + ms(971 + k))]);
  assert.equal(qvp.interrupts.length, 34);
});

Deno.test("hostile tiny period (COUNT = 1, 100 ns) non-lazy: a late wake is capped, a guest that never consumes holds it, nothing floods or hangs", () => {
  const p = partition({ direct: true });
  const vp = p.vps[0];
  assert.equal(setConfig(vp, 0, ENABLE | PERIODIC | sintx(SINT)), "ok");
  assert.equal(setCount(vp, 0, 1n), "ok");
  stall(p, 2 * MS); // 20000 periods overdue
  assert.equal(vp.interrupts.length, 1, "tick 1 in the slot, the next queued: the timer holds");
  assert.equal(armedCount(p), 0);
  p.advanceTime(100 * MS);
  assert.equal(vp.interrupts.length, 1);
  // Tick 1, the one queued at the wake, then (1 000 000 periods later, at these EOMs) the last 32.
  assert.equal(drain(p).length, 1 + 1 + STIMER_CATCH_UP_LIMIT);
  // Direct mode: one interrupt per timer-thread call, at most the cap behind.
  assert.equal(setConfig(vp, 1, ENABLE | PERIODIC | DIRECT | vector(0x61)), "ok");
  assert.equal(setCount(vp, 1, 1n), "ok");
  const before = vp.interrupts.length;
  stall(p, 1 * MS);
  p.advanceTime(MS);
  // Tick 1 at the wake, 2..9968 skipped (cap), 9969..20000 caught up at 50 ns apart and then on time.
  assert.equal(vectors(vp).slice(before).filter((v) => v === 0x61).length, 1 + (20_000 - 9_968));
});

Deno.test("one-shot timers are unaffected by the catch-up rules: a late wake delivers exactly one expiry, lazy bit or not", () => {
  const p = partition({ direct: true });
  const vp = p.vps[0];
  const t0 = refNow(vp);
  assert.equal(setConfig(vp, 0, ENABLE | sintx(SINT)), "ok");
  assert.equal(setCount(vp, 0, t0 + ms(1)), "ok");
  assert.equal(setConfig(vp, 1, ENABLE | LAZY | DIRECT | vector(0x61)), "ok");
  assert.equal(setCount(vp, 1, t0 + ms(1)), "ok");
  stall(p, 50 * MS);
  assert.deepEqual(drain(p).map((m) => [m.expiration, m.delivery]), [[t0 + ms(1), t0 + ms(50)]]);
  assert.deepEqual(vectors(vp), [VECTOR, 0x61]);
  assert.equal(config(vp, 0), sintx(SINT));
  assert.equal(config(vp, 1), LAZY | DIRECT | vector(0x61));
  assert.equal(armedCount(p), 0);
  p.advanceTime(100 * MS);
  assert.equal(vp.interrupts.length, 2);
});

Deno.test("hostile configs keep their behaviour under catch-up: direct vector < 16 raises nothing, a masked SINT interrupts never, COUNT 0 arms nothing", () => {
  const p = partition({ direct: true });
  const vp = p.vps[0];
  const t0 = refNow(vp);
  assert.equal(setConfig(vp, 0, ENABLE | PERIODIC | DIRECT | vector(0x0f)), "ok");
  assert.equal(setCount(vp, 0, TICKS_PER_MS), "ok");
  assert.equal(wrmsr(vp, hvMsrSint(5), 0x10000 | VECTOR), "ok"); // masked
  assert.equal(setConfig(vp, 1, ENABLE | PERIODIC | sintx(5)), "ok");
  assert.equal(setCount(vp, 1, TICKS_PER_MS), "ok");
  assert.equal(setConfig(vp, 2, ENABLE | PERIODIC | sintx(SINT)), "ok"); // COUNT 0
  stall(p, 6.5 * MS);
  p.advanceTime(5.5 * MS);
  assert.equal(vp.interrupts.length, 0);
  assert.equal(config(vp, 0), ENABLE | PERIODIC | DIRECT | vector(0x0f), "still enabled, ticking");
  // The masked SINT: messages for a polling guest, tick after tick, and no interrupt ever.
  assert.deepEqual(drain(p, 0, 5).map((m) => m.expiration), Array.from({ length: 12 }, (_, k) => t0 + ms(k + 1)));
  assert.equal(vp.interrupts.length, 0);
  assert.equal(slot(p).type, 0, "COUNT 0: nothing on SINT 2");
  assert.equal(armedCount(p), 2);
});

Deno.test("save/restore with a non-lazy expiry waiting for the EOM: the grid restarts at the restore, so the EOM catches up nothing from before it", () => {
  const p = partition();
  const vp = p.vps[0];
  const t0 = refNow(vp);
  assert.equal(postSynicMessage(vp, SINT, 0x100, Uint32Array.of(0), 4), "delivered");
  assert.equal(setConfig(vp, 0, ENABLE | PERIODIC | sintx(SINT)), "ok");
  assert.equal(setCount(vp, 0, TICKS_PER_MS), "ok");
  p.advanceTime(MS);
  assert.equal((vp.state(STIMER_OWNER) as { pending: Uint8Array }).pending[0], StimerPending.Queued);
  const busy = p.memory.slice(SIMP, 4096)!;
  const vs = vp.arena.save(), ps = p.arena.save();
  const q = partition();
  q.timers.nowNs = 7_000 * MS; // another process: its host clock says 7 s
  q.tsc = p.tsc;
  q.memory.write(SIMP, busy);
  q.vps[0].arena.restore(vs);
  q.arena.restore(ps);
  handlers(q).restored();
  assert.equal(armedCount(q), 0);
  const seen: ReturnType<typeof slot>[] = [];
  for (let i = 0; i < 10 && slot(q).type !== 0; i++) {
    seen.push(slot(q));
    consume(q);
  }
  assert.deepEqual(seen.map((m) => m.type), [0x100, HVMSG_TIMER_EXPIRED]);
  assert.equal(seen[1].expiration, t0 + ms(1));
  assert.equal(armedCount(q), 1, "one period after the restore, not 7000 periods of catch-up");
  q.advanceTime(MS);
  assert.equal(slot(q).expiration, t0 + ms(2));
  assert.equal(q.vps[0].interrupts.length, 2);
});

// ------------------------------------------------------------------------------ busy slot, EOM

Deno.test("one-shot into a busy slot: queued (msg_pending set in the slot), enable kept; delivered after the guest frees the slot and writes EOM", () => {
  const p = partition();
  const vp = p.vps[0];
  const other = Uint32Array.of(0xabcd);
  assert.equal(postSynicMessage(vp, SINT, 0x100, other, 4), "delivered");
  const at = refNow(vp) + TICKS_PER_MS;
  assert.equal(setConfig(vp, 0, ENABLE | sintx(SINT)), "ok");
  assert.equal(setCount(vp, 0, at), "ok");
  p.advanceTime(MS);
  assert.equal(slot(p).type, 0x100, "the older message stays");
  assert.equal(slot(p).pending, 1, "msg_pending tells the guest to write EOM");
  assert.equal(synicQueuedMessages(vp, SINT), 1);
  assert.equal(config(vp, 0), ENABLE | sintx(SINT), "KVM: enable clears only once the message is delivered");
  p.advanceTime(5 * MS);
  assert.equal(synicQueuedMessages(vp, SINT), 1, "no second copy");
  consume(p); // frees the slot, EOM
  const m = slot(p);
  assert.equal(m.type, HVMSG_TIMER_EXPIRED);
  assert.equal(m.expiration, at);
  assert.equal(m.delivery, at, "delivery_time: when the expiry was posted");
  assert.equal(config(vp, 0), sintx(SINT), "enable cleared once the message reached the slot");
  assert.deepEqual(vectors(vp), [VECTOR, VECTOR]);
  p.advanceTime(10 * MS);
  assert.equal(vp.interrupts.length, 2);
});

Deno.test("lazy periodic into a busy slot: one message waits, further ticks are lost (no double queue), ticking resumes after EOM", () => {
  const p = partition();
  const vp = p.vps[0];
  const t0 = refNow(vp);
  assert.equal(setConfig(vp, 0, ENABLE | PERIODIC | LAZY | sintx(SINT)), "ok");
  assert.equal(setCount(vp, 0, TICKS_PER_MS), "ok");
  p.advanceTime(MS); // tick 1: delivered, the guest does not consume it
  assert.equal(slot(p).expiration, t0 + TICKS_PER_MS);
  p.advanceTime(MS); // tick 2: queued
  assert.equal(synicQueuedMessages(vp, SINT), 1);
  p.advanceTime(10 * MS); // ticks 3..12: busy -> lost
  assert.equal(synicQueuedMessages(vp, SINT), 1, "a periodic timer with a pending message queues no other");
  assert.equal(vp.interrupts.length, 1);
  consume(p); // frees tick 1, EOM moves tick 2 in
  assert.equal(slot(p).expiration, t0 + 2n * TICKS_PER_MS);
  assert.equal(synicQueuedMessages(vp, SINT), 0);
  consume(p);
  p.advanceTime(MS); // tick 13 on the original grid
  assert.equal(slot(p).expiration, t0 + 13n * TICKS_PER_MS);
  assert.equal(config(vp, 0), ENABLE | PERIODIC | LAZY | sintx(SINT));
});

Deno.test("one-shot with the SINT's queue full: not taken (pending=Retry), re-posted at each EOM until it is delivered, exactly once", () => {
  const p = partition();
  const vp = p.vps[0];
  const w = Uint32Array.of(0);
  assert.equal(postSynicMessage(vp, SINT, 0x100, w, 4), "delivered");
  for (let i = 0; i < SYNIC_MESSAGE_QUEUE_DEPTH; i++) {
    assert.equal(postSynicMessage(vp, SINT, 0x101 + i, w, 4), "pending");
  }
  assert.equal(setConfig(vp, 1, ENABLE | sintx(SINT)), "ok");
  const at = refNow(vp) + TICKS_PER_MS;
  assert.equal(setCount(vp, 1, at), "ok");
  p.advanceTime(MS);
  const st = vp.state(STIMER_OWNER) as { pending: Uint8Array };
  assert.equal(st.pending[1], StimerPending.Retry);
  const seen: number[] = [];
  for (let i = 0; i < 10 && slot(p).type !== 0; i++) {
    seen.push(slot(p).type);
    if (slot(p).type === HVMSG_TIMER_EXPIRED) {
      assert.equal(slot(p).timer, 1);
      assert.equal(slot(p).expiration, at);
    }
    consume(p, 0, SINT, true);
  }
  assert.deepEqual(seen, [0x100, 0x101, 0x102, 0x103, 0x104, 0x105, HVMSG_TIMER_EXPIRED]);
  assert.equal(config(vp, 1), sintx(SINT));
  assert.equal(st.pending[1], StimerPending.None);
});

Deno.test("SIMP disabled at expiry: the expiry waits (KVM msg_pending) and is posted at the EOM after the SIMP is enabled", () => {
  const p = partition({ simp: false });
  const vp = p.vps[0];
  const at = refNow(vp) + TICKS_PER_MS;
  assert.equal(setConfig(vp, 0, ENABLE | sintx(SINT)), "ok");
  assert.equal(setCount(vp, 0, at), "ok");
  p.advanceTime(2 * MS);
  assert.equal(vp.interrupts.length, 0);
  assert.equal(config(vp, 0), ENABLE | sintx(SINT));
  assert.equal(wrmsr(vp, HV_X64_MSR_SIMP, SIMP + 1), "ok");
  assert.equal(wrmsr(vp, HV_X64_MSR_EOM, 0), "ok");
  const m = slot(p);
  assert.equal(m.type, HVMSG_TIMER_EXPIRED);
  assert.equal(m.expiration, at);
  assert.equal(m.delivery, at + 10_000n);
  assert.equal(config(vp, 0), sintx(SINT));
});

Deno.test("masked SINT: the message is written for a polling guest, no interrupt, the one-shot completes", () => {
  const p = partition();
  const vp = p.vps[0];
  assert.equal(wrmsr(vp, hvMsrSint(5), 0x10000 | VECTOR), "ok");
  assert.equal(setConfig(vp, 0, ENABLE | sintx(5)), "ok");
  assert.equal(setCount(vp, 0, refNow(vp) + 1n), "ok");
  p.advanceTime(MS);
  assert.equal(slot(p, 0, 5).type, HVMSG_TIMER_EXPIRED);
  assert.equal(vp.interrupts.length, 0);
  assert.equal(config(vp, 0), sintx(5));
});

Deno.test("EOM with nothing pending changes nothing; EOM on another VP does not touch this VP's timers", () => {
  const p = partition({ vpCount: 2 });
  const [a, b] = p.vps;
  assert.equal(postSynicMessage(a, SINT, 0x100, Uint32Array.of(0), 4), "delivered");
  assert.equal(setConfig(a, 0, ENABLE | sintx(SINT)), "ok");
  assert.equal(setCount(a, 0, refNow(a) + 1n), "ok");
  p.advanceTime(MS);
  assert.equal(synicQueuedMessages(a, SINT), 1);
  assert.equal(wrmsr(b, HV_X64_MSR_EOM, 0), "ok");
  assert.equal(wrmsr(a, HV_X64_MSR_EOM, 0), "ok"); // slot still busy: stays queued
  assert.equal(synicQueuedMessages(a, SINT), 1);
  assert.equal(config(a, 0), ENABLE | sintx(SINT));
  consume(p, 0);
  assert.equal(slot(p, 0).type, HVMSG_TIMER_EXPIRED);
  assert.equal(slot(p, 1).type, 0);
});

// ------------------------------------------------------------------------------ direct mode

Deno.test("direct mode: Linux's CONFIG=0x1ED9 then COUNT=now+1ms -> exactly one interrupt on 0xED at 1 ms, then enable clears (probe stimer-direct.fire)", () => {
  const p = partition({ direct: true });
  const vp = p.vps[0];
  p.advanceTime(3_300_000);
  assert.equal(setConfig(vp, 0, 0x1ed9n), "ok");
  assert.equal(armedCount(p), 0, "COUNT is 0: nothing armed yet");
  assert.equal(setCount(vp, 0, refNow(vp) + TICKS_PER_MS), "ok");
  p.advanceTime(MS - EPS);
  assert.equal(vp.interrupts.length, 0);
  p.advanceTime(EPS);
  assert.deepEqual(vp.interrupts, [{ vector: 0xed, autoEoi: false }]);
  assert.equal(config(vp, 0), 0x1ed8n);
  assert.equal(slot(p).type, 0, "no SynIC message in direct mode");
  p.advanceTime(100 * MS);
  assert.equal(vp.interrupts.length, 1);
  // Linux shutdown: COUNT=0 then CONFIG=0.
  assert.equal(setCount(vp, 0, 0n), "ok");
  assert.equal(setConfig(vp, 0, 0n), "ok");
});

Deno.test("direct mode: needs no SynIC message page (SIMP disabled) and works per VP", () => {
  const p = partition({ direct: true, simp: false, vpCount: 2 });
  const [a, b] = p.vps;
  assert.equal(setConfig(a, 0, ENABLE | PERIODIC | DIRECT | vector(0x70)), "ok");
  assert.equal(setConfig(b, 3, ENABLE | PERIODIC | DIRECT | vector(0x71)), "ok");
  assert.equal(setCount(a, 0, TICKS_PER_MS), "ok");
  assert.equal(setCount(b, 3, 2n * TICKS_PER_MS), "ok");
  p.advanceTime(10 * MS);
  assert.deepEqual(new Set(vectors(a)), new Set([0x70]));
  assert.equal(a.interrupts.length, 10);
  assert.deepEqual(new Set(vectors(b)), new Set([0x71]));
  assert.equal(b.interrupts.length, 5);
});

Deno.test("direct mode with vectors 0..15: the write is accepted (KVM), the expiry raises nothing and the one-shot completes", () => {
  const p = partition({ direct: true });
  const vp = p.vps[0];
  for (let v = 0; v < 16; v++) {
    assert.equal(setConfig(vp, 0, ENABLE | DIRECT | vector(v)), "ok");
    assert.equal(setCount(vp, 0, refNow(vp) + 10n), "ok");
    p.advanceTime(MS);
    assert.equal(config(vp, 0), DIRECT | vector(v));
  }
  assert.equal(vp.interrupts.length, 0);
  assert.equal(setConfig(vp, 0, ENABLE | DIRECT | vector(16)), "ok");
  assert.equal(setCount(vp, 0, refNow(vp) + 10n), "ok");
  p.advanceTime(MS);
  assert.deepEqual(vectors(vp), [16]);
});

// ------------------------------------------------------------------------------ host timer edge cases

Deno.test("onTimer robustness: hostile timer numbers, stale and early calls neither throw nor deliver", () => {
  const p = partition();
  const vp = p.vps[0];
  const h = handlers(p);
  for (const t of [-1, 4, 7, 1.5e9, Number.NaN, Infinity]) h.onTimer!(vp, t);
  h.onTimer!(vp, 0); // nothing configured
  assert.equal(setConfig(vp, 0, ENABLE | sintx(SINT)), "ok");
  assert.equal(setCount(vp, 0, refNow(vp) + 5n * TICKS_PER_MS), "ok");
  h.onTimer!(vp, 0); // early (as after a racing re-arm): re-armed, nothing delivered
  assert.equal(slot(p).type, 0);
  assert.equal(armedCount(p), 1);
  p.advanceTime(5 * MS);
  assert.equal(slot(p).type, HVMSG_TIMER_EXPIRED);
  h.onTimer!(vp, 0); // stale, after the expiry
  assert.equal(vp.interrupts.length, 1);
});

Deno.test("VM reset: reset() drops the host timers; a stale expiry after the core zeroed the state delivers nothing", () => {
  const p = partition({ vpCount: 2 });
  for (const vp of p.vps) {
    assert.equal(setConfig(vp, 1, ENABLE | PERIODIC | sintx(SINT)), "ok");
    assert.equal(setCount(vp, 1, TICKS_PER_MS), "ok");
  }
  assert.equal(armedCount(p), 2);
  handlers(p).reset!();
  assert.equal(armedCount(p), 0);
  // A timer armed before the reset and fired after it finds enable clear.
  assert.equal(setConfig(p.vps[0], 2, ENABLE | sintx(SINT)), "ok");
  assert.equal(setCount(p.vps[0], 2, refNow(p.vps[0]) + 10n), "ok");
  for (const vp of p.vps) vp.arena.reset();
  p.advanceTime(10 * MS);
  assert.equal(p.vps[0].interrupts.length, 0);
});

// ------------------------------------------------------------------------------ save / restore

Deno.test("save/restore: config, count and the expiry in reference time come back; restored() re-arms from the new host clock", () => {
  const p = partition({ direct: true });
  const vp = p.vps[0];
  p.advanceTime(50 * MS);
  const t0 = refNow(vp);
  assert.equal(setConfig(vp, 0, ENABLE | PERIODIC | sintx(SINT)), "ok");
  assert.equal(setCount(vp, 0, 4n * TICKS_PER_MS), "ok");
  assert.equal(setConfig(vp, 1, ENABLE | DIRECT | vector(0xed)), "ok");
  assert.equal(setCount(vp, 1, t0 + 6n * TICKS_PER_MS), "ok");
  p.advanceTime(5 * MS); // periodic tick at +4 ms
  assert.equal(slot(p).expiration, t0 + 4n * TICKS_PER_MS);
  consume(p);
  const vpSaved = vp.arena.save(), partSaved = p.arena.save();
  const inspected = vp.arena.inspect()[STIMER_OWNER];
  assert.deepEqual(inspected.config, [ENABLE | PERIODIC | sintx(SINT), ENABLE | DIRECT | vector(0xed), 0n, 0n]);
  assert.deepEqual(inspected.expiry, [t0 + 8n * TICKS_PER_MS, t0 + 6n * TICKS_PER_MS, 0n, 0n]);

  // Another process: same guest TSC, a different host clock, state restored.
  const q = partition({ direct: true });
  q.timers.nowNs = 7_000 * MS;
  q.tsc = p.tsc;
  const qvp = q.vps[0];
  qvp.arena.restore(vpSaved);
  q.arena.restore(partSaved);
  assert.equal(config(qvp, 0), ENABLE | PERIODIC | sintx(SINT));
  assert.equal(count(qvp, 1), t0 + 6n * TICKS_PER_MS);
  handlers(q).restored();
  assert.equal(armedCount(q), 2);
  q.advanceTime(MS - EPS);
  assert.equal(qvp.interrupts.length, 0);
  q.advanceTime(EPS); // +6 ms: the one-shot
  assert.deepEqual(vectors(qvp), [0xed]);
  assert.equal(config(qvp, 1), DIRECT | vector(0xed));
  q.advanceTime(2 * MS); // +8 ms: the periodic tick, then every 4 ms
  assert.equal(slot(q).expiration, t0 + 8n * TICKS_PER_MS);
  consume(q);
  q.advanceTime(4 * MS);
  assert.equal(slot(q).expiration, t0 + 12n * TICKS_PER_MS);
});

Deno.test("save/restore: an expiry that fell due while saved fires at once after restored(); a queued expiry waits for the EOM", () => {
  const p = partition();
  const vp = p.vps[0];
  assert.equal(setConfig(vp, 0, ENABLE | sintx(SINT)), "ok");
  const at = refNow(vp) + TICKS_PER_MS;
  assert.equal(setCount(vp, 0, at), "ok");
  const saved = vp.arena.save(), part = p.arena.save();
  const q = partition();
  q.tsc = p.tsc + 10 * MS * HZ / 1e9; // the guest clock moved on 10 ms
  q.vps[0].arena.restore(saved);
  q.arena.restore(part);
  handlers(q).restored();
  q.advanceTime(0);
  assert.equal(slot(q).expiration, at);
  assert.equal(slot(q).delivery, at + 9n * TICKS_PER_MS);

  // An expiry queued behind a busy slot travels with the SynIC's queue: restored() arms nothing for
  // it, and the guest's EOM delivers it and completes the one-shot.
  const r = partition();
  const rvp = r.vps[0];
  assert.equal(postSynicMessage(rvp, SINT, 0x100, Uint32Array.of(0), 4), "delivered");
  assert.equal(setConfig(rvp, 1, ENABLE | sintx(SINT)), "ok");
  assert.equal(setCount(rvp, 1, refNow(rvp) + 1n), "ok");
  r.advanceTime(MS);
  assert.equal((rvp.state(STIMER_OWNER) as { pending: Uint8Array }).pending[1], StimerPending.Queued);
  const busy = r.memory.slice(SIMP, 4096)!;
  const vs = rvp.arena.save(), ps = r.arena.save();
  const u = partition();
  u.memory.write(SIMP, busy); // guest RAM travels with the VM
  u.vps[0].arena.restore(vs);
  u.arena.restore(ps);
  handlers(u).restored();
  assert.equal(armedCount(u), 0);
  consume(u);
  assert.equal(slot(u).type, HVMSG_TIMER_EXPIRED);
  assert.equal(slot(u).timer, 1);
  assert.equal(config(u.vps[0], 1), sintx(SINT));
});

Deno.test("handlers: MSRs next to the STIMER range are NotMine; the four timers map to 0x400000B0..B7", () => {
  const p = partition();
  const h = handlers(p);
  const msr = { index: 0, lo: 0, hi: 0 };
  for (const index of [0x400000af, 0x400000b8, 0x40000084, 0]) {
    msr.index = index;
    assert.equal(h.rdmsr!(p.vps[0], msr), 1, `rdmsr ${index.toString(16)}`);
    assert.equal(h.wrmsr!(p.vps[0], msr), 1, `wrmsr ${index.toString(16)}`);
  }
  for (let n = 0; n < HV_SYNIC_STIMER_COUNT; n++) {
    assert.equal(setCount(p.vps[0], n, BigInt(n + 1)), "ok");
  }
  const s = p.vps[0].state(STIMER_OWNER) as { count: Uint32Array };
  assert.deepEqual([...s.count], [1, 0, 2, 0, 3, 0, 4, 0]);
});

Deno.test("a hostile restored image (NaN/negative deadlines, odd pending values, enabled timers without expiry) neither throws nor spins", () => {
  const p = partition({ direct: true });
  const vp = p.vps[0];
  const s = vp.state(STIMER_OWNER) as {
    config: Uint32Array;
    count: Uint32Array;
    expiry: Uint32Array;
    deadline: Float64Array;
    pending: Uint8Array;
  };
  s.config.set([1 | 2 | (SINT << 16), 0, 1 | 0x1000 | (0x90 << 4), 0, 1 | 2, 0, 1 | (SINT << 16), 0]);
  s.count.set([0, 0, 10, 0, 1000, 0, 0xffffffff, 0xffffffff]);
  s.expiry.set([5, 0, 0, 0, 0xffffffff, 0xffffffff, 3, 0]);
  s.deadline.set([Number.NaN, -5, Infinity, 1e300]);
  s.pending.set([9, 0, 0, 0]);
  const h = handlers(p);
  for (let t = 0; t < 4; t++) h.onTimer!(vp, t);
  assert.equal(wrmsr(vp, HV_X64_MSR_EOM, 0), "ok");
  h.restored();
  p.advanceTime(100 * MS);
  assert.ok(vp.interrupts.length < 1000);
});
