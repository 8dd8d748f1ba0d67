/**
 * What both backends do around a run (`hv run`): read the kernel (or build/read the probe guest and
 * give it the profile's GUEST_OS_ID on its command line), the initrd and the serial console; and
 * afterwards print the probe's table, write a crash report, describe the outcome and choose the exit
 * code. One place, so the emulator and the passthrough backend report the same way.
 * @module
 */
import { resetSourceName, type RunOutcome } from "@hv/machine";
import { findProfile } from "@hv/profiles";
import { crashDocument, encodeCrashDocument } from "./crash_report.ts";
import { feedProbeLine, newProbeReport, type ProbeReport, probePassed, renderProbeTable } from "./probe_report.ts";
import { probeImage } from "./probe_guest.ts";
import type { RunIo, RunOptions } from "./run.ts";
import type { SnapshotGuest } from "./snapshot_file.ts";

/** Exit code for input the user can fix (unreadable files). */
const EXIT_USAGE = 2;

/** A prepared guest: the kernel and its command line, modules, the serial sink, and the probe report it feeds. */
export interface GuestSession {
  readonly kernel: Uint8Array;
  readonly kernelName: string;
  readonly append: string;
  readonly initrd: { data: Uint8Array; string: string }[];
  /** True when booting the built-in probe guest (no `--kernel`). */
  readonly probe: boolean;
  readonly report: ProbeReport;
  readonly onSerial: (line: string) => void;
  /** Closes the `--serial` file, if any. */
  close(): void;
}

/** One description per outcome, for stderr (with a register dump for a guest fault). */
export function describeOutcome(o: RunOutcome): string[] {
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
      return [`hv: the guest asked for a reset (${resetSourceName(o.source)}, vCPU ${o.vcpu}); the VM was stopped`];
    case "saved":
      return [];
  }
}

/**
 * Reads the kernel, initrd and serial file (or takes the guest from a snapshot, `saved`: `hv run
 * --restore`); on failure prints one line and resolves to exit code 2.
 */
export async function prepareGuest(o: RunOptions, io: RunIo, saved?: SnapshotGuest): Promise<GuestSession | number> {
  if (saved) {
    const session = await openSession(o, io, { ...saved, initrd: [...saved.initrd] });
    // The probe started before it was saved: the restored run reports the checks it makes from here on.
    if (typeof session !== "number") session.report.started = true;
    return session;
  }
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
    return EXIT_USAGE;
  }
  const initrd: { data: Uint8Array; string: string }[] = [];
  for (const f of o.initrd) {
    try {
      initrd.push({ data: await Deno.readFile(f), string: f.split("/").at(-1)! });
    } catch (e) {
      io.err(`hv: cannot read --initrd ${f}: ${e instanceof Error ? e.message : String(e)}`);
      return EXIT_USAGE;
    }
  }
  return openSession(o, io, { kernel, kernelName, append, initrd, probe });
}

/** The guest's files in hand: opens `--serial` and builds the session (exit code 2 when the file cannot be opened). */
async function openSession(
  o: RunOptions,
  io: RunIo,
  g: Pick<GuestSession, "kernel" | "kernelName" | "append" | "initrd" | "probe">,
): Promise<GuestSession | number> {
  const { kernel, kernelName, append, initrd, probe } = g;
  let file: Deno.FsFile | undefined;
  if (o.serial !== "stdio") {
    try {
      file = await Deno.open(o.serial, { write: true, create: true, truncate: true });
    } catch (e) {
      io.err(`hv: cannot open --serial ${o.serial}: ${e instanceof Error ? e.message : String(e)}`);
      return EXIT_USAGE;
    }
  }
  const enc = new TextEncoder();
  const report = newProbeReport();
  return {
    kernel,
    kernelName,
    append,
    initrd,
    probe,
    report,
    onSerial: (line) => {
      if (file) file.writeSync(enc.encode(line + "\n"));
      else if (!probe) io.out(line);
      if (probe) {
        feedProbeLine(report, line);
        // The probe's own notes (e.g. that it waits for a save and restore) are for the person running it.
        if (line.startsWith("probe: ")) io.err(line);
      }
    },
    close: () => file?.close(),
  };
}

/**
 * Reports a finished run: the probe's table, `hv-crash-<time>.json` on a crash, the outcome on
 * stderr; resolves to the exit code (probe: 0 when every check passed, else 1; otherwise the
 * outcome's code: the guest's isa-debug-exit code, 124 timeout, 125 guest fault, 70 VMM error).
 */
export async function finishRun(o: RunOptions, io: RunIo, g: GuestSession, out: RunOutcome): Promise<number> {
  await reportRun(o, io, g, out);
  return runExitCode(g, out);
}

/**
 * The reporting half of {@link finishRun}: the probe's table, `hv-crash-<time>.json` on a crash
 * (its path on stderr), and the outcome on stderr. `hv run --on-crash pause` reports this way
 * while the crashed VM is still kept.
 */
export async function reportRun(o: RunOptions, io: RunIo, g: GuestSession, out: RunOutcome): Promise<void> {
  if (g.probe && out.kind !== "saved") io.out(renderProbeTable(g.report));
  if (out.kind === "crash") {
    const doc = crashDocument(out.report, o.profile);
    const path = `hv-crash-${doc.time.replace(/[:.]/g, "-")}.json`;
    try {
      await Deno.writeTextFile(path, encodeCrashDocument(doc), { createNew: true });
      io.err(`hv: crash report written to ${path}`);
    } catch (e) {
      io.err(`hv: cannot write the crash report ${path}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  if (out.kind !== "exit" || !g.probe) for (const l of describeOutcome(out)) io.err(l);
}

/** The exit code half of {@link finishRun}: for the probe's isa-debug-exit, 0 when every check passed, else 1; otherwise the outcome's code. */
export function runExitCode(g: GuestSession, out: RunOutcome): number {
  if (g.probe && out.kind === "exit") return probePassed(g.report) ? 0 : 1;
  return out.code;
}
