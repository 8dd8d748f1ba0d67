// The core hypercall ABI and partition MSRs of @hv/dispatch, exercised through the testkit exactly
// as the emulator drives them (tlfs-conformance.md (a) rows GUEST_OS_ID/HYPERCALL/VP_INDEX, (b) order of checks).
import assert from "node:assert/strict";
import {
  HV_STATUS_ACCESS_DENIED,
  HV_STATUS_INVALID_ALIGNMENT,
  HV_STATUS_INVALID_HYPERCALL_CODE,
  HV_STATUS_INVALID_HYPERCALL_INPUT,
  HV_X64_MSR_GUEST_OS_ID,
  HV_X64_MSR_HYPERCALL,
  HV_X64_MSR_VP_INDEX,
  HV_X64_MSR_SCONTROL,
  HV_STATUS_SUCCESS,
  HvPrivilegeEax,
  HvRecommendationEax,
  HvCallFlushVirtualAddressSpace,
} from "@hv/tlfs";
import { builtins } from "@hv/builtins";
import { definePlugin } from "@hv/x86";
import { hypercall, rdmsr, TESTKIT_HYPERCALL_PORT, TestPartition, wrmsr } from "../mod.ts";

const WIN2012 = 0x00010406020023f0n;
const live = (p: TestPartition) => assert.equal(wrmsr(p.vps[0], HV_X64_MSR_GUEST_OS_ID, WIN2012), "ok");

Deno.test("GUEST_OS_ID is partition-wide and read back as written", () => {
  const p = TestPartition.create({ vpCount: 2 });
  assert.equal(rdmsr(p.vps[1], HV_X64_MSR_GUEST_OS_ID), 0n);
  live(p);
  assert.equal(rdmsr(p.vps[1], HV_X64_MSR_GUEST_OS_ID), WIN2012);
  assert.equal(wrmsr(p.vps[0], HV_X64_MSR_GUEST_OS_ID, 0x8100000601c00000n), "ok");
  assert.equal(rdmsr(p.vps[0], HV_X64_MSR_GUEST_OS_ID), 0x8100000601c00000n, "bit 63 survives");
});

Deno.test("HYPERCALL: dropped while GUEST_OS_ID is 0; enabling writes the stub; #GP outside RAM; clearing GUEST_OS_ID disables", () => {
  const p = TestPartition.create({ memoryBytes: 64 * 1024 });
  const vp = p.vps[0];
  assert.equal(wrmsr(vp, HV_X64_MSR_HYPERCALL, 0x3001n), "ok");
  assert.equal(rdmsr(vp, HV_X64_MSR_HYPERCALL), 0n, "silently dropped");
  assert.equal(p.memory.readU8(0x3000), 0, "no stub written");
  live(p);
  assert.equal(wrmsr(vp, HV_X64_MSR_HYPERCALL, 0x3001n), "ok");
  assert.equal(rdmsr(vp, HV_X64_MSR_HYPERCALL), 0x3001n);
  assert.deepEqual([...p.memory.slice(0x3000, 4)!], [0xe7, TESTKIT_HYPERCALL_PORT, 0xc3, 0xcc], "OUT imm8,EAX; RET; INT3 fill");
  assert.equal(wrmsr(vp, HV_X64_MSR_HYPERCALL, (1n << 40n) | 1n), "gp", "page outside RAM");
  assert.equal(wrmsr(vp, HV_X64_MSR_HYPERCALL, 0xfffff001n), "gp", "page just past RAM");
  assert.equal(rdmsr(vp, HV_X64_MSR_HYPERCALL), 0x3001n, "unchanged by the refused writes");
  assert.equal(wrmsr(vp, HV_X64_MSR_GUEST_OS_ID, 0n), "ok");
  assert.equal(rdmsr(vp, HV_X64_MSR_HYPERCALL), 0x3000n, "enable cleared");
  assert.equal(hypercall(vp, { code: 0xffff }), "not-hypercall");
});

Deno.test("VP_INDEX reads each VP's index (sparse indices too) and #GPs on write; unknown synthetic MSRs #GP", () => {
  const p = TestPartition.create({ vpIndices: [0, 65] });
  assert.equal(rdmsr(p.vps[0], HV_X64_MSR_VP_INDEX), 0n);
  assert.equal(rdmsr(p.vps[1], HV_X64_MSR_VP_INDEX), 65n);
  assert.equal(wrmsr(p.vps[1], HV_X64_MSR_VP_INDEX, 1n), "gp");
  assert.equal(rdmsr(p.vps[0], 0x400000f0), "gp", "GUEST_IDLE is not composed");
  assert.equal(rdmsr(p.vps[0], HV_X64_MSR_SCONTROL), "gp", "synic not composed");
  assert.equal(rdmsr(p.vps[0], 0x40000200), "gp", "outside the routed range");
});

Deno.test("hypercall ABI: #UD outside ring 0 and in real mode; unknown code 2; reserved bits 3", () => {
  const p = TestPartition.create();
  const vp = p.vps[0];
  live(p);
  assert.equal(hypercall(vp, { code: 0xffff, mode: { cpl: 3 } }), "ud");
  assert.equal(hypercall(vp, { code: 0xffff, mode: { protectedMode: false, longMode: false } }), "ud");
  assert.deepEqual(hypercall(vp, { code: 0xffff }), { status: HV_STATUS_INVALID_HYPERCALL_CODE, repsCompleted: 0 });
  assert.deepEqual(hypercall(vp, { code: 0xbeef, fast: true }), { status: HV_STATUS_INVALID_HYPERCALL_CODE, repsCompleted: 0 });
  for (const bit of [27n, 31n, 44n, 47n, 60n, 63n]) {
    assert.deepEqual(hypercall(vp, { control: 0xffffn | (1n << bit) }), { status: HV_STATUS_INVALID_HYPERCALL_INPUT, repsCompleted: 0 }, `bit ${bit}`);
  }
  // 32-bit convention: EDX:EAX control, result in EDX:EAX.
  assert.deepEqual(hypercall(vp, { code: 0xffff, mode: { longMode: false } }), { status: HV_STATUS_INVALID_HYPERCALL_CODE, repsCompleted: 0 });
});

// A third-party-style plugin with one simple, one rep and one gated hypercall, to exercise the generic rules.
const probe = definePlugin({
  name: "abi-probe",
  summary: "test",
  requires: [],
  cpuid: { set: [HvRecommendationEax.UseRelaxedTiming] },
  msrs: [],
  hypercalls: [
    { code: 0x0101, name: "Simple", kind: "simple", fast: "allowed", inputBytes: 16, outputBytes: 8 },
    { code: 0x0102, name: "Rep", kind: "rep", fast: "never", inputBytes: 8, outputBytes: 0, repInputBytes: 8 },
    { code: 0x0103, name: "Gated", kind: "simple", fast: "allowed", inputBytes: 0, outputBytes: 0, gate: HvPrivilegeEax.AccessReenlightenmentControls },
    { code: 0x0104, name: "Xmm", kind: "variable", fast: "xmm", inputBytes: 24, outputBytes: 0 },
  ],
  emulator: { supported: true },
  passthrough: { capabilities: [] },
  formats: { qemu: { property: "hv-abi-probe" }, libvirt: { unsupported: "-" }, kubevirt: { unsupported: "-" } },
  docs: { description: "", guestGains: "", windows: "", sources: [] },
  create: () => ({
    hypercall(_vp, call) {
      seen.push({ ...call, fastInput: [...call.fastInput.subarray(0, 8)] });
      call.repsCompleted = call.repCount;
      return call.code === 0x0101 && !call.fast ? 0x11 : HV_STATUS_SUCCESS;
    },
  }),
});
const seen: Record<string, unknown>[] = [];
const abi = (memoryBytes = 64 * 1024) => {
  const p = TestPartition.create({ registry: [...builtins, probe], requested: ["abi-probe"], memoryBytes });
  live(p);
  seen.length = 0;
  return p;
};
const st = (status: number, repsCompleted = 0) => ({ status, repsCompleted });

Deno.test("descriptor rules: rep/variable misuse is 3; the handler sees validated GPAs and fast input", () => {
  const p = abi();
  const vp = p.vps[0];
  assert.deepEqual(hypercall(vp, { code: 0x0101, repCount: 1 }), st(HV_STATUS_INVALID_HYPERCALL_INPUT));
  assert.deepEqual(hypercall(vp, { code: 0x0101, varHeaderQwords: 1 }), st(HV_STATUS_INVALID_HYPERCALL_INPUT));
  assert.deepEqual(hypercall(vp, { code: 0x0102 }), st(HV_STATUS_INVALID_HYPERCALL_INPUT), "rep call with rep count 0");
  assert.deepEqual(hypercall(vp, { code: 0x0102, repCount: 2, repStart: 2 }), st(HV_STATUS_INVALID_HYPERCALL_INPUT));
  assert.deepEqual(hypercall(vp, { code: 0x0102, repCount: 3, fast: true }), st(HV_STATUS_INVALID_HYPERCALL_INPUT), "slow-only");
  assert.equal(seen.length, 0, "no handler ran for a refused call");
  assert.deepEqual(hypercall(vp, { code: 0x0102, repCount: 3, repStart: 1 }), st(0, 3), "reps completed reported");
  assert.deepEqual(hypercall(vp, { code: 0x0101, inputGpa: 0x1000, outputGpa: 0x2008 }), st(0x11));
  assert.equal(seen.at(-1)!.inputGpa, 0x1000);
  assert.equal(seen.at(-1)!.outputGpa, 0x2008);
  assert.deepEqual(hypercall(vp, { code: 0x0101, fast: true, fastInput: [0x1122334455667788n, 0x99n] }), st(0));
  assert.deepEqual(seen.at(-1)!.fastInput, [0x55667788, 0x11223344, 0x99, 0, 0, 0, 0, 0]);
});

Deno.test("slow GPAs: misaligned or page-crossing is 4, outside RAM is 3 (inputs and outputs)", () => {
  const vp = abi().vps[0];
  assert.deepEqual(hypercall(vp, { code: 0x0101, inputGpa: 0x1004 }), st(HV_STATUS_INVALID_ALIGNMENT));
  assert.deepEqual(hypercall(vp, { code: 0x0101, inputGpa: 0x1ff8 }), st(HV_STATUS_INVALID_ALIGNMENT), "16 bytes cross the page");
  assert.deepEqual(hypercall(vp, { code: 0x0101, outputGpa: 0x2004 }), st(HV_STATUS_INVALID_ALIGNMENT));
  assert.deepEqual(hypercall(vp, { code: 0x0101, inputGpa: 0x10000 }), st(HV_STATUS_INVALID_HYPERCALL_INPUT), "just past RAM");
  assert.deepEqual(hypercall(vp, { code: 0x0101, inputGpa: 2 ** 52 }), st(HV_STATUS_INVALID_HYPERCALL_INPUT));
  assert.deepEqual(hypercall(vp, { code: 0x0101, outputGpa: 2 ** 60 }), st(HV_STATUS_INVALID_HYPERCALL_INPUT));
  assert.deepEqual(hypercall(vp, { code: 0x0102, repCount: 0xfff, inputGpa: 0x1000 }), st(HV_STATUS_INVALID_ALIGNMENT), "4095 reps cannot fit a page");
  assert.equal(seen.length, 0);
});

Deno.test("gates: a claim whose gate bit is not advertised answers ACCESS_DENIED; XMM input needs hv-xmm-input", () => {
  const vp = abi().vps[0];
  assert.deepEqual(hypercall(vp, { code: 0x0103 }), st(HV_STATUS_ACCESS_DENIED));
  assert.equal(hypercall(vp, { code: 0x0104, fast: true }), "ud", "24-byte fast input needs XMM");
  const x = TestPartition.create({ registry: [...builtins, probe], requested: ["abi-probe", "xmm-input"] });
  live(x);
  seen.length = 0;
  assert.deepEqual(hypercall(x.vps[0], { code: 0x0104, fast: true, fastInput: [1n, 2n, 3n] }), st(0));
  assert.deepEqual(seen.at(-1)!.fastInput, [1, 0, 2, 0, 3, 0, 0, 0]);
});

Deno.test("a claimed hypercall whose plugin has no behaviour answers INVALID_HYPERCALL_CODE (the guest falls back)", () => {
  const mute = definePlugin({ ...probe, name: "mute", create: undefined, hypercalls: [probe.hypercalls[0]] });
  const p = TestPartition.create({ registry: [...builtins, mute], requested: ["mute"], memoryBytes: 64 * 1024 });
  live(p);
  assert.deepEqual(hypercall(p.vps[0], { code: 0x0101 }), st(HV_STATUS_INVALID_HYPERCALL_CODE));
  const t = TestPartition.create({ requested: ["tlbflush"], memoryBytes: 64 * 1024 });
  live(t);
  assert.equal(hypercall(t.vps[0], { code: HvCallFlushVirtualAddressSpace, fast: true }), "ud", "XMM-fast flush without hv-xmm-input");
});

Deno.test("an MSR whose gate bit the composition does not advertise takes #GP, even though a plugin claims it", () => {
  const gated = definePlugin({
    ...probe,
    name: "gated",
    hypercalls: [],
    cpuid: {},
    msrs: [{ index: 0x400000f0, name: "HV_X64_MSR_GUEST_IDLE", access: "rw", gate: HvPrivilegeEax.AccessGuestIdleReg }],
    create: () => ({ rdmsr: (_vp, m) => ((m.lo = 1), 0) }),
  });
  const p = TestPartition.create({ registry: [...builtins, gated], requested: ["gated"] });
  assert.equal(rdmsr(p.vps[0], 0x400000f0), "gp");
  const open = definePlugin({ ...gated, name: "open", cpuid: { set: [HvPrivilegeEax.AccessGuestIdleReg] } });
  const q = TestPartition.create({ registry: [...builtins, open], requested: ["open"] });
  assert.equal(rdmsr(q.vps[0], 0x400000f0), 1n);
});

Deno.test("testkit timers: armed deadlines fire in order on advance, with the clock and TSC at each deadline", () => {
  const fired: string[] = [];
  const ticker = definePlugin({
    ...probe,
    name: "ticker",
    hypercalls: [],
    timers: { perVp: 2 },
    create: ({ partition }) => ({
      onTimer(vp, timer) {
        fired.push(`${vp.index}/${timer}@${partition.timers.now()} tsc=${vp.guestTsc()}`);
        if (timer === 1 && fired.length < 4) partition.timers.arm("ticker", vp.index, 1, partition.timers.now() + 1000);
      },
    }),
  });
  const p = TestPartition.create({ registry: [...builtins, ticker], requested: ["ticker"], vpCount: 2, tscHz: 2e9 });
  p.timers.arm("ticker", 1, 0, 2500);
  p.timers.arm("ticker", 0, 1, 1500);
  p.timers.arm("ticker", 0, 0, 9000);
  p.timers.cancel("ticker", 0, 0);
  p.advanceTime(4000);
  assert.deepEqual(fired, ["0/1@1500 tsc=3000", "1/0@2500 tsc=5000", "0/1@2500 tsc=5000", "0/1@3500 tsc=7000"]);
  assert.equal(p.timers.now(), 4000);
  assert.equal(p.tsc, 8000);
});
