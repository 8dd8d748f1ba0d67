// runMachineWithResets with a scripted machine (no KVM): the loop, the limit, the shared CMOS state
// and the timeout budget. The real power cycle is tested end to end in apps/hv (reset guest).
import assert from "node:assert/strict";
import { CmosReg, CmosRegB } from "@hv/devices";
import { type MachineConfig, type RunOutcome, type RunResult } from "./machine.ts";
import { DEFAULT_MAX_RESETS, resetSourceName, type ResetOutcome, runMachineWithResets } from "./power_cycle.ts";

const cfg: MachineConfig = { kernel: new Uint8Array(), memoryMiB: 16, smp: 2, timeoutSeconds: 60, onSerial: () => {} };
const reset: RunOutcome = { kind: "reset", code: 0, vcpu: 1, source: "reset" };
const exit: RunOutcome = { kind: "exit", guestCode: 1, code: 1 };

/** A machine that returns `outcomes` in turn, recording each config, and takes `ms` of the fake clock per boot. */
function scripted(outcomes: RunOutcome[], clock = { t: 0 }, ms = 1000) {
  const seen: MachineConfig[] = [];
  const run = (c: MachineConfig): Promise<RunResult> => {
    seen.push(c);
    clock.t += ms;
    return Promise.resolve({ outcome: outcomes[seen.length - 1], exits: [{ io: 1, rdmsr: 2 }, { io: 10 }] as Record<string, number>[], seconds: ms / 1000 });
  };
  return { run, seen, now: () => clock.t };
}

Deno.test("a reset power-cycles the machine from the same config; exits add up; the CMOS state is one buffer for every boot", async () => {
  const m = scripted([reset, reset, exit]);
  const cycles: [ResetOutcome, number][] = [];
  const r = await runMachineWithResets(cfg, { maxResets: 8, run: m.run, now: m.now, onReset: (o, n) => cycles.push([o, n]) });
  assert.deepEqual(r.outcome, exit);
  assert.equal(r.resets, 2);
  assert.equal(r.limitReached, false);
  assert.deepEqual(cycles.map(([o, n]) => [o.source, o.vcpu, n]), [["reset", 1, 1], ["reset", 1, 2]]);
  assert.equal(m.seen.length, 3);
  assert.ok(m.seen[0].cmos instanceof SharedArrayBuffer);
  assert.ok(m.seen.every((c) => c.cmos === m.seen[0].cmos && c.kernel === cfg.kernel && c.smp === 2));
  assert.deepEqual(r.exits, [{ io: 3, rdmsr: 6 }, { io: 30 }]);
  assert.equal(r.seconds, 3);
});

Deno.test("between boots the chip gets QEMU's rtc_reset: NVRAM kept, B's interrupt enables cleared; a caller's state is used", async () => {
  const state = new SharedArrayBuffer(132);
  const bytes = new Uint8Array(state);
  bytes[0x60] = 7;
  bytes[CmosReg.StatusB] = CmosRegB.Hours24 | CmosRegB.PeriodicInterrupt;
  const m = scripted([reset, exit]);
  await runMachineWithResets({ ...cfg, cmos: state }, { maxResets: 1, run: m.run, now: m.now });
  assert.equal(m.seen[1].cmos, state);
  assert.equal(bytes[0x60], 7);
  assert.equal(bytes[CmosReg.StatusB], CmosRegB.Hours24);
});

Deno.test("after maxResets power cycles the next reset ends the run with the reset outcome; 0 serves none", async () => {
  const m = scripted(Array(10).fill(reset));
  const r = await runMachineWithResets(cfg, { maxResets: 3, run: m.run, now: m.now });
  assert.deepEqual(r.outcome, reset);
  assert.equal(r.resets, 3);
  assert.equal(r.limitReached, true);
  assert.equal(m.seen.length, 4);
  const z = scripted([reset]);
  const r0 = await runMachineWithResets(cfg, { maxResets: 0, run: z.run, now: z.now });
  assert.deepEqual([r0.outcome.kind, r0.resets, r0.limitReached, z.seen.length], ["reset", 0, true, 1]);
  assert.equal(DEFAULT_MAX_RESETS, 8);
  await assert.rejects(() => runMachineWithResets(cfg, { maxResets: -1, run: z.run }), RangeError);
  await assert.rejects(() => runMachineWithResets(cfg, { maxResets: 1.5, run: z.run }), RangeError);
});

Deno.test("--timeout bounds every boot together: each boot gets what is left; none starts after it", async () => {
  const clock = { t: 0 };
  const m = scripted([reset, reset, reset, exit], clock, 25_000);
  const r = await runMachineWithResets(cfg, { maxResets: 8, run: m.run, now: m.now });
  assert.deepEqual(m.seen.map((c) => c.timeoutSeconds), [60, 35, 10]);
  assert.equal(r.outcome.kind, "timeout");
  assert.equal(r.resets, 3);
  assert.equal(r.limitReached, false);
});

Deno.test("other outcomes end the run as before; reset sources read as QEMU names them", async () => {
  for (const o of [exit, { kind: "crash", code: 125, report: { vp: 0, parameters: [0n, 0n, 0n, 0n, 0n], control: 1n << 63n } }] as RunOutcome[]) {
    const m = scripted([o]);
    const r = await runMachineWithResets(cfg, { maxResets: 8, run: m.run, now: m.now });
    assert.equal(r.outcome, o);
    assert.equal(r.resets, 0);
  }
  assert.equal(resetSourceName("reset"), "hv-reset");
  assert.equal(resetSourceName("KVM_SYSTEM_EVENT_RESET"), "KVM_SYSTEM_EVENT_RESET");
});
