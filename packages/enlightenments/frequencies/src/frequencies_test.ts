import assert from "node:assert/strict";
import { cpuidOf } from "@hv/x86";
import { frequencies } from "../mod.ts";

Deno.test("frequencies sets 0x40000003.EAX[11] and EDX[8]", () => {
  assert.deepEqual(cpuidOf(frequencies, {}).set?.map((b) => [b.leaf, b.register, b.bit]), [
    [0x40000003, "eax", 11],
    [0x40000003, "edx", 8],
  ]);
});

Deno.test("frequencies claims TSC_FREQUENCY and APIC_FREQUENCY read-only", () => {
  assert.deepEqual(frequencies.msrs.map((m) => [m.index, m.name, m.access, m.gate?.name]), [
    [0x40000022, "HV_X64_MSR_TSC_FREQUENCY", "ro", "AccessFrequencyRegs"],
    [0x40000023, "HV_X64_MSR_APIC_FREQUENCY", "ro", "AccessFrequencyRegs"],
  ]);
  assert.deepEqual(frequencies.requires, []);
});
