// `hv doctor` on this host (real ioctls): a true report. Needs /dev/kvm for the KVM lines; without
// it the report must say why, so both cases are asserted.
import assert from "node:assert/strict";
import { Exit } from "effect";
import { decodeHostReport } from "@hv/host";
import { openKvmOrSkip } from "@hv/kvm";
import { hv } from "./testing.ts";

const probe = openKvmOrSkip();
if (!("reason" in probe)) probe.kvm.close();

Deno.test("hv doctor: a true report of this host, and --json decodes with the HostReport Schema", async () => {
  const text = await hv("doctor");
  assert.equal(text.code, 0, text.stderr);
  const json = await hv("doctor", "--json");
  assert.equal(json.code, 0, json.stderr);
  const r = decodeHostReport(json.stdout);
  assert.ok(Exit.isSuccess(r), json.stdout.slice(0, 300));
  const report = r.value;
  assert.equal(report.enlightenments.length, 24);
  if ("reason" in probe) {
    assert.equal(report.kvm.available, false);
    assert.match(text.stdout, /KVM: unavailable: /);
    return;
  }
  assert.equal(report.kvm.apiVersion, 12);
  assert.match(text.stdout, /^KVM: API version 12$/m);
  // What this host's KVM says must be what the report says.
  const caps = ["KVM_CAP_HYPERV", "KVM_CAP_X86_USER_SPACE_MSR", "KVM_CAP_X86_MSR_FILTER"] as const;
  const { Kvm, KVM_CAPS } = await import("@hv/kvm");
  const kvm = Kvm.open();
  try {
    for (const c of caps) assert.equal(report.kvm.caps[c], kvm.checkExtension(KVM_CAPS[c]), c);
  } finally {
    kvm.close();
  }
  assert.equal(report.backends.passthrough.ok, report.kvm.caps.KVM_CAP_HYPERV > 0);
  assert.equal(report.backends.emulator.ok, true);
  assert.equal(report.enlightenments.find((e) => e.name === "relaxed")!.emulator.ok, true);
  assert.match(report.enlightenments.find((e) => e.name === "evmcs")!.emulator.reason!, /nested/);
  if (report.kvm.caps.KVM_CAP_HYPERV === 0) assert.match(text.stdout, /passthrough backend: no: KVM lacks KVM_CAP_HYPERV/);
});
