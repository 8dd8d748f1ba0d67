import assert from "node:assert/strict";
import { cpuidOf } from "@hv/x86";
import { tlbflushExt } from "../mod.ts";

Deno.test("tlbflush-ext sets 0x40000003.EDX[14], requires tlbflush", () => {
  assert.deepEqual(cpuidOf(tlbflushExt, {}).set?.map((b) => [b.leaf, b.register, b.bit]), [[0x40000003, "edx", 14]]);
  assert.deepEqual(tlbflushExt.requires, ["tlbflush"]);
  assert.deepEqual(tlbflushExt.hypercalls, []);
  assert.deepEqual(tlbflushExt.formats.libvirt, { hyperv: "tlbflush", child: "extended" });
  assert.ok("unsupported" in tlbflushExt.formats.kubevirt);
});
