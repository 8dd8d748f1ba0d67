import assert from "node:assert/strict";
import { HV_X64_MSR_CRASH_P0, HV_X64_MSR_STIMER0_CONFIG, HV_X64_MSR_STIMER0_COUNT } from "@hv/tlfs";
import { StateRestoreError } from "@hv/x86";
import { rdmsr, TestPartition, wrmsr } from "../mod.ts";

Deno.test("saveState/restoreState: plugin state moves to a fresh partition; restored() re-arms what lives outside it (stimer's host timers)", () => {
  const a = TestPartition.create({ requested: ["crash", "stimer"], vpCount: 2 });
  assert.equal(wrmsr(a.vps[0], HV_X64_MSR_CRASH_P0, 0xdeadn), "ok");
  // A one-shot timer 1 ms out on VP 1 (COUNT in 100 ns units; config: enable | sintx 2 | auto-enable off).
  assert.equal(wrmsr(a.vps[1], HV_X64_MSR_STIMER0_COUNT, 10_000n), "ok");
  assert.equal(wrmsr(a.vps[1], HV_X64_MSR_STIMER0_CONFIG, 1n | (2n << 16n)), "ok");
  const saved = a.saveState();

  const b = TestPartition.create({ requested: ["crash", "stimer"], vpCount: 2 });
  assert.equal(b.timers.armed.size, 0);
  b.restoreState(saved);
  assert.equal(rdmsr(b.vps[0], HV_X64_MSR_CRASH_P0), 0xdeadn);
  assert.equal(rdmsr(b.vps[1], HV_X64_MSR_STIMER0_COUNT), 10_000n);
  assert.equal(b.timers.armed.size, 1, "stimer's restored() armed VP 1's timer again");
});

Deno.test("restoreState refuses another VP count (RangeError) or another composition (StateRestoreError), before writing anything", () => {
  const saved = TestPartition.create({ requested: ["crash"], vpCount: 2 }).saveState();
  const one = TestPartition.create({ requested: ["crash"], vpCount: 1 });
  assert.throws(() => one.restoreState(saved), RangeError);
  const other = TestPartition.create({ requested: ["crash", "stimer"], vpCount: 2 });
  assert.throws(() => other.restoreState(saved), StateRestoreError);
});
