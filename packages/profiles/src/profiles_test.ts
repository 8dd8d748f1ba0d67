import assert from "node:assert/strict";
import { Schema } from "effect";
import { QEMU_DEFAULT_VERSION } from "@hv/compose";
import { findProfile, guestOsIdOf, Profile, profileNames, profileRequest, profiles } from "../mod.ts";

/** The 24 enlightenment names (QEMU spelling without `hv-`). */
const KNOWN = [
  "relaxed", "vapic", "spinlocks", "vpindex", "runtime", "crash", "time", "synic", "stimer", "stimer-direct",
  "frequencies", "reenlightenment", "reset", "tlbflush", "tlbflush-ext", "tlbflush-direct", "ipi", "evmcs",
  "emsr-bitmap", "avic", "xmm-input", "no-nonarch-coresharing", "syndbg", "vendor-id",
];

/** Hard dependencies (QEMU `hv_feature_check_deps` plus the synic -> vpindex check). */
const DEPS: Readonly<Record<string, readonly string[]>> = {
  stimer: ["synic", "time"],
  synic: ["vpindex"],
  tlbflush: ["vpindex"],
  ipi: ["vpindex"],
  evmcs: ["vapic"],
  "tlbflush-direct": ["vapic"],
  "stimer-direct": ["stimer"],
  "tlbflush-ext": ["tlbflush"],
  syndbg: ["synic", "relaxed"],
};

/** Proxmox's set for ostype win7/win8/win10/win11 (P6 + W7), from CPUConfig.pm. */
const PROXMOX_WIN7_PLUS = ["relaxed", "vapic", "spinlocks", "time", "reset", "vpindex", "runtime", "synic", "stimer", "ipi"];
/** Proxmox's set for winversion 6 (Vista/2008). */
const PROXMOX_P6 = ["vapic", "spinlocks", "time", "reset", "vpindex", "runtime"];

const names = (p: Profile) => p.enlightenments.map((e) => e.name);
const sorted = (xs: readonly string[]) => [...xs].sort();
const get = (n: string) => {
  const p = findProfile(n);
  assert.ok(p, `profile ${n}`);
  return p;
};

Deno.test("the expected profiles exist, in order", () => {
  assert.deepEqual(profiles.map((p) => p.name), ["win2008", "win7", "win8", "win81", "win10", "win11", "linux", "max"]);
});

Deno.test("every profile decodes with the Profile schema, also after a JSON round trip", () => {
  for (const p of profiles) {
    const decoded = Schema.decodeUnknownSync(Profile)(JSON.parse(JSON.stringify(p)));
    assert.deepEqual(decoded, p, p.name);
  }
});

Deno.test("the schema rejects malformed profiles", () => {
  const win10 = get("win10");
  const bad = (patch: Record<string, unknown>, why: RegExp) =>
    assert.throws(() => Schema.decodeUnknownSync(Profile)({ ...win10, ...patch }), why);
  const { spinlockRetries: _, ...noRetries } = win10;
  assert.throws(() => Schema.decodeUnknownSync(Profile)(noRetries), /spinlockRetries is required/);
  bad({ enlightenments: [...win10.enlightenments, win10.enlightenments[0]] }, /appears twice/);
  bad({ enlightenments: win10.enlightenments.filter((e) => e.name !== "spinlocks") }, /spinlocks is not in the set/);
  bad({ guestOsId: "0x1234" }, /./);
  bad({ guestOsId: "1" }, /./);
  bad({ spinlockRetries: 10 }, /./);
  bad({ name: "Win10" }, /./);
  bad({ aliases: ["win10"] }, /repeats the name/);
  bad({ version: { ...win10.version, major: -1 } }, /./);
});

Deno.test("names and aliases resolve case-insensitively; unknown names do not", () => {
  const cases: [string, string][] = [
    ["win2008", "win2008"], ["WINVISTA", "win2008"],
    ["win7", "win7"], ["win2008r2", "win7"], ["Win2008R2", "win7"],
    ["win8", "win8"], ["win2012", "win8"], ["WIN2012", "win8"],
    ["win81", "win81"], ["win2012r2", "win81"],
    ["win10", "win10"], ["win2016", "win10"], ["win2019", "win10"], ["Win2019", "win10"],
    ["win11", "win11"], ["win2022", "win11"], ["win2025", "win11"], ["WIN2025", "win11"],
    ["linux", "linux"], ["Linux", "linux"], [" max ", "max"],
  ];
  for (const [input, expected] of cases) assert.equal(findProfile(input)?.name, expected, input);
  for (const input of ["", "win", "win2003", "windows10", "win10x", "l26", "win2012 r2"]) assert.equal(findProfile(input), undefined, input);
});

Deno.test("profileNames lists every name and alias exactly once", () => {
  const all = profileNames();
  assert.equal(new Set(all).size, all.length);
  for (const p of profiles) for (const n of [p.name, ...p.aliases]) assert.ok(all.includes(n), n);
  for (const n of ["win2012", "win2016", "win2019", "win2022", "win2025", "win2008r2", "linux", "max"]) assert.ok(all.includes(n), n);
  assert.equal(all.length, profiles.reduce((k, p) => k + 1 + p.aliases.length, 0));
});

Deno.test("every enlightenment is one of the 24 known names and every profile is dependency-closed", () => {
  for (const p of profiles) {
    const set = new Set(names(p));
    for (const n of set) {
      assert.ok(KNOWN.includes(n), `${p.name}: unknown enlightenment ${n}`);
      for (const d of DEPS[n] ?? []) assert.ok(set.has(d), `${p.name}: ${n} requires ${d}`);
    }
    for (const e of p.enlightenments) {
      assert.ok(e.why.length > 10, `${p.name}.${e.name}: why`);
      assert.ok(e.source.length > 3, `${p.name}.${e.name}: source`);
    }
  }
});

Deno.test("no profile includes evmcs, avic or syndbg (nor the other host- or nested-only features)", () => {
  for (const p of profiles) {
    for (const n of ["evmcs", "avic", "syndbg", "emsr-bitmap", "tlbflush-direct", "no-nonarch-coresharing", "vendor-id"]) {
      assert.ok(!names(p).includes(n), `${p.name} includes ${n}`);
    }
  }
});

Deno.test("win2008 is Proxmox's P6 set; win7..win11 are exactly Proxmox's P6 + W7 set", () => {
  assert.deepEqual(sorted(names(get("win2008"))), sorted(PROXMOX_P6));
  for (const n of ["win7", "win8", "win81", "win10", "win11"]) {
    assert.deepEqual(sorted(names(get(n))), sorted(PROXMOX_WIN7_PLUS), n);
    assert.equal(get(n).spinlockRetries, 0x1fff, n);
  }
  assert.equal(get("win2008").spinlockRetries, 0x1fff);
});

Deno.test("linux has what Linux 6.1 uses and nothing that costs exits or is unused", () => {
  const linux = names(get("linux"));
  for (const n of ["vpindex", "time", "frequencies", "synic", "stimer", "stimer-direct", "ipi", "tlbflush", "crash"]) assert.ok(linux.includes(n), n);
  for (const n of ["vapic", "spinlocks", "reenlightenment", "evmcs"]) assert.ok(!linux.includes(n), n);
  assert.equal(get("linux").spinlockRetries, undefined);
});

Deno.test("max is everything hv's emulator can serve", () => {
  assert.deepEqual(
    sorted(names(get("max"))),
    sorted([
      "relaxed", "vapic", "spinlocks", "vpindex", "runtime", "crash", "time", "synic", "stimer", "stimer-direct",
      "frequencies", "reenlightenment", "reset", "tlbflush", "tlbflush-ext", "ipi", "xmm-input",
    ]),
  );
  assert.equal(get("max").guestOsId, undefined);
  assert.equal(guestOsIdOf(get("max")), undefined);
});

Deno.test("every profile reports QEMU's default version, 10.0.14393", () => {
  for (const p of profiles) assert.deepEqual(p.version, QEMU_DEFAULT_VERSION, p.name);
  assert.deepEqual(
    { build: QEMU_DEFAULT_VERSION.build, major: QEMU_DEFAULT_VERSION.major, minor: QEMU_DEFAULT_VERSION.minor },
    { build: 14393, major: 10, minor: 0 },
  );
});

Deno.test("Windows GUEST_OS_IDs decode (by hand) to the right version", () => {
  const expected: Record<string, { major: number; minor: number; sp: number; build: number }> = {
    win2008: { major: 6, minor: 0, sp: 1, build: 6001 },
    win7: { major: 6, minor: 1, sp: 1, build: 7601 },
    win8: { major: 6, minor: 2, sp: 0, build: 9200 },
    win81: { major: 6, minor: 3, sp: 0, build: 9600 },
    win10: { major: 10, minor: 0, sp: 0, build: 14393 },
    win11: { major: 10, minor: 0, sp: 0, build: 26100 },
  };
  for (const [name, want] of Object.entries(expected)) {
    const id = guestOsIdOf(get(name));
    assert.equal(typeof id, "bigint", name);
    const v = id!;
    assert.equal(v >> 63n, 0n, `${name}: bit 63 (closed source)`);
    assert.equal((v >> 48n) & 0x7fffn, 1n, `${name}: vendor (bits 62:48) = Microsoft`);
    assert.equal((v >> 40n) & 0xffn, 4n, `${name}: OS id (bits 47:40) = Windows NT`);
    assert.equal(Number((v >> 32n) & 0xffn), want.major, `${name}: major`);
    assert.equal(Number((v >> 24n) & 0xffn), want.minor, `${name}: minor`);
    assert.equal(Number((v >> 16n) & 0xffn), want.sp, `${name}: service pack`);
    assert.equal(Number(v & 0xffffn), want.build, `${name}: build`);
  }
  // Windows 10 vs 11 is told apart by build number alone.
  assert.ok(Number(guestOsIdOf(get("win10"))! & 0xffffn) < 22000);
  assert.ok(Number(guestOsIdOf(get("win11"))! & 0xffffn) >= 22000);
});

Deno.test("the linux GUEST_OS_ID decodes to Linux 6.1.192", () => {
  const v = guestOsIdOf(get("linux"))!;
  assert.equal(v, 0x8100000601c00000n);
  assert.equal(v >> 63n, 1n, "open source");
  assert.equal((v >> 56n) & 0x7fn, 1n, "OS type Linux");
  const code = (v >> 16n) & 0xffffffffn;
  assert.deepEqual([Number(code >> 16n), Number((code >> 8n) & 0xffn), Number(code & 0xffn)], [6, 1, 192]);
});

Deno.test("profileRequest gives compose-ready requested, set and version", () => {
  const win8 = get("win2012");
  const r = profileRequest(win8, "WIN2012");
  assert.deepEqual(r.requested.map((x) => x.name), names(win8));
  for (const x of r.requested) assert.match(x.reason, /^profile win2012: ./);
  assert.deepEqual(r.set, { spinlocks: "0x1fff" });
  assert.deepEqual(r.version, QEMU_DEFAULT_VERSION);
  assert.match(profileRequest(win8).requested[0].reason, /^profile win8: /);
  assert.deepEqual(profileRequest(get("linux")).set, {});
});
