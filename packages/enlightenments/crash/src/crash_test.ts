import assert from "node:assert/strict";
import { cpuidOf } from "@hv/x86";
import { crash, crashPartitionState } from "../mod.ts";

Deno.test("crash sets 0x40000003.EDX[10] and claims CRASH_P0..P4 and CRASH_CTL", () => {
  assert.deepEqual(cpuidOf(crash, {}).set?.map((b) => [b.leaf, b.register, b.bit, b.name]), [
    [0x40000003, "edx", 10, "GuestCrashRegsAvailable"],
  ]);
  assert.deepEqual(crash.msrs.map((m) => [m.index, m.name, m.access]), [
    [0x40000100, "HV_X64_MSR_CRASH_P0", "rw"],
    [0x40000101, "HV_X64_MSR_CRASH_P1", "rw"],
    [0x40000102, "HV_X64_MSR_CRASH_P2", "rw"],
    [0x40000103, "HV_X64_MSR_CRASH_P3", "rw"],
    [0x40000104, "HV_X64_MSR_CRASH_P4", "rw"],
    [0x40000105, "HV_X64_MSR_CRASH_CTL", "rw"],
  ]);
  assert.ok(crash.msrs.every((m) => m.gate?.name === "GuestCrashRegsAvailable"));
  assert.deepEqual(crash.formats.libvirt, { panicModel: "hyperv" });
  assert.ok("unsupported" in crash.formats.kubevirt);
});

Deno.test("crash state: P0..P4 zero, CTL advertises CrashNotify (bit 63) at power-on", () => {
  assert.equal(crash.state?.partition, crashPartitionState);
  const buf = new SharedArrayBuffer(crashPartitionState.byteLength);
  crashPartitionState.reset(buf);
  assert.deepEqual(crashPartitionState.inspect(buf), { p: [0n, 0n, 0n, 0n, 0n], ctl: 1n << 63n });
});
