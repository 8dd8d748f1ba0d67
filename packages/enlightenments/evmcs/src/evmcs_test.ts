import assert from "node:assert/strict";
import { cpuidOf } from "@hv/x86";
import { evmcs } from "../mod.ts";

Deno.test("evmcs sets 0x40000004.EAX[14] and ORs 0x0101 into 0x4000000A.EAX", () => {
  const c = cpuidOf(evmcs, {});
  assert.deepEqual(c.set?.map((b) => [b.leaf, b.register, b.bit, b.name]), [[0x40000004, "eax", 14, "UseVmcsEnlightenments"]]);
  assert.deepEqual(c.registers, [{ leaf: 0x4000000a, register: "eax", value: 0x0101, mode: "or" }]);
  assert.deepEqual(evmcs.requires, ["vapic"]);
});

Deno.test("evmcs is passthrough-only and enables KVM_CAP_HYPERV_ENLIGHTENED_VMCS", () => {
  assert.equal(evmcs.emulator.supported, false);
  assert.match(evmcs.emulator.supported ? "" : evmcs.emulator.reason, /nested hypervisor.*passthrough/);
  assert.deepEqual(evmcs.passthrough.enableCapabilities, ["KVM_CAP_HYPERV_ENLIGHTENED_VMCS"]);
  assert.deepEqual(evmcs.msrs, []);
});
