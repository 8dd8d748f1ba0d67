import assert from "node:assert/strict";
import { MsrOutcome, newMsrAccess } from "@hv/x86";
import { machine } from "./testutil_test.ts";

const msr = newMsrAccess();
const wr = (a: { wrmsr(m: typeof msr): number }, index: number, lo: number, hi = 0) => {
  msr.index = index;
  msr.lo = lo;
  msr.hi = hi;
  return a.wrmsr(msr);
};
const rd = (a: { rdmsr(m: typeof msr): number }, index: number) => {
  msr.index = index;
  msr.lo = msr.hi = 0xdead;
  return a.rdmsr(msr);
};

Deno.test("IA32_APIC_BASE transitions (SDM figure 11-27)", () => {
  const { apics: [a, b] } = machine(2);
  assert.equal(rd(a, 0x802), MsrOutcome.Gp); // x2APIC MSRs #GP in xAPIC mode
  assert.equal(wr(a, 0x1b, 0xfee00d00 | 0x200), MsrOutcome.Gp); // reserved bit 9
  assert.equal(wr(a, 0x1b, 0xfee00d00 | 0x01), MsrOutcome.Gp); // reserved bit 0
  assert.equal(wr(a, 0x1b, 0xfee00d00, 0x00100000), MsrOutcome.Gp); // beyond 52-bit physical
  assert.equal(wr(a, 0x1b, 0xfee00500), MsrOutcome.Gp); // EXTD without EN
  assert.equal(wr(a, 0x1b, 0xfee00c00), MsrOutcome.Ok); // xAPIC -> x2APIC (BSP bit kept)
  assert.equal(rd(a, 0x1b), MsrOutcome.Ok);
  assert.equal(msr.lo, 0xfee00d00);
  assert.equal(a.x2apic, true);
  assert.equal(a.read(0x20, 4), 0); // MMIO dead in x2APIC mode
  assert.equal(wr(a, 0x1b, 0xfee00900), MsrOutcome.Gp); // x2APIC -> xAPIC
  assert.equal(wr(a, 0x1b, 0xfee00000), MsrOutcome.Ok); // x2APIC -> disabled
  assert.equal(a.enabled, false);
  assert.equal(wr(a, 0x1b, 0xfee00c00), MsrOutcome.Gp); // disabled -> x2APIC
  assert.equal(wr(a, 0x1b, 0x12345800), MsrOutcome.Ok); // disabled -> xAPIC, relocated
  assert.equal(a.mmioBase, 0x12345000);
  assert.equal(a.read(0xf0, 4), 0xff); // registers were reset
  // hostile guest tries to become BSP
  assert.equal(wr(b, 0x1b, 0xfee00900), MsrOutcome.Ok);
  assert.equal(rd(b, 0x1b), MsrOutcome.Ok);
  assert.equal(msr.lo & 0x100, 0);
  // x2APIC not offered
  const n = machine(1, { extra: { x2apic: false } });
  assert.equal(wr(n.apics[0], 0x1b, 0xfee00d00), MsrOutcome.Gp);
  // host writes bypass the checks
  assert.equal(n.apics[0].setApicBase(0xfee00d00, 0, true), MsrOutcome.Ok);
  assert.equal(n.apics[0].x2apic, true);
});

Deno.test("x2APIC MSRs: readable, write-only, read-only and absent registers", () => {
  const { apics: [, a] } = machine(2);
  assert.equal(wr(a, 0x1b, 0xfee00c00), MsrOutcome.Ok);
  assert.equal(rd(a, 0x802), MsrOutcome.Ok);
  assert.equal(msr.lo, 1);
  assert.equal(msr.hi, 0);
  assert.equal(rd(a, 0x803), MsrOutcome.Ok);
  assert.equal(msr.lo, 0x50014);
  for (const ro of [0x802, 0x803, 0x80a, 0x80d, 0x810, 0x818, 0x827, 0x839]) assert.equal(wr(a, ro, 0), MsrOutcome.Gp, ro.toString(16));
  for (const wo of [0x80b, 0x83f]) assert.equal(rd(a, wo), MsrOutcome.Gp, wo.toString(16));
  for (const absent of [0x800, 0x801, 0x809, 0x80c, 0x80e, 0x82f, 0x831, 0x83a, 0x840, 0x8ff]) {
    assert.equal(rd(a, absent), MsrOutcome.Gp, absent.toString(16));
    assert.equal(wr(a, absent, 0), MsrOutcome.Gp, absent.toString(16));
  }
  assert.equal(rd(a, 0x900), MsrOutcome.NotMine);
  assert.equal(rd(a, 0x808), MsrOutcome.Ok);
});

Deno.test("x2APIC MSRs: reserved bits #GP", () => {
  const { apics: [a] } = machine(1);
  wr(a, 0x1b, 0xfee00c00);
  assert.equal(wr(a, 0x808, 0x100), MsrOutcome.Gp); // TPR 31:8
  assert.equal(wr(a, 0x808, 0x20, 1), MsrOutcome.Gp); // high half
  assert.equal(wr(a, 0x808, 0x20), MsrOutcome.Ok);
  assert.equal(a.tpr, 0x20);
  assert.equal(a.cr8, 2);
  assert.equal(wr(a, 0x80b, 1), MsrOutcome.Gp); // EOI non-zero
  assert.equal(wr(a, 0x80b, 0), MsrOutcome.Ok);
  assert.equal(wr(a, 0x828, 1), MsrOutcome.Gp); // ESR non-zero
  assert.equal(wr(a, 0x80f, 0x1ff | 0x1000), MsrOutcome.Gp); // SVR bit 12 without EOI-broadcast suppression
  assert.equal(wr(a, 0x80f, 0x1ff), MsrOutcome.Ok);
  assert.equal(wr(a, 0x832, 0x80000), MsrOutcome.Gp); // LVT timer reserved bit 19
  assert.equal(wr(a, 0x832, 0x60000), MsrOutcome.Gp); // timer mode 3
  assert.equal(wr(a, 0x832, 0x20040), MsrOutcome.Ok);
  assert.equal(wr(a, 0x837, 0x700), MsrOutcome.Gp); // LVT error has no delivery mode
  assert.equal(wr(a, 0x83e, 0x4), MsrOutcome.Gp); // divide bit 2
  assert.equal(wr(a, 0x83e, 0xb), MsrOutcome.Ok);
  assert.equal(wr(a, 0x830, 0x1041, 1), MsrOutcome.Gp); // ICR bit 12
  assert.equal(wr(a, 0x830, 0x100041, 1), MsrOutcome.Gp); // ICR bit 20
  assert.equal(wr(a, 0x83f, 0x100), MsrOutcome.Gp); // SELF IPI 31:8
});

Deno.test("x2APIC SELF IPI and EOI through MSRs", () => {
  const { apics: [a] } = machine(1);
  wr(a, 0x1b, 0xfee00c00);
  assert.equal(wr(a, 0x83f, 0x55), MsrOutcome.Ok);
  assert.equal(rd(a, 0x822), MsrOutcome.Ok); // IRR word 2 (vectors 64..95)
  assert.equal(msr.lo, 1 << (0x55 - 64));
  assert.equal(a.take(), 0x55);
  assert.equal(rd(a, 0x812), MsrOutcome.Ok);
  assert.equal(msr.lo, 1 << (0x55 - 64));
  assert.equal(rd(a, 0x80a), MsrOutcome.Ok);
  assert.equal(msr.lo, 0x50);
  wr(a, 0x80b, 0);
  assert.equal(a.highestIsr(), -1);
  assert.equal(wr(a, 0x83f, 0x05), MsrOutcome.Ok); // illegal vector: error, nothing posted
  assert.equal(a.highestIrr(), -1);
  wr(a, 0x828, 0);
  rd(a, 0x828);
  assert.equal(msr.lo, 0x20);
});
