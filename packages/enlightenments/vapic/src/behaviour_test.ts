import assert from "node:assert/strict";
import { APIC_STATE, LocalApic, PeerBus, PvEoi, vpApicOf } from "@hv/apic";
import { HV_X64_MSR_EOI, HV_X64_MSR_ICR, HV_X64_MSR_TPR, HV_X64_MSR_VP_ASSIST_PAGE } from "@hv/tlfs";
import { rdmsr, TestPartition, type TestVp, wrmsr } from "@hv/testkit";

/** A partition with vapic and a userspace APIC per VP (as the emulator runs it). */
const withApics = (vpCount = 2) => {
  const p = TestPartition.create({ requested: ["vapic"], vpCount });
  const bus = new PeerBus();
  const vps: TestVp[] = [];
  const apics: LocalApic[] = [];
  const pv: PvEoi[] = [];
  for (let i = 0; i < vpCount; i++) {
    const vp = p.vp(i) as TestVp;
    const a = new LocalApic({ views: APIC_STATE.views(new SharedArrayBuffer(APIC_STATE.byteLength)), apicId: i, bsp: i === 0, bus, timers: p.timers });
    const e = new PvEoi(a, p.memory);
    vp.apic = vpApicOf(a, e);
    vps.push(vp);
    apics.push(a);
    pv.push(e);
  }
  bus.attach(apics);
  for (const a of apics) {
    a.reset();
    a.write(0xf0, 4, 0x1ff); // software-enable
  }
  return { p, vps, apics, pv };
};

Deno.test("HV_X64_MSR_EOI ends the highest in-service interrupt; bits 63:32 or a read #GP", () => {
  const { vps, apics } = withApics(1);
  apics[0].accept(0x40, false, false);
  apics[0].accept(0x50, false, false);
  apics[0].take();
  assert.equal(apics[0].highestIsr(), 0x50);
  assert.equal(wrmsr(vps[0], HV_X64_MSR_EOI, 1n << 32n), "gp");
  assert.equal(apics[0].highestIsr(), 0x50, "a refused write changes nothing");
  assert.equal(wrmsr(vps[0], HV_X64_MSR_EOI, 0), "ok");
  assert.equal(apics[0].highestIsr(), -1);
  assert.equal(rdmsr(vps[0], HV_X64_MSR_EOI), "gp", "write-only");
});

Deno.test("HV_X64_MSR_ICR sends a fixed IPI to the other VP and reads back; reserved bits #GP", () => {
  const { vps, apics } = withApics(2);
  assert.equal(wrmsr(vps[0], HV_X64_MSR_ICR, (1n << 56n) | 0x4061n), "ok"); // xAPIC: destination in 63:56
  assert.equal(apics[1].highestIrr(), 0x61);
  assert.equal(apics[0].highestIrr(), -1);
  assert.equal(rdmsr(vps[0], HV_X64_MSR_ICR), (1n << 56n) | 0x4061n);
  assert.equal(wrmsr(vps[0], HV_X64_MSR_ICR, 0x4062n | (1n << 20n)), "gp");
  assert.equal(rdmsr(vps[0], HV_X64_MSR_ICR), (1n << 56n) | 0x4061n);
  // Self shorthand, vector 0x0F: illegal vector, nothing delivered.
  assert.equal(wrmsr(vps[0], HV_X64_MSR_ICR, 0x4000fn), "ok");
  assert.equal(apics[0].highestIrr(), -1);
});

Deno.test("HV_X64_MSR_TPR is the APIC's TPR; bits 63:32 #GP; it masks lower-priority interrupts", () => {
  const { vps, apics } = withApics(1);
  assert.equal(wrmsr(vps[0], HV_X64_MSR_TPR, 0x50), "ok");
  assert.equal(rdmsr(vps[0], HV_X64_MSR_TPR), 0x50n);
  assert.equal(apics[0].tpr, 0x50);
  assert.equal(wrmsr(vps[0], HV_X64_MSR_TPR, 1n << 32n), "gp");
  apics[0].accept(0x45, false, false);
  assert.equal(apics[0].pending(), -1, "class 4 <= TPR class 5");
  assert.equal(wrmsr(vps[0], HV_X64_MSR_TPR, 0), "ok");
  assert.equal(apics[0].pending(), 0x45);
});

Deno.test("VP assist page: GPA outside RAM #GP, enable zeroes apic_assist only, and turns exit-less EOI on", () => {
  const { p, vps, pv } = withApics(1);
  const gpa = 0x8000;
  p.memory.writeU32(gpa, 0xffffffff);
  p.memory.writeU32(gpa + 4, 0xabcdef01);
  assert.equal(wrmsr(vps[0], HV_X64_MSR_VP_ASSIST_PAGE, 0x7fff_f000n | 1n), "gp", "beyond the 1 MiB of RAM");
  assert.equal(wrmsr(vps[0], HV_X64_MSR_VP_ASSIST_PAGE, (1n << 52n) | 1n), "gp", "beyond any GPA");
  assert.equal(rdmsr(vps[0], HV_X64_MSR_VP_ASSIST_PAGE), 0n);
  assert.equal(pv[0].enabled, false);
  assert.equal(wrmsr(vps[0], HV_X64_MSR_VP_ASSIST_PAGE, BigInt(gpa) | 1n), "ok");
  assert.equal(rdmsr(vps[0], HV_X64_MSR_VP_ASSIST_PAGE), BigInt(gpa) | 1n);
  assert.equal(p.memory.readU32(gpa), 0);
  assert.equal(p.memory.readU32(gpa + 4), 0xabcdef01);
  assert.equal(pv[0].enabled, true);
  // Disabling with a bad page number is fine (nothing is accessed) and turns it off.
  assert.equal(wrmsr(vps[0], HV_X64_MSR_VP_ASSIST_PAGE, 0x7fff_f000n), "ok");
  assert.equal(pv[0].enabled, false);
});

Deno.test("after a restore (TestPartition.restoreState -> restored()), the restored assist page turns exit-less EOI on again", () => {
  const saved = withApics(2);
  assert.equal(wrmsr(saved.vps[1], HV_X64_MSR_VP_ASSIST_PAGE, 0x9000n | 1n), "ok");
  const state = saved.p.saveState();
  // A fresh partition (the restoring machine): its APICs know nothing of the page until restored().
  const fresh = withApics(2);
  assert.deepEqual(fresh.pv.map((e) => e.enabled), [false, false]);
  fresh.p.restoreState(state);
  assert.equal(rdmsr(fresh.vps[1], HV_X64_MSR_VP_ASSIST_PAGE), 0x9001n);
  assert.deepEqual(fresh.pv.map((e) => e.enabled), [false, true], "VP 1 only: VP 0 never enabled its page");
});

Deno.test("without a userspace APIC, EOI/ICR/TPR #GP (KVM without an in-kernel LAPIC) and the assist page still works", () => {
  const p = TestPartition.create({ requested: ["vapic"] });
  const vp = p.vp(0) as TestVp;
  assert.equal(wrmsr(vp, HV_X64_MSR_EOI, 0), "gp");
  assert.equal(wrmsr(vp, HV_X64_MSR_ICR, 0x40041), "gp");
  assert.equal(rdmsr(vp, HV_X64_MSR_ICR), "gp");
  assert.equal(rdmsr(vp, HV_X64_MSR_TPR), "gp");
  assert.equal(wrmsr(vp, HV_X64_MSR_VP_ASSIST_PAGE, 0x8001), "ok");
});
