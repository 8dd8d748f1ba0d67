import assert from "node:assert/strict";
import { cpuidOf } from "@hv/x86";
import { stimerDirect } from "../mod.ts";

Deno.test("stimer-direct sets 0x40000003.EDX[19], requires stimer, claims nothing", () => {
  assert.deepEqual(cpuidOf(stimerDirect, {}).set?.map((b) => [b.leaf, b.register, b.bit, b.name]), [
    [0x40000003, "edx", 19, "DirectSyntheticTimers"],
  ]);
  assert.deepEqual(stimerDirect.requires, ["stimer"]);
  assert.deepEqual(stimerDirect.msrs, []);
  assert.deepEqual(stimerDirect.formats.libvirt, { hyperv: "stimer", child: "direct" });
  assert.deepEqual(stimerDirect.formats.kubevirt, { hyperv: "synictimer", child: "direct" });
  assert.deepEqual(stimerDirect.passthrough.hvCpuid?.map((b) => b.bit), [19]);
});
