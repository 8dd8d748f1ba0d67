import assert from "node:assert/strict";
import { profiles } from "@hv/profiles";
import { hv } from "./testing.ts";

/**
 * Runs `qemu-system-x86_64 -machine pc -accel tcg -cpu <cpu> -display none -nodefaults -S` with a
 * 10 s timeout and returns its stderr, or undefined when QEMU is not on PATH.
 */
const qemu = async (cpu: string): Promise<string | undefined> => {
  try {
    const out = await new Deno.Command("qemu-system-x86_64", {
      args: ["-machine", "pc", "-accel", "tcg", "-cpu", cpu, "-display", "none", "-nodefaults", "-S"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(10_000),
    }).output();
    return new TextDecoder().decode(out.stderr);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
};

const REJECTED = /not found|Property|can't apply/;

Deno.test("qemu: QEMU accepts every property of `hv compose --profile win2012 --format qemu`", async () => {
  const probe = await qemu("host");
  if (probe === undefined) {
    console.log("skipped: qemu-system-x86_64 is not on PATH (Debian: apt-get install qemu-system-x86)");
    return;
  }
  const r = await hv("compose", "--profile", "win2012", "--format", "qemu");
  assert.equal(r.code, 0, r.stderr);
  const cpu = r.stdout.trim();

  // Control: an unknown property is rejected while the -cpu globals are applied, before any KVM check.
  assert.match(
    (await qemu(`${cpu},hv-foo`))!,
    /can't apply global host-x86_64-cpu\.hv-foo=on: Property '.*' not found/,
  );

  // The output itself: every property applied; QEMU then stops at the first KVM-only check. With
  // hv-vpindex (always in the base) QEMU 7.2's CPU pre-plug check "kernel doesn't allow setting
  // HyperV VP_INDEX" fires first under TCG; without it, the host model's "requires KVM".
  const err = (await qemu(cpu))!;
  assert.doesNotMatch(err, REJECTED, err);
  assert.match(err, /requires KVM|kernel doesn't allow setting HyperV VP_INDEX/, err);

  const withoutVpindex = cpu.split(",").filter((p) => p !== "hv-vpindex").join(",");
  const err2 = (await qemu(withoutVpindex))!;
  assert.doesNotMatch(err2, REJECTED, err2);
  assert.match(err2, /requires KVM/, err2);
});

Deno.test("qemu: QEMU accepts the properties of every profile and of all 24 enlightenments", async () => {
  if ((await qemu("host")) === undefined) {
    console.log("skipped: qemu-system-x86_64 is not on PATH (Debian: apt-get install qemu-system-x86)");
    return;
  }
  const all = [
    "relaxed,vapic,spinlocks,runtime,crash,time,synic,stimer,stimer-direct,frequencies,reenlightenment,reset",
    "tlbflush,tlbflush-ext,tlbflush-direct,ipi,evmcs,emsr-bitmap,avic,xmm-input,no-nonarch-coresharing,syndbg,vendor-id",
  ];
  const runs = [
    ...profiles.map((p) => ["--profile", p.name]),
    ["--with", all[0], "--with", all[1], "--set", "vendor-id=KVMKVMKVM"],
  ];
  for (const args of runs) {
    const r = await hv("compose", ...args, "--format", "qemu");
    assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
    const cpu = r.stdout.trim();
    const err = (await qemu(cpu))!;
    assert.doesNotMatch(err, REJECTED, `${args.join(" ")}: ${err}`);
    const withoutVpindex = (await qemu(cpu.split(",").filter((p) => p !== "hv-vpindex").join(",")))!;
    assert.doesNotMatch(withoutVpindex, REJECTED, `${args.join(" ")}: ${withoutVpindex}`);
    assert.match(withoutVpindex, /requires KVM/, `${args.join(" ")}: ${withoutVpindex}`);
  }
});
