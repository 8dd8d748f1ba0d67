import assert from "node:assert/strict";
import { MsrOutcome, newMsrAccess } from "@hv/x86";
import { machine } from "./testutil_test.ts";

Deno.test("one-shot timer: current count from host time, fires once", () => {
  const m = machine(1);
  const [a] = m.apics;
  a.write(0x3e0, 4, 0x3); // divide by 16
  a.write(0x320, 4, 0x40); // one-shot, vector 0x40
  a.write(0x380, 4, 1000);
  assert.equal(a.read(0x390, 4), 1000);
  assert.equal(m.timers.at(0), m.timers.t + 16000);
  m.timers.advance(1600, m.apics);
  assert.equal(a.read(0x390, 4), 900);
  assert.equal(a.highestIrr(), -1);
  m.timers.advance(14400, m.apics);
  assert.equal(a.read(0x390, 4), 0);
  assert.equal(a.take(), 0x40);
  assert.equal(m.timers.at(0), undefined);
  a.onTimer(); // spurious late call: nothing
  assert.equal(a.highestIrr(), -1);
  assert.equal(a.read(0x380, 4), 1000);
});

Deno.test("divide configuration values", () => {
  const { apics: [a] } = machine(1);
  const expect = [[0, 2], [1, 4], [2, 8], [3, 16], [8, 32], [9, 64], [0xa, 128], [0xb, 1]];
  for (const [d, div] of expect) {
    a.write(0x3e0, 4, d);
    assert.equal(a.nsPerCount(), div);
  }
  a.write(0x3e0, 4, 0xffffffff);
  assert.equal(a.read(0x3e0, 4), 0xb);
});

Deno.test("periodic timer reloads and re-arms; masked LVT counts without interrupts", () => {
  const m = machine(1, { extra: { minPeriodNs: 0 } });
  const [a] = m.apics;
  a.write(0x3e0, 4, 0xb); // divide by 1
  a.write(0x320, 4, 0x20041);
  a.write(0x380, 4, 1000);
  m.timers.advance(1000, m.apics);
  assert.equal(a.take(), 0x41);
  a.eoi();
  assert.equal(a.read(0x390, 4), 1000);
  m.timers.advance(250, m.apics);
  assert.equal(a.read(0x390, 4), 750);
  m.timers.advance(750, m.apics);
  assert.equal(a.take(), 0x41);
  a.eoi();
  a.write(0x320, 4, 0x30041); // masked
  m.timers.advance(5000, m.apics);
  assert.equal(a.highestIrr(), -1);
  assert.notEqual(m.timers.at(0), undefined);
  a.write(0x380, 4, 0); // stop
  assert.equal(m.timers.at(0), undefined);
  assert.equal(a.read(0x390, 4), 0);
});

Deno.test("periodic timer with a tiny period is rate-limited on the host", () => {
  const m = machine(1);
  const [a] = m.apics;
  a.write(0x3e0, 4, 0xb);
  a.write(0x320, 4, 0x20041);
  a.write(0x380, 4, 1);
  m.timers.advance(1, m.apics);
  assert.equal(m.timers.at(0)! - m.timers.t >= 199_000, true);
});

Deno.test("TSC-deadline mode", () => {
  let tsc = 5_000_000;
  const m = machine(1, { extra: { tsc: { tscHz: 2e9, guestTsc: () => tsc } } });
  const [a] = m.apics;
  const msr = newMsrAccess();
  msr.index = 0x6e0;
  msr.lo = 6_000_000;
  assert.equal(a.wrmsr(msr), MsrOutcome.Ok); // ignored outside TSC-deadline mode
  assert.equal(a.rdmsr(msr), MsrOutcome.Ok);
  assert.equal(msr.lo, 0);
  a.write(0x320, 4, 0x40042);
  a.write(0x380, 4, 1234); // initial count ignored in TSC-deadline mode
  assert.equal(a.read(0x380, 4), 0);
  msr.lo = 7_000_000;
  msr.hi = 0;
  assert.equal(a.wrmsr(msr), MsrOutcome.Ok);
  assert.equal(m.timers.at(0), m.timers.t + 1_000_000); // 2e6 cycles at 2 GHz
  assert.equal(a.rdmsr(msr), MsrOutcome.Ok);
  assert.equal(msr.lo, 7_000_000);
  tsc += 2_000_000;
  m.timers.advance(1_000_000, m.apics);
  assert.equal(a.take(), 0x42);
  assert.equal(a.rdmsr(msr), MsrOutcome.Ok);
  assert.equal(msr.lo, 0); // cleared after firing
  msr.lo = 1; // in the past: fires at once
  a.wrmsr(msr);
  m.timers.advance(0, m.apics);
  assert.equal(a.highestIrr(), 0x42);
  msr.lo = 0x80000000;
  msr.hi = 0x10; // far future, then disarm with 0
  a.wrmsr(msr);
  assert.notEqual(m.timers.at(0), undefined);
  msr.lo = msr.hi = 0;
  a.wrmsr(msr);
  assert.equal(m.timers.at(0), undefined);
  // leaving TSC-deadline mode clears the deadline
  msr.lo = 9_000_000;
  a.wrmsr(msr);
  a.write(0x320, 4, 0x42);
  assert.equal(m.timers.at(0), undefined);
});

Deno.test("KVM lapic page round trip", () => {
  const m = machine(2);
  const [a, b] = m.apics;
  a.write(0x80, 4, 0x20);
  a.write(0xd0, 4, 0x04000000);
  a.write(0x350, 4, 0x700);
  a.write(0x3e0, 4, 0xb);
  a.write(0x320, 4, 0x20041);
  a.write(0x380, 4, 500_000);
  a.accept(0x91, true, false);
  a.take();
  a.accept(0x33, false, false);
  m.timers.t += 100_000;
  const page = new Uint8Array(1024);
  a.exportKvmPage(page);
  const dv = new DataView(page.buffer);
  assert.equal(dv.getUint32(0x390, true), 400_000);
  assert.equal(dv.getUint32(0x30, true), 0x50014);
  b.importKvmPage(page);
  for (const off of [0x80, 0xa0, 0xd0, 0xf0, 0x320, 0x350, 0x380, 0x3e0, 0x100 + 0x40, 0x180 + 0x40, 0x200 + 0x10]) {
    assert.equal(b.read(off, 4), a.read(off, 4), off.toString(16));
  }
  assert.equal(b.read(0x390, 4), 400_000);
  assert.equal(b.read(0x20, 4), 0); // xAPIC ID comes from the page, as with KVM_SET_LAPIC
  assert.equal(b.eoi(), 0x91);
  assert.throws(() => b.exportKvmPage(new Uint8Array(10)), RangeError);
});
