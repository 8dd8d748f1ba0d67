import assert from "node:assert/strict";
import { Effect } from "effect";
import { KvmIoctlError } from "@hv/kvm";
import { CpuidTable } from "@hv/x86";
import {
  configureVcpu,
  hostWith,
  HYPERV_CAPABLE_HOST,
  type PassthroughPlan,
  PassthroughSetupError,
  preflight,
  setupPassthroughVm,
  SimulatedKvm,
} from "../mod.ts";
import { composeNames, composeProfile, VIRT_INSTALL_INTEL } from "./test_helpers.ts";

const plan = (c: ReturnType<typeof composeProfile>, k: SimulatedKvm): PassthroughPlan => Effect.runSync(preflight(c, k));
/** The log from KVM_CREATE_VM on (the preflight's system queries before it are tested elsewhere). */
const sequence = (k: SimulatedKvm) => {
  const l = k.log();
  return l.slice(l.indexOf("KVM_CREATE_VM system 0"));
};
/** The vCPU part of the sequence: everything before the SINT routes (the first eventfd). */
const vcpuSequence = (k: SimulatedKvm) => {
  const l = sequence(k);
  const routes = l.findIndex((x) => x.startsWith("eventfd "));
  return routes < 0 ? l : l.slice(0, routes);
};
/** The SINT-route part, eventfd creations counted and KVM_IRQFDs counted (sint_routes_test.ts checks them one by one). */
const routeSummary = (k: SimulatedKvm) => {
  const l = sequence(k).slice(vcpuSequence(k).length);
  return {
    eventfds: l.filter((x) => x.startsWith("eventfd ")).length,
    irqfds: l.filter((x) => x.startsWith("KVM_IRQFD ")).length,
    rest: l.filter((x) => !x.startsWith("eventfd ") && !x.startsWith("KVM_IRQFD ")),
  };
};

Deno.test("win10 (Proxmox set) on 2 vCPUs: VM, irqchip, then per vCPU SynIC2, enforce-cpuid, CPUID, VP_INDEX = index; then the SINT routes", () => {
  const k = new SimulatedKvm();
  const p = plan(composeProfile("win10"), k);
  const { vcpus, routes } = setupPassthroughVm(k, p, 2);
  assert.deepEqual(vcpus.map((v) => v.id), [0, 1]);
  assert.equal(routes?.vpCount, 2, "synic is composed: one route per VP per SINT");
  assert.deepEqual(routeSummary(k), {
    eventfds: 2 * 17,
    irqfds: 2 * 16,
    rest: ["KVM_SET_GSI_ROUTING vm 72 entries 40 KVM_IRQ_ROUTING_IRQCHIP 32 KVM_IRQ_ROUTING_HV_SINT"],
  });
  assert.deepEqual(vcpuSequence(k), [
    "KVM_CREATE_VM system 0",
    "KVM_CREATE_IRQCHIP vm",
    "KVM_GET_SUPPORTED_CPUID system",
    "KVM_CREATE_VCPU vm 0",
    "KVM_ENABLE_CAP vcpu0 KVM_CAP_HYPERV_SYNIC2",
    "KVM_ENABLE_CAP vcpu0 KVM_CAP_HYPERV_ENFORCE_CPUID 1",
    "KVM_SET_CPUID2 vcpu0 12 entries",
    "KVM_SET_MSRS vcpu0 0x40000002=0x0",
    "KVM_CREATE_VCPU vm 1",
    "KVM_ENABLE_CAP vcpu1 KVM_CAP_HYPERV_SYNIC2",
    "KVM_ENABLE_CAP vcpu1 KVM_CAP_HYPERV_ENFORCE_CPUID 1",
    "KVM_SET_CPUID2 vcpu1 12 entries",
    "KVM_SET_MSRS vcpu1 0x40000002=0x1",
  ]);
});

Deno.test("the guest CPUID KVM holds: KVM's leaves minus the hypervisor range, the composed Hyper-V leaves, the vCPU's APIC id", () => {
  const k = new SimulatedKvm();
  const c = composeProfile("win10");
  setupPassthroughVm(k, plan(c, k), 2);
  const s = k.vcpuState(1);
  const t = new CpuidTable(s.cpuid);
  assert.deepEqual(s.cpuid!.filter((l) => l.function >= 0x40000000 && l.function <= 0x4fffffff), c.cpuid, "exactly the composition's leaves");
  assert.ok(!s.cpuid!.some((l) => l.ebx === 0x4b4d564b), "no KVMKVMKVM signature left");
  assert.equal(t.get(1).ecx >>> 31, 1, "hypervisor present");
  assert.equal(t.get(1).ebx >>> 24, 1, "APIC id 1");
  assert.equal(t.get(0x40000001).eax, 0x31237648, "Hv#1: KVM's kvm_cpuid_has_hyperv turns its Hyper-V on");
  assert.deepEqual([...s.caps], ["KVM_CAP_HYPERV_SYNIC2", "KVM_CAP_HYPERV_ENFORCE_CPUID"]);
  assert.equal(s.msrs.get(0x40000002), 1n);
});

Deno.test("with evmcs (virt-install's Intel set): eVMCS is enabled between SynIC2 and enforce-cpuid, with the version out-pointer", () => {
  const k = new SimulatedKvm();
  const p = plan(composeNames(VIRT_INSTALL_INTEL, { spinlocks: "8191" }), k);
  setupPassthroughVm(k, p, 1);
  assert.equal(routeSummary(k).irqfds, 16);
  assert.deepEqual(vcpuSequence(k), [
    "KVM_CREATE_VM system 0",
    "KVM_CREATE_IRQCHIP vm",
    "KVM_GET_SUPPORTED_CPUID system",
    "KVM_CREATE_VCPU vm 0",
    "KVM_ENABLE_CAP vcpu0 KVM_CAP_HYPERV_SYNIC2",
    "KVM_ENABLE_CAP vcpu0 KVM_CAP_HYPERV_ENLIGHTENED_VMCS &version",
    "KVM_ENABLE_CAP vcpu0 KVM_CAP_HYPERV_ENFORCE_CPUID 1",
    "KVM_SET_CPUID2 vcpu0 17 entries",
    "KVM_SET_MSRS vcpu0 0x40000002=0x0",
  ]);
});

Deno.test("without synic (win2008: Proxmox P6) no SynIC2 is enabled; with crash CRASH_CTL is host-set to CrashNotify", () => {
  const k = new SimulatedKvm();
  setupPassthroughVm(k, plan(composeProfile("win2008"), k), 1);
  assert.deepEqual(sequence(k).slice(3), [
    "KVM_CREATE_VCPU vm 0",
    "KVM_ENABLE_CAP vcpu0 KVM_CAP_HYPERV_ENFORCE_CPUID 1",
    "KVM_SET_CPUID2 vcpu0 12 entries",
    "KVM_SET_MSRS vcpu0 0x40000002=0x0",
  ]);

  const k2 = new SimulatedKvm();
  const { vcpus } = setupPassthroughVm(k2, plan(composeNames(["relaxed", "crash"]), k2), 1);
  assert.deepEqual(sequence(k2).slice(-1), ["KVM_SET_MSRS vcpu0 0x40000002=0x0 0x40000105=0x8000000000000000"]);
  assert.deepEqual(k2.getMsrs(vcpus[0], [0x40000105]), [0x8000000000000000n], "KVM reads back bit 63");
});

Deno.test("setup failures: an eVMCS range KVM reports at enable time that lacks version 1; KVM refusing VP_INDEX", () => {
  const k = new SimulatedKvm(hostWith(HYPERV_CAPABLE_HOST, { evmcsVersion: 0x0202 }));
  const p = plan(composeNames(["vapic", "evmcs"]), k);
  assert.throws(() => setupPassthroughVm(k, p, 1), (e: unknown) => {
    assert.ok(e instanceof PassthroughSetupError);
    assert.equal(e.message, "vCPU 0: Hyper-V enlightened VMCS versions 1..1 are unsupported, KVM supports 2..2; remove evmcs (--without evmcs)");
    return true;
  });
  assert.ok(!k.log().some((l) => l.startsWith("KVM_SET_CPUID2")), "stopped at the failing step");

  // A plan from a capable host applied to a kernel that cannot set VP_INDEX: KVM_SET_MSRS fails loudly.
  const good = plan(composeProfile("win10"), new SimulatedKvm());
  const noVpIndex = new SimulatedKvm(hostWith(HYPERV_CAPABLE_HOST, { caps: { KVM_CAP_HYPERV_VP_INDEX: 0 } }));
  const vm = noVpIndex.createVm();
  noVpIndex.createIrqchip(vm);
  const v = noVpIndex.createVcpu(vm, 0);
  assert.throws(() => configureVcpu(noVpIndex, good, v, 0, noVpIndex.supportedCpuid()), (e: unknown) => {
    assert.ok(e instanceof KvmIoctlError);
    assert.match(e.message, /^KVM_SET_MSRS failed: EINVAL .*KVM refused MSR 0x40000002/);
    return true;
  });
  assert.throws(() => noVpIndex.createIrqchip(vm), KvmIoctlError, "the simulated kernel keeps KVM's order rules too");
});
