import assert from "node:assert/strict";
import { APIC_STATE } from "@hv/apic";
import type { Vcpu } from "@hv/kvm";
import { defineState, StateArena } from "@hv/x86";
import { applyMachineState, type MachineState, type RestoreParts, SnapshotMismatchError, tscRateDiffers } from "./snapshot.ts";
import { SharedTimers, timerBytes } from "./timers.ts";
import { APIC_TIMER_OWNER } from "./irqchip.ts";

Deno.test("tscRateDiffers: KVM's 250 ppm tolerance", () => {
  assert.equal(tscRateDiffers(2_596_144_000, 2_596_144_000), false);
  assert.equal(tscRateDiffers(2_596_144_000 + 600_000, 2_596_144_000), false, "231 ppm");
  assert.equal(tscRateDiffers(2_596_144_000 + 700_000, 2_596_144_000), true, "270 ppm");
  assert.equal(tscRateDiffers(2_000_000_000, 3_000_000_000), true);
});

const layout = defineState({ version: 3, fields: { a: { type: "u32" }, b: { type: "u64" } } });

/** A fresh two-VP machine without KVM: no vCPU is touched unless every check passed (the fakes throw). */
function parts(): RestoreParts {
  const entries = [{ owner: "p", layout }];
  const timerLayout = { owners: new Map([[APIC_TIMER_OWNER, { base: 0, perVp: 1 }]]), slots: 2 };
  const untouchable = new Proxy({}, { get: () => { throw new Error("vCPU touched"); } }) as Vcpu;
  return {
    vcpus: [untouchable, untouchable],
    partition: new StateArena(entries, new SharedArrayBuffer(layout.byteLength)),
    vpEntries: entries,
    vpStates: [new SharedArrayBuffer(layout.byteLength), new SharedArrayBuffer(layout.byteLength)],
    apicStates: [new SharedArrayBuffer(APIC_STATE.byteLength), new SharedArrayBuffer(APIC_STATE.byteLength)],
    timers: new SharedTimers(timerLayout, new SharedArrayBuffer(timerBytes(timerLayout)), 2, performance.timeOrigin + performance.now()),
    cmos: new SharedArrayBuffer(128),
    ramBytes: 4 * 1048576,
  };
}

function state(): MachineState {
  const slot = { p: { version: 3, bytes: new Uint8Array(layout.byteLength) } };
  const vcpu = { regs: new Uint8Array(0), sregs: new Uint8Array(0), fpu: new Uint8Array(0), xsave: new Uint8Array(0), xcrs: new Uint8Array(0), events: new Uint8Array(0), debugregs: new Uint8Array(0), msrs: [], halted: false };
  return {
    tscKhz: 1_000_000,
    ramBytes: 4 * 1048576,
    vcpus: [vcpu, vcpu],
    partition: slot,
    vps: [slot, slot],
    apics: [0, 1].map(() => ({ version: APIC_STATE.version, bytes: new Uint8Array(APIC_STATE.byteLength) })),
    cmos: new Uint8Array(128),
  };
}

Deno.test("applyMachineState: a snapshot of another machine shape or hv version is refused before any vCPU is touched", () => {
  const cases: [string, (s: MachineState) => MachineState, RegExp][] = [
    ["RAM", (s) => ({ ...s, ramBytes: 8 * 1048576 }), /8 MiB of RAM, this machine 4 MiB/],
    ["vCPUs", (s) => ({ ...s, vcpus: s.vcpus.slice(1) }), /1 vCPUs, this machine 2/],
    ["APIC layout", (s) => ({ ...s, apics: s.apics.map((a) => ({ ...a, version: 9 })) }), /APIC state has layout version 9/],
    ["CMOS", (s) => ({ ...s, cmos: new Uint8Array(64) }), /CMOS state has 64 bytes/],
    ["plugin layout", (s) => ({ ...s, partition: { p: { version: 2, bytes: new Uint8Array(layout.byteLength) } } }), /plugin state: .*layout version 2, expected 3/],
    ["plugin missing", (s) => ({ ...s, vps: [s.vps[0], {}] }), /plugin state: .*not in the saved state/],
  ];
  for (const [what, edit, why] of cases) {
    assert.throws(() => applyMachineState(parts(), edit(state())), (e: Error) => e instanceof SnapshotMismatchError && why.test(e.message), what);
  }
});

Deno.test("applyMachineState: an armed APIC timer keeps the time it had left at the save, re-armed on the new clock", () => {
  const p = parts();
  const s = state();
  // Saved 3 ms before its deadline (times in a snapshot are relative to the save).
  const saved = new SharedArrayBuffer(APIC_STATE.byteLength);
  const v = APIC_STATE.views(saved);
  v.timerStart[0] = -1e6;
  v.timerDeadline[0] = 3e6;
  const apics = [{ version: APIC_STATE.version, bytes: new Uint8Array(saved) }, s.apics[1]];
  const before = p.timers.now();
  // The vCPUs are fakes that throw: the arenas, APICs and CMOS are written before them.
  assert.throws(() => applyMachineState(p, { ...s, apics }), /vCPU touched/);
  const after = p.timers.now();
  const restored = APIC_STATE.views(p.apicStates[0]);
  assert.ok(restored.timerDeadline[0] >= before + 3e6 && restored.timerDeadline[0] <= after + 3e6);
  assert.equal(p.timers.deadlines[0], restored.timerDeadline[0], "the host timer is armed");
  assert.equal(p.timers.deadlines[1], 0, "an unarmed APIC timer stays unarmed");
  assert.equal(APIC_STATE.views(p.apicStates[1]).timerDeadline[0], 0);
});
