import assert from "node:assert/strict";
import { cpuidOf } from "@hv/x86";
import { emsrBitmap } from "../mod.ts";

Deno.test("emsr-bitmap sets 0x4000000A.EAX[19], passthrough only", () => {
  assert.deepEqual(cpuidOf(emsrBitmap, {}).set?.map((b) => [b.leaf, b.register, b.bit, b.name]), [
    [0x4000000a, "eax", 19, "EnlightenedMsrBitmap"],
  ]);
  assert.deepEqual(emsrBitmap.requires, []);
  assert.equal(emsrBitmap.emulator.supported, false);
  assert.deepEqual(emsrBitmap.formats.libvirt, { hyperv: "emsr_bitmap" });
});
