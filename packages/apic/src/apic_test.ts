import assert from "node:assert/strict";
import { MsrOutcome, newMsrAccess } from "@hv/x86";
import { APIC_STATE, ApicEvent, Esr, MpState } from "../mod.ts";
import { machine } from "./testutil_test.ts";

Deno.test("reset values per SDM / KVM", () => {
  const { apics: [a, b], arena } = machine(2, { swOff: true });
  assert.equal(a.read(0x20, 4), 0);
  assert.equal(b.read(0x20, 4), 0x01000000);
  assert.equal(a.read(0x30, 4), 0x50014);
  assert.equal(a.read(0xe0, 4), 0xffffffff);
  assert.equal(a.read(0xf0, 4), 0xff);
  for (let off = 0x320; off <= 0x370; off += 0x10) assert.equal(a.read(off, 4), 0x10000);
  const m = newMsrAccess();
  m.index = 0x1b;
  assert.equal(a.rdmsr(m), MsrOutcome.Ok);
  assert.equal(m.lo, 0xfee00900);
  assert.equal(b.rdmsr(m), MsrOutcome.Ok);
  assert.equal(m.lo, 0xfee00800);
  assert.equal(a.mpState, MpState.Runnable);
  assert.equal(b.mpState, MpState.WaitForSipi);
  assert.equal(APIC_STATE.byteLength % 8, 0);
  assert.equal((arena.inspect().apic1 as Record<string, unknown>).id, 0x01000000);
});

Deno.test("register semantics: masks, read-only, sub-dword reads, holes", () => {
  const { apics: [a] } = machine(1);
  a.write(0x80, 4, 0xffffffff);
  assert.equal(a.read(0x80, 4), 0xff);
  a.write(0xd0, 4, 0xffffffff);
  assert.equal(a.read(0xd0, 4), 0xff000000);
  a.write(0xe0, 4, 0);
  assert.equal(a.read(0xe0, 4), 0x0fffffff);
  a.write(0x30, 4, 0); // version read-only
  assert.equal(a.read(0x30, 4), 0x50014);
  a.write(0xa0, 4, 0xff); // PPR read-only
  assert.equal(a.read(0xa0, 4), 0xff);
  a.write(0x80, 4, 0);
  assert.equal(a.read(0xa0, 4), 0);
  assert.equal(a.read(0x31, 1), 0x00);
  assert.equal(a.read(0x32, 1), 0x05);
  assert.equal(a.read(0x32, 2), 0x0005);
  assert.equal(a.read(0x33, 2), 0); // crosses the dword
  assert.equal(a.read(0x34, 4), 0); // beyond the dword
  a.write(0x82, 2, 0xff); // sub-dword write ignored
  assert.equal(a.read(0x80, 4), 0);
  // LVT: writable bits only, delivery status / remote IRR read-only
  a.write(0x350, 4, 0xffffffff);
  assert.equal(a.read(0x350, 4), 0x1a7ff);
  a.write(0x370, 4, 0xffffffff);
  assert.equal(a.read(0x370, 4), 0x100ff);
  a.write(0x330, 4, 0xffffffff);
  assert.equal(a.read(0x330, 4), 0x107ff);
  // SVR
  a.write(0xf0, 4, 0xffffffff);
  assert.equal(a.read(0xf0, 4), 0x3ff);
  // ICR delivery status reads 0; high keeps 31:24
  a.write(0x310, 4, 0xffffffff);
  assert.equal(a.read(0x310, 4), 0xff000000);
  // hole write: illegal register address error, latched by an ESR write
  a.write(0x400, 4, 1);
  assert.equal(a.read(0x280, 4), 0);
  a.write(0x280, 4, 0);
  assert.equal(a.read(0x280, 4), Esr.IllegalRegister);
  a.write(0x280, 4, 0);
  assert.equal(a.read(0x280, 4), 0);
});

Deno.test("software disable masks every LVT and masks LVT writes", () => {
  const { apics: [a] } = machine(1);
  a.write(0x350, 4, 0x700);
  assert.equal(a.read(0x350, 4), 0x700);
  a.write(0xf0, 4, 0xff);
  assert.equal(a.read(0x350, 4), 0x10700);
  a.write(0x360, 4, 0x400);
  assert.equal(a.read(0x360, 4), 0x10400);
  assert.equal(a.accept(0x40, false, false), false); // fixed interrupts dropped while software-disabled
});

Deno.test("PPR follows TPR and ISR class; pending respects PPR", () => {
  const { apics: [a] } = machine(1);
  a.accept(0x51, false, false);
  a.write(0x80, 4, 0x50);
  assert.equal(a.ppr(), 0x50);
  assert.equal(a.pending(), -1); // same class as TPR: blocked
  a.write(0x80, 4, 0x4f);
  assert.equal(a.pending(), 0x51);
  assert.equal(a.acknowledge(0x51), true);
  assert.equal(a.ppr(), 0x50); // ISR class 5 > TPR class 4
  assert.equal(a.read(0xa0, 4), 0x50);
  a.write(0x80, 4, 0x6a);
  assert.equal(a.ppr(), 0x6a); // TPR class wins, full TPR
  a.write(0x80, 4, 0);
  a.accept(0x52, false, false); // same class as in-service: blocked
  assert.equal(a.pending(), -1);
  a.accept(0x61, false, false);
  assert.equal(a.pending(), 0x61);
  assert.equal(a.apr(), 0x60);
});

Deno.test("IRR -> ISR -> EOI, nested interrupts, level EOI forwarded", () => {
  const { apics: [a], bus } = machine(1);
  a.accept(0x30, false, false);
  assert.equal(a.take(), 0x30);
  assert.equal(a.read(0x100 + 0x10, 4), 1 << 16); // ISR word 1 bit 16 = vector 0x30
  assert.equal(a.read(0x200 + 0x10, 4), 0);
  a.accept(0x80, true, false); // higher class, level: nests
  assert.equal(a.read(0x180 + 0x40, 4), 1);
  assert.equal(a.take(), 0x80);
  a.accept(0x31, false, false); // lower: waits
  assert.equal(a.pending(), -1);
  assert.equal(a.eoi(), 0x80);
  assert.deepEqual(bus.eois, [0x80]);
  assert.equal(a.pending(), -1); // 0x31 still below in-service 0x30's class
  a.write(0xb0, 4, 0);
  assert.deepEqual(bus.eois, [0x80]); // edge: not forwarded
  assert.equal(a.take(), 0x31);
  assert.equal(a.eoi(), 0x31);
  assert.equal(a.eoi(), -1);
  assert.equal(a.acknowledge(0x31), false);
});

Deno.test("auto-EOI: acknowledged without ever entering ISR", () => {
  const { apics: [a] } = machine(1);
  a.accept(0xec, false, true);
  a.accept(0x40, false, false);
  assert.equal(a.take(), 0xec);
  assert.equal(a.highestIsr(), -1);
  assert.equal(a.ppr(), 0);
  assert.equal(a.take(), 0x40);
  assert.equal(a.highestIsr(), 0x40);
  // an auto-EOI mark does not stick to the vector for later normal posts
  a.eoi();
  a.accept(0xec, false, true);
  a.accept(0xec, false, false);
  assert.equal(a.take(), 0xec);
  assert.equal(a.highestIsr(), 0xec);
});

Deno.test("canSkipEoi: one edge vector in service and nothing pending", () => {
  const { apics: [a] } = machine(1);
  assert.equal(a.canSkipEoi(), false);
  a.accept(0x40, false, false);
  a.take();
  assert.equal(a.canSkipEoi(), true);
  a.accept(0x30, false, false);
  assert.equal(a.canSkipEoi(), false);
  a.eoi();
  a.take();
  a.accept(0x90, true, false);
  a.take();
  assert.equal(a.canSkipEoi(), false);
});

Deno.test("illegal vectors: receive error, LVT error interrupt", () => {
  const { apics: [a] } = machine(1);
  a.write(0x370, 4, 0xfe);
  assert.equal(a.accept(15, false, false), false);
  assert.equal(a.highestIrr(), 0xfe);
  a.write(0x280, 4, 0);
  assert.equal(a.read(0x280, 4), Esr.ReceiveIllegalVector);
  assert.equal(a.accept(256, false, false), false);
  assert.equal(a.accept(-1, false, false), false);
  assert.equal(a.accept(1.5, false, false), false);
});

Deno.test("INIT/SIPI state machine", () => {
  const { apics: [bsp, ap] } = machine(2);
  ap.accept(0x40, false, false);
  ap.postSipi(0x9a); // waiting since reset: accepted
  assert.equal(ap.takeEvents(), ApicEvent.Sipi);
  assert.equal(ap.startupVector, 0x9a);
  assert.equal(ap.mpState, MpState.Runnable);
  ap.postSipi(0x10); // runnable: ignored
  assert.equal(ap.takeEvents(), 0);
  ap.postInit();
  assert.equal(ap.hasEvents(), true);
  assert.equal(ap.takeEvents(), ApicEvent.Init);
  assert.equal(ap.mpState, MpState.WaitForSipi);
  assert.equal(ap.highestIrr(), -1); // INIT resets the registers
  assert.equal(ap.read(0x20, 4), 0x01000000); // but keeps the ID
  assert.equal(ap.read(0xf0, 4), 0xff);
  ap.postInit();
  ap.postSipi(0x9b);
  assert.equal(ap.takeEvents(), ApicEvent.Init | ApicEvent.Sipi);
  assert.equal(ap.startupVector, 0x9b);
  bsp.postInit();
  assert.equal(bsp.takeEvents(), ApicEvent.Init);
  assert.equal(bsp.mpState, MpState.Runnable);
  bsp.postNmi();
  bsp.postSmi();
  assert.equal(bsp.takeEvents(), ApicEvent.Nmi | ApicEvent.Smi);
});

Deno.test("LINT0/LINT1 and PIC acceptance", () => {
  const { apics: [a] } = machine(1);
  assert.equal(a.acceptsPicInterrupts(), false);
  a.write(0x350, 4, 0x700); // ExtINT unmasked
  assert.equal(a.acceptsPicInterrupts(), true);
  assert.equal(a.localInterrupt(0), 7);
  a.write(0x360, 4, 0x400); // NMI
  assert.equal(a.localInterrupt(1), 4);
  assert.equal(a.takeEvents(), ApicEvent.Nmi);
  a.write(0x360, 4, 0x10400);
  assert.equal(a.localInterrupt(1), -1);
  a.write(0x350, 4, 0x8041); // fixed level vector 0x41
  a.localInterrupt(0);
  assert.equal(a.highestIrr(), 0x41);
  const m = newMsrAccess();
  m.index = 0x1b;
  m.lo = 0xfee00100; // disable
  assert.equal(a.wrmsr(m), MsrOutcome.Ok);
  assert.equal(a.acceptsPicInterrupts(), true);
  assert.equal(a.pending(), -1);
});
