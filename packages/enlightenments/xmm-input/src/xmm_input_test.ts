import assert from "node:assert/strict";
import {
  HV_STATUS_INVALID_HYPERCALL_INPUT,
  HV_STATUS_SUCCESS,
  HV_X64_MSR_GUEST_OS_ID,
  HvCallFlushVirtualAddressList,
  HvCallFlushVirtualAddressListEx,
  HvCallFlushVirtualAddressSpace,
  HvCallFlushVirtualAddressSpaceEx,
  HvCallSendSyntheticClusterIpi,
  HvCallSendSyntheticClusterIpiEx,
} from "@hv/tlfs";
import { cpuidOf } from "@hv/x86";
import { hypercall, TestPartition, wrmsr } from "@hv/testkit";
import { xmmInput } from "../mod.ts";

Deno.test("xmm-input sets 0x40000003.EDX[4] and claims nothing", () => {
  assert.deepEqual(cpuidOf(xmmInput, {}).set?.map((b) => [b.leaf, b.register, b.bit, b.name]), [
    [0x40000003, "edx", 4, "XmmRegistersForFastHypercallAvailable"],
  ]);
  assert.deepEqual(xmmInput.requires, []);
  assert.deepEqual(xmmInput.msrs, []);
  assert.deepEqual(xmmInput.hypercalls, []);
  assert.deepEqual(xmmInput.formats.libvirt, { hyperv: "xmm_input" });
});

// No code of its own: the dispatcher fills fastInput words 4..27 from XMM0..5, and the ipi/tlbflush
// handlers read their VP sets (and skip their GVA lists) from there. VPs at VP_INDEX 0, 2 and 65.
const partition = (withXmm: boolean) => {
  const p = TestPartition.create({ requested: ["ipi", "tlbflush", ...(withXmm ? ["xmm-input"] : [])], vpIndices: [0, 2, 65], memoryBytes: 64 * 1024 });
  assert.equal(wrmsr(p.vps[0], HV_X64_MSR_GUEST_OS_ID, 0x0001040a00004f7cn), "ok");
  return p;
};
const ok = (repsCompleted = 0) => ({ status: HV_STATUS_SUCCESS, repsCompleted });
const vectors = (p: TestPartition) => p.vps.map((v) => v.interrupts.splice(0).map((i) => i.vector));

Deno.test("with xmm-input, the XMM-fast Ex forms read banks from XMM1..XMM5 (fastInput words beyond R8)", () => {
  const p = partition(true);
  const vp = p.vps[0];
  // SendIpiEx: RDX vector, R8 format, XMM0 = {valid_bank_mask, bank 0}, XMM1.lo = bank 1 (VP 65).
  assert.deepEqual(hypercall(vp, { code: HvCallSendSyntheticClusterIpiEx, fast: true, varHeaderQwords: 2, fastInput: [0xfen, 0n, 0b11n, 0b100n, 0b10n] }), ok());
  assert.deepEqual(vectors(p), [[], [0xfe], [0xfe]]);
  // 11 banks (112 bytes): only bank 1 (XMM1.lo) is non-zero: VP 65; bank 10 (XMM5.hi) names absent VP 640.
  const banks = Array.from({ length: 11 }, (_, i) => (i === 1 ? 2n : i === 10 ? 1n : 0n));
  assert.deepEqual(hypercall(vp, { code: HvCallSendSyntheticClusterIpiEx, fast: true, varHeaderQwords: 11, fastInput: [0xfen, 0n, 0x7ffn, ...banks] }), ok());
  assert.deepEqual(vectors(p), [[], [], [0xfe]]);
  // FlushSpace: XMM0.lo = processor_mask. FlushSpaceEx: XMM0 = {format, mask}, XMM1.lo = bank 0, XMM1.hi = bank 1.
  assert.deepEqual(hypercall(vp, { code: HvCallFlushVirtualAddressSpace, fast: true, fastInput: [0n, 0n, 0b100n] }), ok());
  assert.deepEqual(hypercall(vp, { code: HvCallFlushVirtualAddressSpaceEx, fast: true, varHeaderQwords: 2, fastInput: [0n, 0n, 0n, 0b11n, 0b100n, 0b10n] }), ok());
  // ListEx: bank in XMM1.lo, then 8 GVAs up to XMM5.hi.
  const gvas = Array.from({ length: 8 }, (_, i) => BigInt(0x200000 + i * 0x1000));
  assert.deepEqual(hypercall(vp, { code: HvCallFlushVirtualAddressListEx, fast: true, varHeaderQwords: 1, repCount: 8, fastInput: [0n, 0n, 0n, 0b10n, 0b10n, ...gvas] }), ok(8));
  assert.deepEqual(hypercall(vp, { code: HvCallFlushVirtualAddressList, fast: true, repCount: 11, fastInput: [0n, 0n, 0b1n] }), ok(11));
  assert.deepEqual(p.flushes, [[2], [2, 65], [65], [0]]);
  // Over 112 bytes -> 3.
  assert.deepEqual(hypercall(vp, { code: HvCallFlushVirtualAddressList, fast: true, repCount: 12, fastInput: [0n, 0n, 0b1n] }), { status: HV_STATUS_INVALID_HYPERCALL_INPUT, repsCompleted: 0 });
});

Deno.test("without xmm-input every XMM-fast form is #UD, nothing delivered or flushed; register-fast SendIpi still works", () => {
  const p = partition(false);
  const vp = p.vps[0];
  assert.equal(hypercall(vp, { code: HvCallSendSyntheticClusterIpiEx, fast: true, fastInput: [0xfen, 1n, 0n] }), "ud");
  assert.equal(hypercall(vp, { code: HvCallSendSyntheticClusterIpiEx, fast: true, varHeaderQwords: 1, fastInput: [0xfen, 0n, 1n, 4n] }), "ud");
  assert.equal(hypercall(vp, { code: HvCallFlushVirtualAddressSpace, fast: true, fastInput: [0n, 0n, 4n] }), "ud");
  assert.equal(hypercall(vp, { code: HvCallFlushVirtualAddressList, fast: true, repCount: 1, fastInput: [0n, 0n, 4n, 0n] }), "ud");
  assert.equal(hypercall(vp, { code: HvCallFlushVirtualAddressSpaceEx, fast: true, fastInput: [0n, 0n, 1n, 0n] }), "ud");
  assert.equal(hypercall(vp, { code: HvCallFlushVirtualAddressListEx, fast: true, repCount: 1, fastInput: [0n, 0n, 1n, 0n, 0n] }), "ud");
  assert.deepEqual(vectors(p), [[], [], []]);
  assert.deepEqual(p.flushes, []);
  assert.deepEqual(hypercall(vp, { code: HvCallSendSyntheticClusterIpi, fast: true, fastInput: [0xfen, 0b101n] }), ok());
  assert.deepEqual(vectors(p), [[0xfe], [0xfe], []]);
});
