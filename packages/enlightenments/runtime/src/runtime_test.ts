import assert from "node:assert/strict";
import { cpuidOf } from "@hv/x86";
import { runtime } from "../mod.ts";

Deno.test("runtime sets 0x40000003.EAX[0] and claims VP_RUNTIME read-only", () => {
  assert.deepEqual(cpuidOf(runtime, {}).set?.map((b) => [b.leaf, b.register, b.bit]), [[0x40000003, "eax", 0]]);
  assert.deepEqual(runtime.msrs.map((m) => [m.index, m.name, m.access, m.gate?.name]), [
    [0x40000010, "HV_X64_MSR_VP_RUNTIME", "ro", "AccessVpRunTimeReg"],
  ]);
  assert.deepEqual(runtime.requires, []);
  assert.equal(runtime.state, undefined);
  assert.equal(runtime.formats.qemu.property, "hv-runtime");
});
