// The machine on real KVM: boot paths, devices, SMP, exits and failure reports. Needs /dev/kvm;
// skipped (with the reason printed) only when the device cannot be opened.
import assert from "node:assert/strict";
import { Effect } from "effect";
import { builtins } from "@hv/builtins";
import { compose } from "@hv/compose";
import { openKvmOrSkip } from "@hv/kvm";
import { EXIT_GUEST_FAULT, EXIT_TIMEOUT, type MachineConfig, runMachine } from "../mod.ts";
import { elf64, X } from "./elf64.ts";

const probe = openKvmOrSkip();
if ("reason" in probe) console.log(`skipping KVM machine tests: ${probe.reason}`);
else probe.kvm.close();
const ignore = "reason" in probe;

const guests = new URL("../../../tools/guests/", import.meta.url).pathname;
async function guest(name: string): Promise<Uint8Array> {
  const r = await new Deno.Command("make", { args: ["-s", "-C", guests, `build/${name}`] }).output();
  assert.ok(r.success, new TextDecoder().decode(r.stderr));
  return Deno.readFile(`${guests}build/${name}`);
}

async function run(kernel: Uint8Array, over: Partial<MachineConfig> = {}) {
  const lines: string[] = [];
  const r = await runMachine({ kernel, memoryMiB: 32, smp: 1, timeoutSeconds: 20, onSerial: (l) => lines.push(l), ...over });
  return { ...r, lines };
}

Deno.test({ name: "multiboot kernel with 2 vCPUs: serial, fw_cfg, AP bring-up, isa-debug-exit code", ignore, fn: async () => {
  const r = await run(await guest("hello.elf"), { smp: 2, append: "smp=2 exit=0x12", kernelName: "hello.elf" });
  assert.deepEqual(r.outcome, { kind: "exit", guestCode: (0x12 << 1) | 1, code: 0x25 });
  assert.ok(r.lines.includes("hello from hv guest"), r.lines.join("\n"));
  assert.ok(r.lines.includes("cmdline: hello.elf smp=2 exit=0x12"), "multiboot cmdline with argv[0]");
  assert.ok(r.lines.some((l) => l.startsWith("ap 1 up")), "the AP came up through INIT/SIPI");
  assert.ok(r.lines.includes("fw_cfg signature: QEMU"));
} });

Deno.test({ name: "ELF64 in long mode: an unclaimed port reads all-ones and the exit code carries it", ignore, fn: async () => {
  const r = await run(elf64([...X.serial(0x4f), ...X.serial(0x4b), ...X.serial(0x0a), ...X.inUnclaimed, ...X.exitAl]));
  assert.deepEqual(r.lines, ["OK"]);
  assert.deepEqual(r.outcome, { kind: "exit", guestCode: (0xff << 1) | 1, code: 0xff });
} });

Deno.test({ name: "MMIO without a device reads all-ones; hyperv-testdev accepts commands without a SynIC", ignore, fn: async () => {
  const r = await run(elf64([...X.testdev(0x01000001), ...X.mmioRead, ...X.and3f, ...X.exitEax]));
  assert.deepEqual(r.outcome, { kind: "exit", guestCode: (0x3f << 1) | 1, code: 0x7f });
  assert.equal(r.exits[0].mmio, 1);
} });

Deno.test({ name: "a triple fault ends the run with a report naming it, RIP and registers", ignore, fn: async () => {
  const r = await run(elf64(X.ud2, 0x300000));
  assert.equal(r.outcome.kind, "fault");
  if (r.outcome.kind !== "fault") return;
  assert.equal(r.outcome.code, EXIT_GUEST_FAULT);
  assert.match(r.outcome.fault.what, /triple-fault/);
  assert.equal(r.outcome.fault.exitReason, "KVM_EXIT_SHUTDOWN");
  assert.match(r.outcome.fault.registers.rip, /^0x0000000000300000$/);
} });

Deno.test({ name: "--timeout stops a spinning guest and reports where each vCPU was", ignore, fn: async () => {
  const r = await run(elf64(X.spin, 0x300000), { timeoutSeconds: 1, smp: 2 });
  assert.equal(r.outcome.kind, "timeout");
  if (r.outcome.kind !== "timeout") return;
  assert.equal(r.outcome.code, EXIT_TIMEOUT);
  assert.equal(r.outcome.registers[0].rip, "0x0000000000300000");
  assert.ok(r.seconds < 10);
} });

Deno.test({ name: "with Hyper-V: synthetic MSRs reach the dispatcher; an unclaimed one is #GP (triple fault without an IDT)", ignore, fn: async () => {
  const c = Effect.runSync(compose({ registry: builtins, requested: [{ name: "relaxed", reason: "t" }] }));
  const hyperv = { composition: c, spec: { requested: [{ name: "relaxed", reason: "t" }], set: {}, version: c.version } };
  // RDMSR VP_INDEX (served) then exit with its low byte: 0.
  const ok = await run(elf64([...X.rdmsr(0x40000002), ...X.exitEax]), { hyperv });
  assert.deepEqual(ok.outcome, { kind: "exit", guestCode: 1, code: 1 });
  assert.equal(ok.exits[0].rdmsr, 1);
  // RDMSR SCONTROL (synic not composed) -> #GP -> no IDT -> triple fault.
  const gp = await run(elf64([...X.rdmsr(0x40000080), ...X.exitEax]), { hyperv });
  assert.equal(gp.outcome.kind, "fault");
} });

Deno.test({ name: "a kernel that is not one is refused with the loader's message", ignore, fn: async () => {
  const r = await run(new TextEncoder().encode("#!/bin/sh\necho not a kernel\n"));
  assert.equal(r.outcome.kind, "error");
  if (r.outcome.kind === "error") assert.match(r.outcome.message, /cannot load the kernel: .*not/);
} });
