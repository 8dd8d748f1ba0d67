// stimer-direct through @hv/testkit: it is what lets `stimer` accept direct mode (STIMERn_CONFIG
// bit 12), and Linux's clockevent sequence works per VP with it.
import assert from "node:assert/strict";
import { HV_X64_MSR_TIME_REF_COUNT, HvFeatureEdx, hvMsrStimerConfig, hvMsrStimerCount } from "@hv/tlfs";
import { directStimersAllowed } from "@hv/stimer";
import type { PartitionView } from "@hv/x86";
import { rdmsr, TestPartition, wrmsr } from "@hv/testkit";
import { stimerDirect } from "../mod.ts";

const LINUX_CONFIG = 0x1ed9n; // enable | auto_enable | vector 0xED | direct (hyperv_timer.c)

Deno.test("composed: 3.EDX[19] is advertised and stimer allows direct mode; stimer alone #GPs it", () => {
  const withDirect = TestPartition.create({ requested: ["stimer-direct"] });
  assert.deepEqual(withDirect.composition.enlightenments.map((e) => e.name).filter((n) => n.startsWith("stimer")), [
    "stimer",
    "stimer-direct",
  ]);
  assert.notEqual(withDirect.cpuidLeaf(0x40000003).edx & (1 << 19), 0);
  assert.equal(directStimersAllowed(withDirect), true);
  assert.equal(wrmsr(withDirect.vps[0], hvMsrStimerConfig(0), 1n << 12n), "ok");
  assert.equal(rdmsr(withDirect.vps[0], hvMsrStimerConfig(0)), 1n << 12n);

  const without = TestPartition.create({ requested: ["stimer"] });
  assert.equal(without.cpuidLeaf(0x40000003).edx & (1 << 19), 0);
  assert.equal(directStimersAllowed(without), false);
  assert.equal(wrmsr(without.vps[0], hvMsrStimerConfig(0), 1n << 12n), "gp");
  assert.equal(wrmsr(without.vps[0], hvMsrStimerConfig(0), LINUX_CONFIG), "gp");
});

Deno.test("create: registers the partition, returns no handlers (the behaviour is stimer's)", () => {
  const p = TestPartition.create({ requested: ["stimer-direct"] });
  assert.deepEqual(p.dispatch.instances.get("stimer-direct"), {});
  const fake = { vpCount: 0 } as unknown as PartitionView;
  assert.equal(directStimersAllowed(fake), false);
  stimerDirect.create!({ params: {}, partition: fake });
  assert.equal(directStimersAllowed(fake), true);
});

Deno.test("a partition view with advertised(bit) answers for itself (the proposed PartitionView.advertised)", () => {
  const asked: string[] = [];
  const view = (answer: boolean) =>
    ({ advertised: (bit: { name: string }) => (asked.push(bit.name), answer) }) as unknown as PartitionView;
  assert.equal(directStimersAllowed(view(true)), true);
  assert.equal(directStimersAllowed(view(false)), false);
  assert.deepEqual(asked, [HvFeatureEdx.DirectSyntheticTimers.name, HvFeatureEdx.DirectSyntheticTimers.name]);
});

Deno.test("Linux clockevent on 2 VPs: CONFIG=0x1ED9, COUNT=now+delta each time -> one 0xED per programmed event, on its own VP", () => {
  const p = TestPartition.create({ requested: ["stimer-direct"], vpCount: 2, tscHz: 2.56e9 });
  const now = (n: number) => rdmsr(p.vps[n], HV_X64_MSR_TIME_REF_COUNT) as bigint;
  for (const vp of p.vps) assert.equal(wrmsr(vp, hvMsrStimerConfig(0), LINUX_CONFIG), "ok");
  // Each event is programmed from the previous one's handler (tickless: 4 ms on VP0, 10 ms on VP1).
  const deltas = [40_000n, 100_000n];
  for (let n = 0; n < 2; n++) assert.equal(wrmsr(p.vps[n], hvMsrStimerCount(0), now(n) + deltas[n]), "ok");
  for (let ms = 1; ms <= 100; ms++) {
    p.advanceTime(1e6);
    for (let n = 0; n < 2; n++) {
      const vp = p.vps[n];
      if (vp.interrupts.length > 0 && rdmsr(vp, hvMsrStimerConfig(0)) === LINUX_CONFIG - 1n) {
        // The handler runs: the one-shot is disabled; it programs the next event.
        assert.equal(wrmsr(vp, hvMsrStimerCount(0), now(n) + deltas[n]), "ok");
        assert.equal(rdmsr(vp, hvMsrStimerConfig(0)), LINUX_CONFIG, "auto_enable re-enables on the COUNT write");
      }
    }
  }
  assert.equal(p.vps[0].interrupts.length, 25);
  assert.equal(p.vps[1].interrupts.length, 10);
  assert.ok(p.vps.every((vp) => vp.interrupts.every((i) => i.vector === 0xed)));
});
