import assert from "node:assert/strict";
import { cpuidOf } from "@hv/x86";
import { tlbflush } from "../mod.ts";

Deno.test("tlbflush sets 0x40000004.EAX[2] and [11], requires vpindex, claims no MSR", () => {
  assert.deepEqual(cpuidOf(tlbflush, {}).set?.map((b) => [b.leaf, b.register, b.bit]), [
    [0x40000004, "eax", 2],
    [0x40000004, "eax", 11],
  ]);
  assert.deepEqual(tlbflush.requires, ["vpindex"]);
  assert.deepEqual(tlbflush.msrs, []);
});

Deno.test("tlbflush claims the four flush hypercalls with their descriptors", () => {
  assert.deepEqual(tlbflush.hypercalls.map((h) => [h.code, h.name, h.kind, h.fast, h.inputBytes, h.repInputBytes]), [
    [0x0002, "HvCallFlushVirtualAddressSpace", "simple", "xmm", 24, undefined],
    [0x0003, "HvCallFlushVirtualAddressList", "rep", "xmm", 24, 8],
    [0x0013, "HvCallFlushVirtualAddressSpaceEx", "variable", "xmm", 32, undefined],
    [0x0014, "HvCallFlushVirtualAddressListEx", "variable-rep", "xmm", 32, 8],
  ]);
  assert.deepEqual(tlbflush.hypercalls.map((h) => h.gate?.bit), [2, 2, 11, 11]);
  assert.deepEqual(tlbflush.passthrough.capabilities, ["KVM_CAP_HYPERV_TLBFLUSH"]);
});
