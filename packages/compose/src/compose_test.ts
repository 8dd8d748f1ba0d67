import assert from "node:assert/strict";
import { Effect, Exit, Schema } from "effect";
import { HvFeatureEdx, HvPrivilegeEax, HvRecommendationEax, HvNestedEax, HV_X64_MSR_RESET } from "@hv/tlfs";
import { type AnyPlugin, definePlugin, type Plugin } from "@hv/x86";
import { compose, type ComposeError, type ComposeRequest } from "../mod.ts";

const stub = (name: string, extra: Partial<Plugin<Record<string, unknown>>> = {}): AnyPlugin =>
  definePlugin({
    name,
    summary: name,
    requires: [],
    cpuid: {},
    msrs: [],
    hypercalls: [],
    emulator: { supported: true },
    passthrough: { capabilities: [] },
    formats: { qemu: { property: `hv-${name}` }, libvirt: { unsupported: "-" }, kubevirt: { unsupported: "-" } },
    docs: { description: name, guestGains: "", windows: "", sources: [] },
    ...extra,
  });

const registry: AnyPlugin[] = [
  stub("vpindex", { cpuid: { set: [HvPrivilegeEax.AccessVpIndex] } }),
  stub("a", { cpuid: { set: [HvRecommendationEax.UseApicMsrs] } }),
  stub("b", { requires: ["a"], cpuid: { set: [HvRecommendationEax.DeprecateAutoEoi], clear: [HvRecommendationEax.UseApicMsrs] } }),
  stub("n", { cpuid: { registers: [{ leaf: 0x4000000a, register: "eax", value: 0x101, mode: "or" }], set: [HvNestedEax.EnlightenedMsrBitmap] } }),
  stub("r1", { msrs: [{ index: HV_X64_MSR_RESET, name: "HV_X64_MSR_RESET", access: "rw" }], cpuid: { registers: [{ leaf: 0x40000004, register: "ebx", value: 5, mode: "set" }] } }),
  stub("r2", { cpuid: { registers: [{ leaf: 0x40000004, register: "ebx", value: 6, mode: "set" }] } }),
  definePlugin<{ level: number }>({
    ...stub("p"),
    params: { level: { schema: Schema.NumberFromString.pipe(Schema.check(Schema.isInt())), default: 3, doc: "a level" } },
    primaryParam: "level",
  }) as AnyPlugin,
];
const req = (names: string[], rest: Partial<ComposeRequest> = {}): ComposeRequest => ({
  registry,
  requested: names.map((name) => ({ name, reason: "test" })),
  ...rest,
});
const ok = (r: ComposeRequest) => Effect.runSync(compose(r));
const fail = (r: ComposeRequest): ComposeError => {
  const exit = Effect.runSyncExit(Effect.flip(compose(r)));
  assert.ok(Exit.isSuccess(exit), "expected a composition error");
  return exit.value;
};
const leaf = (c: ReturnType<typeof ok>, fn: number) => c.cpuid.find((l) => l.function === fn)!;

Deno.test("the empty request is the base: Hv#1 leaves 0x40000000..5, hypercall+VP index privileges, vpindex", () => {
  const c = ok(req([]));
  assert.deepEqual(c.enlightenments.map((e) => e.name), ["vpindex"]);
  assert.deepEqual(c.cpuid.map((l) => l.function), [0x40000000, 0x40000001, 0x40000002, 0x40000003, 0x40000004, 0x40000005]);
  assert.equal(leaf(c, 0x40000000).eax, 0x40000005);
  assert.equal(leaf(c, 0x40000001).eax, 0x31237648);
  assert.equal(leaf(c, 0x40000003).eax, 0x60);
  assert.equal(leaf(c, 0x40000003).edx, 1 << HvFeatureEdx.CpuDynamicPartitioningAvailable.bit);
  assert.equal(leaf(c, 0x40000004).ebx, 0xffffffff, "spinlocks: never notify unless a plugin says otherwise");
  assert.deepEqual([leaf(c, 0x40000005).eax, leaf(c, 0x40000005).ebx], [0xffffffff, 0x40]);
  assert.deepEqual([...c.msrs.values()].map((m) => m.owner), ["base", "base", "base"]);
});

Deno.test("clears apply after every set, whatever the order; reasons name the dependency", () => {
  const c = ok(req(["b"], { autoResolve: true }));
  assert.equal(leaf(c, 0x40000004).eax, 1 << 9, "b's clear of a's UseApicMsrs wins");
  assert.equal(c.enlightenments.find((e) => e.name === "a")!.reason, "dependency of b");
});

Deno.test("a leaf above 0x40000005 raises the max leaf and zero-fills the leaves between", () => {
  const c = ok(req(["n"]));
  assert.equal(leaf(c, 0x40000000).eax, 0x4000000a);
  for (let fn = 0x40000006; fn <= 0x40000009; fn++) assert.deepEqual(leaf(c, fn), { function: fn, index: 0, eax: 0, ebx: 0, ecx: 0, edx: 0 });
  assert.equal(leaf(c, 0x4000000a).eax, 0x101 | 1 << 19);
});

Deno.test("two plugins setting one register conflict, naming both", () => {
  const e = fail(req(["r1", "r2"]));
  assert.equal(e._tag, "ClaimConflict");
  assert.match(e.message, /'r1' and 'r2' both set CPUID 0x40000004.EBX/);
});

Deno.test("parameters: default, --set by primary name and by name.param, and every refusal", () => {
  assert.deepEqual(ok(req(["p"])).enlightenments.find((e) => e.name === "p")!.params, { level: 3 });
  assert.deepEqual(ok(req(["p"], { set: { p: "7" } })).enlightenments.find((e) => e.name === "p")!.params, { level: 7 });
  assert.deepEqual(ok(req(["p"], { set: { "p.level": "0x10" } })).enlightenments.find((e) => e.name === "p")!.params, { level: 16 });
  const bad = fail(req(["p"], { set: { p: "1.5" } }));
  assert.equal(bad._tag, "InvalidParameter");
  assert.match(bad.message, /invalid value '1.5' for p.level \(a level\): Expected an integer/);
  assert.doesNotMatch(bad.message, /Cause|SchemaError/);
  assert.match(fail(req(["p"], { set: { "p.nope": "1" } })).message, /'p' has no parameter 'nope'; it takes: level/);
  assert.match(fail(req(["a"], { set: { a: "1" } })).message, /'a' takes no parameters/);
  assert.match(fail(req(["a"], { set: { p: "1" } })).message, /'p' is not in the composed set; add it with --with p/);
  assert.match(fail(req([], { set: { zz: "1" } })).message, /unknown enlightenment 'zz' in --set; valid: vpindex, a, b/);
});

Deno.test("--without: unknown names, base members, and broken dependencies are refused with the fix", () => {
  assert.equal(fail(req(["a"], { without: ["zz"] }))._tag, "UnknownEnlightenment");
  assert.match(fail(req([], { without: ["vpindex"] })).message, /part of the base/);
  const e = fail(req(["a", "b"], { without: ["a"] }));
  assert.ok(e._tag === "MissingDependency" && e.removed && e.missing === "a" && e.name === "b");
  assert.match(e.message, /--without a breaks 'b'/);
  assert.deepEqual(ok(req(["a", "b"], { without: ["b"] })).enlightenments.map((x) => x.name), ["vpindex", "a"]);
  const m = fail(req(["b"]));
  assert.match(m.message, /'b' requires 'a'; add it \(--with a\) or pass --auto-deps/);
});

Deno.test("a plugin's MSR claim conflicting with the base names the base", () => {
  const thief = stub("thief", { msrs: [{ index: 0x40000001, name: "HV_X64_MSR_HYPERCALL", access: "rw" }] });
  const e = fail({ registry: [...registry, thief], requested: [{ name: "thief", reason: "t" }] });
  assert.match(e.message, /'base' and 'thief' both claim MSR HV_X64_MSR_HYPERCALL \(0x40000001\)/);
});
