// `hv run` end to end on real KVM: a guest reset power-cycles the VM (tools/guests/reset), and a
// guest crash report is written and, with --on-crash pause, keeps the VM until SIGINT. Needs
// /dev/kvm: skipped, with the reason printed, only when the device cannot be opened. Bad input is
// checked without KVM.
import assert from "node:assert/strict";
import { openKvmOrSkip } from "@hv/kvm";
import { collect, hv, spawnHv } from "./testing.ts";

const probe = openKvmOrSkip();
if ("reason" in probe) console.log(`skipping hv run reset/crash tests that boot guests: ${probe.reason}`);
else probe.kvm.close();
const ignore = "reason" in probe;
const guests = new URL("../../../tools/guests/", import.meta.url).pathname;
const dec = new TextDecoder();

async function resetGuest(): Promise<string> {
  const m = await new Deno.Command("make", { args: ["-s", "-C", guests, "build/reset.elf"], stderr: "piped" }).output();
  assert.ok(m.success, dec.decode(m.stderr));
  return `${guests}build/reset.elf`;
}

async function crashFiles(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) if (/^hv-crash-.*\.json$/.test(e.name)) names.push(e.name);
  return names;
}

/** The crash=1 document the probe produces: CRASH_P0 = 0xDEAD, P1 = its GUEST_OS_ID, P3 = 3, P4 = 4, CRASH_CTL = 1 << 63. */
async function assertProbeCrashReport(dir: string): Promise<void> {
  const files = await crashFiles(dir);
  assert.equal(files.length, 1, `one crash report in ${dir}: ${files}`);
  const doc = JSON.parse(await Deno.readTextFile(`${dir}/${files[0]}`));
  assert.equal(doc.schemaVersion, 1);
  assert.equal(doc.vp, 0);
  assert.equal(doc.profile, "max");
  assert.equal(doc.control, "0x8000000000000000");
  assert.equal(doc.parameters.length, 5);
  assert.equal(doc.parameters[0], "0x000000000000dead");
  assert.match(doc.parameters[1], /^0x[0-9a-f]{16}$/);
  assert.notEqual(doc.parameters[1], "0x0000000000000000", "P1 carries the guest's GUEST_OS_ID");
  assert.deepEqual(doc.parameters.slice(3), ["0x0000000000000003", "0x0000000000000004"]);
  assert.ok(!Number.isNaN(Date.parse(doc.time)), doc.time);
  assert.match(doc.meaning, /bugcheck/);
  assert.equal(`hv-crash-${doc.time.replace(/[:.]/g, "-")}.json`, files[0], "the file is named after the document's time");
}

Deno.test({ name: "hv run reset.elf --smp 2: HV_X64_MSR_RESET power-cycles the VM; plugin state, RAM and the AP come back at power-on; CMOS NVRAM survives", ignore, fn: async () => {
  const kernel = await resetGuest();
  const r = await hv("run", "--profile", "max", "--kernel", kernel, "--smp", "2", "--timeout", "120");
  const all = r.stdout + r.stderr;
  assert.equal(r.code, 1, `the guest's isa-debug-exit 0 (status 1) after two boots:\n${all}`);
  assert.match(r.stdout, /^@@reset boot 1 \(cpus 2\)$/m);
  assert.match(r.stdout, /^@@reset writing HV_X64_MSR_RESET=1$/m);
  assert.match(r.stdout, /^@@reset boot 2 \(cpus 2\)$/m, "the boot count in CMOS NVRAM survived the power cycle");
  assert.doesNotMatch(r.stdout, /@@reset boot 3/);
  assert.doesNotMatch(r.stdout, / fail /);
  for (const c of ["guest_os_id", "hypercall", "ram_reloaded", "aps", "ap.vp_index", "ap.simp"]) {
    assert.match(r.stdout, new RegExp(`^@@reset check ${c.replace(".", "\\.")} pass `, "m"), `${c} after the reset:\n${all}`);
  }
  assert.match(r.stdout, /^@@reset result pass \(6 of 6 checks passed\)$/m);
  assert.match(r.stderr, /^hv: guest reset \(hv-reset, vCPU 0\): power-cycling the VM \(1 of --max-resets 8\)$/m);
  assert.equal(r.stderr.match(/power-cycling/g)?.length, 1);
  assert.match(r.stderr, /guest exited through isa-debug-exit with 1 \(exit code 1\)/);
} });

Deno.test({ name: "hv run reset.elf --max-resets 0: the reset ends the run with the reset outcome and says why", ignore, fn: async () => {
  const r = await hv("run", "--profile", "max", "--kernel", await resetGuest(), "--max-resets", "0");
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /@@reset boot 1/);
  assert.doesNotMatch(r.stdout, /@@reset boot 2/);
  assert.doesNotMatch(r.stderr, /power-cycling/);
  assert.match(r.stderr, /^hv: the guest asked for a reset \(hv-reset, vCPU 0\); the VM was stopped$/m);
  assert.match(r.stderr, /^hv: --max-resets 0: a guest reset stops the VM$/m);
} });

Deno.test({ name: "hv run --append crash=1 (probe, --on-crash stop by default): the crash report is printed and hv-crash-<time>.json written; exit 125", ignore, fn: async () => {
  const dir = await Deno.makeTempDir();
  try {
    const child = spawnHv(dir, "--profile", "max", "--append", "crash=1", "--timeout", "120");
    const out = await child.output();
    const stderr = dec.decode(out.stderr);
    assert.equal(out.code, 125, stderr);
    assert.match(dec.decode(out.stdout), /crash\s+crash\.trigger\s+pass/);
    assert.match(stderr, /^hv: crash report written to hv-crash-.*\.json$/m);
    assert.match(stderr, /^hv: the guest reported a crash on VP 0 \(CRASH_CTL 0x8000000000000000\)$/m);
    assert.match(stderr, /^ {2}parameters: 0xdead 0x[0-9a-f]+ 0x[0-9a-f]+ 0x3 0x4$/m);
    assert.doesNotMatch(stderr, /paused/);
    await assertProbeCrashReport(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
} });

Deno.test({ name: "hv run --append crash=1 --on-crash pause: reports, keeps the VM until SIGINT, then tears down with exit 125", ignore, fn: async () => {
  const dir = await Deno.makeTempDir();
  try {
    const child = spawnHv(dir, "--profile", "max", "--append", "crash=1", "--on-crash", "pause", "--timeout", "300");
    const err = collect(child.stderr, /^hv: paused \(--on-crash pause\)/m);
    const out = collect(child.stdout);
    const t0 = performance.now();
    await Promise.race([err.onMatch, child.status]);
    assert.match(err.into.text, /^hv: paused \(--on-crash pause\): the vCPUs are stopped and the VM is kept; end it with Ctrl-C or 'kill -TERM \d+'/m);
    // Paused: the report is already out and the process keeps running.
    await assertProbeCrashReport(dir);
    assert.match(err.into.text, /^hv: crash report written to hv-crash-.*\.json$/m);
    await new Promise((r) => setTimeout(r, 1000));
    const early = await Promise.race([child.status, new Promise<"running">((r) => setTimeout(() => r("running"), 100))]);
    assert.equal(early, "running", "hv keeps the paused VM until a signal");
    child.kill("SIGINT");
    const status = await child.status;
    await Promise.all([err.done, out.done]);
    assert.equal(status.code, 125, err.into.text);
    assert.match(err.into.text, /^hv: SIGINT: tearing the paused VM down$/m);
    assert.ok(performance.now() - t0 < 120_000);
    await assertProbeCrashReport(dir); // written once, not again at the end
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
} });

Deno.test({ name: "hv run --on-crash pause honours --timeout: the pause ends by itself with the crash exit code", ignore, fn: async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = await spawnHv(dir, "--profile", "max", "--append", "crash=1", "--on-crash", "pause", "--timeout", "15").output();
    const stderr = dec.decode(out.stderr);
    assert.equal(out.code, 125, stderr);
    assert.match(stderr, /^hv: paused /m);
    assert.match(stderr, /^hv: --timeout expired while paused; tearing the VM down$/m);
    await assertProbeCrashReport(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
} });

Deno.test("hv run --max-resets / --on-crash: bad input is one line on stderr and exit code 2", async () => {
  const cases: [string[], RegExp][] = [
    [["run", "--max-resets", "1001"], /^hv: --max-resets must be 0\.\.1000, got 1001$/],
    [["run", "--on-crash", "reboot"], /^hv: unknown --on-crash action 'reboot'; valid: stop, pause$/],
    [["run", "--max-resets", "many"], /^hv: .*max-resets/],
  ];
  for (const [args, re] of cases) {
    const r = await hv(...args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr.trim(), re);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.equal(r.stdout, "");
  }
});
