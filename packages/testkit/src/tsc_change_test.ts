// The testkit as the backend of a TSC frequency change: the two-step hook protocol of @hv/x86
// (`tscFrequencyChanging` / `tscFrequencyChanged`), TSC emulation while a plugin holds, and
// `stopTscEmulation` / `resetVm`, checked with probe plugins that record what they are told.
import assert from "node:assert/strict";
import { builtins } from "@hv/builtins";
import { definePlugin, type PartitionView } from "@hv/x86";
import { TestPartition } from "../mod.ts";

/** A plugin that records every hook call as text; it holds a change while `holding.on` is set. */
const recorder = (name: string, log: string[], holding: { on: boolean }) =>
  definePlugin({
    name,
    summary: "test",
    requires: [],
    cpuid: {},
    msrs: [],
    hypercalls: [],
    emulator: { supported: true },
    passthrough: { capabilities: [] },
    formats: { qemu: { property: `hv-${name}` }, libvirt: { unsupported: "-" }, kubevirt: { unsupported: "-" } },
    docs: { description: "", guestGains: "", windows: "", sources: [] },
    create: ({ partition }: { partition: PartitionView }) => ({
      tscFrequencyChanging(oldHz: number, newHz: number) {
        log.push(`${name} changing ${oldHz}->${newHz} (tscHz ${partition.tscHz})`);
        return holding.on;
      },
      tscFrequencyChanged(fromHz: number, toHz: number, atTsc: number) {
        log.push(`${name} changed ${fromHz}->${toHz} at ${atTsc} (tscHz ${partition.tscHz})`);
      },
      reset() {
        log.push(`${name} reset`);
      },
    }),
  });

const make = (hold: { a: boolean; b: boolean }, tscHz = 1e9) => {
  const log: string[] = [];
  const a = { on: hold.a }, b = { on: hold.b };
  const registry = [...builtins, recorder("rec-a", log, a), recorder("rec-b", log, b)];
  const p = TestPartition.create({ registry, requested: ["rec-a", "rec-b"], tscHz, vpCount: 2 });
  return { p, log, a, b };
};

Deno.test("unheld change: every plugin is announced (old tscHz still reported), then told at once, with the TSC value of the switch", () => {
  const { p, log } = make({ a: false, b: false });
  p.advance(5000);
  assert.equal(p.changeTscFrequency(2e9), false);
  assert.deepEqual(log, [
    "rec-a changing 1000000000->2000000000 (tscHz 1000000000)",
    "rec-b changing 1000000000->2000000000 (tscHz 1000000000)",
    "rec-a changed 1000000000->2000000000 at 5000 (tscHz 2000000000)",
    "rec-b changed 1000000000->2000000000 at 5000 (tscHz 2000000000)",
  ]);
  assert.deepEqual([p.tscHz, p.guestTscHz, p.tscEmulated], [2e9, 2e9, false]);
  p.advanceTime(1000); // 1 us at 2 GHz
  assert.equal(p.tsc, 7000);
  p.advance(1000);
  assert.equal(p.tsc, 8000, "advance counts cycles at the guest rate");
});

Deno.test("held change: every plugin is still announced (the second one too); the guest TSC keeps the old rate until stopTscEmulation", () => {
  const { p, log, a } = make({ a: true, b: false });
  p.advance(1000);
  assert.equal(p.changeTscFrequency(3e9), true);
  assert.deepEqual(log, [
    "rec-a changing 1000000000->3000000000 (tscHz 1000000000)",
    "rec-b changing 1000000000->3000000000 (tscHz 1000000000)",
  ]);
  assert.deepEqual([p.tscHz, p.guestTscHz, p.tscEmulated], [3e9, 1e9, true]);
  p.advanceTime(1000);
  assert.equal(p.tsc, 2000, "emulated: 1 us is still 1000 cycles");
  a.on = false;
  p.stopTscEmulation();
  assert.deepEqual(log.slice(2), [
    "rec-a changed 1000000000->3000000000 at 2000 (tscHz 3000000000)",
    "rec-b changed 1000000000->3000000000 at 2000 (tscHz 3000000000)",
  ]);
  assert.deepEqual([p.guestTscHz, p.tscEmulated, p.tsc], [3e9, false, 2000]);
  p.advanceTime(1000);
  assert.equal(p.tsc, 5000);
  p.stopTscEmulation();
  assert.equal(log.length, 4, "nothing held: no effect");
});

Deno.test("a second change while held: announced from the reported frequency; the switch goes from the emulated rate to the latest", () => {
  const { p, log } = make({ a: false, b: true });
  p.changeTscFrequency(2e9);
  p.advance(10);
  assert.equal(p.changeTscFrequency(4e9), true);
  assert.equal(log[3], "rec-b changing 2000000000->4000000000 (tscHz 2000000000)");
  assert.equal(p.guestTscHz, 1e9);
  p.stopTscEmulation();
  assert.deepEqual(log.slice(4), [
    "rec-a changed 1000000000->4000000000 at 10 (tscHz 4000000000)",
    "rec-b changed 1000000000->4000000000 at 10 (tscHz 4000000000)",
  ]);
});

Deno.test("a later change nobody holds ends an emulation in progress", () => {
  const { p, log, b } = make({ a: false, b: true });
  p.changeTscFrequency(2e9);
  b.on = false;
  assert.equal(p.changeTscFrequency(3e9), false);
  assert.deepEqual([p.guestTscHz, p.tscEmulated], [3e9, false]);
  assert.equal(log.at(-1), "rec-b changed 1000000000->3000000000 at 0 (tscHz 3000000000)");
});

Deno.test("the same frequency: nothing happens; a nonsensical one: RangeError before anything changes", () => {
  const { p, log } = make({ a: false, b: false }, 2e9);
  assert.equal(p.changeTscFrequency(2e9), false);
  for (const bad of [0, 0.5, -1, Number.NaN, Infinity]) assert.throws(() => p.changeTscFrequency(bad), RangeError);
  assert.deepEqual(log, []);
  assert.deepEqual([p.tscHz, p.guestTscHz], [2e9, 2e9]);
});

Deno.test("resetVm: state arenas back to power-on, then every instance's reset()", () => {
  const { p, log } = make({ a: false, b: false });
  (p.state("base").guestOsId as Uint32Array)[0] = 7;
  p.resetVm();
  assert.equal((p.state("base").guestOsId as Uint32Array)[0], 0);
  assert.deepEqual(log, ["rec-a reset", "rec-b reset"]);
});
