import assert from "node:assert/strict";
import { cpuidOf } from "@hv/x86";
import { ipi } from "../mod.ts";

Deno.test("ipi sets 0x40000004.EAX[10] and [11], requires vpindex", () => {
  assert.deepEqual(cpuidOf(ipi, {}).set?.map((b) => [b.leaf, b.register, b.bit, b.name]), [
    [0x40000004, "eax", 10, "UseSyntheticClusterIpi"],
    [0x40000004, "eax", 11, "UseExProcessorMasks"],
  ]);
  assert.deepEqual(ipi.requires, ["vpindex"]);
  assert.deepEqual(ipi.msrs, []);
});

Deno.test("ipi claims SendSyntheticClusterIpi (fast allowed, 16 bytes) and Ex (variable, XMM)", () => {
  assert.deepEqual(ipi.hypercalls.map((h) => [h.code, h.name, h.kind, h.fast, h.inputBytes]), [
    [0x000b, "HvCallSendSyntheticClusterIpi", "simple", "allowed", 16],
    [0x0015, "HvCallSendSyntheticClusterIpiEx", "variable", "xmm", 24],
  ]);
  assert.deepEqual(ipi.passthrough.capabilities, ["KVM_CAP_HYPERV_SEND_IPI"]);
});
