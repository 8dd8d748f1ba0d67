// HvCallSendSyntheticClusterIpi (0x000B) and HvCallSendSyntheticClusterIpiEx (0x0015) through the
// testkit's real dispatcher: every status row of tlfs-conformance.md (b), the hyperv_ipi.c variants
// (receivers at VP_INDEX 2 and 65, vector 0xFE: exactly one interrupt at each target, none elsewhere),
// and hostile inputs.
import assert from "node:assert/strict";
import {
  HV_STATUS_INVALID_ALIGNMENT,
  HV_STATUS_INVALID_HYPERCALL_CODE,
  HV_STATUS_INVALID_HYPERCALL_INPUT,
  HV_STATUS_SUCCESS,
  HV_X64_MSR_GUEST_OS_ID,
  HvCallSendSyntheticClusterIpi,
  HvCallSendSyntheticClusterIpiEx,
} from "@hv/tlfs";
import { hypercall, type HypercallRequest, TestPartition, wrmsr } from "@hv/testkit";

const SEND = HvCallSendSyntheticClusterIpi;
const SEND_EX = HvCallSendSyntheticClusterIpiEx;
const SPARSE = 0n, ALL = 1n;
const WS2022 = 0x0001040a00004f7cn;

/** VPs at VP_INDEX 0 (the sender), 2 and 65, as in hyperv_ipi.c; ipi (and optionally more) composed; hypercalls live. */
const make = (extra: string[] = [], vpIndices = [0, 2, 65]) => {
  const p = TestPartition.create({ requested: ["ipi", ...extra], vpIndices, memoryBytes: 64 * 1024 });
  assert.equal(wrmsr(p.vps[0], HV_X64_MSR_GUEST_OS_ID, WS2022), "ok");
  return p;
};
const u64s = (...q: bigint[]) => {
  const b = new Uint8Array(8 * q.length);
  const v = new DataView(b.buffer);
  q.forEach((x, i) => v.setBigUint64(8 * i, BigInt.asUintN(64, x), true));
  return b;
};
const st = (status: number, repsCompleted = 0) => ({ status, repsCompleted });
/** Vectors each VP received since the last call (and clears them), keyed by VP index. */
const took = (p: TestPartition) => {
  const r: Record<number, number[]> = {};
  for (const vp of p.vps) {
    assert.ok(vp.interrupts.every((i) => i.autoEoi === false), "fixed interrupts, no auto-EOI");
    r[vp.index] = vp.interrupts.map((i) => i.vector);
    vp.interrupts.length = 0;
  }
  return r;
};
const none = { 0: [], 2: [], 65: [] };
const call = (p: TestPartition, req: HypercallRequest) => hypercall(p.vps[0], req);
/** Slow SendIpi input. */
const ipiIn = (vector: number, mask: bigint, reserved = 0n) => u64s(BigInt(vector) | (reserved << 32n), mask);
/** Slow SendIpiEx input with `banks` as the variable header (its size defaults to banks.length). */
const exIn = (vector: number, format: bigint, mask: bigint, ...banks: bigint[]) => u64s(BigInt(vector), format, mask, ...banks);

Deno.test("SendIpi slow and fast: one exit reaches every named VP (VP 2, the sender, several), none elsewhere", () => {
  const p = make();
  assert.deepEqual(call(p, { code: SEND, input: ipiIn(0xfe, 1n << 2n) }), st(HV_STATUS_SUCCESS));
  assert.deepEqual(took(p), { ...none, 2: [0xfe] }, "slow, VP 2");
  assert.deepEqual(call(p, { code: SEND, fast: true, fastInput: [0xfen, 1n << 2n] }), st(HV_STATUS_SUCCESS));
  assert.deepEqual(took(p), { ...none, 2: [0xfe] }, "fast, VP 2");
  assert.deepEqual(call(p, { code: SEND, fast: true, fastInput: [0x41n, 1n] }), st(HV_STATUS_SUCCESS));
  assert.deepEqual(took(p), { ...none, 0: [0x41] }, "self-IPI (the probe's ipi.send.self)");
  assert.deepEqual(call(p, { code: SEND, fast: true, fastInput: [0x10n, 0b101n] }), st(HV_STATUS_SUCCESS));
  assert.deepEqual(took(p), { ...none, 0: [0x10], 2: [0x10] }, "lowest vector, two targets");
  assert.deepEqual(call(p, { code: SEND, input: ipiIn(0xff, 0b101n, 0xdeadn) }), st(HV_STATUS_SUCCESS));
  assert.deepEqual(took(p), { ...none, 0: [0xff], 2: [0xff] }, "slow reserved u32 ignored (KVM), highest vector");
  // 32-bit calling convention: EDX:EAX control, EBX:ECX input GPA.
  assert.deepEqual(call(p, { code: SEND, input: ipiIn(0x50, 1n << 2n), mode: { longMode: false } }), st(HV_STATUS_SUCCESS));
  assert.deepEqual(took(p), { ...none, 2: [0x50] });
});

Deno.test("SendIpi: an empty mask succeeds and delivers nothing (the probe's ipi.send); absent VPs are ignored", () => {
  const p = make();
  assert.deepEqual(call(p, { code: SEND, fast: true, fastInput: [0x40n, 0n] }), st(HV_STATUS_SUCCESS));
  assert.deepEqual(call(p, { code: SEND, input: ipiIn(0x40, 0n) }), st(HV_STATUS_SUCCESS));
  assert.deepEqual(took(p), none);
  // Bits 1, 3 and 63 name VPs that do not exist; bit 2 does.
  assert.deepEqual(call(p, { code: SEND, fast: true, fastInput: [0xfen, (1n << 63n) | 0b1110n] }), st(HV_STATUS_SUCCESS));
  assert.deepEqual(took(p), { ...none, 2: [0xfe] });
  assert.deepEqual(call(p, { code: SEND, fast: true, fastInput: [0xfen, 0xffffffffffffffffn] }), st(HV_STATUS_SUCCESS));
  assert.deepEqual(took(p), { ...none, 0: [0xfe], 2: [0xfe] }, "VP 65 cannot be named by a 64-bit mask");
});

Deno.test("SendIpi: vector < 0x10 or > 0xFF -> 3 (even with an empty mask), nothing delivered", () => {
  const p = make();
  for (const v of [0, 1, 2, 0x0f, 0x100, 0x1fe, 0x7fffffff, 0xffffffff]) {
    assert.deepEqual(call(p, { code: SEND, fast: true, fastInput: [BigInt(v), 0b101n] }), st(HV_STATUS_INVALID_HYPERCALL_INPUT), `fast ${v}`);
    assert.deepEqual(call(p, { code: SEND, input: ipiIn(v, 0b101n) }), st(HV_STATUS_INVALID_HYPERCALL_INPUT), `slow ${v}`);
    assert.deepEqual(call(p, { code: SEND, fast: true, fastInput: [BigInt(v), 0n] }), st(HV_STATUS_INVALID_HYPERCALL_INPUT), `empty ${v}`);
  }
  assert.deepEqual(call(p, { code: SEND, input: new Uint8Array(16) }), st(HV_STATUS_INVALID_HYPERCALL_INPUT), "hyperv_features.c: zeroed input -> 3");
  assert.deepEqual(took(p), none);
});

Deno.test("SendIpi fast: RDX[63:32] != 0 -> 3, nothing delivered", () => {
  const p = make();
  for (const rdx of [1n << 32n, 0x1_000000fen, 0x80000000_000000fen, 0xffffffff_000000fen]) {
    assert.deepEqual(call(p, { code: SEND, fast: true, fastInput: [rdx, 0b101n] }), st(HV_STATUS_INVALID_HYPERCALL_INPUT), rdx.toString(16));
  }
  assert.deepEqual(took(p), none);
});

Deno.test("SendIpi: rep count, rep start or variable header -> 3; bad slow GPAs -> 4 / 3 (dispatcher rules)", () => {
  const p = make();
  const bad = st(HV_STATUS_INVALID_HYPERCALL_INPUT);
  assert.deepEqual(call(p, { code: SEND, fast: true, repCount: 1, fastInput: [0xfen, 1n] }), bad);
  assert.deepEqual(call(p, { code: SEND, fast: true, repStart: 1, fastInput: [0xfen, 1n] }), bad);
  assert.deepEqual(call(p, { code: SEND, fast: true, varHeaderQwords: 1, fastInput: [0xfen, 1n] }), bad);
  assert.deepEqual(call(p, { code: SEND, input: ipiIn(0xfe, 1n), repCount: 2 }), bad);
  assert.deepEqual(call(p, { code: SEND, input: ipiIn(0xfe, 1n), inputGpa: 0x1004 }), st(HV_STATUS_INVALID_ALIGNMENT));
  assert.deepEqual(call(p, { code: SEND, inputGpa: 0x1ff8 + 0x1000 * 14 }), st(HV_STATUS_INVALID_ALIGNMENT), "16 bytes across a page");
  assert.deepEqual(call(p, { code: SEND, inputGpa: 0x10000 }), bad, "input outside RAM");
  assert.deepEqual(took(p), none);
});

Deno.test("SendIpi without ipi composed -> 2 (not claimed); a CPL 3 caller -> #UD", () => {
  const p = TestPartition.create({ requested: ["vpindex"], vpIndices: [0, 2] });
  assert.equal(wrmsr(p.vps[0], HV_X64_MSR_GUEST_OS_ID, WS2022), "ok");
  assert.deepEqual(hypercall(p.vps[0], { code: SEND, fast: true, fastInput: [0xfen, 1n << 2n] }), st(HV_STATUS_INVALID_HYPERCALL_CODE));
  assert.deepEqual(hypercall(p.vps[0], { code: SEND_EX, input: exIn(0xfe, ALL, 0n) }), st(HV_STATUS_INVALID_HYPERCALL_CODE));
  const q = make();
  assert.equal(hypercall(q.vps[0], { code: SEND, fast: true, fastInput: [0xfen, 1n << 2n], mode: { cpl: 3 } }), "ud");
  assert.deepEqual(took(q), none);
});

Deno.test("SendIpiEx slow (hyperv_ipi.c): VP 2 (bank 0), VP 65 (bank 1), both, and ALL including the sender", () => {
  const p = make();
  assert.deepEqual(call(p, { code: SEND_EX, varHeaderQwords: 1, input: exIn(0xfe, SPARSE, 0b1n, 1n << 2n) }), st(HV_STATUS_SUCCESS));
  assert.deepEqual(took(p), { ...none, 2: [0xfe] });
  assert.deepEqual(call(p, { code: SEND_EX, varHeaderQwords: 1, input: exIn(0xfe, SPARSE, 0b10n, 1n << 1n) }), st(HV_STATUS_SUCCESS));
  assert.deepEqual(took(p), { ...none, 65: [0xfe] });
  assert.deepEqual(call(p, { code: SEND_EX, varHeaderQwords: 2, input: exIn(0xfe, SPARSE, 0b11n, 1n << 2n, 1n << 1n) }), st(HV_STATUS_SUCCESS));
  assert.deepEqual(took(p), { ...none, 2: [0xfe], 65: [0xfe] });
  assert.deepEqual(call(p, { code: SEND_EX, input: exIn(0xfe, ALL, 0n) }), st(HV_STATUS_SUCCESS));
  assert.deepEqual(took(p), { 0: [0xfe], 2: [0xfe], 65: [0xfe] }, "format 1: every VP, sender included");
  assert.deepEqual(call(p, { code: SEND_EX, varHeaderQwords: 1, input: exIn(0xfe, ALL, 0b1n, 0n) }), st(HV_STATUS_SUCCESS));
  assert.deepEqual(took(p), { 0: [0xfe], 2: [0xfe], 65: [0xfe] }, "ALL with a (consistent) bank: banks ignored");
  assert.deepEqual(hypercall(p.vps[2], { code: SEND_EX, input: exIn(0x30, ALL, 0n) }), st(HV_STATUS_SUCCESS));
  assert.deepEqual(took(p), { 0: [0x30], 2: [0x30], 65: [0x30] }, "sent from VP 65");
});

Deno.test("SendIpiEx: an empty sparse set -> 0 without delivering and without checking the vector (the probe's ipi.send_ex)", () => {
  const p = make();
  for (const v of [0x40, 0, 0x0f, 0x100, 0xffffffff]) {
    assert.deepEqual(call(p, { code: SEND_EX, input: exIn(v, SPARSE, 0n) }), st(HV_STATUS_SUCCESS), `vector ${v}`);
  }
  assert.deepEqual(call(p, { code: SEND_EX, input: new Uint8Array(24) }), st(HV_STATUS_SUCCESS), "hyperv_features.c: zeroed input -> 0");
  assert.deepEqual(took(p), none);
  // A present bank that names nobody is not "empty" for the vector check (KVM checks it once var_cnt != 0).
  assert.deepEqual(call(p, { code: SEND_EX, varHeaderQwords: 1, input: exIn(0x40, SPARSE, 0b1n, 0n) }), st(HV_STATUS_SUCCESS));
  assert.deepEqual(call(p, { code: SEND_EX, varHeaderQwords: 1, input: exIn(0x0f, SPARSE, 0b1n, 0n) }), st(HV_STATUS_INVALID_HYPERCALL_INPUT));
  assert.deepEqual(took(p), none);
});

Deno.test("SendIpiEx: bad vector -> 3 for sparse and ALL sets, nothing delivered", () => {
  const p = make();
  for (const v of [0, 0x0f, 0x100, 0x12345]) {
    assert.deepEqual(call(p, { code: SEND_EX, varHeaderQwords: 1, input: exIn(v, SPARSE, 0b1n, 0b101n) }), st(HV_STATUS_INVALID_HYPERCALL_INPUT), `sparse ${v}`);
    assert.deepEqual(call(p, { code: SEND_EX, input: exIn(v, ALL, 0n) }), st(HV_STATUS_INVALID_HYPERCALL_INPUT), `all ${v}`);
  }
  assert.deepEqual(took(p), none);
});

Deno.test("SendIpiEx: variable header != popcount(valid_bank_mask), > 64 or past the page; rep count; unknown format", () => {
  const p = make();
  const bad = st(HV_STATUS_INVALID_HYPERCALL_INPUT);
  assert.deepEqual(call(p, { code: SEND_EX, varHeaderQwords: 1, input: exIn(0xfe, SPARSE, 0n, 0b100n) }), bad, "var 1, mask 0");
  assert.deepEqual(call(p, { code: SEND_EX, varHeaderQwords: 1, input: exIn(0xfe, SPARSE, 0b111n, 0b100n) }), bad, "mask has 3 bits, var 1");
  assert.deepEqual(call(p, { code: SEND_EX, varHeaderQwords: 2, input: exIn(0xfe, SPARSE, 0b1n, 0b100n, 0n) }), bad, "mask has 1 bit, var 2");
  assert.deepEqual(call(p, { code: SEND_EX, varHeaderQwords: 1, input: exIn(0xfe, ALL, 0n, 0n) }), bad, "ALL: var must match too");
  const banks65 = Array.from({ length: 65 }, () => 0xffffffffffffffffn);
  assert.deepEqual(call(p, { code: SEND_EX, varHeaderQwords: 65, input: exIn(0xfe, SPARSE, 0xffffffffffffffffn, ...banks65) }), bad, "var 65 (in the page) > 64");
  // 24 + 8 * 600 bytes cross the input page: the dispatcher answers INVALID_ALIGNMENT before the handler
  // (KVM, which reads across pages, would answer 3 from the popcount mismatch).
  assert.deepEqual(call(p, { code: SEND_EX, varHeaderQwords: 600, input: exIn(0xfe, SPARSE, 0xffffffffffffffffn) }), st(HV_STATUS_INVALID_ALIGNMENT));
  assert.deepEqual(call(p, { code: SEND_EX, varHeaderQwords: 1023, input: exIn(0xfe, SPARSE, 0xffffffffffffffffn) }), st(HV_STATUS_INVALID_ALIGNMENT));
  assert.deepEqual(call(p, { code: SEND_EX, repCount: 1, input: exIn(0xfe, ALL, 0n) }), bad, "rep count on a variable call");
  for (const format of [2n, 0xffffffffn, 1n << 32n, 0xffffffffffffffffn]) {
    assert.deepEqual(call(p, { code: SEND_EX, varHeaderQwords: 1, input: exIn(0xfe, format, 0b1n, 0b101n) }), bad, `format ${format}`);
  }
  assert.deepEqual(call(p, { code: SEND_EX, varHeaderQwords: 1, input: exIn(0xfe, SPARSE, 0b1n), inputGpa: 0x10000 - 24 }), st(HV_STATUS_INVALID_ALIGNMENT), "banks past the page (and RAM)");
  assert.deepEqual(call(p, { code: SEND_EX, varHeaderQwords: 1, inputGpa: 0x10000 }), bad, "input outside RAM");
  assert.deepEqual(took(p), none);
});

Deno.test("SendIpiEx hostile banks: words naming VPs that do not exist deliver only to those that do", () => {
  const p = make();
  const M = 0xffffffffffffffffn;
  // Banks 0, 1, 5 and 63 fully set: 256 indices, of which 0, 2 and 65 exist.
  const mask = (1n << 63n) | (1n << 5n) | 0b11n;
  assert.deepEqual(call(p, { code: SEND_EX, varHeaderQwords: 4, input: exIn(0xfe, SPARSE, mask, M, M, M, M) }), st(HV_STATUS_SUCCESS));
  assert.deepEqual(took(p), { 0: [0xfe], 2: [0xfe], 65: [0xfe] });
  // Bank 0 names 1 and 3, bank 1 names 64 and 66: none exist.
  assert.deepEqual(call(p, { code: SEND_EX, varHeaderQwords: 2, input: exIn(0xfe, SPARSE, 0b11n, 0b1010n, 0b101n) }), st(HV_STATUS_SUCCESS));
  assert.deepEqual(took(p), none);
  // Bank 63 bit 63 (VP 4095), every bank full: still only the three VPs, once each.
  const all64 = Array.from({ length: 64 }, () => M);
  assert.deepEqual(call(p, { code: SEND_EX, varHeaderQwords: 64, input: exIn(0xfe, SPARSE, M, ...all64) }), st(HV_STATUS_SUCCESS));
  assert.deepEqual(took(p), { 0: [0xfe], 2: [0xfe], 65: [0xfe] });
});

Deno.test("SendIpiEx XMM-fast with xmm-input (RDX vector, R8 format, XMM0 mask/bank 0, XMM1 bank 1): VP 2, VP 65, both, ALL", () => {
  const p = make(["xmm-input"]);
  const fast = (v: number, format: bigint, mask: bigint, ...banks: bigint[]) =>
    call(p, { code: SEND_EX, fast: true, varHeaderQwords: banks.length, fastInput: [BigInt(v), format, mask, ...banks] });
  assert.deepEqual(fast(0xfe, SPARSE, 0b1n, 1n << 2n), st(HV_STATUS_SUCCESS));
  assert.deepEqual(took(p), { ...none, 2: [0xfe] });
  assert.deepEqual(fast(0xfe, SPARSE, 0b10n, 1n << 1n), st(HV_STATUS_SUCCESS));
  assert.deepEqual(took(p), { ...none, 65: [0xfe] });
  assert.deepEqual(fast(0xfe, SPARSE, 0b11n, 1n << 2n, 1n << 1n), st(HV_STATUS_SUCCESS));
  assert.deepEqual(took(p), { ...none, 2: [0xfe], 65: [0xfe] });
  assert.deepEqual(fast(0xfe, ALL, 0n), st(HV_STATUS_SUCCESS));
  assert.deepEqual(took(p), { 0: [0xfe], 2: [0xfe], 65: [0xfe] });
  assert.deepEqual(fast(0x0f, SPARSE, 0n), st(HV_STATUS_SUCCESS), "empty set, vector unchecked");
  assert.deepEqual(fast(0x0f, SPARSE, 0b1n, 1n << 2n), st(HV_STATUS_INVALID_HYPERCALL_INPUT));
  assert.deepEqual(fast(0x1fe, ALL, 0n), st(HV_STATUS_INVALID_HYPERCALL_INPUT));
  assert.deepEqual(call(p, { code: SEND_EX, fast: true, varHeaderQwords: 2, fastInput: [0xfen, SPARSE, 0b1n, 4n, 0n] }), st(HV_STATUS_INVALID_HYPERCALL_INPUT), "var 2, mask 1 bit");
  assert.deepEqual(took(p), none);
  // 11 banks (24 + 88 = 112 bytes, the XMM maximum): bank 1 in XMM1.lo names VP 65, bank 10 in XMM5.hi names VP 642.
  const banks = Array.from({ length: 11 }, (_, i) => (i === 1 ? 2n : i === 10 ? 4n : 0n));
  assert.deepEqual(fast(0xfe, SPARSE, 0x7ffn, ...banks), st(HV_STATUS_SUCCESS));
  assert.deepEqual(took(p), { ...none, 65: [0xfe] });
  // 12 banks do not fit in RDX, R8 and XMM0..5: the dispatcher answers 3.
  assert.deepEqual(fast(0xfe, SPARSE, 0xfffn, ...Array.from({ length: 12 }, () => 0n)), st(HV_STATUS_INVALID_HYPERCALL_INPUT));
  assert.deepEqual(took(p), none);
});

Deno.test("SendIpiEx fast without xmm-input -> #UD (even an empty set needs 24 bytes); SendIpi register-fast needs no XMM", () => {
  const p = make();
  assert.equal(call(p, { code: SEND_EX, fast: true, fastInput: [0xfen, SPARSE, 0n] }), "ud");
  assert.equal(call(p, { code: SEND_EX, fast: true, varHeaderQwords: 1, fastInput: [0xfen, SPARSE, 1n, 4n] }), "ud");
  assert.equal(call(p, { code: SEND_EX, fast: true, fastInput: [0xfen, ALL, 0n] }), "ud");
  assert.deepEqual(took(p), none);
  assert.deepEqual(call(p, { code: SEND, fast: true, fastInput: [0xfen, 4n] }), st(HV_STATUS_SUCCESS));
  assert.deepEqual(took(p), { ...none, 2: [0xfe] });
});

Deno.test("ALL reaches every VP of a dense partition too, and handlers are per partition", () => {
  const p = make([], [0, 1, 2, 3]);
  assert.deepEqual(hypercall(p.vps[3], { code: SEND_EX, input: exIn(0x31, ALL, 0n) }), st(HV_STATUS_SUCCESS));
  assert.deepEqual(p.vps.map((v) => v.interrupts.map((i) => i.vector)), [[0x31], [0x31], [0x31], [0x31]]);
  const q = make();
  assert.deepEqual(call(q, { code: SEND_EX, input: exIn(0x32, ALL, 0n) }), st(HV_STATUS_SUCCESS));
  assert.deepEqual(took(q), { 0: [0x32], 2: [0x32], 65: [0x32] });
});
