import assert from "node:assert/strict";
import { Effect, Exit } from "effect";
import { builtins } from "@hv/builtins";
import type { RunOptions } from "@hv/emulator";
import { openKvmOrSkip } from "@hv/kvm";
import { HV_X64_MSR_SCONTROL, HvCallPostMessage } from "@hv/tlfs";
import {
  bootOnMachine,
  bootWithService,
  chooseBackend,
  HOST_WITHOUT_HYPERV,
  passthroughMachineBackend,
  PassthroughUnavailable,
  preflight,
  RealKvmService,
  runPassthrough,
  SimulatedKvm,
} from "../mod.ts";
import { composeProfile, profileComposeRequest } from "./test_helpers.ts";

const options = (o: Partial<RunOptions> = {}): RunOptions => ({
  request: profileComposeRequest("win10"),
  profile: "win10",
  kernel: "/nonexistent/kernel.elf",
  initrd: [],
  append: "",
  smp: 2,
  memoryMiB: 2,
  timeoutSeconds: 5,
  serial: "stdio",
  ...o,
});
const capture = () => {
  const out: string[] = [], err: string[] = [];
  return { out, err, io: { out: (l: string) => void out.push(l), err: (l: string) => void err.push(l) } };
};

Deno.test("runPassthrough on a host without in-kernel Hyper-V: exit code 2, one stderr line, before the kernel is read or anything is created", async () => {
  const k = new SimulatedKvm(HOST_WITHOUT_HYPERV);
  const c = capture();
  const code = await runPassthrough(options({ request: profileComposeRequest("win2012"), profile: "win2012" }), c.io, { service: k });
  assert.equal(code, 2);
  assert.equal(c.err.length, 1);
  assert.match(c.err[0], /^hv: the passthrough backend cannot give this guest its Hyper-V interface here: .*KVM_CAP_HYPERV \(backend,/);
  assert.match(c.err[0], /; nothing was created; use --backend emulator$/);
  assert.ok(!c.err[0].includes("/nonexistent/kernel.elf"), "the kernel was not read (its path does not exist)");
  assert.deepEqual(c.out, []);
  assert.ok(!k.log().some((l) => l.startsWith("KVM_CREATE_")), "no VM, no vCPU");
});

Deno.test("runPassthrough: a composition error is exit code 2 as in the emulator", async () => {
  const c = capture();
  const request = { registry: builtins, requested: [{ name: "nosuch", reason: "test" }] };
  assert.equal(await runPassthrough(options({ request }), c.io, { service: new SimulatedKvm() }), 2);
  assert.match(c.err[0], /^hv: unknown enlightenment 'nosuch'/);
});

Deno.test("runPassthrough on the simulated Hyper-V kernel: set up, run, KVM_EXIT_HYPERV served, isa-debug-exit ends the run", async () => {
  const dir = await Deno.makeTempDir();
  const kernel = `${dir}/kernel.elf`;
  await Deno.writeFile(kernel, new Uint8Array(64));
  const k = new SimulatedKvm();
  k.queueExit(
    0,
    { kind: "synic", msr: 0x40000080, control: 1n, evtPage: 0x21001n, msgPage: 0x20001n },
    { kind: "hcall", input: BigInt(HvCallPostMessage), params: [0x1000n, 0n] },
    { kind: "io-out", port: 0x3f8, value: 0x41 },
    { kind: "io-out", port: 0xf4, value: 0x10 },
  );
  const c = capture();
  const code = await runPassthrough(options({ kernel }), c.io, { service: k });
  assert.equal(code, 0x21, "(0x10 << 1) | 1, as QEMU's isa-debug-exit");
  assert.deepEqual(c.err, ["hv: guest exited through isa-debug-exit with 33 (exit code 33)"]);
  const l = k.log();
  const vm = l.indexOf("KVM_CREATE_VM system 0");
  assert.ok(vm > l.indexOf("KVM_GET_SUPPORTED_HV_CPUID system"), "preflight first");
  assert.deepEqual(l.slice(vm, vm + 8), [
    "KVM_CREATE_VM system 0",
    "KVM_CREATE_IRQCHIP vm",
    "KVM_GET_SUPPORTED_CPUID system",
    "KVM_CREATE_VCPU vm 0",
    "KVM_ENABLE_CAP vcpu0 KVM_CAP_HYPERV_SYNIC2",
    "KVM_ENABLE_CAP vcpu0 KVM_CAP_HYPERV_ENFORCE_CPUID 1",
    "KVM_SET_CPUID2 vcpu0 12 entries",
    "KVM_SET_MSRS vcpu0 0x40000002=0x0",
  ]);
  assert.deepEqual(l.filter((x) => x.startsWith("KVM_RUN")), Array(4).fill("KVM_RUN vcpu0"));
  assert.deepEqual(k.hypercallResults.get(0), [0x12], "no connection 0: the emulator's INVALID_CONNECTION_ID");
  // win10 composes synic: the SINT routes come after both vCPUs, before the first KVM_RUN.
  const routing = l.indexOf("KVM_SET_GSI_ROUTING vm 72 entries 40 KVM_IRQ_ROUTING_IRQCHIP 32 KVM_IRQ_ROUTING_HV_SINT");
  assert.ok(routing > l.indexOf("KVM_SET_MSRS vcpu1 0x40000002=0x1") && routing < l.indexOf("KVM_RUN vcpu0"));
  assert.equal(l.filter((x) => x.startsWith("KVM_IRQFD vm")).length, 32);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("runPassthrough: a guest crash read back from the crash MSRs becomes the emulator's crash report file", async () => {
  const dir = await Deno.makeTempDir();
  const kernel = `${dir}/kernel.elf`;
  await Deno.writeFile(kernel, new Uint8Array(64));
  const k = new SimulatedKvm();
  k.queueExit(0, { kind: "crash", parameters: [0x7en, 0xc0000005n, 0xfffff80012345678n, 0xffffd000aaaa0000n, 0xffffd000bbbb0000n] });
  const c = capture();
  const cwd = Deno.cwd();
  Deno.chdir(dir);
  let code: number;
  try {
    const win10 = profileComposeRequest("win10");
    const request = { ...win10, requested: [...win10.requested, { name: "crash", reason: "--with crash" }] };
    code = await runPassthrough(options({ kernel, request, smp: 1 }), c.io, { service: k });
  } finally {
    Deno.chdir(cwd);
  }
  assert.equal(code, 125);
  assert.ok(k.log().includes("KVM_SET_MSRS vcpu0 0x40000002=0x0 0x40000105=0x8000000000000000"), "CRASH_CTL advertised CrashNotify");
  assert.match(c.err[0], /^hv: crash report written to hv-crash-.*\.json$/);
  assert.deepEqual(c.err.slice(1), [
    "hv: the guest reported a crash on VP 0 (CRASH_CTL 0x8000000000000000)",
    "  parameters: 0x7e 0xc0000005 0xfffff80012345678 0xffffd000aaaa0000 0xffffd000bbbb0000",
  ]);
  const file = c.err[0].slice("hv: crash report written to ".length);
  const doc = JSON.parse(await Deno.readTextFile(`${dir}/${file}`));
  assert.equal(doc.parameters[0], "0x000000000000007e");
  assert.equal(doc.control, "0x8000000000000000");
  assert.equal(doc.profile, "win10");
  await Deno.remove(dir, { recursive: true });
});

/** The simulated kernel with something to do before given KVM_RUNs (what a device thread would do between exits). */
class ScriptedKvm extends SimulatedKvm {
  readonly before = new Map<number, () => void>();
  #runs = 0;
  override run(v: Parameters<SimulatedKvm["run"]>[0]): number {
    this.before.get(++this.#runs)?.();
    return super.run(v);
  }
}

Deno.test("bootWithService: a message the VMM posts to a busy slot is retried when KVM acks the guest's EOM (the host-thread part between exits), all through the SINT route", async () => {
  const k = new ScriptedKvm();
  const plan = Effect.runSync(preflight(composeProfile("win10"), k));
  let post: ((type: number) => string) | undefined;
  let memory: { readU32(gpa: number): number; writeU32(gpa: number, v: number): boolean } | undefined;
  k.queueExit(
    0,
    { kind: "sint", sint: 2, value: 0x90n }, // the guest programs SINT 2 (no exit), then enables the SynIC (exit)
    { kind: "synic", msr: HV_X64_MSR_SCONTROL, control: 1n, evtPage: 0x21001n, msgPage: 0x20001n },
    { kind: "eom" }, // run 2: it consumed the first message and writes EOM (no exit) ...
    { kind: "io-out", port: 0x80, value: 0 }, // ... then exits for something else
    { kind: "io-out", port: 0xf4, value: 0 },
  );
  k.before.set(2, () => {
    assert.equal(post!(0x51), "delivered");
    assert.equal(post!(0x52), "pending");
    memory!.writeU32(0x20000 + 2 * 256, 0); // the guest consumes message 0x51
  });
  const r = await bootWithService({
    plan,
    service: k,
    machine: { kernel: new Uint8Array(), memoryMiB: 1, smp: 1, timeoutSeconds: 1, onSerial: () => {} },
    hooks: passthroughMachineBackend(plan),
    onSynic: ({ synic, partition }) => {
      memory = partition.memory;
      post = (type) => synic.postMessage(partition.vp(0)!, 2, type, new Uint32Array(0), 0);
    },
  });
  assert.deepEqual(r.outcome, { kind: "exit", guestCode: 1, code: 1 });
  assert.equal(memory!.readU32(0x20000 + 2 * 256), 0x52, "the queued message moved in after the ack");
  assert.deepEqual(k.deliveries.map((d) => [d.vp, d.sint, d.vector, d.outcome]), [[0, 2, 0x90, "delivered"], [0, 2, 0x90, "delivered"]]);
  assert.ok(!k.log().some((l) => l.startsWith("KVM_SIGNAL_MSI")));
});

Deno.test("chooseBackend (--backend auto): passthrough on a Hyper-V kernel, the emulator with the reason elsewhere; nothing created", async () => {
  assert.deepEqual(await chooseBackend(profileComposeRequest("win10"), new SimulatedKvm()), { backend: "passthrough" });
  const k = new SimulatedKvm(HOST_WITHOUT_HYPERV);
  const r = await chooseBackend(profileComposeRequest("win10"), k);
  assert.equal(r.backend, "emulator");
  assert.match((r as { reason: string }).reason, /KVM_CAP_HYPERV/);
  assert.ok(!k.log().some((l) => l.startsWith("KVM_CREATE_")));
});

Deno.test({ name: "bootOnMachine hands the hooks to @hv/machine (which now has them): an unloadable kernel is reported before any backend setup", ignore: !openKvmOrSkip().kvm, fn: async () => {
  const plan = Effect.runSync(preflight(composeProfile("win10"), new SimulatedKvm()));
  const r = await bootOnMachine({
    plan,
    service: new SimulatedKvm(),
    machine: { kernel: new Uint8Array(), memoryMiB: 2, smp: 1, timeoutSeconds: 1, onSerial: () => {} },
    hooks: passthroughMachineBackend(plan),
  });
  assert.equal(r.outcome.kind, "error");
  assert.equal(r.outcome.code, 2);
  assert.match((r.outcome as { message: string }).message, /cannot load the kernel/);
} });

/** The real /dev/kvm service, counting what it creates. */
class WatchedKvm extends RealKvmService {
  created: string[] = [];
  override createVm() {
    this.created.push("KVM_CREATE_VM");
    return super.createVm();
  }
  override createVcpu(...a: Parameters<RealKvmService["createVcpu"]>) {
    this.created.push("KVM_CREATE_VCPU");
    return super.createVcpu(...a);
  }
}

const probe = openKvmOrSkip();
probe.kvm?.close();
if (!probe.kvm) console.log(`skipping the real-host passthrough test: ${probe.reason}`);

Deno.test({
  name: "THIS host (real /dev/kvm): win2012's preflight refuses before creating anything, listing KVM_CAP_HYPERV and friends, suggesting --backend emulator",
  ignore: !probe.kvm,
  async fn() {
    const kvm = new WatchedKvm();
    try {
      const hyperv = kvm.checkExtension("KVM_CAP_HYPERV") > 0;
      const e = Effect.runSync(Effect.exit(preflight(composeProfile("win2012"), kvm)));
      if (hyperv) {
        // A host with in-kernel Hyper-V: the preflight accepts (still creating nothing).
        assert.ok(Exit.isSuccess(e), String(e));
      } else {
        assert.ok(Exit.isFailure(e));
        const err = e.cause.reasons.map((r) => (r as { error?: unknown }).error).find((x) => x instanceof PassthroughUnavailable);
        assert.ok(err instanceof PassthroughUnavailable);
        const missing = err.missingCapabilities.map((m) => m.capability);
        for (const cap of ["KVM_CAP_HYPERV", "KVM_CAP_HYPERV_SYNIC2", "KVM_CAP_HYPERV_TIME", "KVM_CAP_HYPERV_VP_INDEX", "KVM_CAP_HYPERV_SEND_IPI"]) {
          assert.ok(missing.includes(cap), `${cap} listed: ${err.message}`);
        }
        assert.match(err.message, /it lacks KVM_CAP_HYPERV \(backend, relaxed, vapic, spinlocks, runtime, reset\)/);
        assert.match(err.message, /use --backend emulator$/);
        // And through `hv run`'s entry point: exit code 2, one line.
        const c = capture();
        assert.equal(await runPassthrough(options({ request: profileComposeRequest("win2012"), profile: "win2012" }), c.io, { service: kvm }), 2);
        assert.deepEqual(c.err, [`hv: ${err.message}`]);
      }
      assert.deepEqual(kvm.created, [], "no VM, no vCPU");
    } finally {
      kvm.close();
    }
  },
});
