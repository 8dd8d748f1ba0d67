import assert from "node:assert/strict";
import { cpuidOf, definePlugin } from "../mod.ts";

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
