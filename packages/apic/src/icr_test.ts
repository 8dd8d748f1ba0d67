import assert from "node:assert/strict";
import { MsrOutcome, newMsrAccess } from "@hv/x86";
import { ApicEvent, DeliveryMode, Esr, MpState, PeerBus } from "../mod.ts";
import { machine } from "./testutil_test.ts";

const icr = (m: ReturnType<typeof machine>, from: number, hi: number, lo: number) => {
  m.apics[from].write(0x310, 4, hi);
  m.apics[from].write(0x300, 4, lo);
  const out = m.bus.sent.slice();
  m.bus.sent.length = 0;
  return out;
};

Deno.test("ICR: physical destination, broadcast, no match", () => {
  const m = machine(4);
  assert.deepEqual(icr(m, 0, 2 << 24, 0x4041), [{ ids: [2], vector: 0x41, mode: 0, level: false }]);
  assert.deepEqual(icr(m, 0, 0xff << 24, 0x41)[0].ids, [0, 1, 2, 3]);
  assert.deepEqual(icr(m, 0, 9 << 24, 0x41), []);
  assert.equal(m.apics[0].read(0x300, 4) & 0x1000, 0); // delivery status idle
  assert.equal(m.apics[0].read(0x300, 4), 0x41);
});

Deno.test("ICR: shorthands self / all incl. self / all excl. self", () => {
  const m = machine(3);
  assert.deepEqual(icr(m, 1, 2 << 24, 0x40041)[0].ids, [1]);
  assert.deepEqual(icr(m, 1, 0, 0x80041)[0].ids, [0, 1, 2]);
  assert.deepEqual(icr(m, 1, 0, 0xc0041)[0].ids, [0, 2]);
  // self shorthand with a non-fixed mode is invalid: nothing sent
  assert.deepEqual(icr(m, 1, 0, 0x40400), []);
});

Deno.test("ICR: logical flat and cluster models", () => {
  const m = machine(4);
  // flat: LDR bit i for APIC i
  m.apics.forEach((a, i) => a.write(0xd0, 4, (1 << i) << 24));
  assert.deepEqual(icr(m, 0, 0x05 << 24, 0x841)[0].ids, [0, 2]);
  assert.deepEqual(icr(m, 0, 0x00 << 24, 0x841), []);
  // cluster: DFR model 0; LDR = cluster << 4 | bit
  m.apics.forEach((a, i) => {
    a.write(0xe0, 4, 0x0fffffff);
    a.write(0xd0, 4, (((i >> 1) << 4) | (1 << (i & 1))) << 24);
  });
  assert.deepEqual(icr(m, 0, 0x13 << 24, 0x841)[0].ids, [2, 3]);
  assert.deepEqual(icr(m, 0, 0x01 << 24, 0x841)[0].ids, [0]);
  assert.deepEqual(icr(m, 0, 0xff << 24, 0x841)[0].ids, [0, 1, 2, 3]);
});

Deno.test("ICR: lowest priority arbitrates to one APIC by priority", () => {
  const m = machine(3);
  m.apics.forEach((a) => a.write(0xd0, 4, 0xff000000));
  m.apics[0].write(0x80, 4, 0x30);
  m.apics[1].write(0x80, 4, 0x20);
  m.apics[2].write(0x80, 4, 0x50);
  assert.deepEqual(icr(m, 0, 0xff << 24, 0x941), [{ ids: [1], vector: 0x41, mode: DeliveryMode.LowestPriority, level: false }]);
});

Deno.test("ICR: every delivery mode is passed through; INIT de-assert and reserved modes dropped", () => {
  const m = machine(2);
  assert.equal(icr(m, 0, 1 << 24, 0x200)[0].mode, DeliveryMode.Smi);
  assert.equal(icr(m, 0, 1 << 24, 0x400)[0].mode, DeliveryMode.Nmi);
  assert.equal(icr(m, 0, 1 << 24, 0x4500)[0].mode, DeliveryMode.Init); // INIT assert
  assert.deepEqual(icr(m, 0, 1 << 24, 0x8500), []); // INIT level de-assert
  const sipi = icr(m, 0, 1 << 24, 0x69a)[0];
  assert.equal(sipi.mode, DeliveryMode.StartUp);
  assert.equal(sipi.vector, 0x9a);
  assert.deepEqual(icr(m, 0, 1 << 24, 0x300), []); // reserved
  assert.deepEqual(icr(m, 0, 1 << 24, 0x700), []); // ExtINT
  assert.equal(icr(m, 0, 1 << 24, 0xc041)[0].level, true);
});

Deno.test("ICR: illegal vectors set send-illegal-vector and send nothing", () => {
  const m = machine(2);
  assert.deepEqual(icr(m, 0, 1 << 24, 0x0f), []);
  assert.deepEqual(icr(m, 0, 1 << 24, 0x10f), []);
  m.apics[0].write(0x280, 4, 0);
  assert.equal(m.apics[0].read(0x280, 4), Esr.SendIllegalVector);
  // SIPI/NMI with a low vector are fine
  assert.equal(icr(m, 0, 1 << 24, 0x600).length, 1);
});

Deno.test("PeerBus: INIT, SIPI, fixed IPI and NMI reach the target through shared state", () => {
  const eois: number[] = [];
  const bus = new PeerBus((v) => eois.push(v));
  const m = machine(2, { peerBus: bus });
  const [bsp, ap] = m.apics;
  ap.postInit(); // a fresh AP already waits for SIPI; make it explicit as Linux does
  ap.takeEvents();
  bsp.write(0x310, 4, 1 << 24);
  bsp.write(0x300, 4, 0x4500);
  bsp.write(0x300, 4, 0x8500);
  bsp.write(0x300, 4, 0x69a);
  assert.equal(ap.takeEvents(), ApicEvent.Init | ApicEvent.Sipi);
  assert.equal(ap.mpState, MpState.Runnable);
  assert.equal(ap.startupVector, 0x9a);
  ap.write(0xf0, 4, 0x1ff);
  bsp.write(0x300, 4, 0xc0f3 & ~0x4000); // fixed, level trigger, vector 0xf3
  assert.equal(ap.take(), 0xf3);
  ap.eoi();
  assert.deepEqual(eois, [0xf3]);
  bsp.write(0x300, 4, 0x400);
  assert.equal(ap.takeEvents(), ApicEvent.Nmi);
  assert.equal(bus.get(1), ap);
});

Deno.test("x2APIC: 64-bit ICR, physical and cluster logical destinations, broadcast", () => {
  const m = machine(20, { ids: Array.from({ length: 20 }, (_, i) => i) });
  const a = newMsrAccess();
  for (const apic of m.apics) {
    a.index = 0x1b;
    a.lo = 0xfee00c00 | (apic.bsp ? 0x100 : 0);
    a.hi = 0;
    assert.equal(apic.wrmsr(a), MsrOutcome.Ok);
  }
  const send = (lo: number, hi: number) => {
    a.index = 0x830;
    a.lo = lo;
    a.hi = hi;
    assert.equal(m.apics[0].wrmsr(a), MsrOutcome.Ok);
    const out = m.bus.sent.slice();
    m.bus.sent.length = 0;
    return out;
  };
  assert.deepEqual(send(0x41, 17)[0].ids, [17]);
  // logical: cluster 1 (ids 16..31), bits 0 and 3 -> ids 16, 19
  assert.deepEqual(send(0x841, (1 << 16) | 0x9)[0].ids, [16, 19]);
  assert.deepEqual(send(0x841, 0x3)[0].ids, [0, 1]);
  assert.equal(send(0x41, 0xffffffff)[0].ids.length, 20);
  a.index = 0x830;
  assert.equal(m.apics[0].rdmsr(a), MsrOutcome.Ok);
  assert.equal(a.hi, 0xffffffff);
  assert.equal(a.lo, 0x41);
  // LDR derived
  a.index = 0x80d;
  m.apics[19].rdmsr(a);
  assert.equal(a.lo, (1 << 16) | (1 << 3));
});
