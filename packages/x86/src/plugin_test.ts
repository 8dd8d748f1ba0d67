import assert from "node:assert/strict";
import { announceTscFrequencyChange, applyTscFrequencyChange, cpuidOf, definePlugin } from "../mod.ts";

const base = {
  summary: "s",
  requires: [],
  cpuid: {},
  msrs: [],
  hypercalls: [],
  emulator: { supported: true as const },
  passthrough: { capabilities: [] },
  formats: { qemu: { property: "hv-x" }, libvirt: { unsupported: "no" }, kubevirt: { unsupported: "no" } },
  docs: { description: "d", guestGains: "g", windows: "w", sources: [] },
};

Deno.test("definePlugin checks the name spelling and primaryParam, and freezes", () => {
  assert.throws(() => definePlugin({ ...base, name: "Bad_Name" }), /lower-case words/);
  assert.throws(() => definePlugin({ ...base, name: "hv-" }), TypeError);
  assert.throws(() => definePlugin({ ...base, name: "x", primaryParam: "nope" } as never), /primaryParam nope/);
  const p = definePlugin({ ...base, name: "tlbflush-ext" });
  assert.ok(Object.isFrozen(p));
});

Deno.test("cpuidOf evaluates parameterised contributions", () => {
  const p = definePlugin<{ n: number }>({
    ...base,
    name: "p",
    cpuid: ({ n }) => ({ registers: [{ leaf: 0x40000004, register: "ebx", value: n, mode: "set" }] }),
  });
  assert.equal(cpuidOf(p, { n: 5 }).registers?.[0].value, 5);
});

Deno.test("announceTscFrequencyChange calls every instance (even after one holds) and reports whether any holds", () => {
  const calls: string[] = [];
  const hs = [
    {},
    { tscFrequencyChanging: (o: number, n: number) => (calls.push(`a ${o}->${n}`), true) },
    { tscFrequencyChanging: (o: number, n: number) => (calls.push(`b ${o}->${n}`), false) },
    { tscFrequencyChanged: (f: number, t: number, at: number) => void calls.push(`c ${f}->${t}@${at}`) },
  ];
  assert.equal(announceTscFrequencyChange(hs, 1, 2), true);
  assert.deepEqual(calls, ["a 1->2", "b 1->2"]);
  assert.equal(announceTscFrequencyChange([hs[0], hs[2]], 1, 2), false);
  assert.equal(announceTscFrequencyChange([], 1, 2), false);
  calls.length = 0;
  applyTscFrequencyChange(hs, 1, 2, 99);
  assert.deepEqual(calls, ["c 1->2@99"]);
});
