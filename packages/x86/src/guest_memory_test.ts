import assert from "node:assert/strict";
import { GuestMemory } from "../mod.ts";

Deno.test("contains() rejects everything outside RAM, including hostile GPAs", () => {
  const m = GuestMemory.allocate(8192);
  assert.equal(m.contains(0, 8192), true);
  assert.equal(m.contains(8192, 0), true);
  assert.equal(m.contains(8188, 4), true);
  assert.equal(m.contains(8189, 4), false);
  assert.equal(m.contains(-1, 1), false);
  assert.equal(m.contains(0.5, 1), false);
  assert.equal(m.contains(2 ** 64, 1), false);
  assert.equal(m.contains(2 ** 53, 8), false);
  assert.equal(m.contains(0, -1), false);
  assert.equal(m.contains(Number.NaN, 1), false);
  assert.equal(m.containsInPage(4090, 8), false, "page crossing");
  assert.equal(m.containsInPage(4088, 8), true);
});

Deno.test("checked accessors read and write little-endian and refuse out-of-range without touching RAM", () => {
  const m = GuestMemory.allocate(4096);
  assert.equal(m.writeU64(8, 0x11223344, 0xaabbccdd), true);
  assert.equal(m.readU32(8), 0x11223344);
  assert.equal(m.readU32(12), 0xaabbccdd);
  const out = new Uint32Array(2);
  assert.equal(m.readU64(8, out), true);
  assert.deepEqual([...out], [0x11223344, 0xaabbccdd]);
  assert.equal(m.readU8(8), 0x44);
  assert.equal(m.readU32(4093), -1);
  assert.equal(m.readU64(4089, out), false);
  assert.equal(m.writeU32(4094, 1), false);
  assert.equal(m.writeU8(4096, 1), false);
  assert.equal(m.write(4000, new Uint8Array(97)), false);
  assert.equal(m.fill(4000, 97), false);
  assert.equal(m.slice(4095, 2), undefined);
  assert.equal(m.bytes.reduce((a, b) => a + b, 0), 0x11 + 0x22 + 0x33 + 0x44 + 0xaa + 0xbb + 0xcc + 0xdd, "nothing else written");
});
