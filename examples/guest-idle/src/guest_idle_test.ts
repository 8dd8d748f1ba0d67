import assert from "node:assert/strict";
import { Effect, Exit } from "effect";
import { compose } from "@hv/compose";
import { builtins } from "@hv/builtins";
import { HV_CPUID_FEATURES, HV_X64_MSR_GUEST_IDLE, HV_X64_MSR_SCONTROL } from "@hv/tlfs";
import { definePlugin, GuestMemory, MsrOutcome, newMsrAccess, StateArena, type PartitionView, type VpView } from "@hv/x86";
import { guestIdle } from "../mod.ts";

const registry = [...builtins, guestIdle];

Deno.test("guest-idle composes next to the built-ins and sets its CPUID bits", () => {
  const c = Effect.runSync(compose({ registry, requested: [{ name: "guest-idle", reason: "test" }] }));
  const f = c.cpuid.find((l) => l.function === HV_CPUID_FEATURES)!;
  assert.equal(f.eax & (1 << 10), 1 << 10, "AccessGuestIdleReg");
  assert.equal(f.edx & (1 << 5), 1 << 5, "GuestIdleAvailable");
  assert.equal(c.msrs.get(HV_X64_MSR_GUEST_IDLE)?.owner, "guest-idle");
});

Deno.test("a plugin claiming an MSR that synic owns is a conflict naming both", () => {
  const thief = definePlugin({ ...guestIdle, name: "thief", msrs: [{ index: HV_X64_MSR_SCONTROL, name: "HV_X64_MSR_SCONTROL", access: "rw" }] });
  const exit = Effect.runSyncExit(compose({
    registry: [...registry, thief],
    requested: [{ name: "synic", reason: "t" }, { name: "thief", reason: "t" }],
  }));
  assert.ok(Exit.isFailure(exit));
  assert.match(String(exit.cause), /'synic' and 'thief' both claim MSR HV_X64_MSR_SCONTROL/);
});

Deno.test("RDMSR counts idle entries in declared per-VP state; WRMSR takes #GP; other MSRs are not its business", () => {
  const arena = new StateArena([{ owner: "guest-idle", layout: guestIdle.state!.vp! }]);
  const partition = { vpCount: 1, memory: GuestMemory.allocate(4096), tscHz: 1e9 } as PartitionView;
  const vp = { index: 0, apicId: 0, partition, state: (o: string) => arena.views(o) } as unknown as VpView;
  const h = guestIdle.create!({ params: {}, partition });
  const msr = newMsrAccess();
  msr.index = HV_X64_MSR_GUEST_IDLE;
  msr.lo = 0xdead;
  assert.equal(h.rdmsr!(vp, msr), MsrOutcome.Ok);
  assert.equal(h.rdmsr!(vp, msr), MsrOutcome.Ok);
  assert.equal(msr.lo, 0);
  assert.deepEqual(arena.inspect()["guest-idle"], { idleEntries: 2 });
  assert.equal(h.wrmsr!(vp, msr), MsrOutcome.Gp);
  msr.index = HV_X64_MSR_SCONTROL;
  assert.equal(h.rdmsr!(vp, msr), MsrOutcome.NotMine);
  const saved = arena.save();
  arena.reset();
  assert.deepEqual(arena.inspect()["guest-idle"], { idleEntries: 0 });
  arena.restore(saved);
  assert.deepEqual(arena.inspect()["guest-idle"], { idleEntries: 2 });
});
