// The four remote TLB flush hypercalls through the testkit's real dispatcher: every status row of
// tlfs-conformance.md (b) for 0x0002/0x0003/0x0013/0x0014, the hyperv_tlb_flush.c targets (VP_INDEX 2
// and 65; slow and XMM-fast), and hostile inputs. `partition.flushes` records every flushTlb call.
import assert from "node:assert/strict";
import {
  HV_FLUSH_ALL_PROCESSORS,
  HV_FLUSH_ALL_VIRTUAL_ADDRESS_SPACES,
  HV_FLUSH_NON_GLOBAL_MAPPINGS_ONLY,
  HV_STATUS_INVALID_ALIGNMENT,
  HV_STATUS_INVALID_HYPERCALL_CODE,
  HV_STATUS_INVALID_HYPERCALL_INPUT,
  HV_STATUS_SUCCESS,
  HV_X64_MSR_GUEST_OS_ID,
  HvCallFlushVirtualAddressList,
  HvCallFlushVirtualAddressListEx,
  HvCallFlushVirtualAddressSpace,
  HvCallFlushVirtualAddressSpaceEx,
} from "@hv/tlfs";
import { hypercall, type HypercallRequest, TestPartition, wrmsr } from "@hv/testkit";

const SPACE = HvCallFlushVirtualAddressSpace;
const LIST = HvCallFlushVirtualAddressList;
const SPACE_EX = HvCallFlushVirtualAddressSpaceEx;
const LIST_EX = HvCallFlushVirtualAddressListEx;
const SPARSE = 0n, ALL = 1n;
const CR3 = 0x1234000n;
const M = 0xffffffffffffffffn;
const WS2022 = 0x0001040a00004f7cn;

const make = (extra: string[] = [], vpIndices = [0, 2, 65]) => {
  const p = TestPartition.create({ requested: ["tlbflush", ...extra], vpIndices, memoryBytes: 64 * 1024 });
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
const bad = st(HV_STATUS_INVALID_HYPERCALL_INPUT);
/** The flushTlb calls since the last look (and clears them). */
const flushed = (p: TestPartition) => p.flushes.splice(0);
const everyone = [[0, 2, 65]];
const popcount = (x: bigint) => [...x.toString(2)].filter((c) => c === "1").length;
const call = (p: TestPartition, req: HypercallRequest) => hypercall(p.vps[0], req);
/** Slow non-Ex input {address_space, flags, processor_mask, gva[]}. */
const flushIn = (flags: bigint, mask: bigint, ...gvas: bigint[]) => u64s(CR3, flags, mask, ...gvas);
/** Slow Ex input {address_space, flags, format, valid_bank_mask, banks..., gva[]}. */
const exIn = (flags: bigint, format: bigint, mask: bigint, ...rest: bigint[]) => u64s(CR3, flags, format, mask, ...rest);

Deno.test("FlushVirtualAddressSpace slow: exactly the named VPs (the caller too when named); flags other than ALL ignored", () => {
  const p = make();
  assert.deepEqual(call(p, { code: SPACE, input: flushIn(0n, 1n << 2n) }), st(HV_STATUS_SUCCESS));
  assert.deepEqual(flushed(p), [[2]]);
  assert.deepEqual(call(p, { code: SPACE, input: flushIn(BigInt(HV_FLUSH_NON_GLOBAL_MAPPINGS_ONLY | HV_FLUSH_ALL_VIRTUAL_ADDRESS_SPACES), 0b101n) }), st(HV_STATUS_SUCCESS));
  assert.deepEqual(flushed(p), [[0, 2]], "the caller flushes itself too when named");
  // 32-bit calling convention.
  assert.deepEqual(call(p, { code: SPACE, input: flushIn(0n, 1n << 2n), mode: { longMode: false } }), st(HV_STATUS_SUCCESS));
  assert.deepEqual(flushed(p), [[2]]);
});

Deno.test("FlushVirtualAddressSpace: processor_mask 0 (WS2012 workaround) and HV_FLUSH_ALL_PROCESSORS flush every VP", () => {
  const p = make();
  assert.deepEqual(call(p, { code: SPACE, input: flushIn(0n, 0n) }), st(HV_STATUS_SUCCESS));
  assert.deepEqual(flushed(p), everyone, "mask 0 = all (the probe's tlbflush.flush_space; hyperv_features.c zeroed input -> 0)");
  assert.deepEqual(call(p, { code: SPACE, input: flushIn(BigInt(HV_FLUSH_ALL_PROCESSORS), 1n << 2n) }), st(HV_STATUS_SUCCESS));
  assert.deepEqual(flushed(p), everyone, "flag wins over the mask");
  assert.deepEqual(call(p, { code: SPACE, input: flushIn(0xffffffffn, 0n) }), st(HV_STATUS_SUCCESS));
  assert.deepEqual(flushed(p), everyone);
  assert.deepEqual(hypercall(p.vps[2], { code: SPACE, input: flushIn(0n, 0n) }), st(HV_STATUS_SUCCESS));
  assert.deepEqual(flushed(p), everyone, "from VP 65 too");
});

Deno.test("FlushVirtualAddressSpace: mask bits of VPs that do not exist are passed on (flushTlb ignores them)", () => {
  const p = make();
  assert.deepEqual(call(p, { code: SPACE, input: flushIn(0n, (1n << 63n) | 0b110n) }), st(HV_STATUS_SUCCESS));
  assert.deepEqual(flushed(p), [[1, 2, 63]]);
  assert.deepEqual(call(p, { code: SPACE, input: flushIn(0n, M) }), st(HV_STATUS_SUCCESS));
  assert.deepEqual(flushed(p), [Array.from({ length: 64 }, (_, i) => i)]);
});

Deno.test("FlushVirtualAddressSpace: rep count, rep start or variable header -> 3; bad GPAs -> 4/3; no flush", () => {
  const p = make();
  assert.deepEqual(call(p, { code: SPACE, repCount: 1, input: flushIn(0n, 4n) }), bad);
  assert.deepEqual(call(p, { code: SPACE, repStart: 1, input: flushIn(0n, 4n) }), bad);
  assert.deepEqual(call(p, { code: SPACE, varHeaderQwords: 1, input: flushIn(0n, 4n) }), bad);
  assert.deepEqual(call(p, { code: SPACE, inputGpa: 0x1004 }), st(HV_STATUS_INVALID_ALIGNMENT));
  assert.deepEqual(call(p, { code: SPACE, inputGpa: 0x1ff0 }), st(HV_STATUS_INVALID_ALIGNMENT), "24 bytes across a page");
  assert.deepEqual(call(p, { code: SPACE, inputGpa: 0x10000 }), bad, "outside RAM");
  assert.deepEqual(flushed(p), []);
});

Deno.test("FlushVirtualAddressSpace XMM-fast: #UD without xmm-input; with it RDX = AS, R8 = flags, XMM0.lo = mask", () => {
  const p = make();
  assert.equal(call(p, { code: SPACE, fast: true, fastInput: [CR3, 0n, 4n] }), "ud");
  assert.equal(call(p, { code: SPACE, fast: true }), "ud", "hyperv_features.c: fast flush without 3.EDX[4]");
  assert.deepEqual(flushed(p), []);
  const x = make(["xmm-input"]);
  assert.deepEqual(call(x, { code: SPACE, fast: true }), st(HV_STATUS_SUCCESS), "... and 0 with it");
  assert.deepEqual(flushed(x), everyone);
  assert.deepEqual(call(x, { code: SPACE, fast: true, fastInput: [CR3, 0n, 1n << 2n] }), st(HV_STATUS_SUCCESS));
  assert.deepEqual(flushed(x), [[2]]);
  assert.deepEqual(call(x, { code: SPACE, fast: true, fastInput: [CR3, BigInt(HV_FLUSH_ALL_PROCESSORS), 1n << 2n] }), st(HV_STATUS_SUCCESS));
  assert.deepEqual(flushed(x), everyone);
});

Deno.test("FlushVirtualAddressList: reps completed = rep count; rep 0, rep start != 0 or a variable header -> 3", () => {
  const p = make();
  for (const reps of [1, 2, 7, 509]) {
    const gvas = Array.from({ length: reps }, (_, i) => 0x200000n + BigInt(i) * 0x1000n + 0xfffn);
    assert.deepEqual(call(p, { code: LIST, repCount: reps, input: flushIn(0n, 1n << 2n, ...gvas) }), st(HV_STATUS_SUCCESS, reps), `${reps} reps`);
    assert.deepEqual(flushed(p), [[2]], "one full flush, whatever the list");
  }
  assert.deepEqual(call(p, { code: LIST, repCount: 2, input: flushIn(0n, 0n, 0n, 0n) }), st(HV_STATUS_SUCCESS, 2));
  assert.deepEqual(flushed(p), everyone, "mask 0 = all");
  assert.deepEqual(call(p, { code: LIST, input: flushIn(0n, 4n) }), bad, "rep count 0");
  assert.deepEqual(call(p, { code: LIST, repCount: 2, repStart: 1, input: flushIn(0n, 4n, 0n, 0n) }), bad, "rep start 1");
  assert.deepEqual(call(p, { code: LIST, repCount: 2, repStart: 2, input: flushIn(0n, 4n, 0n, 0n) }), bad, "rep start = rep count");
  assert.deepEqual(call(p, { code: LIST, repCount: 2, varHeaderQwords: 1, input: flushIn(0n, 4n, 0n, 0n) }), bad, "variable header");
  assert.deepEqual(call(p, { code: LIST, repCount: 510 }), st(HV_STATUS_INVALID_ALIGNMENT), "24 + 8 * 510 bytes cross the page");
  assert.deepEqual(call(p, { code: LIST, repCount: 4095 }), st(HV_STATUS_INVALID_ALIGNMENT));
  assert.deepEqual(flushed(p), []);
});

Deno.test("FlushVirtualAddressList XMM-fast: up to 11 GVAs after the mask; more -> 3; #UD without xmm-input", () => {
  const p = make(["xmm-input"]);
  assert.deepEqual(call(p, { code: LIST, fast: true, repCount: 2, fastInput: [CR3, 0n, 1n << 2n, 0x200000n, 0x300000n] }), st(HV_STATUS_SUCCESS, 2));
  assert.deepEqual(flushed(p), [[2]]);
  assert.deepEqual(call(p, { code: LIST, fast: true, repCount: 11, fastInput: [CR3, 0n, 1n] }), st(HV_STATUS_SUCCESS, 11), "24 + 88 = 112 bytes");
  assert.deepEqual(flushed(p), [[0]]);
  assert.deepEqual(call(p, { code: LIST, fast: true, repCount: 12, fastInput: [CR3, 0n, 1n] }), bad, "120 bytes do not fit");
  assert.deepEqual(call(p, { code: LIST, fast: true, repCount: 2, repStart: 1, fastInput: [CR3, 0n, 1n] }), bad);
  assert.deepEqual(flushed(p), []);
  const q = make();
  assert.equal(call(q, { code: LIST, fast: true, repCount: 1, fastInput: [CR3, 0n, 1n] }), "ud");
  assert.deepEqual(flushed(q), []);
});

Deno.test("FlushVirtualAddressSpaceEx slow: VP 2 (bank 0), VP 65 (bank 1), both; ALL; empty sparse set -> 0 without a flush", () => {
  const p = make();
  assert.deepEqual(call(p, { code: SPACE_EX, varHeaderQwords: 1, input: exIn(0n, SPARSE, 0b1n, 1n << 2n) }), st(HV_STATUS_SUCCESS));
  assert.deepEqual(flushed(p), [[2]]);
  assert.deepEqual(call(p, { code: SPACE_EX, varHeaderQwords: 1, input: exIn(0n, SPARSE, 0b10n, 1n << 1n) }), st(HV_STATUS_SUCCESS));
  assert.deepEqual(flushed(p), [[65]]);
  assert.deepEqual(call(p, { code: SPACE_EX, varHeaderQwords: 2, input: exIn(0n, SPARSE, 0b11n, 1n << 2n, 1n << 1n) }), st(HV_STATUS_SUCCESS));
  assert.deepEqual(flushed(p), [[2, 65]]);
  assert.deepEqual(call(p, { code: SPACE_EX, input: exIn(0n, ALL, 0n) }), st(HV_STATUS_SUCCESS));
  assert.deepEqual(flushed(p), everyone);
  assert.deepEqual(call(p, { code: SPACE_EX, input: exIn(0n, SPARSE, 0n) }), st(HV_STATUS_SUCCESS), "the probe's tlbflush.flush_space_ex");
  assert.deepEqual(call(p, { code: SPACE_EX, input: new Uint8Array(32) }), st(HV_STATUS_SUCCESS), "hyperv_features.c zeroed input");
  assert.deepEqual(flushed(p), [], "an empty set flushes nothing");
  assert.deepEqual(call(p, { code: SPACE_EX, varHeaderQwords: 1, input: exIn(0n, SPARSE, 0b1n, 0n) }), st(HV_STATUS_SUCCESS));
  assert.deepEqual(flushed(p), [], "a present bank naming nobody");
});

Deno.test("FlushVirtualAddressSpaceEx: HV_FLUSH_ALL_PROCESSORS and unknown formats flush every VP", () => {
  const p = make();
  assert.deepEqual(call(p, { code: SPACE_EX, varHeaderQwords: 1, input: exIn(BigInt(HV_FLUSH_ALL_PROCESSORS), SPARSE, 0b1n, 1n << 2n) }), st(HV_STATUS_SUCCESS));
  assert.deepEqual(flushed(p), everyone);
  assert.deepEqual(call(p, { code: SPACE_EX, input: exIn(BigInt(HV_FLUSH_ALL_PROCESSORS), SPARSE, 0n) }), st(HV_STATUS_SUCCESS));
  assert.deepEqual(flushed(p), everyone, "the flag makes even an empty set 'all' (more than KVM flushes, which is allowed)");
  for (const format of [2n, 0xffffffffn, 1n << 32n, M]) {
    assert.deepEqual(call(p, { code: SPACE_EX, varHeaderQwords: 1, input: exIn(0n, format, 0b1n, 1n << 2n) }), st(HV_STATUS_SUCCESS), `format ${format}`);
    assert.deepEqual(flushed(p), everyone, "KVM: format != SPARSE_4K means all");
  }
});

Deno.test("FlushVirtualAddressSpaceEx: var != popcount(valid_bank_mask), > 64, past the page; rep count -> 3/4, no flush", () => {
  const p = make();
  assert.deepEqual(call(p, { code: SPACE_EX, varHeaderQwords: 1, input: exIn(0n, SPARSE, 0n, 4n) }), bad, "the probe's bad_varhead");
  assert.deepEqual(call(p, { code: SPACE_EX, varHeaderQwords: 1, input: exIn(0n, SPARSE, 0b111n, 4n) }), bad, "mask has more bits than var");
  assert.deepEqual(call(p, { code: SPACE_EX, varHeaderQwords: 2, input: exIn(0n, SPARSE, 0b1n, 4n, 0n) }), bad, "mask has fewer bits than var");
  assert.deepEqual(call(p, { code: SPACE_EX, varHeaderQwords: 1, input: exIn(0n, ALL, 0n, 0n) }), bad, "ALL must be consistent too");
  assert.deepEqual(call(p, { code: SPACE_EX, varHeaderQwords: 1, input: exIn(BigInt(HV_FLUSH_ALL_PROCESSORS), SPARSE, 0n, 0n) }), bad, "even with the flag (KVM)");
  assert.deepEqual(call(p, { code: SPACE_EX, varHeaderQwords: 65, input: exIn(0n, SPARSE, M, ...Array.from({ length: 65 }, () => M)) }), bad, "var 65 > 64");
  assert.deepEqual(call(p, { code: SPACE_EX, varHeaderQwords: 509, input: exIn(0n, SPARSE, M) }), st(HV_STATUS_INVALID_ALIGNMENT), "32 + 8 * 509 bytes cross the page");
  assert.deepEqual(call(p, { code: SPACE_EX, varHeaderQwords: 1023, input: exIn(0n, SPARSE, M) }), st(HV_STATUS_INVALID_ALIGNMENT));
  assert.deepEqual(call(p, { code: SPACE_EX, repCount: 1, input: exIn(0n, ALL, 0n) }), bad, "rep count on a variable call");
  assert.deepEqual(flushed(p), []);
});

Deno.test("FlushVirtualAddressSpaceEx hostile banks: VPs that do not exist are passed on, capped at 4096 indices", () => {
  const p = make();
  assert.deepEqual(call(p, { code: SPACE_EX, varHeaderQwords: 2, input: exIn(0n, SPARSE, (1n << 63n) | 1n, 0b1010n, 1n << 63n) }), st(HV_STATUS_SUCCESS));
  assert.deepEqual(flushed(p), [[1, 3, 4095]]);
  assert.deepEqual(call(p, { code: SPACE_EX, varHeaderQwords: 64, input: exIn(0n, SPARSE, M, ...Array.from({ length: 64 }, () => M)) }), st(HV_STATUS_SUCCESS));
  const [all] = flushed(p);
  assert.equal(all.length, 4096);
  assert.deepEqual([all[0], all[2], all[65], all[4095]], [0, 2, 65, 4095]);
});

Deno.test("FlushVirtualAddressListEx: union of the List and Ex rules; reps completed = rep count", () => {
  const p = make();
  assert.deepEqual(call(p, { code: LIST_EX, varHeaderQwords: 1, repCount: 3, input: exIn(0n, SPARSE, 0b10n, 1n << 1n, 0x1000n, 0x2000n, 0x3fffn) }), st(HV_STATUS_SUCCESS, 3));
  assert.deepEqual(flushed(p), [[65]]);
  assert.deepEqual(call(p, { code: LIST_EX, repCount: 2, input: exIn(0n, SPARSE, 0n, 0x200000n, 0x201000n) }), st(HV_STATUS_SUCCESS, 2), "the probe's tlbflush.flush_list_ex");
  assert.deepEqual(flushed(p), [], "empty set");
  assert.deepEqual(call(p, { code: LIST_EX, repCount: 1, input: exIn(0n, ALL, 0n, 0n) }), st(HV_STATUS_SUCCESS, 1));
  assert.deepEqual(flushed(p), everyone);
  assert.deepEqual(call(p, { code: LIST_EX, input: exIn(0n, SPARSE, 0n) }), bad, "rep count 0");
  assert.deepEqual(call(p, { code: LIST_EX, repCount: 3, repStart: 1, input: exIn(0n, SPARSE, 0n, 0n, 0n, 0n) }), bad, "rep start 1");
  assert.deepEqual(call(p, { code: LIST_EX, varHeaderQwords: 1, repCount: 1, input: exIn(0n, SPARSE, 0n, 4n, 0n) }), bad, "var != popcount");
  assert.deepEqual(call(p, { code: LIST_EX, varHeaderQwords: 2, repCount: 1, input: exIn(0n, SPARSE, 0b1n, 4n, 0n, 0n) }), bad, "var != popcount");
  assert.deepEqual(call(p, { code: LIST_EX, varHeaderQwords: 64, repCount: 448, input: exIn(0n, SPARSE, M) }), st(HV_STATUS_INVALID_ALIGNMENT), "header + banks + reps cross the page");
  assert.deepEqual(flushed(p), []);
});

Deno.test("Ex XMM-fast with xmm-input (RDX AS, R8 flags, XMM0 format/mask, XMM1.. banks then GVAs); #UD without it", () => {
  const p = make(["xmm-input"]);
  const fast = (code: number, reps: number, format: bigint, mask: bigint, ...rest: bigint[]) =>
    call(p, { code, fast: true, repCount: reps, varHeaderQwords: popcount(mask), fastInput: [CR3, 0n, format, mask, ...rest] });
  assert.deepEqual(fast(SPACE_EX, 0, SPARSE, 0b1n, 1n << 2n), st(HV_STATUS_SUCCESS));
  assert.deepEqual(flushed(p), [[2]]);
  assert.deepEqual(fast(SPACE_EX, 0, SPARSE, 0b10n, 1n << 1n), st(HV_STATUS_SUCCESS));
  assert.deepEqual(flushed(p), [[65]]);
  assert.deepEqual(fast(SPACE_EX, 0, SPARSE, 0b11n, 1n << 2n, 1n << 1n), st(HV_STATUS_SUCCESS));
  assert.deepEqual(flushed(p), [[2, 65]]);
  assert.deepEqual(fast(SPACE_EX, 0, ALL, 0n), st(HV_STATUS_SUCCESS));
  assert.deepEqual(flushed(p), everyone);
  assert.deepEqual(fast(SPACE_EX, 0, SPARSE, 0n), st(HV_STATUS_SUCCESS));
  assert.deepEqual(flushed(p), [], "empty set");
  assert.deepEqual(fast(LIST_EX, 2, SPARSE, 0b11n, 1n << 2n, 1n << 1n, 0x1000n, 0x2000n), st(HV_STATUS_SUCCESS, 2));
  assert.deepEqual(flushed(p), [[2, 65]]);
  // 32 + 8 * 10 banks = 112 bytes: bank 9 is the last qword (XMM5.hi); bank 1 names VP 65.
  const banks = Array.from({ length: 10 }, (_, i) => (i === 1 ? 2n : i === 9 ? 1n : 0n));
  assert.deepEqual(fast(SPACE_EX, 0, SPARSE, 0x3ffn, ...banks), st(HV_STATUS_SUCCESS));
  assert.deepEqual(flushed(p), [[65, 576]]);
  assert.deepEqual(fast(LIST_EX, 1, SPARSE, 0x3ffn, ...banks), bad, "one GVA more does not fit");
  assert.deepEqual(call(p, { code: SPACE_EX, fast: true, varHeaderQwords: 1, fastInput: [CR3, 0n, SPARSE, 0n, 4n] }), bad, "var != popcount");
  assert.deepEqual(flushed(p), []);
  const q = make();
  assert.equal(call(q, { code: SPACE_EX, fast: true, fastInput: [CR3, 0n, SPARSE, 0n] }), "ud");
  assert.equal(call(q, { code: LIST_EX, fast: true, repCount: 1, varHeaderQwords: 1, fastInput: [CR3, 0n, SPARSE, 1n, 4n, 0n] }), "ud");
  assert.deepEqual(flushed(q), []);
});

Deno.test("without tlbflush composed, the flush calls answer 2 (the guest falls back to IPIs)", () => {
  const p = TestPartition.create({ requested: ["vpindex"], memoryBytes: 64 * 1024 });
  assert.equal(wrmsr(p.vps[0], HV_X64_MSR_GUEST_OS_ID, WS2022), "ok");
  for (const code of [SPACE, SPACE_EX]) assert.deepEqual(hypercall(p.vps[0], { code, input: new Uint8Array(32) }), st(HV_STATUS_INVALID_HYPERCALL_CODE));
  for (const code of [LIST, LIST_EX]) assert.deepEqual(hypercall(p.vps[0], { code, repCount: 1, input: new Uint8Array(40) }), st(HV_STATUS_INVALID_HYPERCALL_CODE));
  assert.deepEqual(p.flushes, []);
});

Deno.test("'all' covers every VP of a dense partition; one flushTlb call per hypercall", () => {
  const p = make([], [0, 1, 2, 3]);
  assert.deepEqual(hypercall(p.vps[3], { code: SPACE, input: flushIn(0n, 0n) }), st(HV_STATUS_SUCCESS));
  assert.deepEqual(hypercall(p.vps[1], { code: LIST_EX, repCount: 4, input: exIn(0n, ALL, 0n, 1n, 2n, 3n, 4n) }), st(HV_STATUS_SUCCESS, 4));
  assert.deepEqual(flushed(p), [[0, 1, 2, 3], [0, 1, 2, 3]]);
});
