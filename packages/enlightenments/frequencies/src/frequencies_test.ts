import assert from "node:assert/strict";
import {
  HV_X64_MSR_APIC_FREQUENCY,
  HV_X64_MSR_REENLIGHTENMENT_CONTROL,
  HV_X64_MSR_TSC_EMULATION_CONTROL,
  HV_X64_MSR_TSC_EMULATION_STATUS,
  HV_X64_MSR_TSC_FREQUENCY,
} from "@hv/tlfs";
import { cpuidOf, MsrOutcome, newMsrAccess, type VpView } from "@hv/x86";
import { rdmsr, TestPartition, wrmsr } from "@hv/testkit";
import { frequencies, frequenciesHandlers, setHz } from "../mod.ts";

Deno.test("frequencies sets 0x40000003.EAX[11] and EDX[8]", () => {
  assert.deepEqual(cpuidOf(frequencies, {}).set?.map((b) => [b.leaf, b.register, b.bit]), [
    [0x40000003, "eax", 11],
    [0x40000003, "edx", 8],
  ]);
});

Deno.test("frequencies claims TSC_FREQUENCY and APIC_FREQUENCY read-only", () => {
  assert.deepEqual(frequencies.msrs.map((m) => [m.index, m.name, m.access, m.gate?.name]), [
    [0x40000022, "HV_X64_MSR_TSC_FREQUENCY", "ro", "AccessFrequencyRegs"],
    [0x40000023, "HV_X64_MSR_APIC_FREQUENCY", "ro", "AccessFrequencyRegs"],
  ]);
  assert.deepEqual(frequencies.requires, []);
});

Deno.test("TLFS rows TSC_FREQUENCY / APIC_FREQUENCY: read the partition's Hz as u64; WRMSR -> #GP", () => {
  const p = TestPartition.create({ requested: ["frequencies"], tscHz: 2_893_420_000 });
  const vp = p.vps[0];
  assert.equal(rdmsr(vp, HV_X64_MSR_TSC_FREQUENCY), 2_893_420_000n, "above 2^31: unsigned");
  assert.equal(rdmsr(vp, HV_X64_MSR_APIC_FREQUENCY), 1_000_000_000n, "KVM's 1 ns LAPIC");
  for (const msr of [HV_X64_MSR_TSC_FREQUENCY, HV_X64_MSR_APIC_FREQUENCY]) {
    for (const v of [0n, 1n, 2_893_420_000n, 0xffffffffffffffffn]) assert.equal(wrmsr(vp, msr, v), "gp", `write ${v}`);
  }
  assert.equal(rdmsr(vp, HV_X64_MSR_TSC_FREQUENCY), 2_893_420_000n, "unchanged by refused writes");
});

Deno.test("frequencies are the same on every VP and the default testkit clock reads 1 GHz", () => {
  const p = TestPartition.create({ requested: ["frequencies"], vpIndices: [0, 65] });
  for (const vp of p.vps) {
    assert.equal(rdmsr(vp, HV_X64_MSR_TSC_FREQUENCY), 1_000_000_000n);
    assert.equal(rdmsr(vp, HV_X64_MSR_APIC_FREQUENCY), 1_000_000_000n);
  }
});

Deno.test("without hv-frequencies composed both MSRs #GP on read and write", () => {
  const p = TestPartition.create({ requested: ["runtime"] });
  for (const msr of [HV_X64_MSR_TSC_FREQUENCY, HV_X64_MSR_APIC_FREQUENCY]) {
    assert.equal(rdmsr(p.vps[0], msr), "gp");
    assert.equal(wrmsr(p.vps[0], msr, 0n), "gp");
  }
});

Deno.test("setHz: u64 halves, floors fractions, and answers 0 (never throws) for a broken backend value", () => {
  const msr = newMsrAccess();
  const rd = (hz: number) => (setHz(msr, hz), (BigInt(msr.hi) << 32n) | BigInt(msr.lo));
  assert.equal(rd(2 ** 40 + 3), (1n << 40n) + 3n);
  assert.equal(rd(2_500_000_000.9), 2_500_000_000n);
  for (const bad of [-1, Number.NaN, Infinity, 2 ** 60]) assert.equal(rd(bad), 0n, String(bad));
});

Deno.test("handlers: other MSRs are NotMine; the partition is read at each access", () => {
  const h = frequenciesHandlers();
  const p = TestPartition.create({ requested: ["frequencies"] });
  const msr = newMsrAccess();
  msr.index = HV_X64_MSR_APIC_FREQUENCY + 1;
  assert.equal(h.rdmsr!(p.vps[0], msr), MsrOutcome.NotMine);
  assert.equal(h.wrmsr!(p.vps[0], msr), MsrOutcome.NotMine);
  msr.index = HV_X64_MSR_TSC_FREQUENCY;
  const vp = { ...p.vps[0], partition: { ...p, tscHz: 3e9 } } as unknown as VpView;
  assert.equal(h.rdmsr!(vp, msr), MsrOutcome.Ok);
  assert.deepEqual([msr.lo, msr.hi], [3e9 % 2 ** 32, 0]);
  assert.equal(h.wrmsr!(vp, msr), MsrOutcome.Gp);
});

Deno.test("TSC_FREQUENCY follows a TSC frequency change at once, on every VP; APIC_FREQUENCY does not move", () => {
  const p = TestPartition.create({ requested: ["frequencies"], tscHz: 2_893_420_000, vpIndices: [0, 65] });
  for (const hz of [3_000_000_000, 1_000_000_001, 5_000_000_000, 2_893_420_000]) {
    assert.equal(p.changeTscFrequency(hz), false, "nobody holds");
    for (const vp of p.vps) {
      assert.equal(rdmsr(vp, HV_X64_MSR_TSC_FREQUENCY), BigInt(hz));
      assert.equal(rdmsr(vp, HV_X64_MSR_APIC_FREQUENCY), 1_000_000_000n);
    }
    assert.equal(p.guestTscHz, hz);
  }
});

Deno.test("held change (hv-reenlightenment with TSC emulation): TSC_FREQUENCY already reports the new frequency, before and after the acknowledgement", () => {
  const p = TestPartition.create({ requested: ["frequencies", "reenlightenment"], tscHz: 2.5e9, vpCount: 2 });
  const [a, b] = p.vps;
  wrmsr(a, HV_X64_MSR_REENLIGHTENMENT_CONTROL, 0xeen | (1n << 16n) | (1n << 32n));
  wrmsr(a, HV_X64_MSR_TSC_EMULATION_CONTROL, 1n);
  assert.equal(p.changeTscFrequency(3.2e9), true);
  assert.equal(p.guestTscHz, 2.5e9, "the guest TSC still ticks at the old rate");
  // A guest that reads the frequency before acknowledging gets the one it must switch to ...
  assert.equal(rdmsr(b, HV_X64_MSR_TSC_FREQUENCY), 3_200_000_000n);
  assert.equal(wrmsr(b, HV_X64_MSR_TSC_EMULATION_STATUS, 0n), "ok");
  // ... and so does Linux, which reads it after clearing InProgress (hyperv_stop_tsc_emulation).
  assert.equal(rdmsr(b, HV_X64_MSR_TSC_FREQUENCY), 3_200_000_000n);
  assert.equal(p.guestTscHz, 3.2e9);
  assert.equal(rdmsr(a, HV_X64_MSR_APIC_FREQUENCY), 1_000_000_000n);
});
