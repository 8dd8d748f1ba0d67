import assert from "node:assert/strict";
import { cpuidOf } from "@hv/x86";
import { xmmInput } from "../mod.ts";

Deno.test("xmm-input sets 0x40000003.EDX[4] and claims nothing", () => {
  assert.deepEqual(cpuidOf(xmmInput, {}).set?.map((b) => [b.leaf, b.register, b.bit, b.name]), [
    [0x40000003, "edx", 4, "XmmRegistersForFastHypercallAvailable"],
  ]);
  assert.deepEqual(xmmInput.requires, []);
  assert.deepEqual(xmmInput.msrs, []);
  assert.deepEqual(xmmInput.hypercalls, []);
  assert.deepEqual(xmmInput.formats.libvirt, { hyperv: "xmm_input" });
});
