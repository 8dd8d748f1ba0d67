import assert from "node:assert/strict";
import { Exit, Schema } from "effect";
import {
  HV_CPUID_ENLIGHTMENT_INFO,
  HV_SPINLOCK_RETRIES_NEVER_NOTIFY,
  HV_STATUS_ACCESS_DENIED,
  HV_STATUS_INVALID_ALIGNMENT,
  HV_STATUS_INVALID_HYPERCALL_CODE,
  HV_STATUS_INVALID_HYPERCALL_INPUT,
  HV_STATUS_SUCCESS,
  HV_X64_MSR_GUEST_OS_ID,
  HvCallNotifyLongSpinWait,
} from "@hv/tlfs";
import { cpuidOf, HYPERCALL_NOT_MINE, newHypercallInput } from "@hv/x86";
import { hypercall, TestPartition, wrmsr } from "@hv/testkit";
import { longSpinWaitOffered, SpinlockRetries, spinlocks, spinlocksHandlers } from "../mod.ts";

Deno.test("spinlocks sets 0x40000004.EBX to the retry count and claims HvCallNotifyLongSpinWait", () => {
  assert.deepEqual(cpuidOf(spinlocks, { retries: 0x1fff }).registers, [{ leaf: 0x40000004, register: "ebx", value: 0x1fff, mode: "set" }]);
  assert.deepEqual(spinlocks.hypercalls.map((h) => [h.code, h.name, h.kind]), [[0x0008, "HvCallNotifyLongSpinWait", "simple"]]);
  assert.equal(spinlocks.params?.retries.default, 0x1fff);
});

Deno.test("spinlock retries parse decimal and hex within 0xfff..0xffffffff", () => {
  const parse = (s: string) => Schema.decodeUnknownExit(SpinlockRetries)(s);
  const v = parse("8191");
  assert.ok(Exit.isSuccess(v) && v.value === 8191);
  assert.ok(Exit.isFailure(parse("banana")));
  assert.ok(Exit.isFailure(parse("4094")));
});

const WS2022 = 0x0001040a00004f7cn;
const make = (set?: Record<string, string>, o: { vpCount?: number } = {}) => {
  const p = TestPartition.create({ requested: ["spinlocks"], set, memoryBytes: 64 * 1024, ...o });
  assert.equal(wrmsr(p.vps[0], HV_X64_MSR_GUEST_OS_ID, WS2022), "ok");
  return p;
};
const st = (status: number) => ({ status, repsCompleted: 0 });

Deno.test("HvCallNotifyLongSpinWait (retries 0x1fff): fast and slow calls yield the caller's CPU and return SUCCESS", () => {
  const p = make({ spinlocks: "0x1fff" }, { vpCount: 2 });
  const [a, b] = p.vps;
  assert.equal(p.cpuidLeaf(HV_CPUID_ENLIGHTMENT_INFO).ebx, 0x1fff);
  assert.deepEqual(hypercall(a, { code: HvCallNotifyLongSpinWait, fast: true, fastInput: [1n] }), st(HV_STATUS_SUCCESS));
  assert.equal(a.yields, 1);
  assert.deepEqual(hypercall(b, { code: HvCallNotifyLongSpinWait, input: new Uint8Array(8) }), st(HV_STATUS_SUCCESS), "slow");
  assert.equal(b.yields, 1);
  assert.equal(a.yields, 1, "only the caller yields");
  assert.deepEqual(hypercall(a, { code: HvCallNotifyLongSpinWait, fast: true, fastInput: [0xffffffffffffffffn, 0xdeadn] }), st(HV_STATUS_SUCCESS), "spin count ignored");
  assert.equal(a.yields, 2);
});

Deno.test("HvCallNotifyLongSpinWait: rep or variable header -> 3, bad slow GPAs -> 3/4, reserved bits -> 3; none of them yields", () => {
  const p = make();
  const vp = p.vps[0];
  assert.deepEqual(hypercall(vp, { code: HvCallNotifyLongSpinWait, fast: true, repCount: 1 }), st(HV_STATUS_INVALID_HYPERCALL_INPUT));
  assert.deepEqual(hypercall(vp, { code: HvCallNotifyLongSpinWait, fast: true, varHeaderQwords: 1 }), st(HV_STATUS_INVALID_HYPERCALL_INPUT));
  assert.deepEqual(hypercall(vp, { code: HvCallNotifyLongSpinWait, inputGpa: 0x10000 }), st(HV_STATUS_INVALID_HYPERCALL_INPUT), "input outside RAM");
  assert.deepEqual(hypercall(vp, { code: HvCallNotifyLongSpinWait, inputGpa: 0x1004 }), st(HV_STATUS_INVALID_ALIGNMENT));
  assert.deepEqual(hypercall(vp, { control: BigInt(HvCallNotifyLongSpinWait) | (1n << 16n) | (1n << 60n) }), st(HV_STATUS_INVALID_HYPERCALL_INPUT));
  assert.equal(vp.yields, 0);
  assert.equal(hypercall(vp, { code: HvCallNotifyLongSpinWait, fast: true, mode: { cpl: 3 } }), "ud");
  assert.equal(vp.yields, 0);
});

Deno.test("retries 0xFFFFFFFF (never notify): the call is not offered -> ACCESS_DENIED, no yield", () => {
  const p = make({ spinlocks: "0xffffffff" });
  assert.equal(p.cpuidLeaf(HV_CPUID_ENLIGHTMENT_INFO).ebx, HV_SPINLOCK_RETRIES_NEVER_NOTIFY);
  assert.deepEqual(hypercall(p.vps[0], { code: HvCallNotifyLongSpinWait, fast: true, fastInput: [1n] }), st(HV_STATUS_ACCESS_DENIED));
  assert.deepEqual(hypercall(p.vps[0], { code: HvCallNotifyLongSpinWait }), st(HV_STATUS_ACCESS_DENIED));
  assert.equal(p.vps[0].yields, 0);
});

Deno.test("retries 0 (not reachable from the command line): ACCESS_DENIED from the handler; 0xfff is offered", () => {
  assert.equal(longSpinWaitOffered(0), false);
  assert.equal(longSpinWaitOffered(HV_SPINLOCK_RETRIES_NEVER_NOTIFY), false);
  assert.equal(longSpinWaitOffered(0xfff), true);
  assert.equal(longSpinWaitOffered(0xfffffffe), true);
  const p = make();
  const vp = p.vps[0];
  const call = newHypercallInput();
  call.code = HvCallNotifyLongSpinWait;
  call.fast = true;
  assert.equal(spinlocksHandlers(0).hypercall!(vp, call), HV_STATUS_ACCESS_DENIED);
  assert.equal(vp.yields, 0);
  assert.equal(spinlocksHandlers(0xfff).hypercall!(vp, call), HV_STATUS_SUCCESS);
  assert.equal(vp.yields, 1);
  call.code = HvCallNotifyLongSpinWait + 1;
  assert.equal(spinlocksHandlers(0xfff).hypercall!(vp, call), HYPERCALL_NOT_MINE);
  assert.equal(vp.yields, 1);
});

Deno.test("without hv-spinlocks composed 0x0008 is an unknown code (2); before GUEST_OS_ID it is no hypercall at all", () => {
  const p = TestPartition.create({ requested: ["reset"] });
  assert.equal(hypercall(p.vps[0], { code: HvCallNotifyLongSpinWait, fast: true }), "not-hypercall");
  assert.equal(wrmsr(p.vps[0], HV_X64_MSR_GUEST_OS_ID, WS2022), "ok");
  assert.deepEqual(hypercall(p.vps[0], { code: HvCallNotifyLongSpinWait, fast: true }), st(HV_STATUS_INVALID_HYPERCALL_CODE));
  assert.equal(p.vps[0].yields, 0);
  const q = TestPartition.create({ requested: ["spinlocks"] });
  assert.equal(hypercall(q.vps[0], { code: HvCallNotifyLongSpinWait, fast: true }), "not-hypercall");
  assert.equal(q.vps[0].yields, 0);
});

Deno.test("spinlocks declares no state; the default composition offers the call (0x1fff)", () => {
  assert.equal(spinlocks.state, undefined);
  const p = make();
  assert.equal(p.cpuidLeaf(HV_CPUID_ENLIGHTMENT_INFO).ebx, 0x1fff);
  assert.deepEqual(hypercall(p.vps[0], { code: HvCallNotifyLongSpinWait, fast: true }), st(HV_STATUS_SUCCESS));
});
