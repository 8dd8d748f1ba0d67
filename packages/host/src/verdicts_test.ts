import assert from "node:assert/strict";
import { Exit } from "effect";
import { builtins } from "@hv/builtins";
import { backendVerdicts, decodeHostReport, encodeHostReport, type HostReport, pluginVerdicts } from "../mod.ts";

const byName = new Map(builtins.map((p) => [p.name, p] as const));
const thisHost = { KVM_CAP_HYPERV: 0, KVM_CAP_X86_USER_SPACE_MSR: 1, KVM_CAP_X86_MSR_FILTER: 1 };
// A Hyper-V-capable kernel: KVM's own `kvm_get_hv_cpuid` answer (tlfs-conformance.md) for the bits we check.
const hvHost: Record<string, number> = {
  ...thisHost,
  KVM_CAP_HYPERV: 1, KVM_CAP_HYPERV_TIME: 1, KVM_CAP_HYPERV_SYNIC2: 1, KVM_CAP_HYPERV_VP_INDEX: 1,
  KVM_CAP_HYPERV_TLBFLUSH: 1, KVM_CAP_HYPERV_SEND_IPI: 1, KVM_CAP_SYS_HYPERV_CPUID: 1, KVM_CAP_HYPERV_ENFORCE_CPUID: 1, KVM_CAP_HYPERV_ENLIGHTENED_VMCS: 1,
};
const leaf = (fn: number, eax = 0, ebx = 0, ecx = 0, edx = 0) => ({ function: fn, index: 0, eax, ebx, ecx, edx });
const hvCpuid = [
  leaf(0x40000003, 0x2fff, 0x30, 0, 0x1bbf | (1 << 19)),
  leaf(0x40000004, 0x4e2c | (1 << 18), 0xfff),
  leaf(0x4000000a, 0x101 | (1 << 17) | (1 << 19)),
];

Deno.test("this host: the emulator runs, passthrough is refused naming KVM_CAP_HYPERV", () => {
  const b = backendVerdicts(true, undefined, thisHost);
  assert.deepEqual(b.emulator, { ok: true });
  assert.match(b.passthrough.reason!, /KVM lacks KVM_CAP_HYPERV.*CONFIG_KVM_HYPERV/);
  const relaxed = pluginVerdicts(byName.get("relaxed")!, b, thisHost, undefined);
  assert.deepEqual(relaxed.emulator, { ok: true });
  assert.equal(relaxed.passthrough.ok, false);
  assert.match(pluginVerdicts(byName.get("evmcs")!, b, thisHost, undefined).emulator.reason!, /nested/);
  assert.equal(backendVerdicts(false, "no /dev/kvm", {}).emulator.reason, "no /dev/kvm");
});

Deno.test("a simulated Hyper-V-capable host: passthrough serves what KVM reports, and names what it lacks", () => {
  const b = backendVerdicts(true, undefined, hvHost);
  assert.deepEqual(b.passthrough, { ok: true });
  for (const n of ["relaxed", "vapic", "time", "synic", "stimer", "stimer-direct", "tlbflush", "ipi", "frequencies", "evmcs"]) {
    assert.deepEqual(pluginVerdicts(byName.get(n)!, b, hvHost, hvCpuid).passthrough, { ok: true }, n);
  }
  const noDirect = hvCpuid.map((l) => (l.function === 0x40000003 ? { ...l, edx: l.edx & ~(1 << 19) } : l));
  assert.match(pluginVerdicts(byName.get("stimer-direct")!, b, hvHost, noDirect).passthrough.reason!, /DirectSyntheticTimers/);
  const noIpiCap = { ...hvHost, KVM_CAP_HYPERV_SEND_IPI: 0 };
  assert.match(pluginVerdicts(byName.get("ipi")!, b, noIpiCap, hvCpuid).passthrough.reason!, /KVM_CAP_HYPERV_SEND_IPI/);
  assert.match(pluginVerdicts(byName.get("time")!, b, hvHost, undefined).passthrough.reason!, /SUPPORTED_HV_CPUID is unavailable/);
});

Deno.test("the report round-trips through its Schema; a malformed --host file is refused", () => {
  const b = backendVerdicts(true, undefined, thisHost);
  const r: HostReport = {
    schemaVersion: 1,
    host: { kernel: "6.1", hostname: "h" },
    kvm: { available: true, apiVersion: 12, caps: thisHost },
    invariantTsc: true,
    tscKhz: 2596144,
    backends: b,
    enlightenments: builtins.map((p) => ({ name: p.name, ...pluginVerdicts(p, b, thisHost, undefined) })),
  };
  const back = decodeHostReport(encodeHostReport(r));
  assert.ok(Exit.isSuccess(back));
  assert.deepEqual(back.value, r);
  assert.ok(Exit.isFailure(decodeHostReport('{"schemaVersion": 2}')));
  assert.ok(Exit.isFailure(decodeHostReport("not json")));
});
