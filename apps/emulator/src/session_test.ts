import assert from "node:assert/strict";
import type { RunOutcome } from "@hv/machine";
import { newProbeReport } from "./probe_report.ts";
import { describeOutcome, type GuestSession, reportRun, runExitCode } from "./session.ts";
import type { RunOptions } from "./run.ts";

const session = (probe: boolean): GuestSession => ({
  kernel: new Uint8Array(),
  kernelName: "k.elf",
  append: "",
  initrd: [],
  probe,
  report: newProbeReport(),
  onSerial: () => {},
  close: () => {},
});

Deno.test("a reset that ends the run names its source as QEMU does and the vCPU", () => {
  assert.deepEqual(describeOutcome({ kind: "reset", code: 0, vcpu: 1, source: "reset" }), [
    "hv: the guest asked for a reset (hv-reset, vCPU 1); the VM was stopped",
  ]);
  assert.match(describeOutcome({ kind: "reset", code: 0, vcpu: 0, source: "KVM_SYSTEM_EVENT_RESET" })[0], /\(KVM_SYSTEM_EVENT_RESET, vCPU 0\)/);
});

Deno.test("reportRun writes hv-crash-<time>.json for a crash and describes it; runExitCode is the outcome's code", async () => {
  const dir = await Deno.makeTempDir();
  const cwd = Deno.cwd();
  Deno.chdir(dir);
  try {
    const err: string[] = [];
    const crash: RunOutcome = { kind: "crash", code: 125, report: { vp: 0, parameters: [0xdeadn, 1n, 2n, 3n, 4n], control: 1n << 63n } };
    await reportRun({ profile: "max" } as RunOptions, { out: () => {}, err: (l) => err.push(l) }, session(false), crash);
    const files = [...Deno.readDirSync(dir)].map((e) => e.name);
    assert.equal(files.length, 1);
    assert.match(files[0], /^hv-crash-.*\.json$/);
    assert.equal(err[0], `hv: crash report written to ${files[0]}`);
    assert.match(err[1], /reported a crash on VP 0/);
    const doc = JSON.parse(Deno.readTextFileSync(files[0]));
    assert.equal(doc.profile, "max");
    assert.equal(doc.parameters[0], "0x000000000000dead");
    assert.equal(runExitCode(session(false), crash), 125);
    assert.equal(runExitCode(session(false), { kind: "exit", guestCode: 3, code: 3 }), 3);
    // The probe's isa-debug-exit: pass/fail from its report (one that never started failed), not the guest's code.
    assert.equal(runExitCode(session(true), { kind: "exit", guestCode: 1, code: 1 }), 1);
    assert.equal(runExitCode(session(true), crash), 125);
  } finally {
    Deno.chdir(cwd);
    await Deno.remove(dir, { recursive: true });
  }
});
