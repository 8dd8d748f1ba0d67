// `hv compose --host`: narrowing to what a host (or a fleet) serves, on simulated Hyper-V-capable
// hosts and on this host's real report.
import assert from "node:assert/strict";
import { builtins } from "@hv/builtins";
import { backendVerdicts, encodeHostReport, type HostReport, pluginVerdicts } from "@hv/host";
import { hv } from "./testing.ts";

const leaf = (fn: number, eax = 0, ebx = 0, ecx = 0, edx = 0) => ({ function: fn, index: 0, eax, ebx, ecx, edx });
const caps = {
  KVM_CAP_HYPERV: 1, KVM_CAP_HYPERV_TIME: 1, KVM_CAP_HYPERV_SYNIC2: 1, KVM_CAP_HYPERV_VP_INDEX: 1, KVM_CAP_HYPERV_TLBFLUSH: 1,
  KVM_CAP_HYPERV_SEND_IPI: 1, KVM_CAP_SYS_HYPERV_CPUID: 1, KVM_CAP_HYPERV_ENFORCE_CPUID: 1, KVM_CAP_X86_USER_SPACE_MSR: 1, KVM_CAP_X86_MSR_FILTER: 1,
};
/** A report for a Hyper-V-capable host whose KVM_GET_SUPPORTED_HV_CPUID is `hvCpuid`. */
function report(hostname: string, c: Record<string, number>, hvCpuid: ReturnType<typeof leaf>[]): HostReport {
  const b = backendVerdicts(true, undefined, c);
  return {
    schemaVersion: 1,
    host: { hostname, kernel: "6.6" },
    kvm: { available: true, apiVersion: 12, caps: c },
    supportedHvCpuid: hvCpuid,
    backends: b,
    enlightenments: builtins.map((p) => ({ name: p.name, ...pluginVerdicts(p, b, c, hvCpuid) })),
  };
}
const full = [leaf(0x40000003, 0x2fff, 0x30, 0, 0x1bbf | (1 << 19)), leaf(0x40000004, 0x4e2c, 0xfff), leaf(0x4000000a, 0x101 | (1 << 17) | (1 << 19))];
const noDirect = full.map((l) => (l.function === 0x40000003 ? { ...l, edx: l.edx & ~(1 << 19) } : l));

async function write(r: HostReport): Promise<string> {
  const f = await Deno.makeTempFile({ suffix: ".json" });
  await Deno.writeTextFile(f, encodeHostReport(r));
  return f;
}

Deno.test("--host narrows to what a Hyper-V-capable host serves and says what was dropped and why", async () => {
  const a = await write(report("a", caps, noDirect));
  const r = await hv("compose", "--profile", "win10", "--with", "stimer-direct", "--host", a, "--format", "qemu");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^# dropped stimer-direct: host a \(passthrough\): KVM_GET_SUPPORTED_HV_CPUID lacks 0x40000003\.EDX\[19\] DirectSyntheticTimers$/m);
  assert.match(r.stdout, /^host,hv-relaxed,hv-vapic,hv-spinlocks=0x1fff,hv-vpindex,hv-runtime,hv-time,hv-synic,hv-stimer,hv-reset,hv-ipi$/m);
  const b = await write(report("b", caps, full));
  const ok = await hv("compose", "--profile", "win10", "--with", "stimer-direct", "--host", b, "--format", "qemu");
  assert.match(ok.stdout, /hv-stimer-direct/);
  assert.doesNotMatch(ok.stdout, /dropped/);
});

Deno.test("several --host files give the intersection; a missing capability drops dependents too", async () => {
  const a = await write(report("a", caps, full));
  const noSynic = await write(report("b", { ...caps, KVM_CAP_HYPERV_SYNIC2: 0 }, full));
  const r = await hv("compose", "--profile", "win10", "--host", a, "--host", noSynic);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^dropped synic: host b \(passthrough\): KVM lacks KVM_CAP_HYPERV_SYNIC2$/m);
  assert.match(r.stdout, /^dropped stimer: /m, "stimer needs SynIC too");
  assert.doesNotMatch(r.stdout, /^stimer\s/m);
});

Deno.test("--host on this host: passthrough is refused with the fix when KVM has no Hyper-V; bad files exit 2", async () => {
  const doctor = await hv("doctor", "--json");
  if (doctor.code === 0) {
    const f = await Deno.makeTempFile({ suffix: ".json" });
    await Deno.writeTextFile(f, doctor.stdout);
    const mine = JSON.parse(doctor.stdout) as HostReport;
    const r = await hv("compose", "--profile", "win2012", "--host", f);
    if (!mine.backends.passthrough.ok) {
      assert.equal(r.code, 2);
      assert.match(r.stderr, /cannot run the passthrough backend at all .*; try --backend emulator/);
    }
    const e = await hv("compose", "--profile", "win2012", "--host", f, "--backend", "emulator", "--format", "json");
    if (mine.backends.emulator.ok) assert.equal(e.code, 0, e.stderr);
  }
  const bad = await Deno.makeTempFile();
  await Deno.writeTextFile(bad, '{"schemaVersion": 1}');
  for (const args of [["--host", bad], ["--host", "/nonexistent.json"], ["--host", bad, "--backend", "qemu"]]) {
    const r = await hv("compose", ...args);
    assert.equal(r.code, 2, args.join(" "));
    assert.equal(r.stderr.trim().split("\n").length, 1);
  }
});
