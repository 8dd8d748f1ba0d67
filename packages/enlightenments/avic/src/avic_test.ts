import assert from "node:assert/strict";
import { cpuidOf } from "@hv/x86";
import { avic } from "../mod.ts";

Deno.test("avic sets 0x40000004.EAX[9] and clears EAX[3] UseApicMsrs", () => {
  const c = cpuidOf(avic, {});
  assert.deepEqual(c.set?.map((b) => [b.leaf, b.register, b.bit, b.name]), [[0x40000004, "eax", 9, "DeprecateAutoEoi"]]);
  assert.deepEqual(c.clear?.map((b) => [b.leaf, b.register, b.bit, b.name]), [[0x40000004, "eax", 3, "UseApicMsrs"]]);
  assert.deepEqual(avic.requires, []);
  assert.equal(avic.emulator.supported, false);
  assert.match(avic.emulator.supported ? "" : avic.emulator.reason, /APIC virtualization.*passthrough/);
});
