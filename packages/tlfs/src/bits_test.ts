import assert from "node:assert/strict";
import {
  bitField,
  bitRange,
  fieldGet,
  fieldGet64,
  fieldGetWide,
  fieldMask64,
  fieldMaskHi,
  fieldMaskLo,
  fieldMax,
  fieldSet,
  fieldSet64,
  fieldSetHi,
  fieldSetLo,
  joinU64,
  splitU64,
  u64ToNumber,
} from "./bits.ts";

Deno.test("bitField / bitRange validate and describe [high:low]", () => {
  assert.deepEqual(bitRange(43, 32), { shift: 32, width: 12 });
  assert.deepEqual(bitRange(63, 63), { shift: 63, width: 1 });
  assert.deepEqual(bitRange(63, 0), { shift: 0, width: 64 });
  assert.ok(Object.isFrozen(bitField(3, 4)));
  assert.throws(() => bitField(-1, 1), RangeError);
  assert.throws(() => bitField(0, 0), RangeError);
  assert.throws(() => bitField(60, 5), RangeError);
  assert.throws(() => bitField(64, 1), RangeError);
  assert.throws(() => bitField(1.5, 1), RangeError);
  assert.throws(() => bitRange(3, 4), RangeError);
});

Deno.test("fieldMaskLo / fieldMaskHi split a field across the halves", () => {
  assert.equal(fieldMaskLo(bitRange(31, 27)), 0xf8000000);
  assert.equal(fieldMaskHi(bitRange(31, 27)), 0);
  assert.equal(fieldMaskLo(bitRange(47, 44)), 0);
  assert.equal(fieldMaskHi(bitRange(47, 44)), 0x0000f000);
  assert.equal(fieldMaskLo(bitRange(35, 28)), 0xf0000000);
  assert.equal(fieldMaskHi(bitRange(35, 28)), 0x0000000f);
  assert.equal(fieldMaskLo(bitRange(63, 0)), 0xffffffff);
  assert.equal(fieldMaskHi(bitRange(63, 0)), 0xffffffff);
  assert.equal(fieldMaskLo(bitRange(31, 0)), 0xffffffff);
  assert.equal(fieldMaskHi(bitRange(31, 0)), 0);
  assert.equal(fieldMaskLo(bitRange(63, 32)), 0);
  assert.equal(fieldMaskHi(bitRange(63, 32)), 0xffffffff);
  assert.equal(fieldMaskHi(bitField(63, 1)), 0x80000000);
  assert.equal(fieldMaskLo(bitField(31, 1)), 0x80000000);
  assert.equal(fieldMaskLo(bitRange(63, 12)), 0xfffff000);
  assert.equal(fieldMaskHi(bitRange(63, 12)), 0xffffffff);
  assert.equal(fieldMask64(bitRange(47, 44)), 0x0000f00000000000n);
  assert.equal(fieldMask64(bitField(63, 1)), 0x8000000000000000n);
});

Deno.test("fieldMax", () => {
  assert.equal(fieldMax(bitField(0, 1)), 1);
  assert.equal(fieldMax(bitRange(43, 32)), 0xfff);
  assert.equal(fieldMax(bitRange(31, 0)), 0xffffffff);
  assert.equal(fieldMax(bitRange(63, 12)), 2 ** 52 - 1);
});

Deno.test("fieldGet: low half, high half, straddling bit 32, width 32, bit 63", () => {
  assert.equal(fieldGet(0x00050014, 0, bitRange(15, 0)), 0x14);
  assert.equal(fieldGet(0x00050014, 0, bitRange(26, 17)), 2);
  assert.equal(fieldGet(0, 0x00010005, bitRange(43, 32)), 5);
  assert.equal(fieldGet(0, 0x00010005, bitRange(59, 48)), 1);
  // [35:28] takes lo[31:28] and hi[3:0]
  assert.equal(fieldGet(0xf0000000, 0x0000000f, bitRange(35, 28)), 0xff);
  assert.equal(fieldGet(0xa0000000, 0x00000005, bitRange(35, 28)), 0x5a);
  assert.equal(fieldGet(0x7fffffff, 0xfffffff0, bitRange(35, 28)), 0x07);
  // width 32, unsigned results (never negative)
  assert.equal(fieldGet(0xffffffff, 0, bitRange(31, 0)), 0xffffffff);
  assert.equal(fieldGet(0, 0xffffffff, bitRange(63, 32)), 0xffffffff);
  assert.equal(fieldGet(0xabcd0000, 0x00001234, bitRange(47, 16)), 0x1234abcd);
  assert.equal(fieldGet(0xffff0000, 0x0000ffff, bitRange(47, 16)), 0xffffffff);
  assert.equal(fieldGet(0x80000000, 0, bitField(31, 1)), 1);
  assert.equal(fieldGet(0, 0x80000000, bitField(63, 1)), 1);
  assert.equal(fieldGet(0xffffffff, 0x7fffffff, bitField(63, 1)), 0);
  assert.equal(fieldGet(0, 0xf0000000, bitRange(63, 60)), 0xf);
  assert.equal(fieldGet(0x1, 0, bitField(0, 1)), 1);
  // inputs given as signed int32 behave like their unsigned forms
  assert.equal(fieldGet(-1, -1, bitRange(63, 32)), 0xffffffff);
  assert.equal(fieldGet(-1, 0, bitRange(31, 0)), 0xffffffff);
});

Deno.test("fieldGetWide reads 52-bit page numbers exactly", () => {
  const pn = bitRange(63, 12);
  assert.equal(fieldGetWide(0xfffff000, 0xffffffff, pn), 2 ** 52 - 1);
  assert.equal(fieldGetWide(0x23456001, 0x1, pn), 0x123456);
  assert.equal(fieldGetWide(0x00000fff, 0, pn), 0);
  assert.equal(fieldGetWide(0xffffffff, 0xffffffff, bitRange(52, 0)), 2 ** 53 - 1);
  assert.equal(fieldGetWide(0xabcd0000, 0x00001234, bitRange(47, 16)), 0x1234abcd);
});

Deno.test("fieldSetLo / fieldSetHi / fieldSet write only the field, truncating the value", () => {
  const f = bitRange(35, 28);
  assert.equal(fieldSetLo(0, f, 0xa5), 0x50000000);
  assert.equal(fieldSetHi(0, f, 0xa5), 0x0000000a);
  assert.equal(fieldSetLo(0xffffffff, f, 0), 0x0fffffff);
  assert.equal(fieldSetHi(0xffffffff, f, 0), 0xfffffff0);
  assert.equal(fieldSetLo(0, f, 0x1ff), 0xf0000000);
  assert.equal(fieldSetHi(0, f, 0x1ff), 0x0000000f);
  const out = new Uint32Array(2);
  assert.deepEqual([...fieldSet(0, 0, bitField(63, 1), 1, out)], [0, 0x80000000]);
  assert.deepEqual([...fieldSet(0x12345678, 0, bitRange(63, 32), 0xffffffff, out)], [0x12345678, 0xffffffff]);
  assert.deepEqual([...fieldSet(0xffffffff, 0xffffffff, bitRange(31, 0), 0, out)], [0, 0xffffffff]);
  assert.deepEqual([...fieldSet(0, 0, bitRange(47, 16), 0x1234abcd, out)], [0xabcd0000, 0x1234]);
  assert.deepEqual([...fieldSet(0, 0, bitRange(43, 32), 0x1fff, out)], [0, 0xfff]);
  // 52-bit page number
  assert.deepEqual([...fieldSet(0x1, 0, bitRange(63, 12), 0x123456, out)], [0x23456001, 0x1]);
  assert.deepEqual([...fieldSet(0xfff, 0, bitRange(63, 12), 2 ** 52 - 1, out)], [0xffffffff, 0xffffffff]);
  // in place, at an offset
  const regs = new Uint32Array([7, 7, 0x11, 0x22]);
  const r = fieldSet(regs[2], regs[3], bitRange(15, 8), 0xab, regs, 2);
  assert.equal(r, regs);
  assert.deepEqual([...regs], [7, 7, 0xab11, 0x22]);
});

Deno.test("fieldGet64 / fieldSet64 on bigint, including bit 63 and wrapping", () => {
  assert.equal(fieldGet64(0x8000000000000000n, bitField(63, 1)), 1n);
  assert.equal(fieldGet64(-1n, bitRange(63, 0)), 0xffffffffffffffffn);
  assert.equal(fieldGet64(-1n, bitRange(62, 48)), 0x7fffn);
  assert.equal(fieldGet64(0x0001040a000065f4n, bitRange(15, 0)), 26100n);
  assert.equal(fieldSet64(0n, bitField(63, 1), 1), 0x8000000000000000n);
  assert.equal(fieldSet64(-1n, bitRange(47, 44), 0n), 0xffff0fffffffffffn);
  assert.equal(fieldSet64(0n, bitRange(43, 32), 0x1fffn), 0x00000fff00000000n);
  assert.equal(fieldSet64(0n, bitRange(63, 12), 0x123456), 0x123456000n);
});

Deno.test("joinU64 / splitU64 / u64ToNumber", () => {
  assert.equal(joinU64(0x89abcdef, 0x01234567), 0x0123456789abcdefn);
  assert.equal(joinU64(-1, -1), 0xffffffffffffffffn);
  const out = splitU64(0x8000000000000001n, new Uint32Array(2));
  assert.deepEqual([...out], [1, 0x80000000]);
  assert.deepEqual([...splitU64(-2n, new Uint32Array(3), 1)], [0, 0xfffffffe, 0xffffffff]);
  assert.equal(u64ToNumber(0x23456000, 0x1), 0x123456000);
  assert.equal(u64ToNumber(0xffffffff, 0x001fffff), 2 ** 53 - 1);
});

/** xorshift32: deterministic pseudo-random u32s. */
const rng = (seed: number) => () => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return seed >>> 0;
};

Deno.test("number helpers agree with the bigint reference on random fields and values", () => {
  const next = rng(0x9e3779b9);
  const out = new Uint32Array(2);
  for (let i = 0; i < 20000; i++) {
    const lo = next();
    const hi = next();
    const v = joinU64(lo, hi);
    const width = 1 + (next() % 53);
    const shift = next() % (65 - width);
    const f = bitField(shift, width);
    const ref = fieldGet64(v, f);
    assert.equal(fieldGetWide(lo, hi, f), Number(ref), `getWide ${shift}/${width}`);
    if (width <= 32) assert.equal(fieldGet(lo, hi, f), Number(ref), `get ${shift}/${width}`);
    const value = width <= 32 ? next() : next() * 2 ** 21 + (next() & 0x1fffff);
    fieldSet(lo, hi, f, value, out);
    const expected = fieldSet64(v, f, BigInt(value));
    assert.equal(joinU64(out[0], out[1]), expected, `set ${shift}/${width} ${value}`);
    assert.equal(out[0] & ~fieldMaskLo(f), lo & ~fieldMaskLo(f));
    assert.equal(out[1] & ~fieldMaskHi(f), hi & ~fieldMaskHi(f));
    assert.equal(joinU64(fieldMaskLo(f), fieldMaskHi(f)), fieldMask64(f));
  }
});
