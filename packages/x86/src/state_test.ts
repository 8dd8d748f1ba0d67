import assert from "node:assert/strict";
import { defineState, StateArena, StateRestoreError, u64Get, u64Set } from "../mod.ts";

const synicLike = defineState({
  version: 2,
  fields: {
    enabled: { type: "u8" },
    sint: { type: "u64", count: 16, reset: 0x10000n },
    seq: { type: "u32", reset: 7 },
  },
});

Deno.test("fields are naturally aligned and the size rounds to 8", () => {
  assert.deepEqual(synicLike.placements.map((p) => [p.name, p.offset, p.byteLength]), [["enabled", 0, 1], ["sint", 8, 128], ["seq", 136, 4]]);
  assert.equal(synicLike.byteLength, 144);
});

Deno.test("reset writes power-on values; u64 fields are lo/hi words; inspect decodes", () => {
  const a = new StateArena([{ owner: "synic", layout: synicLike }, { owner: "other", layout: defineState({ version: 1, fields: { x: { type: "u16" } } }) }]);
  const v = a.views("synic") as { sint: Uint32Array; seq: Uint32Array };
  assert.equal(u64Get(v.sint, 15), 0x10000n);
  u64Set(v.sint, 3, 0xdeadbeef, 0x80000000);
  assert.equal(u64Get(v.sint, 3), 0x80000000deadbeefn);
  const ins = a.inspect().synic as { sint: bigint[]; seq: number; enabled: number };
  assert.equal(ins.sint[3], 0x80000000deadbeefn);
  assert.equal(ins.seq, 7);
  assert.equal(ins.enabled, 0);
  assert.deepEqual(a.inspect().other, { x: 0 });
});

Deno.test("two arenas over one SharedArrayBuffer see each other's writes (vCPU workers share state)", () => {
  const a = new StateArena([{ owner: "synic", layout: synicLike }]);
  const b = new StateArena([{ owner: "synic", layout: synicLike }], a.buffer);
  (a.views("synic").seq as Uint32Array)[0] = 99;
  assert.equal((b.views("synic").seq as Uint32Array)[0], 99);
});

Deno.test("save/restore round-trips; a wrong version or size is refused without writing anything", () => {
  const a = new StateArena([{ owner: "synic", layout: synicLike }]);
  (a.views("synic").seq as Uint32Array)[0] = 1234;
  const saved = a.save();
  a.reset();
  a.restore(saved);
  assert.equal((a.views("synic").seq as Uint32Array)[0], 1234);
  (a.views("synic").seq as Uint32Array)[0] = 5;
  assert.throws(() => a.restore({ synic: { version: 1, bytes: saved.synic.bytes } }), StateRestoreError);
  assert.throws(() => a.restore({ synic: { version: 2, bytes: new Uint8Array(3) } }), /3 bytes, expected 144/);
  assert.throws(() => a.restore({}), /not in the saved state/);
  assert.equal((a.views("synic").seq as Uint32Array)[0], 5, "untouched after refusals");
});

Deno.test("bad declarations and placements are refused", () => {
  assert.throws(() => defineState({ version: 1, fields: { x: { type: "u8", count: 0 } } }), RangeError);
  assert.throws(() => synicLike.views(new ArrayBuffer(16)), RangeError);
  assert.throws(() => new StateArena([{ owner: "a", layout: synicLike }, { owner: "a", layout: synicLike }]), /placed twice/);
});
