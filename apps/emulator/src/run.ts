/**
 * `hv run` for the emulator backend: decides what the emulator serves, composes, boots the kernel
 * (or the built-in probe guest with the profile's GUEST_OS_ID on its command line), relays the
 * serial console, and turns the probe's report into a table. A guest reset power-cycles the VM (up
 * to `--max-resets` times); `--on-crash pause` keeps a crashed VM until a signal. Returns the
 * process exit code.
 * @module
 */
import { Effect } from "effect";
import { type ComposeRequest, compose } from "@hv/compose";
import { DEFAULT_MAX_RESETS, resetSourceName, type RunResult, runMachineWithResets } from "@hv/machine";
import { holdPaused, type OnCrash, type SignalSource } from "./pause.ts";
import { NEEDS_USERSPACE_APIC, planEmulator } from "./policy.ts";
import { interruptSummary } from "./stats.ts";
import { prepareGuest, reportRun, runExitCode } from "./session.ts";

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
  /** Guest resets served by power-cycling the VM before a reset ends the run; default `DEFAULT_MAX_RESETS` (8). */
  readonly maxResets?: number;
  /** What a guest crash report does: stop (default) or pause (keep the VM until SIGINT/SIGTERM or the timeout). */
  readonly onCrash?: OnCrash;
  /** `--kernel-irqchip on` = "kernel" (KVM's irqchip); default "userspace" (hv's APIC). */
  readonly irqchip?: "userspace" | "kernel";
}

/** Where `hv run` writes: console output, notices/reports on stderr (injectable for tests). */
export interface RunIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  /** Where `--on-crash pause` listens for SIGINT/SIGTERM; default the process's signals. */
  readonly signals?: SignalSource;
}


/** Runs the guest; resolves to the process exit code (2 for input the user can fix). */
export async function runEmulator(o: RunOptions, io: RunIo): Promise<number> {
  // 1. What the emulator can serve.
  const wanted = await Effect.runPromise(Effect.result(compose(o.request)));
  if (wanted._tag === "Failure") {
    io.err(`hv: ${wanted.failure.message}`);
    return 2;
  }
  const registry = new Map(o.request.registry.map((p) => [p.name, p] as const));
  const plan = planEmulator(registry, wanted.success.enlightenments.map((e) => e.name), o.irqchip);
  if (plan.refused.length > 0) {
    // One line per reason; the --without hint also names what depends on the refused ones.
    const byReason = new Map<string, string[]>();
    for (const r of plan.refused) byReason.set(r.reason, [...(byReason.get(r.reason) ?? []), `'${r.name}'`]);
    const what = [...byReason].map(([reason, names]) => `${names.join(", ")} (${reason})`).join("; ");
    const names = [...plan.refused, ...plan.leftOut].map((r) => r.name);
    const alt = plan.refused.some((r) => r.reason === NEEDS_USERSPACE_APIC) ? "" : " or use the passthrough backend on a host with in-kernel Hyper-V";
    io.err(`hv: the emulator cannot serve ${what}; remove ${names.length > 1 ? "them" : "it"} (--without ${names.join(",")})${alt}`);
    return 2;
  }
  for (const l of plan.leftOut) io.err(`hv: left out '${l.name}': ${l.reason}`);
  const reasons = new Map(wanted.success.enlightenments.map((e) => [e.name, e.reason] as const));
  const served = plan.served.map((name) => ({ name, reason: reasons.get(name)! }));
  const set = Object.fromEntries(Object.entries(o.request.set ?? {}).filter(([k]) => plan.served.includes(k.split(".")[0])));
  const request: ComposeRequest = { ...o.request, requested: served, set, without: [], autoResolve: false };
  const composition = Effect.runSync(compose(request));

  // 2. The kernel (or the probe guest), initrd and serial console.
  const guest = await prepareGuest(o, io);
  if (typeof guest === "number") return guest;
  const { kernel, kernelName, append, initrd, onSerial } = guest;

  const maxResets = o.maxResets ?? DEFAULT_MAX_RESETS;
  const started = performance.now();
  let reported = false;
  // --on-crash pause: report while the crashed VM is kept (vCPUs stopped), then wait.
  const beforeTeardown = async (r: RunResult) => {
    if (o.onCrash !== "pause" || r.outcome.kind !== "crash") return;
    await reportRun(o, io, guest, r.outcome);
    reported = true;
    await holdPaused(io, { untilMs: started + o.timeoutSeconds * 1000, signals: io.signals });
  };
  const result = await runMachineWithResets({
    kernel,
    kernelName,
    append,
    initrd,
    memoryMiB: o.memoryMiB,
    smp: o.smp,
    timeoutSeconds: o.timeoutSeconds,
    irqchip: o.irqchip ?? "userspace",
    hyperv: {
      composition,
      spec: { requested: served, set, version: composition.version },
    },
    onSerial,
    beforeTeardown,
  }, {
    maxResets,
    onReset: (r, n) => io.err(`hv: guest reset (${resetSourceName(r.source)}, vCPU ${r.vcpu}): power-cycling the VM (${n} of --max-resets ${maxResets})`),
  });
  guest.close();
  if (!reported) await reportRun(o, io, guest, result.outcome);
  const interrupts = interruptSummary(result.exits);
  if (interrupts) io.err(interrupts);
  if (result.limitReached) {
    io.err(
      maxResets === 0
        ? "hv: --max-resets 0: a guest reset stops the VM"
        : `hv: --max-resets ${maxResets} reached: the guest reset the VM ${maxResets + 1} times; this reset was not served (raise --max-resets for more)`,
    );
  }
  return runExitCode(guest, result.outcome);
}
