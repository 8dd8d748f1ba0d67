import assert from "node:assert/strict";
import { GuestMemory } from "@hv/x86";
import { PvEoi, vpApicOf } from "../mod.ts";
import { machine } from "./testutil_test.ts";

const PAGE = 0x3000;
const setup = () => {
  const m = machine(2);
  const memory = GuestMemory.allocate(0x10000);
  const pv = new PvEoi(m.apics[0], memory);
  return { m, a: m.apics[0], memory, pv };
};
/** Injects like the machine: take the pending vector, then arm before entry. */
const inject = (s: ReturnType<typeof setup>) => {
  const v = s.a.take();
  s.pv.beforeEntry();
  return v;
};

Deno.test("exit-less EOI: the flag is set for a lone edge vector, and a cleared flag completes the EOI", () => {
  const s = setup();
  s.pv.setPage(PAGE, true);
  s.a.accept(0x50, false, false);
  assert.equal(inject(s), 0x50);
  assert.equal(s.memory.readU32(PAGE) & 1, 1);
  assert.equal(s.pv.armed, true);
  // The guest's EOI routine: xchg(apic_assist, 0) & 1 -> skip the EOI write.
  s.memory.writeU32(PAGE, 0);
  s.pv.afterExit();
  assert.equal(s.a.highestIsr(), -1);
  assert.equal(s.pv.completed, 1);
  assert.equal(s.pv.armed, false);
});

Deno.test("exit-less EOI: a guest that has not reached its EOI keeps the vector in service; the flag comes back before entry", () => {
  const s = setup();
  s.pv.setPage(PAGE, true);
  s.a.accept(0x50, false, false);
  inject(s);
  s.pv.afterExit(); // an exit inside the handler, flag still set
  assert.equal(s.memory.readU32(PAGE) & 1, 0, "cleared so that a later ordinary EOI is not doubled");
  assert.equal(s.a.highestIsr(), 0x50);
  assert.equal(s.pv.completed, 0);
  s.pv.beforeEntry();
  assert.equal(s.memory.readU32(PAGE) & 1, 1);
  // This time the guest writes an ordinary EOI (e.g. it does not use the page): the flag is cleared after the exit.
  s.pv.afterExit();
  s.a.eoi();
  assert.equal(s.a.highestIsr(), -1);
  assert.equal(s.pv.completed, 0);
});

Deno.test("exit-less EOI is not offered for nested, waiting or level-triggered interrupts", () => {
  const s = setup();
  s.pv.setPage(PAGE, true);
  s.a.accept(0x40, false, false);
  s.a.accept(0x30, false, false);
  inject(s); // 0x40 in service, 0x30 waits in IRR
  assert.equal(s.memory.readU32(PAGE) & 1, 0);
  s.a.eoi();
  inject(s); // 0x30 alone now
  assert.equal(s.memory.readU32(PAGE) & 1, 1);
  s.memory.writeU32(PAGE, 0);
  s.pv.afterExit();
  s.a.accept(0x60, true, false); // level
  inject(s);
  assert.equal(s.memory.readU32(PAGE) & 1, 0);
});

Deno.test("exit-less EOI: disabled, or a page outside guest RAM, does nothing", () => {
  const s = setup();
  s.a.accept(0x50, false, false);
  inject(s);
  assert.equal(s.pv.armed, false);
  s.pv.setPage(0x1_0000_0000, true); // outside RAM: refused quietly
  assert.equal(s.pv.enabled, false);
  s.pv.beforeEntry();
  assert.equal(s.pv.armed, false);
  s.pv.setPage(PAGE, true);
  s.pv.setPage(PAGE, false);
  s.pv.beforeEntry();
  assert.equal(s.memory.readU32(PAGE), 0);
});

Deno.test("VpApic bridge: EOI, TPR, ICR (x2APIC-format write, xAPIC destination in bits 31:24), assist page", () => {
  const s = setup();
  const v = vpApicOf(s.a, s.pv);
  s.a.accept(0x50, false, false);
  s.a.take();
  v.eoi();
  assert.equal(s.a.highestIsr(), -1);
  v.setTpr(0x1234);
  assert.equal(v.tpr(), 0x34);
  assert.equal(v.writeIcr(0x4051, 1 << 24), true); // fixed, vector 0x51, to APIC 1 (xAPIC mode)
  assert.deepEqual(s.m.bus.sent, [{ ids: [1], vector: 0x51, mode: 0, level: false }]);
  assert.equal(v.icrLo(), 0x4051);
  assert.equal(v.icrHi(), 1 << 24);
  assert.equal(v.writeIcr(0x1000 | 0x4052, 1 << 24), true, "delivery status ignored, as KVM");
  assert.equal(v.icrLo(), 0x4052);
  assert.equal(v.writeIcr(0x100000 | 0x52, 0), false, "reserved bit 20 -> #GP");
  assert.equal(v.icrLo(), 0x4052, "unchanged");
  v.setAssistPage(PAGE, true);
  assert.equal(s.pv.enabled, true);
});
