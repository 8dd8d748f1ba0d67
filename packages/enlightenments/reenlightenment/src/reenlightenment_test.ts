import assert from "node:assert/strict";
import { cpuidOf } from "@hv/x86";
import { reenlightenment, reenlightenmentPartitionState } from "../mod.ts";

Deno.test("reenlightenment sets 0x40000003.EAX[13] and claims its three MSRs", () => {
  assert.deepEqual(cpuidOf(reenlightenment, {}).set?.map((b) => [b.leaf, b.register, b.bit]), [[0x40000003, "eax", 13]]);
  assert.deepEqual(reenlightenment.msrs.map((m) => [m.index, m.name, m.access, m.gate?.bit]), [
    [0x40000106, "HV_X64_MSR_REENLIGHTENMENT_CONTROL", "rw", 13],
    [0x40000107, "HV_X64_MSR_TSC_EMULATION_CONTROL", "rw", 13],
    [0x40000108, "HV_X64_MSR_TSC_EMULATION_STATUS", "rw", 13],
  ]);
  assert.deepEqual(reenlightenment.requires, []);
});

Deno.test("reenlightenment state is per partition and zero at power-on", () => {
  assert.equal(reenlightenment.state?.partition, reenlightenmentPartitionState);
  const buf = new SharedArrayBuffer(reenlightenmentPartitionState.byteLength);
  reenlightenmentPartitionState.reset(buf);
  assert.deepEqual(reenlightenmentPartitionState.inspect(buf), { control: 0n, emulation_control: 0n, emulation_status: 0n });
});
