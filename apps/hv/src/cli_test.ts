import assert from "node:assert/strict";
import { builtins } from "@hv/builtins";
import { FORMATS } from "@hv/formats";
import { profiles } from "@hv/profiles";
import { BIN, hv, pool, type RunResult } from "./testing.ts";

/** Exit 2, nothing on stdout, exactly one `hv: ...` line on stderr matching every pattern. */
const assertUsageError = (r: RunResult, ...patterns: RegExp[]) => {
  const what = `stdout=${JSON.stringify(r.stdout)} stderr=${JSON.stringify(r.stderr)}`;
  assert.equal(r.code, 2, `exit code ${r.code}, ${what}`);
  assert.equal(r.stdout, "", `stdout must be empty: ${what}`);
  assert.match(r.stderr, /^hv: [^\n]+\n$/, `exactly one 'hv: ' line on stderr: ${what}`);
  for (const p of patterns) assert.match(r.stderr, p);
};

const assertOk = (r: RunResult, args: string) => {
  assert.equal(r.code, 0, `hv ${args}: exit ${r.code}, stderr ${r.stderr}`);
  assert.equal(r.stderr, "", `hv ${args}: stderr ${r.stderr}`);
  assert.ok(r.stdout.length > 0, `hv ${args}: empty stdout`);
};

Deno.test("compose: every profile (and alias) in every format exits 0", async () => {
  const cases = profiles.flatMap((p) => [p.name, ...p.aliases.slice(0, 1)]).flatMap((p) =>
    FORMATS.map((f) => [p, f] as const)
  );
  const results = await pool(cases, 4, ([p, f]) => hv("compose", "--profile", p, "--format", f));
  cases.forEach(([p, f], i) => assertOk(results[i], `compose --profile ${p} --format ${f}`));
  // spot checks of the content
  const at = (p: string, f: string) => results[cases.findIndex(([cp, cf]) => cp === p && cf === f)].stdout;
  assert.equal(
    at("win8", "qemu"),
    "host,hv-relaxed,hv-vapic,hv-spinlocks=0x1fff,hv-vpindex,hv-runtime,hv-time,hv-synic,hv-stimer,hv-reset,hv-ipi\n",
  );
  assert.match(at("win10", "libvirt"), /<hyperv mode='custom'>/);
  assert.match(at("win10", "kubevirt"), /^ {12}spinlocks:\n {14}spinlocks: 8191$/m);
  assert.equal(JSON.parse(at("linux", "json")).schemaVersion, 1);
  assert.match(
    at("win7", "cpuid"),
    /^0x40000003 {2}0x00000000 {2}0x000002ff {2}0x00000030 {2}0x00000000 {2}0x00000008$/m,
  );
  assert.match(at("max", "table"), /^ENLIGHTENMENT +PARAMETERS +CPUID +SUMMARY$/m);
});

Deno.test("compose --explain: reasons under a table, as comments elsewhere, JSON unchanged", async () => {
  const table = await hv("compose", "--profile", "win2012", "--explain");
  assertOk(table, "--explain");
  assert.match(table.stdout, /\nWhy each enlightenment is in the set:\n/);
  assert.match(table.stdout, /^ {2}relaxed +profile win2012: /m);
  assert.match(table.stdout, /^ {2}vpindex +base: /m);
  const deps = await hv("compose", "--with", "stimer", "--auto-deps", "--explain", "--format", "qemu");
  assertOk(deps, "--auto-deps --explain");
  assert.equal(
    deps.stdout,
    `# Why each enlightenment is in the set:
# vpindex  base: required by every Hv#1 guest (Requirements for Implementing the Microsoft Hypervisor Interface)
# time     dependency of stimer
# synic    dependency of stimer
# stimer   requested on the command line
host,hv-vpindex,hv-time,hv-synic,hv-stimer
`,
  );
  const xml = await hv("compose", "--profile", "win10", "--explain", "--format", "libvirt");
  assert.match(xml.stdout, /^<!-- stimer +profile win10: .* -->$/m);
  const yaml = await hv("compose", "--profile", "win10", "--explain", "--format", "kubevirt");
  assert.match(yaml.stdout, /^# stimer +profile win10: /m);
  const json = await hv("compose", "--profile", "win10", "--explain", "--format", "json");
  assert.equal(JSON.parse(json.stdout).enlightenments[0].reason.startsWith("profile win10: "), true);
});

Deno.test("compose: without --profile the set is exactly --with plus the base; lists repeat; --set overrides", async () => {
  assert.equal((await hv("compose", "--format", "qemu")).stdout, "host,hv-vpindex\n");
  assert.equal((await hv("compose", "--with", "relaxed", "--format", "qemu")).stdout, "host,hv-relaxed,hv-vpindex\n");
  assert.equal(
    (await hv("compose", "--with", "ipi,relaxed", "--with", " vapic ", "--format", "qemu")).stdout,
    "host,hv-relaxed,hv-vapic,hv-vpindex,hv-ipi\n",
  );
  assert.equal(
    (await hv(
      "compose",
      "--profile",
      "win8",
      "--without",
      "ipi,reset",
      "--without",
      "stimer",
      "--set",
      "spinlocks=0xfff",
      "--format",
      "qemu",
    )).stdout,
    "host,hv-relaxed,hv-vapic,hv-spinlocks=0xfff,hv-vpindex,hv-runtime,hv-time,hv-synic\n",
  );
  assert.equal(
    (await hv("compose", "--with", "vendor-id", "--set", "vendor-id=KVMKVMKVM", "--format", "qemu")).stdout,
    "host,hv-vpindex,hv-vendor-id=KVMKVMKVM\n",
  );
});

Deno.test("compose: --with stimer without its dependencies names the fix; --auto-deps applies it", async () => {
  assertUsageError(
    await hv("compose", "--with", "stimer"),
    /'stimer' requires '(synic|time)'/,
    /--with (synic|time)/,
    /--auto-deps/,
  );
  const fixed = await hv("compose", "--with", "stimer", "--auto-deps", "--format", "qemu");
  assertOk(fixed, "--with stimer --auto-deps");
  assert.equal(fixed.stdout, "host,hv-vpindex,hv-time,hv-synic,hv-stimer\n");
});

Deno.test("compose: --without vpindex is refused (base)", async () => {
  assertUsageError(await hv("compose", "--profile", "win10", "--without", "vpindex"), /'vpindex' is part of the base/);
  assertUsageError(await hv("compose", "--without", "vpindex"), /'vpindex' is part of the base/);
});

Deno.test("bad input: exit 2, one stderr line naming the problem and the valid choices, nothing on stdout", async () => {
  const names = builtins.map((p) => p.name).join(", ");
  const cases: [string[], RegExp[]][] = [
    [["compose", "--profile", "win3000"], [
      /^hv: unknown profile 'win3000'; valid: win2008, winvista, win7, win2008r2, win8, win2012, /,
      /\bmax\n$/,
    ]],
    [["compose", "--with", "bogus"], [/unknown enlightenment 'bogus'/, new RegExp(`valid: ${names}\n$`)]],
    [["compose", "--profile", "win10", "--without", "bogus"], [
      /unknown enlightenment 'bogus' in --without/,
      /valid: relaxed, vapic, /,
    ]],
    [["compose", "--set", "foo=1"], [/unknown enlightenment 'foo' in --set/, /valid: relaxed, /]],
    [["compose", "--profile", "win10", "--set", "spinlocks"], [
      /malformed --set 'spinlocks'/,
      /name=value or name\.param=value/,
    ]],
    [["compose", "--profile", "win10", "--set", "=5"], [/malformed --set '=5'/]],
    [["compose", "--profile", "win10", "--set", "spinlocks=banana"], [
      /invalid value 'banana' for spinlocks\.retries/,
      /0xfff\.\.0xffffffff/,
      /Expected an integer\n$/,
    ]],
    [["compose", "--profile", "win10", "--set", "spinlocks=5"], [
      /invalid value '5' for spinlocks\.retries/,
      /between 4095 and 4294967295/,
    ]],
    [["compose", "--profile", "win10", "--set", "spinlocks.bogus=1"], [
      /'spinlocks' has no parameter 'bogus'; it takes: retries/,
    ]],
    [["compose", "--profile", "win10", "--set", "relaxed=1"], [/'relaxed' takes no parameters/]],
    [["compose", "--set", "spinlocks=0x1fff"], [
      /'spinlocks' is not in the composed set; add it with --with spinlocks/,
    ]],
    [["compose", "--profile", "win10", "--without", "synic"], [/--without synic breaks 'stimer'/, /--without stimer/]],
    [["compose", "--format", "xml"], [
      /^hv: unknown format 'xml'; valid: table, qemu, libvirt, kubevirt, json, cpuid\n$/,
    ]],
    [["compose", "--profile", "win10", "--format", "yaml"], [/unknown format 'yaml'/]],
    // effect/cli's own parse errors
    [["compose", "--bogus"], [
      /unknown flag '--bogus' for 'hv compose'; valid: --profile, --with, --without, --set, --format, --explain, --auto-deps/,
    ]],
    [["compose", "--profle", "win10"], [/unknown flag '--profle'/, /did you mean --profile\?/]],
    [["compose", "--explain=maybe"], [/Invalid value for flag --explain: "maybe"/, /"true" \| "yes"/]],
    [["compose", "--auto-deps=nah"], [/Invalid value for flag --auto-deps/]],
    [["compose", "--profile"], [/Missing value for flag --profile/]],
    [["frob"], [/^hv: unknown command 'frob'; valid: compose, list, explain, run, doctor\n$/]],
    [[], [/^hv: missing command; valid: compose, list, explain/]],
    [["list", "extra"], [/Unexpected positional argument: "extra"/]],
    [["list", "--bogus"], [/unknown flag '--bogus' for 'hv list'; valid: --help, --version/]],
    [["explain"], [/'hv explain' needs <name>/]],
    [["explain", "nothing"], [
      /unknown enlightenment or profile 'nothing'; valid enlightenments: relaxed, /,
      /; valid profiles: win2008, /,
    ]],
  ];
  const results = await pool(cases, 4, ([args]) => hv(...args));
  cases.forEach(([args, patterns], i) => {
    try {
      assertUsageError(results[i], ...patterns);
    } catch (e) {
      throw new Error(`hv ${args.join(" ")}: ${e instanceof Error ? e.message : e}`);
    }
  });
});

Deno.test("list: all 24 enlightenments and every profile with its aliases, one line each", async () => {
  const r = await hv("list");
  assertOk(r, "list");
  const lines = r.stdout.split("\n");
  assert.equal(builtins.length, 24);
  for (const p of builtins) {
    assert.equal(
      lines.filter((l) => l.startsWith(`  ${p.name} `) && l.includes(p.summary)).length,
      1,
      `enlightenment ${p.name}`,
    );
  }
  for (const p of profiles) {
    const line = lines.find((l) => l.startsWith(`  ${p.name} `));
    assert.ok(line, `profile ${p.name}`);
    assert.ok(line.includes(p.title), `profile ${p.name} title`);
    for (const a of p.aliases) assert.ok(line.includes(a), `profile ${p.name} alias ${a}`);
  }
});

Deno.test("explain: an enlightenment (stimer) and a profile (by alias)", async () => {
  const s = await hv("explain", "stimer");
  assertOk(s, "explain stimer");
  assert.match(s.stdout, /^stimer: Synthetic timers/);
  assert.match(s.stdout, /^Requires: +synic, time$/m);
  for (let n = 0; n < 4; n++) {
    assert.match(
      s.stdout,
      new RegExp(
        `HV_X64_MSR_STIMER${n}_CONFIG +0x400000b${2 * n} +rw +gate 0x40000003\\.EAX\\[3\\] AccessSyntheticTimerRegs`,
      ),
    );
    assert.match(s.stdout, new RegExp(`HV_X64_MSR_STIMER${n}_COUNT +0x400000b${2 * n + 1} +rw`));
  }
  assert.match(s.stdout, /^QEMU: +-cpu host,hv-stimer$/m);
  const p = await hv("explain", "win2012");
  assertOk(p, "explain win2012");
  assert.match(p.stdout, /^win8 \(aliases: win2012\): Windows 8 \/ Server 2012$/m);
  assert.match(p.stdout, /^ {2}stimer +synthetic timers: /m);
  assert.match(p.stdout, /^ +source: Proxmox CPUConfig\.pm W7/m);
  assert.match(p.stdout, /^Notes:\n {2}- /m);
});

Deno.test("--help works on every command", async () => {
  for (const args of [["--help"], ["compose", "--help"], ["list", "--help"], ["explain", "--help"]]) {
    const r = await hv(...args);
    assertOk(r, args.join(" "));
    assert.match(r.stdout, /USAGE/);
  }
  assert.match((await hv("compose", "--help")).stdout, /--auto-deps/);
});

Deno.test("bin/hv runs through a symlink (as npm links it into node_modules/.bin)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const link = `${dir}/hv`;
    await Deno.symlink(BIN, link);
    const run = async () => {
      const t0 = performance.now();
      const out = await new Deno.Command("sh", {
        args: [link, "compose", "--profile", "win2012", "--format", "qemu"],
        stdout: "piped",
        stderr: "piped",
      }).output();
      return {
        ms: performance.now() - t0,
        code: out.code,
        stdout: new TextDecoder().decode(out.stdout),
        stderr: new TextDecoder().decode(out.stderr),
      };
    };
    const runs = [await run(), await run()];
    for (const r of runs) {
      assert.equal(r.code, 0, r.stderr);
      assert.equal(
        r.stdout,
        "host,hv-relaxed,hv-vapic,hv-spinlocks=0x1fff,hv-vpindex,hv-runtime,hv-time,hv-synic,hv-stimer,hv-reset,hv-ipi\n",
      );
    }
    // Speed is measured by tools/bench/compose_startup.ts against a reference, not asserted here.
    console.log(`bin/hv compose --profile win2012 --format qemu: ${runs.map((r) => r.ms.toFixed(0)).join(", ")} ms`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
