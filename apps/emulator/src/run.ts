/**
 * `hv run` for the emulator backend: decides what the emulator serves, composes, boots the kernel
 * (or the built-in probe guest with the profile's GUEST_OS_ID on its command line), relays the
 * serial console, and turns the probe's report into a table. Returns the process exit code.
 * @module
 */
import { Effect } from "effect";
import { type ComposeRequest, compose } from "@hv/compose";
import { EXIT_GUEST_FAULT, runMachine, type RunOutcome } from "@hv/machine";
import { findProfile } from "@hv/profiles";
import { planEmulator } from "./policy.ts";
import { feedProbeLine, newProbeReport, probePassed, renderProbeTable } from "./probe_report.ts";
import { probeImage } from "./probe_guest.ts";
import { crashDocument, encodeCrashDocument } from "./crash_report.ts";

/** What `hv run` was asked (already parsed): the composition request and the machine's settings. */
export interface RunOptions {
  readonly request: ComposeRequest;
  readonly profile?: string;
  readonly kernel?: string;
  readonly initrd: readonly string[];
  readonly append: string;
  readonly smp: number;
  readonly memoryMiB: number;
  readonly timeoutSeconds: number;
  readonly serial: string;
}

/** Where `hv run` writes: console output, notices/reports on stderr (injectable for tests). */
export interface RunIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

const describe = (o: RunOutcome): string[] => {
  switch (o.kind) {
    case "exit":
      return [`hv: guest exited through isa-debug-exit with ${o.guestCode} (exit code ${o.code})`];
    case "timeout":
      return [`hv: timeout: the guest was still running; stopped it`, ...o.registers.map((r, i) => `  vCPU ${i}: rip ${r.rip} rsp ${r.rsp} cr0 ${r.cr0} cs ${r.cs}`)];
    case "fault":
      return [
        `hv: vCPU ${o.fault.vcpu}: ${o.fault.what} [${o.fault.exitReason}]`,
        ...Object.entries(o.fault.registers).map(([k, v]) => `  ${k.padEnd(6)} ${v}`),
      ];
    case "error":
      return [`hv: ${o.message}`];
    case "crash":
      return [
        `hv: the guest reported a crash on VP ${o.report.vp} (CRASH_CTL 0x${o.report.control.toString(16)})`,
        `  parameters: ${o.report.parameters.map((p) => `0x${p.toString(16)}`).join(" ")}`,
        ...(o.report.message ? [`  message: ${o.report.message}`] : []),
      ];
    case "reset":
      return [`hv: the guest asked for a reset (${o.source}, VP ${o.vcpu}); the VM was stopped`];
  }
};

/** Runs the guest; resolves to the process exit code (2 for input the user can fix). */
export async function runEmulator(o: RunOptions, io: RunIo): Promise<number> {
  // 1. What the emulator can serve.
  const wanted = await Effect.runPromise(Effect.result(compose(o.request)));
  if (wanted._tag === "Failure") {
    io.err(`hv: ${wanted.failure.message}`);
    return 2;
  }
  const registry = new Map(o.request.registry.map((p) => [p.name, p] as const));
  const plan = planEmulator(registry, wanted.success.enlightenments.map((e) => e.name));
  if (plan.refused.length > 0) {
    const names = plan.refused.map((r) => r.name);
    io.err(
      `hv: the emulator cannot serve ${plan.refused.map((r) => `'${r.name}' (${r.reason})`).join(", ")}; remove ${
        names.length > 1 ? "them" : "it"
      } (--without ${names.join(",")}) or use the passthrough backend on a host with in-kernel Hyper-V`,
    );
    return 2;
  }
  for (const l of plan.leftOut) io.err(`hv: left out '${l.name}': ${l.reason}`);
  const reasons = new Map(wanted.success.enlightenments.map((e) => [e.name, e.reason] as const));
  const served = plan.served.map((name) => ({ name, reason: reasons.get(name)! }));
  const set = Object.fromEntries(Object.entries(o.request.set ?? {}).filter(([k]) => plan.served.includes(k.split(".")[0])));
  const request: ComposeRequest = { ...o.request, requested: served, set, without: [], autoResolve: false };
  const composition = Effect.runSync(compose(request));

  // 2. The kernel.
  let kernel: Uint8Array, kernelName: string, append = o.append;
  const probe = o.kernel === undefined;
  try {
    if (probe) {
      kernel = await probeImage();
      kernelName = "probe.elf";
      const p = o.profile ? findProfile(o.profile) : undefined;
      append = [
        p ? `profile=${p.name}` : "",
        p?.guestOsId ? `guest_os_id=${p.guestOsId}` : "",
        o.smp > 1 ? `smp=${o.smp}` : "",
        o.append,
      ].filter(Boolean).join(" ");
    } else {
      kernel = await Deno.readFile(o.kernel!);
      kernelName = o.kernel!.split("/").at(-1)!;
    }
  } catch (e) {
    io.err(`hv: cannot read the kernel ${o.kernel ?? "(probe)"}: ${e instanceof Error ? e.message : String(e)}`);
    return 2;
  }
  const initrd: { data: Uint8Array; string: string }[] = [];
  for (const f of o.initrd) {
    try {
      initrd.push({ data: await Deno.readFile(f), string: f.split("/").at(-1)! });
    } catch (e) {
      io.err(`hv: cannot read --initrd ${f}: ${e instanceof Error ? e.message : String(e)}`);
      return 2;
    }
  }

  // 3. The serial console.
  let file: Deno.FsFile | undefined;
  if (o.serial !== "stdio") {
    try {
      file = await Deno.open(o.serial, { write: true, create: true, truncate: true });
    } catch (e) {
      io.err(`hv: cannot open --serial ${o.serial}: ${e instanceof Error ? e.message : String(e)}`);
      return 2;
    }
  }
  const enc = new TextEncoder();
  const report = newProbeReport();
  const onSerial = (line: string) => {
    if (file) file.writeSync(enc.encode(line + "\n"));
    else if (!probe) io.out(line);
    if (probe) feedProbeLine(report, line);
  };

  const result = await runMachine({
    kernel,
    kernelName,
    append,
    initrd,
    memoryMiB: o.memoryMiB,
    smp: o.smp,
    timeoutSeconds: o.timeoutSeconds,
    hyperv: {
      composition,
      spec: { requested: served, set, version: composition.version },
    },
    onSerial,
  });
  file?.close();
  if (probe) io.out(renderProbeTable(report));
  const o2 = result.outcome;
  if (o2.kind === "crash") {
    const doc = crashDocument(o2.report, o.profile);
    const path = `hv-crash-${doc.time.replace(/[:.]/g, "-")}.json`;
    try {
      await Deno.writeTextFile(path, encodeCrashDocument(doc), { createNew: true });
      io.err(`hv: crash report written to ${path}`);
    } catch (e) {
      io.err(`hv: cannot write the crash report ${path}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  if (o2.kind !== "exit" || !probe) for (const l of describe(o2)) io.err(l);
  if (probe && o2.kind === "exit") return probePassed(report) ? 0 : 1;
  return o2.code ?? EXIT_GUEST_FAULT;
}
