// `hv run` end to end on real KVM (the emulator backend). Needs /dev/kvm: skipped, with the reason
// printed, only when the device cannot be opened. Bad input is checked without KVM.
import assert from "node:assert/strict";
import { openKvmOrSkip } from "@hv/kvm";
import { hv } from "./testing.ts";

const probe = openKvmOrSkip();
if ("reason" in probe) console.log(`skipping hv run tests that boot guests: ${probe.reason}`);
else probe.kvm.close();
const ignore = "reason" in probe;
const guests = new URL("../../../tools/guests/", import.meta.url).pathname;

Deno.test({ name: "hv run --profile win2012 --smp 2: the probe passes every check on both VPs and prints the table", ignore, fn: async () => {
  const r = await hv("run", "--profile", "win2012", "--smp", "2");
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /^ENLIGHTENMENT\s+CHECK\s+RESULT\s+GUEST SAW\s+COST$/m);
  assert.match(r.stdout, /base\s+base\.hypercall\.unknown_code\s+pass/);
  assert.match(r.stdout, /smp\.aps_started\s+pass/);
  assert.match(r.stdout, /vpindex\.unique\s+pass/);
  assert.match(r.stdout, /^\d+ passed, 0 failed, \d+ skipped$/m);
  for (const line of r.stderr.split("\n").filter((l) => l !== "")) {
    assert.match(line, /^hv: (left out '|userspace APIC: \d+ interrupts injected)/, "stderr: unserved enlightenments and the interrupt summary only");
  }
} });

Deno.test({ name: "hv run --kernel-irqchip on: KVM's in-kernel irqchip boots both VPs; the userspace APIC (default) serves auto-EOI and exit-less EOI", ignore, fn: async () => {
  const k = await hv("run", "--profile", "win2012", "--smp", "2", "--kernel-irqchip", "on", "--without", "vapic,synic,stimer");
  assert.equal(k.code, 0, k.stderr + k.stdout);
  assert.match(k.stdout, /smp\.aps_started\s+pass/);
  assert.match(k.stdout, /^\d+ passed, 0 failed, \d+ skipped$/m);
  // periodic=0: the 1 ms periodic stimer checks (a rate within 2%) are for a quiet host, not for CI's parallel load.
  const u = await hv("run", "--profile", "max", "--smp", "2", "--append", "periodic=0");
  assert.equal(u.code, 0, u.stderr + u.stdout);
  for (const check of ["synic.auto_eoi", "vapic.exitless_eoi", "ipi.to_other_vp", "smp.aps_started"]) {
    assert.match(u.stdout, new RegExp(`${check.replace(".", "\\.")}\\s+pass`), check);
  }
  assert.match(u.stderr, /exit-less EOIs: [1-9]/, "hv reports the EOIs it completed for the guest");
} });

Deno.test({ name: "hv run --kernel <multiboot kernel built here> --smp 2 runs it to its isa-debug-exit code", ignore, fn: async () => {
  const m = await new Deno.Command("make", { args: ["-s", "-C", guests, "build/hello.elf"] }).output();
  assert.ok(m.success);
  const r = await hv("run", "--kernel", `${guests}build/hello.elf`, "--smp", "2", "--append", "smp=2 exit=0x21", "--memory", "64");
  assert.equal(r.code, ((0x21 << 1) | 1) & 0xff);
  assert.match(r.stdout, /hello from hv guest/);
  assert.match(r.stdout, /ap 1 up/);
  const f = await Deno.makeTempFile();
  const s = await hv("run", "--kernel", `${guests}build/hello.elf`, "--serial", f, "--append", "exit=0");
  assert.equal(s.code, 1);
  assert.match(await Deno.readTextFile(f), /hello from hv guest/, "--serial FILE gets the console");
  assert.doesNotMatch(s.stdout, /hello/);
} });

Deno.test("hv run: bad input is one line on stderr and exit code 2", async () => {
  const cases: [string[], RegExp][] = [
    [["run", "--smp", "9"], /--smp must be 1\.\.8, got 9/],
    [["run", "--memory", "1"], /--memory must be 2\.\.3072 MiB, got 1/],
    [["run", "--timeout", "0"], /--timeout must be 1\.\.86400 seconds, got 0/],
    [["run", "--profile", "win3000"], /unknown profile 'win3000'; valid: /],
    [["run", "--with", "bogus"], /unknown enlightenment 'bogus'/],
    [["run", "--kernel", "/nonexistent/kernel.elf"], /cannot read the kernel \/nonexistent\/kernel.elf/],
    [["run", "--profile", "win11", "--with", "evmcs"], /the emulator cannot serve 'evmcs'.*passthrough/],
    [["run", "--kernel-irqchip", "maybe"], /--kernel-irqchip must be on or off, got 'maybe'/],
    [["run", "--profile", "win2012", "--kernel-irqchip", "on"], /cannot serve 'vapic', 'synic' \(it needs hv's userspace local APIC.*--without vapic,synic,stimer\)$/m],
  ];
  for (const [args, re] of cases) {
    if (ignore && args.includes("--kernel")) continue;
    const r = await hv(...args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stdout, "");
  }
});

Deno.test({ name: "hv run --backend passthrough refuses on a host without in-kernel Hyper-V, before creating anything; auto says which it picked", ignore, fn: async () => {
  const doctor = JSON.parse((await hv("doctor", "--json")).stdout);
  if (doctor.backends.passthrough.ok) return; // a Hyper-V-capable host: the refusal cannot be observed here
  const r = await hv("run", "--profile", "win2012", "--backend", "passthrough");
  assert.equal(r.code, 2);
  assert.equal(r.stderr.trim().split("\n").length, 1);
  assert.match(r.stderr, /passthrough backend cannot .* lacks KVM_CAP_HYPERV .*nothing was created; use --backend emulator/);
  const a = await hv("run", "--profile", "win2012", "--backend", "auto");
  assert.equal(a.code, 0, a.stderr);
  assert.match(a.stderr, /^hv: backend: emulator \(passthrough: /m);
  const bad = await hv("run", "--backend", "qemu");
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown backend 'qemu'; valid: emulator, passthrough, auto/);
} });
