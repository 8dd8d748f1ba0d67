/**
 * Composes the profiles with `@hv/compose` against a registry of stand-in plugins whose CPUID bits
 * and dependencies are QEMU's (`kvm_hyperv_properties[]`, profiles.md section a), so the pinned
 * leaves of Proxmox's set (profiles.md section c, column A) are checked here without depending on
 * the real plugin packages (`@hv/builtins` checks the same with the real ones).
 */
import assert from "node:assert/strict";
import { Effect, Schema } from "effect";
import { compose, type ComposeRequest } from "@hv/compose";
import { type CpuidBit, HV_CPUID_ENLIGHTMENT_INFO, HvFeatureEdx as D, HvPrivilegeEax as F, HvPrivilegeEbx as H, HvRecommendationEax as R } from "@hv/tlfs";
import { findProfile, profileRequest, profiles } from "../mod.ts";

type AnyPlugin = ComposeRequest["registry"][number];

const stub = (name: string, set: readonly CpuidBit[], requires: readonly string[] = []): AnyPlugin => ({
  name,
  summary: name,
  requires,
  cpuid: { set },
  msrs: [],
  hypercalls: [],
  emulator: { supported: true },
  passthrough: { capabilities: [] },
  formats: { qemu: { property: `hv-${name}` }, libvirt: { unsupported: "stub" }, kubevirt: { unsupported: "stub" } },
  docs: { description: name, guestGains: "", windows: "", sources: [] },
});

const spinlocks: AnyPlugin = {
  ...stub("spinlocks", []),
  params: { retries: { schema: Schema.NumberFromString, default: 0xffffffff, doc: "retries" } },
  primaryParam: "retries",
  cpuid: ({ retries }: { retries: number }) => ({
    registers: [{ leaf: HV_CPUID_ENLIGHTMENT_INFO, register: "ebx" as const, value: retries, mode: "set" as const }],
  }),
};

/** QEMU's bits and hard dependencies for every enlightenment a profile uses. */
const registry: AnyPlugin[] = [
  stub("relaxed", [R.UseRelaxedTiming]),
  stub("vapic", [F.AccessIntrCtrlRegs, R.UseApicMsrs]),
  spinlocks,
  stub("vpindex", [F.AccessVpIndex]),
  stub("runtime", [F.AccessVpRunTimeReg]),
  stub("crash", [D.GuestCrashRegsAvailable]),
  stub("time", [F.AccessPartitionReferenceCounter, F.AccessPartitionReferenceTsc]),
  stub("synic", [F.AccessSynicRegs, H.PostMessages, H.SignalEvents], ["vpindex"]),
  stub("stimer", [F.AccessSyntheticTimerRegs], ["synic", "time"]),
  stub("stimer-direct", [D.DirectSyntheticTimers], ["stimer"]),
  stub("frequencies", [F.AccessFrequencyRegs, D.FrequencyRegsAvailable]),
  stub("reenlightenment", [F.AccessReenlightenmentControls]),
  stub("reset", [F.AccessResetReg]),
  stub("tlbflush", [R.UseHypercallForRemoteFlush, R.UseExProcessorMasks], ["vpindex"]),
  stub("tlbflush-ext", [D.ExtendedGvaRangesForFlushVirtualAddressListAvailable], ["tlbflush"]),
  stub("ipi", [R.UseSyntheticClusterIpi, R.UseExProcessorMasks], ["vpindex"]),
  stub("xmm-input", [D.XmmRegistersForFastHypercallAvailable]),
];

const leavesOf = (name: string, requested?: ReturnType<typeof profileRequest>) => {
  const p = findProfile(name)!;
  const r = requested ?? profileRequest(p);
  const c = Effect.runSync(compose({ registry, ...r }));
  return (fn: number) => c.cpuid.find((l) => l.function === fn && l.index === 0)!;
};

Deno.test("every profile composes as is (no autoResolve): dependency-closed under QEMU's dependencies", () => {
  for (const p of profiles) {
    const c = Effect.runSync(compose({ registry, ...profileRequest(p) }));
    assert.deepEqual(c.enlightenments.map((e) => e.name).sort(), p.enlightenments.map((e) => e.name).sort(), p.name);
    // vpindex is part of the base, which compose labels itself
    for (const e of c.enlightenments) assert.match(e.reason, e.name === "vpindex" ? /^base: / : new RegExp(`^profile ${p.name}: `));
  }
});

Deno.test("win10's Proxmox set composes to profiles.md column A (0x40000003 EAX=0x2FF)", () => {
  const proxmox = ["relaxed", "vapic", "spinlocks", "time", "reset", "vpindex", "runtime", "synic", "stimer", "ipi"];
  const r = profileRequest(findProfile("win10")!);
  const subset = { ...r, requested: r.requested.filter((x) => proxmox.includes(x.name)) };
  assert.equal(subset.requested.length, proxmox.length);
  for (const leaf of [leavesOf("win10", subset), leavesOf("win10")]) {
    assert.equal(leaf(0x40000000).eax, 0x40000005);
    assert.deepEqual([leaf(0x40000002).eax, leaf(0x40000002).ebx, leaf(0x40000002).ecx, leaf(0x40000002).edx], [0x3839, 0xa0000, 0, 0]);
    assert.equal(leaf(0x40000003).eax, 0x2ff);
    assert.equal(leaf(0x40000003).ebx, 0x30);
    assert.equal(leaf(0x40000003).edx, 0x8);
    assert.equal(leaf(0x40000004).eax, 0xc28);
    assert.equal(leaf(0x40000004).ebx, 0x1fff);
    assert.equal(leaf(0x40000005).eax, 0xffffffff);
  }
});

Deno.test("win7..win11 compose to the same leaves as win10", () => {
  const ref = leavesOf("win10");
  for (const n of ["win7", "win8", "win81", "win11"]) {
    const l = leavesOf(n);
    for (const fn of [0x40000000, 0x40000002, 0x40000003, 0x40000004, 0x40000005]) assert.deepEqual(l(fn), ref(fn), `${n} ${fn.toString(16)}`);
  }
});

Deno.test("linux composes without UseApicMsrs, spinlock notifications or reenlightenment", () => {
  const leaf = leavesOf("linux");
  assert.equal(leaf(0x40000003).eax, 0xa6e); // 1,9 time; 2 synic; 3 stimer; 5,6 base; 11 frequencies
  assert.equal(leaf(0x40000003).edx, 0x80508); // 3 dyn. partitioning, 8 frequencies, 10 crash, 19 direct stimers
  assert.equal(leaf(0x40000004).eax, 0xc04); // 2 remote flush, 10 cluster IPI, 11 Ex masks; not 3 (UseApicMsrs)
  assert.equal(leaf(0x40000004).ebx, 0xffffffff); // never notify
});
