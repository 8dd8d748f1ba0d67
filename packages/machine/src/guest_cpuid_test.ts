import assert from "node:assert/strict";
import { guestCpuid } from "./guest_cpuid.ts";

const leaf = (fn: number, index = 0, eax = 0, ebx = 0, ecx = 0, edx = 0) => ({ function: fn, index, eax, ebx, ecx, edx });
const kvm = [
  leaf(0, 0, 0xd),
  leaf(1, 0, 0x806f8, 0x00000800, 0x7ffaf203, 0x178bfbff),
  leaf(0xb, 0, 1, 1, 0x100, 0),
  leaf(0xb, 1, 4, 2, 0x201, 0),
  leaf(0x40000000, 0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d),
  leaf(0x40000001, 0, 0x1000089),
  leaf(0x40000100, 0, 0x40000101, 0x4b4d564b, 0x564b4d56, 0x4d),
  leaf(0x80000000, 0, 0x80000008),
];
const hv = [leaf(0x40000000, 0, 0x40000005, 0x7263694d, 0x666f736f, 0x76482074), leaf(0x40000001, 0, 0x31237648)];

Deno.test("KVM's signatures disappear at every base, Hyper-V's leaves replace them, CPUID.1:ECX[31] is set", () => {
  const c = guestCpuid(kvm, hv, 0);
  assert.deepEqual(c.filter((l) => l.function >= 0x40000000 && l.function <= 0x4fffffff), hv);
  assert.ok(!c.some((l) => l.ebx === 0x4b4d564b), "no KVMKVMKVM anywhere");
  assert.equal(c.find((l) => l.function === 1)!.ecx >>> 31, 1);
  assert.ok(c.some((l) => l.function === 0x80000000), "other leaves kept");
});

Deno.test("APIC ids: CPUID.1.EBX[31:24] and leaf 0xB EDX per vCPU; without Hyper-V leaves the hypervisor bit is clear", () => {
  const c = guestCpuid(kvm, hv, 3);
  assert.equal(c.find((l) => l.function === 1)!.ebx, 0x03000800);
  assert.deepEqual(c.filter((l) => l.function === 0xb).map((l) => l.edx), [3, 3]);
  const none = guestCpuid(kvm.map((l) => (l.function === 1 ? { ...l, ecx: l.ecx | 0x80000000 } : l)), [], 0);
  assert.equal(none.find((l) => l.function === 1)!.ecx >>> 31, 0);
  assert.ok(!none.some((l) => l.function >= 0x40000000 && l.function <= 0x4fffffff));
});
