import assert from "node:assert/strict";
import { cpuidOf } from "@hv/x86";
import { tlbflushDirect } from "../mod.ts";

Deno.test("tlbflush-direct sets 0x4000000A.EAX[17], requires vapic, passthrough only", () => {
  assert.deepEqual(cpuidOf(tlbflushDirect, {}).set?.map((b) => [b.leaf, b.register, b.bit, b.name]), [
    [0x4000000a, "eax", 17, "DirectVirtualFlush"],
  ]);
  assert.deepEqual(tlbflushDirect.requires, ["vapic"]);
  assert.equal(tlbflushDirect.emulator.supported, false);
  assert.deepEqual(tlbflushDirect.formats.libvirt, { hyperv: "tlbflush", child: "direct" });
});
