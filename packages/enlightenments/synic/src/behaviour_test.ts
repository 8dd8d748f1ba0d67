// The SynIC's behaviour through @hv/testkit, i.e. through the real dispatch tables: every MSR row of
// tlfs-conformance.md (a), message and event delivery, the PostMessage/SignalEvent rows of (b), the
// hyperv-testdev backend, hostile inputs, and save/restore.
import assert from "node:assert/strict";
import {
  HV_STATUS_INSUFFICIENT_BUFFERS,
  HV_STATUS_INVALID_CONNECTION_ID,
  HV_STATUS_INVALID_HYPERCALL_INPUT,
  HV_STATUS_INVALID_PARAMETER,
  HV_STATUS_INVALID_PORT_ID,
  HV_STATUS_SUCCESS,
  HV_X64_MSR_EOM,
  HV_X64_MSR_GUEST_OS_ID,
  HV_X64_MSR_SCONTROL,
  HV_X64_MSR_SIEFP,
  HV_X64_MSR_SIMP,
  HV_X64_MSR_SVERSION,
  HvCallPostMessage,
  HvCallSignalEvent,
  HVMSG_TIMER_EXPIRED,
  hvMsrSint,
} from "@hv/tlfs";
import { HypervTestDev, type HypervTestDevBackend } from "@hv/devices";
import { hypercall, rdmsr, TestPartition, type TestPartition as TP, type TestVp, wrmsr } from "@hv/testkit";
import {
  addSynicEomListener,
  createSynicEventConnection,
  createSynicMessageConnection,
  destroySynicMessageConnection,
  postSynicMessage,
  signalSynicEvent,
  SYNIC_MESSAGE_QUEUE_DEPTH,
  synicConnections,
  synicMessageQueued,
  synicQueuedMessages,
  synicTestDevBackend,
} from "../mod.ts";

const WS2022 = 0x0001040a00004f7cn;
const SIMP = 0x10000, SIEFP = 0x11000; // VP n uses SIMP + n * 0x2000 and SIEFP + n * 0x2000
const simpOf = (n: number) => SIMP + n * 0x2000;
const siefpOf = (n: number) => SIEFP + n * 0x2000;
const st = (status: number) => ({ status, repsCompleted: 0 });

/** A partition with synic (and vpindex), GUEST_OS_ID set, every VP's SIMP/SIEFP enabled. */
function partition(vpCount = 1, opts: { pages?: boolean } = {}): TP {
  const p = TestPartition.create({ requested: ["synic"], vpCount });
  assert.equal(wrmsr(p.vps[0], HV_X64_MSR_GUEST_OS_ID, WS2022), "ok");
  if (opts.pages ?? true) {
    p.vps.forEach((vp, n) => {
      assert.equal(wrmsr(vp, HV_X64_MSR_SIMP, simpOf(n) | 1), "ok");
      assert.equal(wrmsr(vp, HV_X64_MSR_SIEFP, siefpOf(n) | 1), "ok");
    });
  }
  return p;
}

/** The 256-byte slot of `sint` in VP n's SIMP page, decoded. */
function slot(p: TP, n: number, sint: number) {
  const at = simpOf(n) + sint * 256;
  const m = p.memory;
  return {
    type: m.readU32(at),
    size: m.readU8(at + 4),
    flags: m.readU8(at + 5),
    sender: [m.readU32(at + 8), m.readU32(at + 12)],
    payload: [...m.slice(at + 16, 240)!],
  };
}
/** The guest frees the slot (Linux vmbus_signal_eom: message_type = HVMSG_NONE). */
const freeSlot = (p: TP, n: number, sint: number) => p.memory.writeU32(simpOf(n) + sint * 256, 0);
const words = (...w: number[]) => Uint32Array.from(w);
const unmask = (vp: TestVp, sint: number, vector: number, extra = 0) =>
  assert.equal(wrmsr(vp, hvMsrSint(sint), vector | extra), "ok");

// ------------------------------------------------------------------------------------------ MSRs

Deno.test("SCONTROL: 1 at power-on, any value read back", () => {
  const vp = partition(1, { pages: false }).vps[0];
  assert.equal(rdmsr(vp, HV_X64_MSR_SCONTROL), 1n);
  for (const v of [0n, 0xffffffffffffffffn, 0x8000000000000001n, 1n]) {
    assert.equal(wrmsr(vp, HV_X64_MSR_SCONTROL, v), "ok");
    assert.equal(rdmsr(vp, HV_X64_MSR_SCONTROL), v);
  }
});

Deno.test("SVERSION reads 1; WRMSR #GPs and changes nothing", () => {
  const vp = partition(1, { pages: false }).vps[0];
  assert.equal(rdmsr(vp, HV_X64_MSR_SVERSION), 1n);
  assert.equal(wrmsr(vp, HV_X64_MSR_SVERSION, 1n), "gp");
  assert.equal(wrmsr(vp, HV_X64_MSR_SVERSION, 2n), "gp");
  assert.equal(rdmsr(vp, HV_X64_MSR_SVERSION), 1n);
});

Deno.test("SIMP/SIEFP: 0 at power-on; gpa|1 and reserved bits 11:1 read back; disabled values are free", () => {
  const vp = partition(1, { pages: false }).vps[0];
  for (const msr of [HV_X64_MSR_SIMP, HV_X64_MSR_SIEFP]) {
    assert.equal(rdmsr(vp, msr), 0n);
    assert.equal(wrmsr(vp, msr, 0x5001n), "ok");
    assert.equal(rdmsr(vp, msr), 0x5001n);
    assert.equal(wrmsr(vp, msr, 0x5ffen | 1n), "ok", "bits 11:1 are not checked (KVM)");
    assert.equal(rdmsr(vp, msr), 0x5fffn);
    assert.equal(wrmsr(vp, msr, 0xfffffffffffff000n), "ok", "disabled: any GPA");
    assert.equal(rdmsr(vp, msr), 0xfffffffffffff000n);
    assert.equal(wrmsr(vp, msr, 0n), "ok");
  }
});

Deno.test("SIMP/SIEFP hostile: enabling a page outside RAM, straddling its end or above 2^52 #GPs and keeps the old value", () => {
  const p = partition(1, { pages: false });
  const vp = p.vps[0];
  const ram = BigInt(p.memory.size);
  for (const msr of [HV_X64_MSR_SIMP, HV_X64_MSR_SIEFP]) {
    assert.equal(wrmsr(vp, msr, 0x7001n), "ok");
    for (const bad of [ram | 1n, (ram + 0x1000n) | 1n, 0xfffffffffffff001n, (1n << 52n) | 1n, (1n << 32n) | 1n]) {
      assert.equal(wrmsr(vp, msr, bad), "gp", `0x${bad.toString(16)}`);
      assert.equal(rdmsr(vp, msr), 0x7001n);
    }
    assert.equal(wrmsr(vp, msr, (ram - 0x1000n) | 1n), "ok", "the last page of RAM");
  }
});

Deno.test("EOM: reads 0, any write accepted", () => {
  const vp = partition().vps[0];
  assert.equal(rdmsr(vp, HV_X64_MSR_EOM), 0n);
  for (const v of [0n, 1n, 0xffffffffffffffffn]) assert.equal(wrmsr(vp, HV_X64_MSR_EOM, v), "ok");
  assert.equal(rdmsr(vp, HV_X64_MSR_EOM), 0n);
});

Deno.test("SINT0..15: 0x10000 at power-on; stored as written; only an unmasked vector < 16 #GPs", () => {
  const vp = partition(1, { pages: false }).vps[0];
  for (let n = 0; n < 16; n++) assert.equal(rdmsr(vp, hvMsrSint(n)), 0x10000n);
  for (let n = 0; n < 16; n++) {
    assert.equal(wrmsr(vp, hvMsrSint(n), 0x10050n), "ok");
    assert.equal(rdmsr(vp, hvMsrSint(n)), 0x10050n);
    for (const v of [0x0fn, 0n, 0x20000n, 0x4000fn, 0xffffffff0000000fn]) {
      assert.equal(wrmsr(vp, hvMsrSint(n), v), "gp", `SINT${n}=0x${v.toString(16)}`);
      assert.equal(rdmsr(vp, hvMsrSint(n)), 0x10050n);
    }
    for (const v of [0x10000n, 0x1000fn, 0x10n, 0x300ffn, 0xffffffffffffffffn, 0x70010n]) {
      assert.equal(wrmsr(vp, hvMsrSint(n), v), "ok", `SINT${n}=0x${v.toString(16)}`);
      assert.equal(rdmsr(vp, hvMsrSint(n)), v);
    }
  }
});

Deno.test("synic MSRs are per VP", () => {
  const p = partition(2, { pages: false });
  assert.equal(wrmsr(p.vps[1], hvMsrSint(3), 0x40n), "ok");
  assert.equal(wrmsr(p.vps[1], HV_X64_MSR_SCONTROL, 0n), "ok");
  assert.equal(rdmsr(p.vps[0], hvMsrSint(3)), 0x10000n);
  assert.equal(rdmsr(p.vps[0], HV_X64_MSR_SCONTROL), 1n);
});

// -------------------------------------------------------------------------------------- messages

Deno.test("postSynicMessage writes the HV_MESSAGE into the SINT's slot and raises its vector", () => {
  const p = partition();
  const vp = p.vps[0];
  unmask(vp, 2, 0xb0);
  const payload = words(7, 0x11223344, 0x55667788, 0xaabbccdd, 0x01020304, 0x05060708);
  assert.equal(postSynicMessage(vp, 2, HVMSG_TIMER_EXPIRED, payload, 24), "delivered");
  const s = slot(p, 0, 2);
  assert.equal(s.type, HVMSG_TIMER_EXPIRED);
  assert.equal(s.size, 24);
  assert.equal(s.flags, 0);
  assert.deepEqual(s.sender, [0, 0]);
  assert.deepEqual(s.payload.slice(0, 8), [7, 0, 0, 0, 0x44, 0x33, 0x22, 0x11]);
  assert.ok(s.payload.slice(24).every((b) => b === 0));
  assert.deepEqual(vp.interrupts, [{ vector: 0xb0, autoEoi: false }]);
  assert.equal(slot(p, 0, 1).type, 0, "other slots untouched");
});

Deno.test("a payload of 5 bytes copies exactly 5 bytes; 0 bytes copies none", () => {
  const p = partition();
  unmask(p.vps[0], 0, 0x30);
  assert.equal(postSynicMessage(p.vps[0], 0, 1, words(0xffffffff, 0xffffffff), 5), "delivered");
  assert.deepEqual(slot(p, 0, 0).payload.slice(0, 9), [0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
  freeSlot(p, 0, 0);
  assert.equal(postSynicMessage(p.vps[0], 0, 2, words(0xffffffff), 0), "delivered");
  assert.ok(slot(p, 0, 0).payload.every((b) => b === 0));
});

Deno.test("a busy slot: msg_pending is set, the message waits, and EOM after the guest frees the slot delivers it", () => {
  const p = partition();
  const vp = p.vps[0];
  unmask(vp, 5, 0x50);
  assert.equal(postSynicMessage(vp, 5, 0x100, words(1), 4), "delivered");
  assert.equal(postSynicMessage(vp, 5, 0x200, words(2), 4), "pending");
  assert.equal(vp.interrupts.length, 1, "no interrupt for a queued message");
  let s = slot(p, 0, 5);
  assert.equal(s.type, 0x100, "the first message stays");
  assert.equal(s.flags & 1, 1, "message_pending set meanwhile");
  assert.equal(synicQueuedMessages(vp, 5), 1);

  assert.equal(wrmsr(vp, HV_X64_MSR_EOM, 0n), "ok");
  assert.equal(slot(p, 0, 5).type, 0x100, "EOM with the slot still busy changes nothing");
  assert.equal(vp.interrupts.length, 1);

  freeSlot(p, 0, 5);
  assert.equal(wrmsr(vp, HV_X64_MSR_EOM, 0n), "ok");
  s = slot(p, 0, 5);
  assert.equal(s.type, 0x200);
  assert.equal(s.payload[0], 2);
  assert.equal(s.flags, 0, "nothing else waits");
  assert.deepEqual(vp.interrupts.at(-1), { vector: 0x50, autoEoi: false });
  assert.equal(vp.interrupts.length, 2);
  assert.equal(synicQueuedMessages(vp, 5), 0);
});

Deno.test("queued messages come out in order, each with msg_pending while more wait; a full queue is busy", () => {
  const p = partition();
  const vp = p.vps[0];
  unmask(vp, 1, 0x41);
  assert.equal(postSynicMessage(vp, 1, 1, words(), 0), "delivered");
  for (let i = 0; i < SYNIC_MESSAGE_QUEUE_DEPTH; i++) {
    assert.equal(postSynicMessage(vp, 1, 10 + i, words(), 0), "pending");
  }
  assert.equal(postSynicMessage(vp, 1, 99, words(), 0), "busy");
  for (let i = 0; i < SYNIC_MESSAGE_QUEUE_DEPTH; i++) {
    freeSlot(p, 0, 1);
    assert.equal(wrmsr(vp, HV_X64_MSR_EOM, 0n), "ok");
    const s = slot(p, 0, 1);
    assert.equal(s.type, 10 + i);
    assert.equal(s.flags, i < SYNIC_MESSAGE_QUEUE_DEPTH - 1 ? 1 : 0);
  }
  assert.equal(vp.interrupts.length, 1 + SYNIC_MESSAGE_QUEUE_DEPTH);
});

Deno.test("a freed slot with messages still queued (no EOM yet): a new post goes behind them", () => {
  const p = partition();
  const vp = p.vps[0];
  unmask(vp, 0, 0x40);
  postSynicMessage(vp, 0, 1, words(), 0);
  assert.equal(postSynicMessage(vp, 0, 2, words(), 0), "pending");
  freeSlot(p, 0, 0);
  assert.equal(postSynicMessage(vp, 0, 3, words(), 0), "pending");
  assert.equal(slot(p, 0, 0).type, 2, "the older message took the slot");
  assert.equal(slot(p, 0, 0).flags & 1, 1);
  freeSlot(p, 0, 0);
  wrmsr(vp, HV_X64_MSR_EOM, 0n);
  assert.equal(slot(p, 0, 0).type, 3);
});

Deno.test("tags: one queued message per tag (stimer semantics); synicMessageQueued tracks it", () => {
  const p = partition();
  const vp = p.vps[0];
  unmask(vp, 3, 0x60);
  assert.equal(postSynicMessage(vp, 3, HVMSG_TIMER_EXPIRED, words(), 0, 1), "delivered");
  assert.equal(synicMessageQueued(vp, 3, 1), false, "delivered, not queued");
  assert.equal(postSynicMessage(vp, 3, HVMSG_TIMER_EXPIRED, words(), 0, 1), "pending");
  assert.equal(synicMessageQueued(vp, 3, 1), true);
  assert.equal(postSynicMessage(vp, 3, HVMSG_TIMER_EXPIRED, words(), 0, 1), "busy");
  assert.equal(postSynicMessage(vp, 3, HVMSG_TIMER_EXPIRED, words(), 0, 2), "pending", "another tag still fits");
  freeSlot(p, 0, 3);
  wrmsr(vp, HV_X64_MSR_EOM, 0n);
  assert.equal(synicMessageQueued(vp, 3, 1), false);
  assert.equal(synicMessageQueued(vp, 3, 2), true);
  assert.equal(synicMessageQueued(vp, 3, 0), false, "tag 0 is 'none'");
});

Deno.test("a masked SINT: the message is written, no interrupt; polling guests see it", () => {
  const p = partition();
  const vp = p.vps[0];
  assert.equal(postSynicMessage(vp, 4, 0x77, words(), 0), "masked");
  assert.equal(slot(p, 0, 4).type, 0x77);
  assert.equal(wrmsr(vp, hvMsrSint(4), 0x10080n), "ok", "masked with a vector");
  freeSlot(p, 0, 4);
  assert.equal(postSynicMessage(vp, 4, 0x78, words(), 0), "masked");
  assert.deepEqual(vp.interrupts, []);
});

Deno.test("auto-EOI (SINT bit 17) is passed to requestInterrupt", () => {
  const p = partition();
  const vp = p.vps[0];
  unmask(vp, 6, 0xc0, 0x20000);
  assert.equal(postSynicMessage(vp, 6, 1, words(), 0), "delivered");
  assert.equal(signalSynicEvent(vp, 6, 9), "delivered");
  assert.deepEqual(vp.interrupts, [{ vector: 0xc0, autoEoi: true }, { vector: 0xc0, autoEoi: true }]);
});

Deno.test("SCONTROL disabled or SIMP disabled: messages are dropped ('disabled'), nothing written or raised", () => {
  const p = partition();
  const vp = p.vps[0];
  unmask(vp, 0, 0x40);
  assert.equal(wrmsr(vp, HV_X64_MSR_SCONTROL, 0n), "ok");
  assert.equal(postSynicMessage(vp, 0, 1, words(), 0), "disabled");
  assert.equal(signalSynicEvent(vp, 0, 0), "disabled");
  assert.equal(slot(p, 0, 0).type, 0);
  assert.equal(p.memory.readU32(siefpOf(0)), 0);
  assert.equal(wrmsr(vp, HV_X64_MSR_SCONTROL, 1n), "ok");
  assert.equal(wrmsr(vp, HV_X64_MSR_SIMP, simpOf(0)), "ok", "page disabled, GPA kept");
  assert.equal(postSynicMessage(vp, 0, 1, words(), 0), "disabled");
  assert.equal(wrmsr(vp, HV_X64_MSR_SIEFP, siefpOf(0)), "ok");
  assert.equal(signalSynicEvent(vp, 0, 0), "disabled");
  assert.deepEqual(vp.interrupts, []);
});

Deno.test("postSynicMessage/signalSynicEvent refuse bad arguments as 'disabled'", () => {
  const vp = partition().vps[0];
  for (const sint of [-1, 16, 1.5, NaN]) {
    assert.equal(postSynicMessage(vp, sint, 1, words(), 0), "disabled");
    assert.equal(signalSynicEvent(vp, sint, 0), "disabled");
  }
  for (const bytes of [-1, 241, 0xffffffff, 2.5]) assert.equal(postSynicMessage(vp, 0, 1, words(), bytes), "disabled");
  for (const flag of [-1, 2048, 0xffff, 0.5]) assert.equal(signalSynicEvent(vp, 0, flag), "disabled");
});

Deno.test("EOM listeners run after redelivery, on the VP that wrote EOM", () => {
  const p = partition(2);
  const seen: number[] = [];
  addSynicEomListener(p, (vp) => seen.push(vp.index));
  wrmsr(p.vps[1], HV_X64_MSR_EOM, 0n);
  wrmsr(p.vps[0], HV_X64_MSR_EOM, 5n);
  assert.deepEqual(seen, [1, 0]);
});

// ---------------------------------------------------------------------------------------- events

Deno.test("event flags: bit `flag` of the SINT's 256-byte area; the SINT is raised only on 0 -> 1", () => {
  const p = partition();
  const vp = p.vps[0];
  unmask(vp, 3, 0x70);
  assert.equal(signalSynicEvent(vp, 3, 37), "delivered");
  assert.equal(p.memory.readU8(siefpOf(0) + 3 * 256 + 4), 1 << 5, "byte 37>>3, bit 37&7");
  assert.equal(signalSynicEvent(vp, 3, 37), "coalesced");
  assert.equal(vp.interrupts.length, 1);
  assert.equal(signalSynicEvent(vp, 3, 2047), "delivered");
  assert.equal(p.memory.readU8(siefpOf(0) + 3 * 256 + 255), 0x80);
  assert.equal(vp.interrupts.length, 2);
  // The guest consumes flag 37 (sync_test_and_clear_bit) and it can fire again.
  p.memory.writeU8(siefpOf(0) + 3 * 256 + 4, 0);
  assert.equal(signalSynicEvent(vp, 3, 37), "delivered");
  assert.deepEqual(vp.interrupts, Array(3).fill({ vector: 0x70, autoEoi: false }));
  for (let b = 0; b < 4096; b++) {
    if (b !== 3 * 256 + 4 && b !== 3 * 256 + 255) assert.equal(p.memory.readU8(siefpOf(0) + b), 0, `byte ${b}`);
  }
});

Deno.test("event flags on a masked SINT are set without an interrupt", () => {
  const p = partition();
  const vp = p.vps[0];
  assert.equal(signalSynicEvent(vp, 0, 0), "masked");
  assert.equal(p.memory.readU8(siefpOf(0)), 1);
  assert.equal(signalSynicEvent(vp, 0, 0), "coalesced");
  assert.deepEqual(vp.interrupts, []);
});

// ------------------------------------------------------------------------------------ hypercalls

/** Writes an HvPostMessage input block at 0x1000 and issues the call from `vp`. */
function post(vp: TestVp, connectionId: number, messageType: number, payloadSize: number, payload: number[] = []) {
  const input = new Uint8Array(256);
  const dv = new DataView(input.buffer);
  dv.setUint32(0, connectionId >>> 0, true);
  dv.setUint32(8, messageType >>> 0, true);
  dv.setUint32(12, payloadSize >>> 0, true);
  input.set(payload, 16);
  return hypercall(vp, { code: HvCallPostMessage, input });
}
const signalFast = (vp: TestVp, param: bigint) =>
  hypercall(vp, { code: HvCallSignalEvent, fast: true, fastInput: [param] });
const signalSlow = (vp: TestVp, param: bigint) => {
  const input = new Uint8Array(8);
  new DataView(input.buffer).setBigUint64(0, param, true);
  return hypercall(vp, { code: HvCallSignalEvent, input });
};

Deno.test("HvPostMessage: echoed into the target's slot; busy -> queued (SUCCESS) then INSUFFICIENT_BUFFERS; EOM redelivers", () => {
  const p = partition();
  const vp = p.vps[0];
  unmask(vp, 8, 0xb0);
  assert.ok(createSynicMessageConnection(p, 0x10, 0, 8));
  assert.deepEqual(post(vp, 0x10, 0x12345678, 3, [0xaa, 0xbb, 0xcc, 0xdd]), st(HV_STATUS_SUCCESS));
  let s = slot(p, 0, 8);
  assert.equal(s.type, 0x12345678);
  assert.equal(s.size, 3);
  assert.deepEqual(s.payload.slice(0, 4), [0xaa, 0xbb, 0xcc, 0], "only payload_size bytes");
  assert.deepEqual(vp.interrupts, [{ vector: 0xb0, autoEoi: false }]);
  assert.deepEqual(post(vp, 0x10, 0x1111, 240, Array(240).fill(0x5a)), st(HV_STATUS_SUCCESS), "staged");
  assert.equal(slot(p, 0, 8).flags & 1, 1);
  assert.deepEqual(post(vp, 0x10, 0x2222, 0), st(HV_STATUS_INSUFFICIENT_BUFFERS), "QEMU: staging area busy");
  freeSlot(p, 0, 8);
  wrmsr(vp, HV_X64_MSR_EOM, 0n);
  s = slot(p, 0, 8);
  assert.equal(s.type, 0x1111);
  assert.equal(s.size, 240);
  assert.ok(s.payload.every((b) => b === 0x5a));
  assert.equal(vp.interrupts.length, 2);
  assert.deepEqual(post(vp, 0x10, 0x3333, 0), st(HV_STATUS_SUCCESS), "staging free again");
});

Deno.test("HvPostMessage hostile input: payload_size 241 / 0xFFFFFFFF -> 3; type bit 31 -> 5; unknown or all-ones connection -> 0x12; fast -> 3", () => {
  const p = partition();
  const vp = p.vps[0];
  assert.ok(createSynicMessageConnection(p, 1, 0, 0));
  assert.deepEqual(post(vp, 1, 1, 241), st(HV_STATUS_INVALID_HYPERCALL_INPUT));
  assert.deepEqual(post(vp, 1, 1, 0xffffffff), st(HV_STATUS_INVALID_HYPERCALL_INPUT));
  assert.deepEqual(post(vp, 1, 0x80000000, 0), st(HV_STATUS_INVALID_PARAMETER));
  assert.deepEqual(post(vp, 1, HVMSG_TIMER_EXPIRED, 24), st(HV_STATUS_INVALID_PARAMETER));
  assert.deepEqual(post(vp, 2, 1, 0), st(HV_STATUS_INVALID_CONNECTION_ID));
  assert.deepEqual(post(vp, 0xffffffff, 1, 0), st(HV_STATUS_INVALID_CONNECTION_ID));
  assert.deepEqual(post(vp, 0xff000001, 1, 0), st(HV_STATUS_SUCCESS), "bits 31:24 ignored, as QEMU masks them");
  assert.deepEqual(hypercall(vp, { code: HvCallPostMessage, fast: true }), st(HV_STATUS_INVALID_HYPERCALL_INPUT));
  assert.deepEqual(hypercall(vp, { code: HvCallPostMessage, inputGpa: 0x1f08 }), st(4), "256 bytes cross the page");
  assert.deepEqual(
    hypercall(vp, { code: HvCallPostMessage, inputGpa: p.memory.size }),
    st(HV_STATUS_INVALID_HYPERCALL_INPUT),
  );
  assert.deepEqual(hypercall(vp, { code: HvCallPostMessage, repCount: 1 }), st(HV_STATUS_INVALID_HYPERCALL_INPUT));
  assert.equal(slot(p, 0, 0).type, 1, "only the one valid post landed");
});

Deno.test("HvPostMessage to another VP lands in that VP's page and interrupts that VP; a disabled target drops it with SUCCESS", () => {
  const p = partition(2);
  unmask(p.vps[1], 2, 0x90);
  assert.ok(createSynicMessageConnection(p, 0x20, 1, 2));
  assert.deepEqual(post(p.vps[0], 0x20, 5, 0), st(HV_STATUS_SUCCESS));
  assert.equal(slot(p, 1, 2).type, 5);
  assert.equal(slot(p, 0, 2).type, 0);
  assert.deepEqual(p.vps[1].interrupts, [{ vector: 0x90, autoEoi: false }]);
  assert.deepEqual(p.vps[0].interrupts, []);
  freeSlot(p, 1, 2);
  assert.equal(wrmsr(p.vps[1], HV_X64_MSR_SCONTROL, 0n), "ok");
  assert.deepEqual(post(p.vps[0], 0x20, 6, 0), st(HV_STATUS_SUCCESS));
  assert.equal(slot(p, 1, 2).type, 0, "dropped");
  assert.equal(p.vps[1].interrupts.length, 1);
});

Deno.test("HvSignalEvent (fast and slow): sets the connection's flag; status codes of tlfs-conformance (b)", () => {
  const p = partition();
  const vp = p.vps[0];
  unmask(vp, 9, 0xb1);
  assert.ok(createSynicEventConnection(p, 0x21, 0, 9, 0x21));
  assert.deepEqual(signalFast(vp, 0x21n), st(HV_STATUS_SUCCESS));
  assert.equal(p.memory.readU8(siefpOf(0) + 9 * 256 + 4), 1 << 1, "flag 0x21 = byte 4, bit 1");
  assert.deepEqual(vp.interrupts, [{ vector: 0xb1, autoEoi: false }]);
  assert.deepEqual(signalSlow(vp, 0x21n), st(HV_STATUS_SUCCESS), "already set: success, no interrupt");
  assert.equal(vp.interrupts.length, 1);
  p.memory.writeU8(siefpOf(0) + 9 * 256 + 4, 0);
  assert.deepEqual(signalSlow(vp, 0x21n), st(HV_STATUS_SUCCESS));
  assert.equal(vp.interrupts.length, 2);

  // Flag number 47:32 != 0 -> 0x11 (before any other check); bits 31:24 / 63:48 -> 3; unknown -> 0x12.
  for (const f of [1n, 2047n, 2048n, 0xffffn]) {
    assert.deepEqual(signalFast(vp, (f << 32n) | 0x21n), st(HV_STATUS_INVALID_PORT_ID), `flag ${f}`);
    assert.deepEqual(signalSlow(vp, (f << 32n) | 0x21n), st(HV_STATUS_INVALID_PORT_ID));
  }
  assert.deepEqual(signalFast(vp, 0xffffffffffffffffn), st(HV_STATUS_INVALID_PORT_ID));
  assert.deepEqual(signalFast(vp, 0xffffffffn), st(HV_STATUS_INVALID_HYPERCALL_INPUT), "all-ones connection id");
  assert.deepEqual(signalFast(vp, 0x01000021n), st(HV_STATUS_INVALID_HYPERCALL_INPUT));
  assert.deepEqual(signalFast(vp, (1n << 48n) | 0x21n), st(HV_STATUS_INVALID_HYPERCALL_INPUT), "rsvdz");
  assert.deepEqual(signalFast(vp, (0x8000n << 48n) | 0x21n), st(HV_STATUS_INVALID_HYPERCALL_INPUT));
  assert.deepEqual(signalFast(vp, 0x22n), st(HV_STATUS_INVALID_CONNECTION_ID));
  assert.deepEqual(signalFast(vp, 0xffffffn), st(HV_STATUS_INVALID_CONNECTION_ID));
  assert.deepEqual(signalSlow(vp, 0n), st(HV_STATUS_INVALID_CONNECTION_ID));
  assert.deepEqual(hypercall(vp, { code: HvCallSignalEvent, inputGpa: 0x1ffc }), st(4), "misaligned");
  assert.deepEqual(
    hypercall(vp, { code: HvCallSignalEvent, inputGpa: p.memory.size }),
    st(HV_STATUS_INVALID_HYPERCALL_INPUT),
  );
  assert.equal(vp.interrupts.length, 2, "no refused call raised anything");
});

Deno.test("connections: message and event tables are separate; duplicates, missing VPs, bad SINTs/flags and a full table are refused", () => {
  const p = partition(2);
  assert.ok(createSynicMessageConnection(p, 7, 0, 1));
  assert.ok(createSynicEventConnection(p, 7, 1, 2, 100), "same id, other kind");
  assert.equal(createSynicMessageConnection(p, 7, 1, 1), false, "duplicate");
  assert.equal(createSynicMessageConnection(p, 8, 2, 1), false, "VP 2 does not exist");
  assert.equal(createSynicMessageConnection(p, 8, 0xffffffff, 1), false);
  assert.equal(createSynicMessageConnection(p, 8, 0, 16), false);
  assert.equal(createSynicMessageConnection(p, 0x1000000, 0, 0), false, "id beyond 24 bits");
  assert.equal(createSynicMessageConnection(p, -1, 0, 0), false);
  assert.equal(createSynicEventConnection(p, 9, 0, 0, 2048), false);
  assert.deepEqual(synicConnections(p), [
    { kind: "message", id: 7, vp: 0, sint: 1 },
    { kind: "event", id: 7, vp: 1, sint: 2, flag: 100 },
  ]);
  assert.equal(destroySynicMessageConnection(p, 7), true);
  assert.equal(destroySynicMessageConnection(p, 7), false, "already gone: ignored");
  let n = 1;
  while (createSynicMessageConnection(p, 0x1000 + n, 0, 0)) n++;
  assert.equal(n, 256, "255 more fit next to the event connection");
});

// ------------------------------------------------------------------------------- hyperv-testdev

/** QEMU's hyperv-testdev command word. */
const cmd = (ctl: number, vp: number, sint: number, conn = 0) => ((conn << 24) | (ctl << 16) | (vp << 8) | sint) >>> 0;

Deno.test("hyperv-testdev: the backend drives SINT routes and connections as kvm-unit-tests does", () => {
  const p = partition(2);
  const backend = synicTestDevBackend(p);
  const conforms: HypervTestDevBackend = backend;
  const dev = new HypervTestDev(conforms);
  const vp1 = p.vps[1];
  unmask(vp1, 8, 0xb0);
  unmask(vp1, 9, 0xb1);

  dev.write(0x3000, 4, cmd(3, 1, 8)); // raise without a route: QEMU asserts, we ignore
  assert.equal(backend.ignored, 1);
  dev.write(0x3000, 4, cmd(1, 1, 8));
  dev.write(0x3000, 4, cmd(3, 1, 8));
  assert.deepEqual(vp1.interrupts, [{ vector: 0xb0, autoEoi: false }]);
  dev.write(0x3000, 4, cmd(2, 1, 8));
  dev.write(0x3000, 4, cmd(2, 1, 8));
  assert.equal(backend.ignored, 2, "destroying a missing route is ignored");
  dev.write(0x3000, 4, cmd(3, 1, 8));
  assert.equal(vp1.interrupts.length, 1, "no route left");
  assert.equal(backend.ignored, 3);

  dev.write(0x3000, 4, cmd(4, 1, 8, 0x11)); // message connection 0x11 -> (VP 1, SINT 8)
  dev.write(0x3000, 4, cmd(6, 1, 9, 0x21)); // event connection 0x21 -> (VP 1, SINT 9), flag 0x21
  assert.deepEqual(post(p.vps[0], 0x11, 0x12345678, 4, [1, 2, 3, 4]), st(HV_STATUS_SUCCESS));
  assert.equal(slot(p, 1, 8).type, 0x12345678);
  assert.deepEqual(signalFast(p.vps[0], 0x21n), st(HV_STATUS_SUCCESS));
  assert.equal(p.memory.readU8(siefpOf(1) + 9 * 256 + 4), 2);
  assert.deepEqual(vp1.interrupts.slice(1), [{ vector: 0xb0, autoEoi: false }, { vector: 0xb1, autoEoi: false }]);

  dev.write(0x3000, 4, cmd(5, 0, 0, 0x11));
  dev.write(0x3000, 4, cmd(7, 0, 0, 0x21));
  assert.deepEqual(post(p.vps[0], 0x11, 1, 0), st(HV_STATUS_INVALID_CONNECTION_ID));
  assert.deepEqual(signalFast(p.vps[0], 0x21n), st(HV_STATUS_INVALID_CONNECTION_ID));
  dev.write(0x3000, 4, cmd(5, 0, 0, 0x11));
  dev.write(0x3000, 4, cmd(7, 0, 0, 0x21));
  assert.equal(backend.ignored, 5, "destroying missing connections is ignored");
});

Deno.test("hyperv-testdev hostile: VPs that do not exist are ignored, and HvPostMessage on such a connection is 0x12", () => {
  const p = partition(1);
  const backend = synicTestDevBackend(p);
  const dev = new HypervTestDev(backend);
  dev.write(0x3000, 4, cmd(1, 200, 0));
  dev.write(0x3000, 4, cmd(3, 200, 0));
  dev.write(0x3000, 4, cmd(4, 0xff, 0, 0x30));
  dev.write(0x3000, 4, cmd(6, 1, 0, 0x31));
  assert.equal(backend.ignored, 4);
  assert.deepEqual(post(p.vps[0], 0x30, 1, 0), st(HV_STATUS_INVALID_CONNECTION_ID));
  assert.deepEqual(signalFast(p.vps[0], 0x31n), st(HV_STATUS_INVALID_CONNECTION_ID));
  backend.createSintRoute(0, 99);
  backend.raiseSint(-1, 0);
  backend.createMessageConnection(0x30, 0, 1.5);
  assert.equal(backend.ignored, 7);
  assert.deepEqual(synicConnections(p), []);
});

// -------------------------------------------------------------------------------- save / restore

Deno.test("save/restore/inspect: MSRs, queued messages, routes and the connection table come back", () => {
  const p = partition(2);
  const vp = p.vps[1];
  unmask(vp, 2, 0x42, 0x20000);
  assert.ok(createSynicMessageConnection(p, 0x40, 1, 2));
  assert.ok(createSynicEventConnection(p, 0x41, 1, 2, 5));
  synicTestDevBackend(p).createSintRoute(1, 2);
  postSynicMessage(vp, 2, 0xaa, words(0xdead), 4);
  assert.equal(postSynicMessage(vp, 2, 0xbb, words(0xbeef), 4, 3), "pending");
  const vpSaved = vp.arena.save(), partSaved = p.arena.save();
  const before = { vp: vp.arena.inspect().synic, part: p.arena.inspect().synic };
  assert.equal(before.vp.scontrol, 1n);
  assert.equal(before.vp.simp, BigInt(simpOf(1) | 1));
  assert.deepEqual((before.vp.queueCount as number[])[2], 1);
  assert.equal(before.vp.lock, 0, "the delivery lock is free between exits");
  assert.equal(before.part.lock, 0);

  vp.arena.reset();
  p.arena.reset();
  assert.equal(rdmsr(vp, hvMsrSint(2)), 0x10000n);
  assert.equal(synicQueuedMessages(vp, 2), 0);
  assert.deepEqual(synicConnections(p), []);

  vp.arena.restore(vpSaved);
  p.arena.restore(partSaved);
  assert.deepEqual(vp.arena.inspect().synic, before.vp);
  assert.deepEqual(p.arena.inspect().synic, before.part);
  assert.equal(rdmsr(vp, hvMsrSint(2)), 0x20042n);
  assert.equal(synicMessageQueued(vp, 2, 3), true);
  assert.equal(synicConnections(p).length, 2);
  freeSlot(p, 1, 2);
  wrmsr(vp, HV_X64_MSR_EOM, 0n);
  assert.equal(slot(p, 1, 2).type, 0xbb, "the restored queue is delivered");
  assert.equal(slot(p, 1, 2).payload[0], 0xef);
  assert.deepEqual(post(p.vps[0], 0x40, 0x1234, 0), st(HV_STATUS_SUCCESS), "busy slot: staged");
  assert.deepEqual(signalFast(p.vps[0], 0x41n), st(HV_STATUS_SUCCESS));
  assert.equal(p.memory.readU8(siefpOf(1) + 2 * 256), 1 << 5);
});

Deno.test("1000 post/signal/EOM rounds through the reused buffers leave the lock free and the queue empty", () => {
  const p = partition();
  const vp = p.vps[0];
  unmask(vp, 0, 0x40);
  const payload = words(1, 2, 3, 4, 5, 6);
  for (let i = 0; i < 1000; i++) {
    postSynicMessage(vp, 0, 1, payload, 24, 1);
    signalSynicEvent(vp, 0, i & 2047);
    freeSlot(p, 0, 0);
    wrmsr(vp, HV_X64_MSR_EOM, 0n);
  }
  assert.equal(vp.arena.inspect().synic.lock, 0);
  assert.equal(synicQueuedMessages(vp, 0), 0);
});

Deno.test("a hostile saved image (queue indices and connection fields out of range) cannot make delivery misbehave", () => {
  const p = partition();
  const vp = p.vps[0];
  unmask(vp, 0, 0x40);
  assert.ok(createSynicEventConnection(p, 1, 0, 0, 1));
  assert.ok(createSynicMessageConnection(p, 2, 0, 0));
  const saved = vp.arena.save();
  const partSaved = p.arena.save();
  // Overwrite a field's bytes in a saved image (as a corrupted or forged snapshot would).
  const bad = (image: Uint8Array, arena: typeof vp.arena, field: string) => {
    const pl = arena.slots.get("synic")!.layout.placements.find((x) => x.name === field)!;
    image.fill(0xff, pl.offset, pl.offset + pl.byteLength);
  };
  bad(saved.synic.bytes, vp.arena, "queueHead");
  bad(saved.synic.bytes, vp.arena, "queueCount");
  bad(partSaved.synic.bytes, p.arena, "connSint");
  bad(partSaved.synic.bytes, p.arena, "connFlag");
  vp.arena.restore(saved);
  p.arena.restore(partSaved);
  assert.equal(postSynicMessage(vp, 0, 1, words(), 0), "delivered", "255 empty entries skipped, then delivered");
  assert.deepEqual(vp.interrupts, [{ vector: 0x40, autoEoi: false }], "no interrupt for the empty entries");
  assert.equal(postSynicMessage(vp, 0, 2, words(), 0), "pending");
  assert.equal(wrmsr(vp, HV_X64_MSR_EOM, 0n), "ok");
  assert.deepEqual(signalFast(vp, 1n), st(HV_STATUS_SUCCESS), "SINT 255 / flag 0xFFFF: dropped");
  assert.deepEqual(post(vp, 2, 1, 0), st(HV_STATUS_SUCCESS));
  assert.equal(vp.arena.inspect().synic.lock, 0);
});
