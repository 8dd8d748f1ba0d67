import assert from "node:assert/strict";
import { HvPrivilegeEax, HvRecommendationEax } from "@hv/tlfs";
import { CpuidTable, decodeVendor, encodeVendor } from "../mod.ts";

Deno.test("vendor strings pack as CPUID returns them", () => {
  assert.deepEqual(encodeVendor("Microsoft Hv"), { ebx: 0x7263694d, ecx: 0x666f736f, edx: 0x76482074 });
  assert.equal(decodeVendor(0x7263694d, 0x666f736f, 0x76482074), "Microsoft Hv");
  assert.equal(decodeVendor(...Object.values(encodeVendor("proxmox")) as [number, number, number]), "proxmox");
  assert.throws(() => encodeVendor("thirteen char"), RangeError);
  assert.throws(() => encodeVendor("héllo"), RangeError);
});

Deno.test("bits OR in, clear after, registers report their previous value, leaves sort", () => {
  const t = new CpuidTable();
  t.setBit(HvRecommendationEax.UseApicMsrs);
  t.setBit(HvRecommendationEax.UseRelaxedTiming);
  t.setBit(HvPrivilegeEax.AccessHypercallMsrs);
  assert.equal(t.get(0x40000004).eax, 0x28);
  t.clearBit(HvRecommendationEax.UseApicMsrs);
  assert.equal(t.get(0x40000004).eax, 0x20);
  assert.equal(t.hasBit(HvRecommendationEax.UseApicMsrs), false);
  assert.equal(t.setRegister(0x40000004, "ebx", 0xffffffff), 0);
  assert.equal(t.setRegister(0x40000004, "ebx", 0x1fff), 0xffffffff);
  t.setBit({ leaf: 0x40000003, register: "edx", bit: 31, name: "top" });
  assert.equal(t.get(0x40000003).edx, 0x80000000, "bit 31 stays unsigned");
  assert.deepEqual(t.leaves().map((l) => l.function), [0x40000003, 0x40000004]);
  assert.equal(t.has(0x40000005), false);
  assert.deepEqual(t.get(0x40000005), { function: 0x40000005, index: 0, eax: 0, ebx: 0, ecx: 0, edx: 0 });
  t.deleteRange(0x40000000, 0x40000003);
  assert.deepEqual(t.leaves().map((l) => l.function), [0x40000004]);
});
