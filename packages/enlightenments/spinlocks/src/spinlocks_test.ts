import assert from "node:assert/strict";
import { Exit, Schema } from "effect";
import { cpuidOf } from "@hv/x86";
import { SpinlockRetries, spinlocks } from "../mod.ts";

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
