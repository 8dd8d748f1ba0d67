import assert from "node:assert/strict";
import { cpuidOf } from "@hv/x86";
import { vpindex } from "../mod.ts";

Deno.test("vpindex sets 0x40000003.EAX[6] AccessVpIndex and claims no MSR (the base serves VP_INDEX)", () => {
  assert.deepEqual(cpuidOf(vpindex, {}).set?.map((b) => [b.leaf, b.register, b.bit, b.name]), [[0x40000003, "eax", 6, "AccessVpIndex"]]);
  assert.deepEqual(vpindex.msrs, []);
  assert.deepEqual(vpindex.hypercalls, []);
  assert.deepEqual(vpindex.requires, []);
  assert.deepEqual(vpindex.passthrough.capabilities, ["KVM_CAP_HYPERV_VP_INDEX"]);
  assert.deepEqual(vpindex.formats.kubevirt, { hyperv: "vpindex" });
});
