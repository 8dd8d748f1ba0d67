import assert from "node:assert/strict";
import { cpuidOf } from "@hv/x86";
import { stimer } from "../mod.ts";

Deno.test("stimer sets 0x40000003.EAX[3], requires synic and time, claims STIMER0..3 CONFIG/COUNT", () => {
  assert.deepEqual(cpuidOf(stimer, {}).set?.map((b) => [b.leaf, b.register, b.bit]), [[0x40000003, "eax", 3]]);
  assert.deepEqual(stimer.requires, ["synic", "time"]);
  assert.deepEqual(stimer.msrs.map((m) => [m.index, m.name]), [
    [0x400000b0, "HV_X64_MSR_STIMER0_CONFIG"],
    [0x400000b1, "HV_X64_MSR_STIMER0_COUNT"],
    [0x400000b2, "HV_X64_MSR_STIMER1_CONFIG"],
    [0x400000b3, "HV_X64_MSR_STIMER1_COUNT"],
    [0x400000b4, "HV_X64_MSR_STIMER2_CONFIG"],
    [0x400000b5, "HV_X64_MSR_STIMER2_COUNT"],
    [0x400000b6, "HV_X64_MSR_STIMER3_CONFIG"],
    [0x400000b7, "HV_X64_MSR_STIMER3_COUNT"],
  ]);
});
