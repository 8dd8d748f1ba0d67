/**
 * Composes the real plugins with `@hv/compose` and checks the CPUID leaves against the values QEMU
 * computes for the same flags (profiles.md section c: sets A, B and N), then the error paths.
 */
import assert from "node:assert/strict";
import { Effect, Exit } from "effect";
import { compose, type ComposeError, type ComposeRequest, type Composition } from "@hv/compose";
import { HV_X64_MSR_SCONTROL, HvPrivilegeEbx } from "@hv/tlfs";
import { type CpuidLeaf, decodeVendor, definePlugin, encodeVendor } from "@hv/x86";
import { builtins } from "../mod.ts";

const request = (names: readonly string[], extra: Partial<ComposeRequest> = {}): ComposeRequest => ({
  registry: builtins,
  requested: names.map((name) => ({ name, reason: "test" })),
  ...extra,
});
const ok = (names: readonly string[], extra: Partial<ComposeRequest> = {}): Composition => Effect.runSync(compose(request(names, extra)));
const fail = (names: readonly string[], extra: Partial<ComposeRequest> = {}): ComposeError => {
  const exit = Effect.runSyncExit(Effect.flip(compose(request(names, extra))));
  assert.ok(Exit.isSuccess(exit), "expected a composition error, got a composition");
  return exit.value;
};
const leaf = (c: Composition, fn: number): CpuidLeaf => {
  const l = c.cpuid.find((x) => x.function === fn);
  assert.ok(l, `leaf 0x${fn.toString(16)} missing`);
  return l;
};
const functions = (c: Composition) => c.cpuid.map((l) => l.function);
const range = (first: number, last: number) => Array.from({ length: last - first + 1 }, (_, i) => first + i);

/** The leaves every set shares (QEMU defaults): vendor, Hv#1, version 10.0.14393, limits. */
const assertCommon = (c: Composition) => {
  assert.deepEqual(leaf(c, 0x40000000), { function: 0x40000000, index: 0, eax: leaf(c, 0x40000000).eax, ebx: 0x7263694d, ecx: 0x666f736f, edx: 0x76482074 });
  assert.deepEqual(leaf(c, 0x40000001), { function: 0x40000001, index: 0, eax: 0x31237648, ebx: 0, ecx: 0, edx: 0 });
  assert.deepEqual(leaf(c, 0x40000002), { function: 0x40000002, index: 0, eax: 0x3839, ebx: 0xa0000, ecx: 0, edx: 0 });
  assert.deepEqual(leaf(c, 0x40000005), { function: 0x40000005, index: 0, eax: 0xffffffff, ebx: 0x40, ecx: 0, edx: 0 });
};

const SET_A = ["relaxed", "vapic", "spinlocks", "time", "reset", "vpindex", "runtime", "synic", "stimer", "ipi"];
const SET_B = ["relaxed", "vapic", "spinlocks", "time", "vpindex", "runtime", "synic", "stimer", "frequencies", "tlbflush", "ipi", "evmcs", "avic"];
const SET_N = ["relaxed", "vapic", "spinlocks", "time", "vpindex", "runtime", "synic", "reset", "frequencies", "tlbflush", "ipi"];

Deno.test("set A (Proxmox win10): QEMU's leaves 0x40000000..5", () => {
  const c = ok(SET_A, { set: { spinlocks: "0x1fff" } });
  assertCommon(c);
  assert.deepEqual(functions(c), range(0x40000000, 0x40000005));
  assert.equal(leaf(c, 0x40000000).eax, 0x40000005);
  assert.deepEqual(leaf(c, 0x40000003), { function: 0x40000003, index: 0, eax: 0x2ff, ebx: 0x30, ecx: 0, edx: 0x8 });
  assert.deepEqual(leaf(c, 0x40000004), { function: 0x40000004, index: 0, eax: 0xc28, ebx: 0x1fff, ecx: 0, edx: 0 });
});

Deno.test("set B (virt-install, Intel): evmcs raises the max leaf to 0x4000000A, avic clears UseApicMsrs", () => {
  const c = ok(SET_B, { set: { spinlocks: "8191" } });
  assertCommon(c);
  assert.equal(leaf(c, 0x40000000).eax, 0x4000000a);
  assert.deepEqual(functions(c), range(0x40000000, 0x4000000a));
  assert.deepEqual(leaf(c, 0x40000003), { function: 0x40000003, index: 0, eax: 0xa7f, ebx: 0x30, ecx: 0, edx: 0x108 });
  assert.deepEqual(leaf(c, 0x40000004), { function: 0x40000004, index: 0, eax: 0x4e24, ebx: 0x1fff, ecx: 0, edx: 0 });
  for (const fn of range(0x40000006, 0x40000009)) assert.deepEqual(leaf(c, fn), { function: fn, index: 0, eax: 0, ebx: 0, ecx: 0, edx: 0 });
  assert.deepEqual(leaf(c, 0x4000000a), { function: 0x4000000a, index: 0, eax: 0x101, ebx: 0, ecx: 0, edx: 0 });
});

Deno.test("set N (Nova): QEMU's leaves", () => {
  const c = ok(SET_N, { set: { spinlocks: "8191" } });
  assertCommon(c);
  assert.equal(leaf(c, 0x40000000).eax, 0x40000005);
  assert.deepEqual(functions(c), range(0x40000000, 0x40000005));
  assert.deepEqual(leaf(c, 0x40000003), { function: 0x40000003, index: 0, eax: 0xaf7, ebx: 0x30, ecx: 0, edx: 0x108 });
  assert.deepEqual(leaf(c, 0x40000004), { function: 0x40000004, index: 0, eax: 0xc2c, ebx: 0x1fff, ecx: 0, edx: 0 });
});

Deno.test("the composed claim tables name the owners (base keeps VP_INDEX, vpindex claims nothing)", () => {
  const c = ok(SET_A);
  assert.equal(c.msrs.get(0x40000002)?.owner, "base");
  assert.equal(c.msrs.get(0x40000080)?.owner, "synic");
  assert.equal(c.msrs.get(0x40000070)?.owner, "vapic");
  assert.equal(c.hypercalls.get(0x000b)?.owner, "ipi");
  assert.equal(c.hypercalls.get(0x005c)?.owner, "synic");
  assert.deepEqual(c.enlightenments.map((e) => e.name), ["relaxed", "vapic", "spinlocks", "vpindex", "runtime", "time", "synic", "stimer", "reset", "ipi"]);
});

Deno.test("every builtin composes with its dependencies (auto-resolved)", () => {
  for (const p of builtins) {
    const c = ok([p.name], { autoResolve: true });
    assert.ok(c.enlightenments.some((e) => e.name === p.name), p.name);
    for (const d of p.requires) assert.ok(c.enlightenments.some((e) => e.name === d), `${p.name} without ${d}`);
  }
});

Deno.test("all 24 builtins compose together", () => {
  const c = ok(builtins.map((p) => p.name));
  assert.equal(c.enlightenments.length, 24);
  assert.equal(leaf(c, 0x40000000).eax, 0x40000082, "syndbg's leaves raise the reported max");
  assert.ok(functions(c).includes(0x4000000a) && !functions(c).includes(0x4000000b), "standard leaves stop at evmcs' 0x4000000A");
  assert.equal(leaf(c, 0x4000000a).eax, 0x101 | 1 << 17 | 1 << 19);
});

Deno.test("vendor-id overrides the default vendor with mode 'set'", () => {
  const c = ok(["vendor-id"], { set: { "vendor-id": "proxmox" } });
  const l = leaf(c, 0x40000000);
  assert.equal(decodeVendor(l.ebx, l.ecx, l.edx), "proxmox");
  assert.deepEqual({ ebx: l.ebx, ecx: l.ecx, edx: l.edx }, encodeVendor("proxmox"));
  const d = leaf(ok(["vendor-id"]), 0x40000000);
  assert.equal(decodeVendor(d.ebx, d.ecx, d.edx), "Microsoft Hv");
});

Deno.test("syndbg adds leaves 0x40000080..82 after the Hyper-V range", () => {
  const c = ok(["syndbg"], { autoResolve: true });
  const l80 = leaf(c, 0x40000080);
  assert.equal(decodeVendor(l80.ebx, l80.ecx, l80.edx), "Microsoft VS");
  assert.equal(l80.eax, 0);
  assert.equal(leaf(c, 0x40000081).eax, 0x31235356);
  assert.equal(leaf(c, 0x40000082).eax, 0x2);
  assert.equal(leaf(c, 0x40000003).edx & (1 << 11), 1 << 11);
  assert.deepEqual(functions(c).slice(-3), [0x40000080, 0x40000081, 0x40000082]);
});

// QEMU hyperv_fill_cpuids: with hv-syndbg, max_cpuid_leaf = MAX(.., HV_CPUID_SYNDBG_PLATFORM_CAPABILITIES).
Deno.test({
  name: "syndbg raises 0x40000000.EAX to 0x40000082 as QEMU does",
  fn: () => {
    const c = ok(["syndbg"], { autoResolve: true });
    assert.equal(leaf(c, 0x40000000).eax, 0x40000082);
    assert.deepEqual(functions(c), [...range(0x40000000, 0x40000005), 0x40000080, 0x40000081, 0x40000082]);
  },
});

Deno.test("error: stimer without synic is a MissingDependency naming synic", () => {
  const e = fail(["stimer", "time"]);
  assert.equal(e._tag, "MissingDependency");
  assert.ok(e._tag === "MissingDependency" && e.name === "stimer" && e.missing === "synic" && !e.removed);
  assert.match(e.message, /synic/);
});

Deno.test("autoResolve adds stimer's dependencies", () => {
  const c = ok(["stimer"], { autoResolve: true });
  assert.deepEqual(c.enlightenments.map((e) => e.name), ["vpindex", "time", "synic", "stimer"]);
  assert.match(c.enlightenments.find((e) => e.name === "synic")!.reason, /dependency of stimer/);
});

Deno.test("error: --without synic while stimer stays is a MissingDependency with removed=true", () => {
  const e = fail(["synic", "time", "stimer"], { without: ["synic"] });
  assert.ok(e._tag === "MissingDependency" && e.name === "stimer" && e.missing === "synic" && e.removed);
  const e2 = fail(["synic", "time", "stimer"], { without: ["synic"], autoResolve: true });
  assert.ok(e2._tag === "MissingDependency" && e2.removed, "autoResolve must not re-add what --without removed");
});

Deno.test("error: vpindex is part of the base and cannot be removed", () => {
  const e = fail(["relaxed"], { without: ["vpindex"] });
  assert.ok(e._tag === "MissingDependency" && e.missing === "vpindex" && e.removed);
});

Deno.test("error: an unknown name lists the valid ones", () => {
  const e = fail(["relaxed", "hv-relaxed"]);
  assert.ok(e._tag === "UnknownEnlightenment" && e.name === "hv-relaxed");
  assert.deepEqual(e._tag === "UnknownEnlightenment" ? e.valid : [], builtins.map((p) => p.name));
  assert.equal(fail(["relaxed"], { without: ["nope"] })._tag, "UnknownEnlightenment");
});

Deno.test("error: malformed or out-of-range spinlocks is an InvalidParameter", () => {
  for (const v of ["banana", "0x10"]) {
    const e = fail(["spinlocks"], { set: { spinlocks: v } });
    assert.ok(e._tag === "InvalidParameter" && e.name === "spinlocks" && e.param === "retries" && e.value === v, v);
  }
});

Deno.test("error: a vendor id longer than 12 characters is an InvalidParameter", () => {
  const e = fail(["vendor-id"], { set: { "vendor-id": "this is way too long" } });
  assert.ok(e._tag === "InvalidParameter" && e.name === "vendor-id" && e.param === "value");
  assert.equal(fail(["vendor-id"], { set: { "vendor-id.value": "" } })._tag, "InvalidParameter");
});

const fake = (extra: Partial<Parameters<typeof definePlugin>[0]>) =>
  definePlugin({
    name: "fake",
    summary: "a test plugin",
    requires: [],
    cpuid: {},
    msrs: [],
    hypercalls: [],
    emulator: { supported: true },
    passthrough: { capabilities: [] },
    formats: { qemu: { property: "hv-fake" }, libvirt: { unsupported: "test" }, kubevirt: { unsupported: "test" } },
    docs: { description: "test", guestGains: "test", windows: "test", sources: ["test"] },
    ...extra,
  });

Deno.test("error: a second plugin claiming HV_X64_MSR_SCONTROL next to synic is a ClaimConflict naming both", () => {
  const f = fake({ msrs: [{ index: HV_X64_MSR_SCONTROL, name: "HV_X64_MSR_SCONTROL", access: "rw" }] });
  const e = fail(["synic", "fake"], { registry: [...builtins, f] });
  assert.ok(e._tag === "ClaimConflict" && e.first === "synic" && e.second === "fake");
  assert.match(e.message, /synic/);
  assert.match(e.message, /fake/);
  assert.match(e.message, /HV_X64_MSR_SCONTROL/);
});

Deno.test("error: a plugin advertising AccessPartitionId is a ForbiddenPrivilege", () => {
  const f = fake({ cpuid: { set: [HvPrivilegeEbx.AccessPartitionId] } });
  const e = fail(["relaxed", "fake"], { registry: [...builtins, f] });
  assert.ok(e._tag === "ForbiddenPrivilege" && e.privilege === "AccessPartitionId" && e.owner === "fake");
});
