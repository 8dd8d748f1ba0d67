import assert from "node:assert/strict";
import { Effect, Exit } from "effect";
import { CpuidTable } from "@hv/x86";
import {
  checkPassthrough,
  HOST_WITHOUT_HYPERV,
  hostWith,
  HYPERV_CAPABLE_HOST,
  KVM_HV_CPUID_LINUX_6_6,
  type PassthroughPlan,
  PassthroughUnavailable,
  preflight,
  SimulatedKvm,
} from "../mod.ts";
import { composeNames, composeProfile, VIRT_INSTALL_INTEL } from "./test_helpers.ts";

const run = (c: ReturnType<typeof composeProfile>, k: SimulatedKvm) => Effect.runSync(Effect.exit(preflight(c, k)));
const ok = (c: ReturnType<typeof composeProfile>, k: SimulatedKvm): PassthroughPlan => {
  const e = run(c, k);
  if (Exit.isFailure(e)) assert.fail(`refused: ${String(e.cause)}`);
  return e.value;
};
const refused = (c: ReturnType<typeof composeProfile>, k: SimulatedKvm): PassthroughUnavailable => {
  const e = run(c, k);
  assert.ok(Exit.isFailure(e), "expected a refusal");
  const err = e.cause.reasons.map((r) => (r as { error?: unknown }).error).find((x) => x instanceof PassthroughUnavailable);
  assert.ok(err instanceof PassthroughUnavailable, String(e.cause));
  return err;
};
/** Nothing but system-fd queries: no VM, no vCPU. */
const createdNothing = (k: SimulatedKvm) =>
  assert.deepEqual(k.calls.filter((c) => c.ioctl !== "open" && c.target !== "system" || c.ioctl === "KVM_CREATE_VM"), []);

Deno.test("the simulated kernel answers KVM_GET_SUPPORTED_HV_CPUID as Linux kvm_get_hv_cpuid: 10 leaves, max 0x40000082, 0x4000000A bit 19 and eVMCS 0x0101", () => {
  const t = new CpuidTable(KVM_HV_CPUID_LINUX_6_6);
  assert.equal(KVM_HV_CPUID_LINUX_6_6.length, 10);
  assert.deepEqual(KVM_HV_CPUID_LINUX_6_6.map((l) => l.function), [
    0x40000000, 0x40000001, 0x40000002, 0x40000003, 0x40000004, 0x40000005, 0x4000000a, 0x40000080, 0x40000081, 0x40000082,
  ]);
  assert.equal(t.get(0x40000000).eax, 0x40000082);
  assert.equal(t.get(0x40000001).eax, 0x31237648);
  assert.deepEqual([t.get(0x40000003).eax, t.get(0x40000003).ebx, t.get(0x40000003).edx], [0xaaff, 0x100830, 0x84d12]);
  assert.deepEqual([t.get(0x40000004).eax, t.get(0x40000004).ebx], [0x4e2c, 0xfff]);
  assert.equal(t.get(0x4000000a).eax & 0xffff, 0x0101);
  assert.equal((t.get(0x4000000a).eax >>> 19) & 1, 1);
});

Deno.test("win10 (Proxmox set, profiles.md (c) A) passes on a Hyper-V-capable kernel: SynIC2 then enforce-cpuid per vCPU, nothing created", () => {
  const c = composeProfile("win10");
  const t = new CpuidTable(c.cpuid);
  // The leaves the guest will see are QEMU's for the same set (column A).
  assert.deepEqual([t.get(0x40000003).eax, t.get(0x40000003).ebx, t.get(0x40000003).edx, t.get(0x40000004).eax, t.get(0x40000004).ebx], [
    0x2ff, 0x30, 0x8, 0xc28, 0x1fff,
  ]);
  const k = new SimulatedKvm();
  const plan = ok(c, k);
  assert.deepEqual(plan.vcpuCapabilities, ["KVM_CAP_HYPERV_SYNIC2", "KVM_CAP_HYPERV_ENFORCE_CPUID"]);
  assert.equal(plan.evmcsVersion, 0);
  assert.equal(plan.crash, false);
  assert.deepEqual(plan.unchecked, [{
    label: "0x40000003.EDX[3] CpuDynamicPartitioningAvailable",
    owners: ["base"],
    why: "QEMU sets it for every Hyper-V guest without asking KVM (hyperv_fill_cpuids)",
  }]);
  assert.deepEqual(plan.supportedHvCpuid, KVM_HV_CPUID_LINUX_6_6);
  assert.equal(k.log()[0], "open /dev/kvm");
  assert.ok(k.log().includes("KVM_GET_SUPPORTED_HV_CPUID system"));
  assert.ok(k.log().includes("KVM_CHECK_EXTENSION system KVM_CAP_HYPERV_SYNIC2"));
  createdNothing(k);
});

Deno.test("virt-install's Intel set (column B: evmcs, avic, frequencies, tlbflush) passes: SynIC2, eVMCS 1..1, enforce-cpuid", () => {
  const c = composeNames(VIRT_INSTALL_INTEL, { spinlocks: "8191" });
  const t = new CpuidTable(c.cpuid);
  assert.deepEqual([t.get(0x40000003).eax, t.get(0x40000003).edx, t.get(0x40000004).eax, t.get(0x4000000a).eax], [0xa7f, 0x108, 0x4e24, 0x101]);
  const plan = ok(c, new SimulatedKvm());
  assert.deepEqual(plan.vcpuCapabilities, ["KVM_CAP_HYPERV_SYNIC2", "KVM_CAP_HYPERV_ENLIGHTENED_VMCS", "KVM_CAP_HYPERV_ENFORCE_CPUID"]);
  assert.equal(plan.evmcsVersion, 0x0101);
});

Deno.test("this kind of host (no CONFIG_KVM_HYPERV): win2012 is refused before anything exists, listing KVM_CAP_HYPERV and friends, 'use --backend emulator'", () => {
  const k = new SimulatedKvm(HOST_WITHOUT_HYPERV);
  const e = refused(composeProfile("win2012"), k);
  const caps = Object.fromEntries(e.missingCapabilities.map((m) => [m.capability, m.neededBy]));
  assert.deepEqual(caps.KVM_CAP_HYPERV, ["backend", "relaxed", "vapic", "spinlocks", "runtime", "reset"]);
  assert.deepEqual(caps.KVM_CAP_HYPERV_SYNIC2, ["synic", "stimer"]);
  assert.deepEqual(caps.KVM_CAP_HYPERV_TIME, ["time", "stimer"]);
  assert.deepEqual(caps.KVM_CAP_HYPERV_VP_INDEX, ["vpindex"]);
  assert.deepEqual(caps.KVM_CAP_HYPERV_SEND_IPI, ["ipi"]);
  assert.deepEqual(caps.KVM_CAP_SYS_HYPERV_CPUID, ["backend"]);
  assert.deepEqual(caps.KVM_CAP_HYPERV_ENFORCE_CPUID, ["backend"]);
  assert.equal(e.hvCpuidUnavailable, true);
  assert.equal(e.refused.length, 10, "every enlightenment of win2012 refused by @hv/host's pluginVerdicts");
  assert.match(
    e.message,
    /^the passthrough backend cannot give this guest its Hyper-V interface here: this KVM has no in-kernel Hyper-V \(a kernel built without CONFIG_KVM_HYPERV\); it lacks KVM_CAP_HYPERV \(backend, relaxed, vapic, spinlocks, runtime, reset\), KVM_CAP_SYS_HYPERV_CPUID \(backend\), /,
  );
  assert.match(e.message, /KVM_CAP_HYPERV_SYNIC2 \(synic, stimer\)/);
  assert.match(e.message, /nothing was created; use --backend emulator$/);
  assert.ok(!e.message.includes("\n"), "one line");
  assert.ok(!k.log().includes("KVM_GET_SUPPORTED_HV_CPUID system"), "not asked without KVM_CAP_SYS_HYPERV_CPUID");
  createdNothing(k);
});

Deno.test("a bit KVM cannot honour is an error naming bit and enlightenment (stimer-direct without 0x40000003.EDX[19])", () => {
  const host = hostWith(HYPERV_CAPABLE_HOST, {
    hvCpuid: (ls) => ls.map((l) => (l.function === 0x40000003 ? { ...l, edx: l.edx & ~(1 << 19) } : l)),
  });
  const k = new SimulatedKvm(host);
  const e = refused(composeNames(["vpindex", "synic", "time", "stimer", "stimer-direct"]), k);
  assert.deepEqual(e.missingCapabilities, []);
  assert.deepEqual(e.unsupportedBits.map((b) => [b.label, b.enlightenments]), [["0x40000003.EDX[19] DirectSyntheticTimers", ["stimer-direct"]]]);
  assert.deepEqual(e.refused.map((r) => r.name), ["stimer-direct"]);
  assert.match(e.message, /KVM_GET_SUPPORTED_HV_CPUID lacks 0x40000003.EDX\[19\] DirectSyntheticTimers \(stimer-direct\); nothing was created; use --backend emulator$/);
  createdNothing(k);
  // Without stimer-direct the same host is fine.
  ok(composeNames(["vpindex", "synic", "time", "stimer"]), new SimulatedKvm(host));
});

Deno.test("the composed leaves are checked, not only the plugins' defaults: a base privilege KVM lacks names base and vpindex", () => {
  const host = hostWith(HYPERV_CAPABLE_HOST, {
    hvCpuid: (ls) => ls.map((l) => (l.function === 0x40000003 ? { ...l, eax: l.eax & ~(1 << 6) } : l)),
  });
  const e = refused(composeNames(["relaxed"]), new SimulatedKvm(host));
  assert.deepEqual(e.unsupportedBits.map((b) => [b.label, b.enlightenments]), [["0x40000003.EAX[6] AccessVpIndex", ["base", "vpindex"]]]);
});

Deno.test("a missing capability names what needs it (ipi without KVM_CAP_HYPERV_SEND_IPI); evmcs on a host without eVMCS", () => {
  const noIpi = refused(composeProfile("win10"), new SimulatedKvm(hostWith(HYPERV_CAPABLE_HOST, { caps: { KVM_CAP_HYPERV_SEND_IPI: 0 } })));
  assert.deepEqual(noIpi.missingCapabilities, [{ capability: "KVM_CAP_HYPERV_SEND_IPI", neededBy: ["ipi"] }]);
  assert.match(noIpi.message, /KVM lacks KVM_CAP_HYPERV_SEND_IPI \(ipi\); nothing was created/);

  // An AMD-like host: no eVMCS capability and no version range in 0x4000000A, and no 4.EAX[14].
  const amd = hostWith(HYPERV_CAPABLE_HOST, {
    caps: { KVM_CAP_HYPERV_ENLIGHTENED_VMCS: 0 },
    hvCpuid: (ls) =>
      ls.map((l) =>
        l.function === 0x4000000a ? { ...l, eax: l.eax & ~0xffff } : l.function === 0x40000004 ? { ...l, eax: l.eax & ~(1 << 14) } : l
      ),
    evmcsVersion: 0,
  });
  const e = refused(composeNames(VIRT_INSTALL_INTEL), new SimulatedKvm(amd));
  assert.deepEqual(e.missingCapabilities, [{ capability: "KVM_CAP_HYPERV_ENLIGHTENED_VMCS", neededBy: ["evmcs"] }]);
  assert.deepEqual(e.unsupportedBits.map((b) => [b.label, b.enlightenments]), [
    ["0x40000004.EAX[14] UseVmcsEnlightenments", ["evmcs"]],
    ["0x4000000a.EAX[15:0] eVMCS versions 1..1 (KVM offers none)", ["evmcs"]],
  ]);
});

Deno.test("eVMCS versions must lie within KVM's range", () => {
  const v2 = hostWith(HYPERV_CAPABLE_HOST, { hvCpuid: (ls) => ls.map((l) => (l.function === 0x4000000a ? { ...l, eax: (l.eax & ~0xffff) | 0x0202 } : l)) });
  const e = refused(composeNames(["vapic", "evmcs"]), new SimulatedKvm(v2));
  assert.deepEqual(e.unsupportedBits.map((b) => b.label), ["0x4000000a.EAX[15:0] eVMCS versions 1..1 (KVM offers 2..2)"]);
  const v12 = hostWith(HYPERV_CAPABLE_HOST, { hvCpuid: (ls) => ls.map((l) => (l.function === 0x4000000a ? { ...l, eax: (l.eax & ~0xffff) | 0x0201 } : l)) });
  assert.equal(ok(composeNames(["vapic", "evmcs"]), new SimulatedKvm(v12)).evmcsVersion, 0x0101);
});

Deno.test("guest hints a plugin does not ask KVM for are accepted and listed (no-nonarch-coresharing on an SMT host), never silently", () => {
  const plan = ok(composeNames(["no-nonarch-coresharing", "vendor-id"], { "vendor-id": "hv-test" }), new SimulatedKvm());
  assert.deepEqual(plan.unchecked.map((u) => [u.label, u.owners]), [
    ["0x40000003.EDX[3] CpuDynamicPartitioningAvailable", ["base"]],
    ["0x40000004.EAX[18] NoNonArchitecturalCoreSharing", ["no-nonarch-coresharing"]],
  ]);
  assert.match(plan.unchecked[1].why, /passthrough.hvCpuid does not ask KVM/);
});

Deno.test("crash composed: the plan host-sets CRASH_CTL; KVM unavailable is its own refusal; checkPassthrough works on a report", () => {
  assert.equal(ok(composeNames(["crash"]), new SimulatedKvm()).crash, true);
  const k = new SimulatedKvm({ ...HOST_WITHOUT_HYPERV, unavailable: "KVM is unavailable: /dev/kvm does not exist." });
  const e = refused(composeProfile("win10"), k);
  assert.equal(e.kvm, "KVM is unavailable: /dev/kvm does not exist.");
  assert.match(e.message, /cannot run here: KVM is unavailable: \/dev\/kvm does not exist\.; nothing was created; use --backend emulator/);
  assert.deepEqual(k.log(), ["open /dev/kvm"]);
  // The same check from an `hv doctor --json`-shaped host (no live KVM at all).
  const r = checkPassthrough(composeProfile("win10"), { available: true, caps: HYPERV_CAPABLE_HOST.caps as Record<string, number>, hvCpuid: KVM_HV_CPUID_LINUX_6_6 });
  assert.ok(!(r instanceof PassthroughUnavailable));
});
