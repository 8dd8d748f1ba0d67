// The shared HV_VP_SET decoder (used by @hv/ipi and @hv/tlbflush), driven directly with hostile inputs.
import assert from "node:assert/strict";
import { GuestMemory } from "@hv/x86";
import { TestPartition } from "@hv/testkit";
import {
  allVpIndices,
  appendBankVps,
  HV_VP_SET_MAX_VPS,
  readVpSet,
  readVpSetFast,
  VP_SET_ALL,
  VP_SET_INVALID,
  VP_SET_UNKNOWN_FORMAT,
} from "../mod.ts";

const M64 = 0xffffffffffffffffn;
/** Little-endian u64s as bytes. */
const u64s = (...q: bigint[]) => {
  const b = new Uint8Array(8 * q.length);
  const v = new DataView(b.buffer);
  q.forEach((x, i) => v.setBigUint64(8 * i, BigInt.asUintN(64, x), true));
  return b;
};
/** u64s as u32 halves (the HypercallInput.fastInput shape), padded to 28 words. */
const words = (...q: bigint[]) => {
  const w = new Uint32Array(28);
  q.forEach((x, i) => {
    const u = BigInt.asUintN(64, x);
    w[2 * i] = Number(u & 0xffffffffn);
    w[2 * i + 1] = Number(u >> 32n);
  });
  return w;
};
const mem = (at: number, ...q: bigint[]) => {
  const m = GuestMemory.allocate(64 * 1024);
  m.write(at, u64s(...q));
  return m;
};
const out = () => new Uint32Array(HV_VP_SET_MAX_VPS);
const list = (o: Uint32Array, n: number) => [...o.subarray(0, n)];

Deno.test("appendBankVps: ascending indices from both halves, offset by the bank base; counts past a full buffer", () => {
  const o = out();
  assert.deepEqual(list(o, appendBankVps(0b101, 0x80000001, 64, o, 0)), [64, 66, 96, 127]);
  assert.equal(appendBankVps(0, 0, 0, o, 7), 7);
  const all = appendBankVps(0xffffffff, 0xffffffff, 0, o, 0);
  assert.deepEqual(list(o, all), Array.from({ length: 64 }, (_, i) => i));
  const small = new Uint32Array(3);
  assert.equal(appendBankVps(0xff, 0, 0, small, 0), 8, "overflow is reported by a count beyond the buffer");
  assert.deepEqual([...small], [0, 1, 2]);
});

Deno.test("readVpSet (memory): sparse banks in valid_bank_mask order; VPs 2 and 65; VP 4095 in bank 63", () => {
  const o = out();
  assert.equal(readVpSet(mem(0x1000, 0n, 0b11n, 1n << 2n, 1n << 1n), 0x1000, 2, o), 2);
  assert.deepEqual(list(o, 2), [2, 65]);
  assert.equal(readVpSet(mem(0x1000, 0n, 0b10n, 1n << 1n), 0x1000, 1, o), 1);
  assert.deepEqual(list(o, 1), [65]);
  assert.equal(readVpSet(mem(0x1000, 0n, 1n << 63n, 1n << 63n), 0x1000, 1, o), 1);
  assert.deepEqual(list(o, 1), [4095], "the highest index a VP set can name");
  const full = [0n, M64, ...Array.from({ length: 64 }, () => M64)];
  assert.equal(readVpSet(mem(0x1000, ...full), 0x1000, 64, o), 4096, "64 full banks: every index 0..4095");
  assert.equal(o[4095], 4095);
});

Deno.test("readVpSet: empty set, ALL, unknown formats, and the variable-header consistency rules", () => {
  const o = out();
  assert.equal(readVpSet(mem(0x1000, 0n, 0n), 0x1000, 0, o), 0, "valid_bank_mask 0, var 0: empty");
  assert.equal(readVpSet(mem(0x1000, 0n, 1n, 0n), 0x1000, 1, o), 0, "a present but zero bank names nobody");
  assert.equal(readVpSet(mem(0x1000, 1n, 0n), 0x1000, 0, o), VP_SET_ALL);
  assert.equal(readVpSet(mem(0x1000, 1n, 0b1n, 5n), 0x1000, 1, o), VP_SET_ALL, "banks allowed (and ignored) with ALL");
  assert.equal(readVpSet(mem(0x1000, 1n, 0b1n), 0x1000, 0, o), VP_SET_INVALID, "ALL still needs var == popcount");
  assert.equal(readVpSet(mem(0x1000, 2n, 0n), 0x1000, 0, o), VP_SET_UNKNOWN_FORMAT);
  assert.equal(readVpSet(mem(0x1000, 1n << 32n, 0n), 0x1000, 0, o), VP_SET_UNKNOWN_FORMAT, "format high half");
  assert.equal(readVpSet(mem(0x1000, 0n, 0n), 0x1000, 1, o), VP_SET_INVALID, "var 1, mask 0");
  assert.equal(readVpSet(mem(0x1000, 0n, 0b111n, 1n, 1n), 0x1000, 2, o), VP_SET_INVALID, "mask has more bits than var");
  assert.equal(readVpSet(mem(0x1000, 0n, M64), 0x1000, 65, o), VP_SET_INVALID, "var > 64");
  assert.equal(readVpSet(mem(0x1000, 0n, M64), 0x1000, 1023, o), VP_SET_INVALID, "var at its 10-bit maximum");
});

Deno.test("readVpSet: a set running off the end of RAM, or a buffer too small, is INVALID (never a throw)", () => {
  const m = GuestMemory.allocate(4096);
  m.write(4096 - 24, u64s(0n, 0b11n, 1n));
  assert.equal(readVpSet(m, 4096 - 24, 2, out()), VP_SET_INVALID, "second bank is past RAM");
  assert.equal(readVpSet(m, 4090, 0, out()), VP_SET_INVALID, "header past RAM");
  assert.equal(readVpSet(m, 2 ** 60, 0, out()), VP_SET_INVALID);
  assert.equal(readVpSet(m, -8, 0, out()), VP_SET_INVALID);
  assert.equal(readVpSet(mem(0, 0n, 1n, M64), 0, 1, new Uint32Array(10)), VP_SET_INVALID, "64 VPs do not fit in 10");
});

Deno.test("readVpSetFast: the same rules over fast-input words, at any qword offset; banks past XMM5 are INVALID", () => {
  const o = out();
  // SendIpiEx layout: qword 0 vector, 1 format, 2 valid_bank_mask, 3.. banks.
  assert.equal(readVpSetFast(words(0xfen, 0n, 0b11n, 1n << 2n, 1n << 1n), 1, 2, o), 2);
  assert.deepEqual(list(o, 2), [2, 65]);
  // Flush Ex layout: qword 0 AS, 1 flags, 2 format, 3 mask, 4.. banks.
  assert.equal(readVpSetFast(words(0n, 0n, 0n, 0b10n, 1n << 1n), 2, 1, o), 1);
  assert.deepEqual(list(o, 1), [65]);
  assert.equal(readVpSetFast(words(0n, 1n, 0n), 1, 0, o), VP_SET_ALL);
  assert.equal(readVpSetFast(words(0n, 3n, 0n), 1, 0, o), VP_SET_UNKNOWN_FORMAT);
  assert.equal(readVpSetFast(words(0n, 0n, 0n), 1, 0, o), 0);
  assert.equal(readVpSetFast(words(0n, 0n, 0b1n), 1, 0, o), VP_SET_INVALID);
  // 11 banks at qword 3..13 = the last fast-input qword (XMM5 high): fits; 12 banks from qword 3 do not.
  const w = words(0n, 0n, 0x7ffn, ...Array.from({ length: 11 }, (_, i) => (i === 10 ? 1n : 0n)));
  assert.equal(readVpSetFast(w, 1, 11, o), 1);
  assert.deepEqual(list(o, 1), [640]);
  assert.equal(readVpSetFast(words(0n, 0n, 0xfffn), 1, 12, o), VP_SET_INVALID, "banks past the 14 qwords");
  assert.equal(readVpSetFast(new Uint32Array(28), 13, 0, o), VP_SET_INVALID, "header past the words");
  assert.equal(readVpSetFast(new Uint32Array(28), -1, 0, o), VP_SET_INVALID);
});

Deno.test("allVpIndices finds sparse VP indices and stops at vpCount", () => {
  const o = out();
  const p = TestPartition.create({ vpIndices: [0, 2, 65] });
  assert.deepEqual(list(o, allVpIndices(p, o)), [0, 2, 65]);
  const q = TestPartition.create({ vpCount: 4 });
  assert.deepEqual(list(o, allVpIndices(q, o)), [0, 1, 2, 3]);
});
