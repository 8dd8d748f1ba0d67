import assert from "node:assert/strict";
import { cpuidOf } from "@hv/x86";
import { reset } from "../mod.ts";

Deno.test("reset sets 0x40000003.EAX[7] and claims HV_X64_MSR_RESET", () => {
  assert.deepEqual(cpuidOf(reset, {}).set?.map((b) => [b.leaf, b.register, b.bit, b.name]), [[0x40000003, "eax", 7, "AccessResetReg"]]);
  assert.deepEqual(reset.msrs.map((m) => [m.index, m.name, m.access, m.gate?.bit]), [[0x40000003, "HV_X64_MSR_RESET", "rw", 7]]);
  assert.deepEqual(reset.requires, []);
  assert.deepEqual(reset.formats.libvirt, { hyperv: "reset" });
});
