/**
 * Invariants every built-in plugin must satisfy, checked over the whole registry: names, claims
 * against the TLFS name tables, dependencies (existing, acyclic), docs and formats.
 */
import assert from "node:assert/strict";
import { HV_HYPERCALL_NAMES, HV_MSR_NAMES, HV_X64_MSR_RANGE_FIRST, HV_X64_MSR_RANGE_LAST } from "@hv/tlfs";
import { BASE_MSRS } from "@hv/compose";
import { builtins, findBuiltin } from "../mod.ts";

const ORDER = [
  "relaxed", "vapic", "spinlocks", "vpindex", "runtime", "crash", "time", "synic", "stimer", "stimer-direct",
  "frequencies", "reenlightenment", "reset", "tlbflush", "tlbflush-ext", "tlbflush-direct", "ipi", "evmcs",
  "emsr-bitmap", "avic", "xmm-input", "no-nonarch-coresharing", "syndbg", "vendor-id",
];

Deno.test("builtins: the 24 plugins in output order, each found by name", () => {
  assert.deepEqual(builtins.map((p) => p.name), ORDER);
  assert.equal(new Set(builtins.map((p) => p.name)).size, builtins.length);
  for (const p of builtins) assert.equal(findBuiltin(p.name), p);
  assert.equal(findBuiltin("hv-relaxed"), undefined);
  assert.equal(findBuiltin("nope"), undefined);
  assert.ok(Object.isFrozen(builtins));
});

Deno.test("builtins: every MSR claim lies in 0x40000000..0x400001FF and carries its TLFS name; no index is claimed twice", () => {
  const owners = new Map<number, string>(BASE_MSRS.map((m) => [m.index, "base"]));
  for (const p of builtins) {
    for (const m of p.msrs) {
      assert.ok(m.index >= HV_X64_MSR_RANGE_FIRST && m.index <= HV_X64_MSR_RANGE_LAST, `${p.name}: ${m.name} 0x${m.index.toString(16)} out of range`);
      assert.equal(m.name, HV_MSR_NAMES.get(m.index), `${p.name}: 0x${m.index.toString(16)}`);
      assert.ok(["rw", "ro", "wo"].includes(m.access));
      assert.ok(m.gate, `${p.name}: ${m.name} has no gate bit`);
      assert.equal(owners.get(m.index), undefined, `${m.name} claimed by ${owners.get(m.index)} and ${p.name}`);
      owners.set(m.index, p.name);
    }
  }
});

Deno.test("builtins: every hypercall claim carries its TLFS name; no code is claimed twice", () => {
  const owners = new Map<number, string>();
  for (const p of builtins) {
    for (const h of p.hypercalls) {
      assert.equal(h.name, HV_HYPERCALL_NAMES.get(h.code), `${p.name}: 0x${h.code.toString(16)}`);
      assert.ok(["simple", "rep", "variable", "variable-rep"].includes(h.kind));
      assert.ok(["never", "allowed", "xmm"].includes(h.fast));
      assert.equal(h.repInputBytes !== undefined, h.kind === "rep" || h.kind === "variable-rep", `${p.name}: ${h.name} repInputBytes`);
      assert.equal(owners.get(h.code), undefined, `${h.name} claimed by ${owners.get(h.code)} and ${p.name}`);
      owners.set(h.code, p.name);
    }
  }
});

Deno.test("builtins: dependencies name existing plugins and form no cycle", () => {
  for (const p of builtins) for (const d of p.requires) assert.ok(findBuiltin(d), `${p.name} requires unknown '${d}'`);
  const state = new Map<string, "visiting" | "done">();
  const visit = (name: string, path: string[]) => {
    if (state.get(name) === "done") return;
    assert.notEqual(state.get(name), "visiting", `dependency cycle: ${[...path, name].join(" -> ")}`);
    state.set(name, "visiting");
    for (const d of findBuiltin(name)!.requires) visit(d, [...path, name]);
    state.set(name, "done");
  };
  for (const p of builtins) visit(p.name, []);
});

Deno.test("builtins: docs, summary, formats and emulator/passthrough declarations are filled in", () => {
  for (const p of builtins) {
    assert.ok(p.summary.trim().length > 0, `${p.name}: summary`);
    for (const k of ["description", "guestGains", "windows"] as const) assert.ok(p.docs[k].trim().length > 0, `${p.name}: docs.${k}`);
    assert.ok(p.docs.sources.length > 0, `${p.name}: docs.sources`);
    assert.ok(p.formats.qemu.property.startsWith("hv-"), `${p.name}: ${p.formats.qemu.property}`);
    assert.equal(p.formats.qemu.property, `hv-${p.name}`);
    if (!p.emulator.supported) assert.ok(p.emulator.reason.trim().length > 0);
    for (const f of [p.formats.libvirt, p.formats.kubevirt]) if ("unsupported" in f) assert.ok(f.unsupported.trim().length > 0);
    for (const c of [...p.passthrough.capabilities, ...(p.passthrough.enableCapabilities ?? [])]) assert.match(c, /^KVM_CAP_[A-Z0-9_]+$/);
  }
});

Deno.test("builtins: exactly evmcs, emsr-bitmap, tlbflush-direct, avic and syndbg need the passthrough backend", () => {
  assert.deepEqual(builtins.filter((p) => !p.emulator.supported).map((p) => p.name), ["tlbflush-direct", "evmcs", "emsr-bitmap", "avic", "syndbg"]);
});
