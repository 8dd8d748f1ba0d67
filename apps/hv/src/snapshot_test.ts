// `hv run --save` / `--restore` end to end on real KVM: the probe guest waits for a TSC frequency
// change (tsc_change_wait), hv saves it on SIGINT or after --save-after, and the restored VM goes on
// where it stopped; restored with another TSC frequency recorded in the snapshot (the host here
// cannot change its own), hv-reenlightenment notifies the guest and the reference time stays
// continuous. Needs /dev/kvm: skipped, with the reason printed, only when the device cannot be
// opened. Bad input is checked without KVM.
import assert from "node:assert/strict";
import { openKvmOrSkip } from "@hv/kvm";
import { checkSnapshotFlags, type RunFlags } from "./run_command.ts";
import { collect, hv, spawnHv, withTempDir } from "./testing.ts";

const probe = openKvmOrSkip();
if ("reason" in probe) console.log(`skipping hv run --save/--restore tests that boot guests: ${probe.reason}`);
else probe.kvm.close();
const ignore = "reason" in probe;

const flags = (f: Partial<RunFlags>): RunFlags => ({
  with: [],
  without: [],
  set: [],
  format: "table",
  explain: false,
  autoDeps: false,
  initrd: [],
  append: "",
  timeout: 60,
  serial: "stdio",
  ...f,
});

Deno.test("checkSnapshotFlags: one message per combination that cannot work", () => {
  assert.equal(checkSnapshotFlags(flags({ save: "vm", saveAfter: 5 })), undefined);
  assert.equal(checkSnapshotFlags(flags({ restore: "vm", save: "vm2", timeout: 30 })), undefined);
  assert.match(checkSnapshotFlags(flags({ saveAfter: 5 }))!, /--save-after needs --save DIR/);
  assert.match(checkSnapshotFlags(flags({ save: "vm", saveAfter: 60 }))!, /--save-after must be 1\.\.59 seconds/);
  assert.match(checkSnapshotFlags(flags({ save: "vm", backend: "passthrough" }))!, /emulator backend only/);
  assert.match(checkSnapshotFlags(flags({ save: "vm", kernelIrqchip: "on" }))!, /userspace APIC/);
  assert.match(
    checkSnapshotFlags(flags({ restore: "vm", profile: "win10", smp: 2, append: "x" }))!,
    /from the snapshot: drop --profile, --append, --smp$/,
  );
  assert.match(checkSnapshotFlags(flags({ restore: "vm", save: "vm" }))!, /new directory/);
});

Deno.test("hv run --save/--restore: bad targets and snapshots are one message and exit code 2, nothing overwritten", () =>
  withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/precious`, "keep");
    const cases: [string[], RegExp][] = [
      [["--save", `${dir}/precious`], /--save .*precious: it exists; hv never overwrites it/],
      [["--restore", `${dir}/none`], /--restore .*none: not a snapshot/],
      [["--restore", dir, "--profile", "win2012"], /--restore takes the VM .* drop --profile/],
      [["--save-after", "3"], /--save-after needs --save DIR/],
    ];
    for (const [args, why] of cases) {
      const r = await hv("run", ...args);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, why);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
    assert.equal(await Deno.readTextFile(`${dir}/precious`), "keep");
  }));

const COMPOSITION = ["--with", "reenlightenment,frequencies,time", "--smp", "2"];

Deno.test({
  name:
    "hv run --save on SIGINT, then --restore onto another TSC frequency: the guest is notified, acknowledges, and its clock goes on",
  ignore,
  fn: () =>
    withTempDir(async (dir) => {
      const child = spawnHv(
        dir,
        ...COMPOSITION,
        "--append",
        "tsc_change_wait=60",
        "--save",
        `${dir}/vm`,
        "--timeout",
        "120",
      );
      const out = collect(child.stdout);
      const err = collect(child.stderr, /probe: waiting up to 60 s for a TSC frequency change/);
      await err.onMatch;
      child.kill("SIGINT");
      const status = await child.status;
      await Promise.all([out.done, err.done]);
      assert.equal(status.code, 0, err.into.text + out.into.text);
      assert.match(
        err.into.text,
        new RegExp(`hv: VM saved to ${dir}/vm after [0-9.]+ s \\(resume it with: hv run --restore ${dir}/vm\\)`),
      );

      // The snapshot as another host would see it: its guest TSC ran 20% faster than this host's.
      const manifestPath = `${dir}/vm/hv-snapshot.json`;
      const m = JSON.parse(await Deno.readTextFile(manifestPath));
      assert.equal(m.machine.smp, 2);
      assert.equal(m.state.vcpus.length, 2);
      const hostKhz = m.state.tscKhz;
      m.state.tscKhz = Math.round(hostKhz * 1.2);
      await Deno.writeTextFile(manifestPath, JSON.stringify(m));

      // Saved time is not guest time: restore 8 s later (KVM here cannot set the guest TSC back, so hv
      // must carry reference time on from its saved value, not from the host's TSC).
      await new Promise((r) => setTimeout(r, 8000));
      const r = await hv("run", "--restore", `${dir}/vm`, "--timeout", "60");
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.match(r.stderr, /hv: restoring the VM saved in .*: 2 vCPU, 256 MiB/);
      for (const check of ["notified", "in_progress", "acknowledged", "frequency", "ref_time"]) {
        assert.match(r.stdout, new RegExp(`reenlightenment\\.tsc_change\\.${check}\\s+pass`), check);
      }
      assert.match(
        r.stdout,
        new RegExp(`reenlightenment\\.tsc_change\\.frequency\\s+pass\\s+.*${hostKhz}`),
        "HV_X64_MSR_TSC_FREQUENCY reports this host's rate",
      );
      assert.match(r.stdout, /^\d+ passed, 0 failed, 0 skipped$/m);
      const ref = r.stdout.match(/TIME_REF_COUNT before=0x([0-9a-f]+) after=0x([0-9a-f]+)/);
      assert.ok(ref, r.stdout);
      const ticks = parseInt(ref[2], 16) - parseInt(ref[1], 16);
      assert.ok(
        ticks >= 0 && ticks < 5e7,
        `reference time across the save: +${ticks / 1e7} s of guest time, not the 8+ s the VM spent saved`,
      );
    }),
});

Deno.test({
  name: "hv run --save-after, then --restore on the same host: no TSC change, the guest resumes its wait and finishes",
  ignore,
  fn: () =>
    withTempDir(async (dir) => {
      const s = await hv(
        "run",
        ...COMPOSITION,
        "--append",
        "tsc_change_wait=16",
        "--save",
        `${dir}/vm`,
        "--save-after",
        "8",
        "--timeout",
        "60",
      );
      assert.equal(s.code, 0, s.stderr + s.stdout);
      assert.match(s.stderr, /probe: waiting up to 16 s/, "saved while the guest waited");
      assert.match(s.stderr, /hv: VM saved to /);
      const r = await hv("run", "--restore", `${dir}/vm`, "--timeout", "60");
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.match(r.stdout, /reenlightenment\.tsc_change\s+skip\s+no TSC frequency change within 16 s/);
      assert.match(r.stdout, /^\d+ passed, 0 failed, 1 skipped$/m);
    }),
});
