import assert from "node:assert/strict";
import { cpuidOf } from "@hv/x86";
import { time, timePartitionState, timeVpState } from "../mod.ts";

Deno.test("time sets 0x40000003.EAX[1] and [9]", () => {
  assert.deepEqual(cpuidOf(time, {}).set?.map((b) => [b.leaf, b.register, b.bit, b.name]), [
    [0x40000003, "eax", 1, "AccessPartitionReferenceCounter"],
    [0x40000003, "eax", 9, "AccessPartitionReferenceTsc"],
  ]);
  assert.deepEqual(time.requires, []);
});

Deno.test("time claims TIME_REF_COUNT (ro, gate [1]) and REFERENCE_TSC (rw, gate [9])", () => {
  assert.deepEqual(time.msrs.map((m) => [m.index, m.name, m.access, m.gate?.bit]), [
    [0x40000020, "HV_X64_MSR_TIME_REF_COUNT", "ro", 1],
    [0x40000021, "HV_X64_MSR_REFERENCE_TSC", "rw", 9],
  ]);
  assert.deepEqual(time.formats.libvirt, { clockTimer: "hypervclock" });
  assert.deepEqual(time.formats.kubevirt, { clockTimer: "hyperv" });
  assert.deepEqual(time.passthrough.capabilities, ["KVM_CAP_HYPERV_TIME"]);
});

Deno.test("time state: per partition the MSR, sequence, parameter lock and current parameters; per VP the last value returned", () => {
  assert.equal(time.state?.partition, timePartitionState);
  assert.equal(time.state?.vp, timeVpState);
  const buf = new SharedArrayBuffer(timePartitionState.byteLength);
  timePartitionState.reset(buf);
  assert.deepEqual(timePartitionState.inspect(buf), { reference_tsc: 0n, tsc_sequence: 0, params_seq: 0, tsc_scale: 0n, tsc_offset: 0n });
  assert.equal(timePartitionState.version, 3, "params_seq added (v3)");
  assert.deepEqual(timePartitionState.placements.map((p) => [p.name, p.offset]), [
    ["reference_tsc", 0],
    ["tsc_sequence", 8],
    ["params_seq", 12],
    ["tsc_scale", 16],
    ["tsc_offset", 24],
  ]);
  const vbuf = new SharedArrayBuffer(timeVpState.byteLength);
  timeVpState.reset(vbuf);
  assert.deepEqual(timeVpState.inspect(vbuf), { ref_last: 0n, ref_last_hi_first: 0 });
});

Deno.test("time has behaviour and the emulator serves it", () => {
  assert.equal(typeof time.create, "function");
  assert.deepEqual(time.emulator, { supported: true });
});
