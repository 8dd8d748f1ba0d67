import assert from "node:assert/strict";
import { cpuidOf } from "@hv/x86";
import { relaxed } from "../mod.ts";

Deno.test("relaxed sets 0x40000004.EAX[5] UseRelaxedTiming and claims nothing", () => {
  assert.deepEqual(cpuidOf(relaxed, {}).set?.map((b) => [b.leaf, b.register, b.bit, b.name]), [
    [0x40000004, "eax", 5, "UseRelaxedTiming"],
  ]);
  assert.deepEqual(relaxed.requires, []);
  assert.deepEqual(relaxed.msrs, []);
  assert.deepEqual(relaxed.hypercalls, []);
});
