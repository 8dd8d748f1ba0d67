// Node >= 20 smoke test of the built packages (`npm run build` first): every workspace package's
// dist/ imports as ESM under plain node with its .d.ts beside it, a composition made under node
// equals QEMU's values, and the hv CLI's compose runs under node.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const root = new URL("../../", import.meta.url).pathname;
const folders = ["packages", "packages/enlightenments", "examples"].flatMap((d) =>
  readdirSync(join(root, d), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join(root, d, e.name))
).filter((d) => existsSync(join(d, "package.json")) && existsSync(join(d, "mod.ts")))
  // Deno-only packages (KVM over FFI) have no build script and say so in their module docs.
  .filter((d) => JSON.parse(readFileSync(join(d, "package.json"), "utf8")).scripts?.build !== undefined);

test("every package builds to ESM with type declarations", async () => {
  assert.ok(folders.length >= 30, `found ${folders.length} packages`);
  for (const d of folders) {
    const { name } = JSON.parse(readFileSync(join(d, "package.json"), "utf8"));
    assert.ok(existsSync(join(d, "dist/mod.js")), `${name}: dist/mod.js missing (run npm run build)`);
    assert.ok(existsSync(join(d, "dist/mod.d.ts")), `${name}: dist/mod.d.ts missing`);
    const m = await import(name);
    assert.ok(Object.keys(m).length > 0, `${name} exports nothing under node`);
  }
});

test("composition under node gives QEMU's CPUID for Proxmox's Windows 10 set", async () => {
  const { Effect } = await import("effect");
  const { compose } = await import("@hv/compose");
  const { builtins } = await import("@hv/builtins");
  const { findProfile, profileRequest } = await import("@hv/profiles");
  const c = Effect.runSync(compose({ registry: builtins, ...profileRequest(findProfile("win10")) }));
  const leaf = (fn) => c.cpuid.find((l) => l.function === fn);
  assert.deepEqual([leaf(0x40000003).eax, leaf(0x40000003).ebx, leaf(0x40000003).edx], [0x2ff, 0x30, 0x8]);
  assert.deepEqual([leaf(0x40000004).eax, leaf(0x40000004).ebx], [0xc28, 0x1fff]);
});

test("hv compose runs under node", () => {
  const out = execFileSync(process.execPath, [join(root, "apps/hv/dist/node_main.js"), "compose", "--profile", "win2012", "--format", "qemu"], {
    encoding: "utf8",
  });
  assert.equal(out.trim(), "host,hv-relaxed,hv-vapic,hv-spinlocks=0x1fff,hv-vpindex,hv-runtime,hv-time,hv-synic,hv-stimer,hv-reset,hv-ipi");
});
