import assert from "node:assert/strict";
import { add64, mulHi64, nextTscSequence, referenceTime, referenceTscScale, splitTsc } from "../mod.ts";

const M64 = (1n << 64n) - 1n;
const join = (w: Uint32Array, at = 0) => (BigInt(w[at + 1]) << 32n) | BigInt(w[at]);
const lo32 = (v: bigint) => Number(v & 0xffffffffn);
const hi32 = (v: bigint) => Number((v >> 32n) & 0xffffffffn);

/** Deterministic xorshift32 (tests must be reproducible). */
const rng = (seed: number) => {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>>= 0);
  };
};

/** Edge values: 0, 1, limb and word boundaries, the top of the range. */
const EDGES: bigint[] = [
  0n, 1n, 2n, 0xffffn, 0x10000n, 0xffffffffn, 0x100000000n, 0x1_0000_ffffn, 0xffff_0000_0000n,
  (1n << 53n) - 1n, 1n << 53n, 1n << 63n, (1n << 63n) - 1n, M64 - 1n, M64,
  0xffff_ffff_0000_0000n, 0x0000_ffff_ffff_0000n, 0x8000_0000_8000_0000n, 0xdead_beef_cafe_f00dn,
];

/** A random u64 with a skewed shape: full random, or with some 16-bit limbs forced to 0 or 0xFFFF. */
const randomU64 = (next: () => number): bigint => {
  let v = (BigInt(next()) << 32n) | BigInt(next());
  const shape = next() & 7;
  if (shape === 0) v &= 0xffffffffn; // fits the low word
  if (shape === 1) v |= 0xffff_0000_ffff_0000n; // limbs 1 and 3 all ones
  if (shape === 2) v = M64 - (v & 0xffffn); // near 2^64
  if (shape === 3) v >>= BigInt(next() & 63); // any magnitude
  return v;
};

Deno.test("mulHi64 equals (a*b)>>64 for 100 000 random pairs and every pair of edge values", () => {
  const out = new Uint32Array(2);
  const check = (a: bigint, b: bigint) => {
    mulHi64(lo32(a), hi32(a), lo32(b), hi32(b), out);
    const want = (a * b) >> 64n;
    if (join(out) !== want) assert.fail(`mulHi64(0x${a.toString(16)}, 0x${b.toString(16)}) = 0x${join(out).toString(16)}, want 0x${want.toString(16)}`);
  };
  for (const a of EDGES) for (const b of EDGES) check(a, b);
  const next = rng(0x5eed);
  for (let i = 0; i < 100_000; i++) check(randomU64(next), randomU64(next));
  mulHi64(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, out);
  assert.deepEqual([...out], [0xfffffffe, 0xffffffff], "(2^64-1)^2 >> 64 = 2^64 - 2 (lo, hi)");
});

Deno.test("mulHi64 writes at an offset and accepts signed int32 halves (bit patterns)", () => {
  const out = new Uint32Array(4).fill(7);
  mulHi64(-1, -1, 0, 2, out, 2); // (2^64-1) * 2^33 >> 64 = 2^33 - 1
  assert.deepEqual([...out], [7, 7, 0xffffffff, 1]);
});

Deno.test("add64 adds a signed 64-bit offset modulo 2^64, with carry, for 100 000 random pairs", () => {
  const out = new Uint32Array(2);
  const next = rng(42);
  const check = (a: bigint, off: bigint) => {
    const o = BigInt.asUintN(64, off);
    add64(lo32(a), hi32(a), lo32(o), hi32(o), out);
    const want = BigInt.asUintN(64, a + off);
    if (join(out) !== want) assert.fail(`add64(0x${a.toString(16)}, ${off}) = 0x${join(out).toString(16)}, want 0x${want.toString(16)}`);
  };
  for (const a of EDGES) for (const b of EDGES) {
    check(a, b);
    check(a, -b);
  }
  for (let i = 0; i < 100_000; i++) check(randomU64(next), BigInt.asIntN(64, randomU64(next)));
  add64(0xffffffff, 0, 1, 0, out);
  assert.deepEqual([...out], [0, 1], "carry into the high word");
  add64(5, 0, lo32(BigInt.asUintN(64, -10n)), hi32(BigInt.asUintN(64, -10n)), out);
  assert.equal(join(out), BigInt.asUintN(64, -5n), "5 + (-10) wraps like the guest's u64 + s64");
});

Deno.test("splitTsc: exact halves below 2^53; NaN/negative -> 0; >= 2^64 -> 2^64-1; fractions floored", () => {
  const out = new Uint32Array(2);
  const s = (t: number) => join(splitTsc(t, out));
  for (const v of [0n, 1n, 0xffffffffn, 0x100000000n, 123_456_789_012_345n, (1n << 53n) - 1n]) assert.equal(s(Number(v)), v);
  assert.equal(s(2 ** 60), 1n << 60n, "an integral double above 2^53 splits exactly");
  assert.equal(s(2 ** 64 - 2 ** 11), M64 - 2047n, "the largest double below 2^64");
  assert.equal(s(2 ** 64), M64);
  assert.equal(s(Infinity), M64);
  for (const bad of [Number.NaN, -1, -Infinity, -0]) assert.equal(s(bad), 0n, String(bad));
  assert.equal(s(10.9), 10n);
});

Deno.test("referenceTscScale = floor((10^7 << 64) / Hz) for several TSC frequencies", () => {
  for (const hz of [1e9, 2.5e9, 3_000_000_000, 3_000_123_457, 2_596_144_000, 2_893_420_000, 1e7 + 1]) {
    assert.equal(referenceTscScale(hz), (10_000_000n << 64n) / BigInt(hz), String(hz));
  }
  assert.equal(referenceTscScale(1e9), 0x28f5c28f5c28f5cn, "1 GHz: 2^64 / 100");
  assert.equal(referenceTscScale(1e7), M64, "a 10 MHz TSC saturates (scale would be 2^64)");
  assert.equal(referenceTscScale(2_500_000_000.4), (10_000_000n << 64n) / 2_500_000_000n, "rounded to a whole Hz");
  for (const bad of [0, -1, Number.NaN, Infinity, 0.4]) assert.throws(() => referenceTscScale(bad), RangeError);
});

Deno.test("referenceTime = ((tsc*scale)>>64) + offset against BigInt, for random TSCs at several Hz and offsets", () => {
  const out = new Uint32Array(2);
  const next = rng(7);
  for (const hz of [1e9, 2.5e9, 3_000_123_457, 3_092_974_311]) {
    const scale = referenceTscScale(hz);
    for (const off of [0n, 12_345n, -987_654_321n, 1n << 40n]) {
      const o = BigInt.asUintN(64, off);
      for (let i = 0; i < 2000; i++) {
        const tsc = i < 4 ? [0, 1, 2 ** 53 - 1, 2 ** 40][i] : (next() & 0x1fffff) * 2 ** 32 + next(); // below 2^53
        referenceTime(tsc, lo32(scale), hi32(scale), lo32(o), hi32(o), out);
        const want = BigInt.asUintN(64, ((BigInt(tsc) * scale) >> 64n) + off);
        if (join(out) !== want) assert.fail(`hz=${hz} off=${off} tsc=${tsc}: ${join(out)} != ${want}`);
      }
    }
    // One second of TSC is 10^7 ticks of 100 ns, less at most one for the floor of the scale.
    referenceTime(hz, lo32(scale), hi32(scale), 0, 0, out);
    assert.ok(join(out) === 10_000_000n || join(out) === 9_999_999n, `${hz}: ${join(out)}`);
  }
});

Deno.test("nextTscSequence: +1, never 0 or 0xFFFFFFFF (0xFFFFFFFE -> 1, as KVM)", () => {
  assert.equal(nextTscSequence(0), 1);
  assert.equal(nextTscSequence(1), 2);
  assert.equal(nextTscSequence(0x7fffffff), 0x80000000);
  assert.equal(nextTscSequence(0xfffffffd), 0xfffffffe);
  assert.equal(nextTscSequence(0xfffffffe), 1);
  assert.equal(nextTscSequence(0xffffffff), 1);
  assert.equal(nextTscSequence(-2), 1, "bit pattern 0xFFFFFFFE");
});
