import assert from "node:assert/strict";
import { cpuidOf } from "@hv/x86";
import {
  HV_FLUSH_USE_EXTENDED_RANGE_FORMAT,
  HV_STATUS_SUCCESS,
  HV_X64_MSR_GUEST_OS_ID,
  HvCallFlushVirtualAddressList,
  HvCallFlushVirtualAddressListEx,
} from "@hv/tlfs";
import { hypercall, TestPartition, wrmsr } from "@hv/testkit";
import { tlbflushExt } from "../mod.ts";

Deno.test("tlbflush-ext sets 0x40000003.EDX[14], requires tlbflush", () => {
  assert.deepEqual(cpuidOf(tlbflushExt, {}).set?.map((b) => [b.leaf, b.register, b.bit]), [[0x40000003, "edx", 14]]);
  assert.deepEqual(tlbflushExt.requires, ["tlbflush"]);
  assert.deepEqual(tlbflushExt.hypercalls, []);
  assert.deepEqual(tlbflushExt.formats.libvirt, { hyperv: "tlbflush", child: "extended" });
  assert.ok("unsupported" in tlbflushExt.formats.kubevirt);
});

// No code of its own: tlbflush flushes every translation, so extended-format ranges are honoured as is.
const u64s = (...q: bigint[]) => {
  const b = new Uint8Array(8 * q.length);
  const v = new DataView(b.buffer);
  q.forEach((x, i) => v.setBigUint64(8 * i, BigInt.asUintN(64, x), true));
  return b;
};

Deno.test("tlbflush-ext composes tlbflush and adds no handler; extended-range lists flush the named VPs with every rep completed", () => {
  const p = TestPartition.create({ requested: ["tlbflush-ext"], vpIndices: [0, 2, 65], memoryBytes: 64 * 1024 });
  assert.deepEqual(p.composition.enlightenments.map((e) => e.name).filter((n) => n.startsWith("tlbflush")).sort(), ["tlbflush", "tlbflush-ext"]);
  assert.equal(tlbflushExt.create, undefined);
  assert.equal((p.cpuidLeaf(0x40000003).edx >>> 14) & 1, 1);
  assert.equal(wrmsr(p.vps[0], HV_X64_MSR_GUEST_OS_ID, 0x0001040a00004f7cn), "ok");
  const ext = BigInt(HV_FLUSH_USE_EXTENDED_RANGE_FORMAT);
  // Extended entries: large-page bit and long page counts in the low 12 bits; any encoding is covered by a full flush.
  const gvas = [0x200000n | 0x800n | 0x7ffn, 0xffff800000000000n | 0xfffn, 0x40000000n];
  assert.deepEqual(
    hypercall(p.vps[0], { code: HvCallFlushVirtualAddressList, repCount: 3, input: u64s(0x1000n, ext, 1n << 2n, ...gvas) }),
    { status: HV_STATUS_SUCCESS, repsCompleted: 3 },
  );
  assert.deepEqual(
    hypercall(p.vps[0], { code: HvCallFlushVirtualAddressListEx, repCount: 2, varHeaderQwords: 1, input: u64s(0x1000n, ext, 0n, 0b10n, 0b10n, gvas[0], gvas[1]) }),
    { status: HV_STATUS_SUCCESS, repsCompleted: 2 },
  );
  assert.deepEqual(p.flushes, [[2], [65]]);
});
