import assert from "node:assert/strict";
import { builtins } from "@hv/builtins";
import { definePlugin } from "@hv/x86";
import { emulatorServes, planEmulator } from "./policy.ts";

const reg = new Map(builtins.map((p) => [p.name, p] as const));

Deno.test("CPUID-only plugins are served; evmcs-like plugins are refused with their reason", () => {
  assert.equal(emulatorServes(reg.get("relaxed")!), true);
  assert.equal(emulatorServes(reg.get("vpindex")!), true, "vpindex claims no MSR: the core serves VP_INDEX");
  const plan = planEmulator(reg, ["relaxed", "vpindex", "vapic", "evmcs"]);
  assert.deepEqual(plan.refused.map((r) => r.name), ["evmcs"]);
  assert.match(plan.refused[0].reason, /passthrough/);
  assert.ok(plan.served.includes("relaxed") && plan.served.includes("vpindex"));
});

Deno.test("a plugin without behaviour is left out, and so is everything depending on it", () => {
  const synic = reg.get("synic")!;
  const noBehaviour = new Map(reg);
  noBehaviour.set("synic", definePlugin({ ...synic, create: undefined }));
  noBehaviour.set("time", definePlugin({ ...reg.get("time")!, create: () => ({}) }));
  noBehaviour.set("stimer", definePlugin({ ...reg.get("stimer")!, create: () => ({}) }));
  const plan = planEmulator(noBehaviour, ["vpindex", "time", "synic", "stimer", "stimer-direct"]);
  assert.deepEqual(plan.served, ["vpindex", "time"]);
  assert.deepEqual(plan.leftOut.map((l) => l.name).sort(), ["stimer", "stimer-direct", "synic"]);
  assert.match(plan.leftOut.find((l) => l.name === "stimer")!.reason, /requires synic/);
  assert.match(plan.leftOut.find((l) => l.name === "stimer-direct")!.reason, /requires stimer/);
});
