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
import { DEFAULT_MAX_RESETS, resetSourceName, type RunResult, runMachineWithResets, type SaveRequest } from "@hv/machine";
import { holdPaused, type OnCrash, processSignals, type SignalSource } from "./pause.ts";
import { checkSaveTarget, type LoadedSnapshot, readSnapshot, SnapshotError, writeSnapshot } from "./snapshot_file.ts";
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
  /**
   * `--save DIR`: save the VM to DIR (a new directory, `snapshot_file.ts`) instead of discarding it
   * when the run is interrupted (SIGINT/SIGTERM) or `saveAfterSeconds` have passed; the run then
   * ends with exit code 0.
   */
  readonly save?: string;
  /** `--save-after SECONDS`: save this long after the vCPUs are ready (needs `save`). */
  readonly saveAfterSeconds?: number;
  /**
   * `--restore DIR`: resume the VM saved in DIR; its guest, machine shape and enlightenments come
   * from the snapshot (the request, kernel, initrd, append, smp and memory options are not used).
   */
  readonly restore?: string;
}

/** Where `hv run` writes: console output, notices/reports on stderr (injectable for tests). */
export interface RunIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  /** Where `--on-crash pause` and `--save` listen for SIGINT/SIGTERM; default the process's signals. */
  readonly signals?: SignalSource;
}


/** Runs the guest; resolves to the process exit code (2 for input the user can fix). */
export async function runEmulator(o: RunOptions, io: RunIo): Promise<number> {
  // 0. A snapshot to resume, a snapshot to write: both checked before anything runs.
  let snapshot: LoadedSnapshot | undefined;
  try {
    if (o.restore !== undefined) snapshot = await readSnapshot(o.restore);
    if (o.save !== undefined) await checkSaveTarget(o.save);
  } catch (e) {
    if (!(e instanceof SnapshotError)) throw e;
    io.err(`hv: ${e.message}`);
    return 2;
  }
  const saved = snapshot?.manifest;
  if (saved && !saved.hyperv) {
    io.err(`hv: --restore ${o.restore}: the snapshot names no enlightenments (not saved by hv's emulator)`);
    return 2;
  }
  const asked: ComposeRequest = saved?.hyperv
    ? { registry: o.request.registry, requested: saved.hyperv.requested, set: saved.hyperv.set, version: saved.hyperv.version, without: [], autoResolve: false }
    : o.request;
  const smp = saved?.machine.smp ?? o.smp, memoryMiB = saved?.machine.memoryMiB ?? o.memoryMiB;

  // 1. What the emulator can serve.
  const wanted = await Effect.runPromise(Effect.result(compose(asked)));
  if (wanted._tag === "Failure") {
    io.err(`hv: ${saved ? `--restore ${o.restore}: the snapshot's enlightenments: ` : ""}${wanted.failure.message}`);
    return 2;
  }
  const registry = new Map(o.request.registry.map((p) => [p.name, p] as const));
  const plan = planEmulator(registry, wanted.success.enlightenments.map((e) => e.name), saved ? "userspace" : o.irqchip);
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
  const set = Object.fromEntries(Object.entries(asked.set ?? {}).filter(([k]) => plan.served.includes(k.split(".")[0])));
  const request: ComposeRequest = { ...asked, requested: served, set, without: [], autoResolve: false };
  const composition = Effect.runSync(compose(request));

  // 2. The kernel (or the probe guest), initrd and serial console.
  const guest = await prepareGuest(o, io, snapshot?.guest);
  if (typeof guest === "number") return guest;
  const profile = saved ? saved.guest.profile : o.profile;
  // Reports (a crash document names the profile) speak of the VM that runs: the snapshot's, after a restore.
  const reportAs: RunOptions = profile === o.profile ? o : { ...o, profile };
  const { kernel, kernelName, append, initrd, onSerial } = guest;

  const maxResets = o.maxResets ?? DEFAULT_MAX_RESETS;
  const started = performance.now();
  let reported = false;
  // --on-crash pause: report while the crashed VM is kept (vCPUs stopped), then wait.
  const beforeTeardown = async (r: RunResult) => {
    if (o.onCrash !== "pause" || r.outcome.kind !== "crash") return;
    await reportRun(reportAs, io, guest, r.outcome);
    reported = true;
    await holdPaused(io, { untilMs: started + o.timeoutSeconds * 1000, signals: io.signals });
  };
  const spec = { requested: served, set, version: composition.version };
  // --save: on SIGINT/SIGTERM (or --save-after), into a new directory.
  const stopListening: (() => void)[] = [];
  const save: SaveRequest | undefined = o.save === undefined ? undefined : {
    afterSeconds: o.saveAfterSeconds,
    requested: new Promise<void>((resolve) => {
      for (const sig of ["SIGINT", "SIGTERM"] as const) stopListening.push((io.signals ?? processSignals).listen(sig, () => resolve()));
    }),
    write: (state, ram) =>
      writeSnapshot(o.save!, {
        guest: { kernel, kernelName, append, initrd, probe: guest.probe, ...(profile ? { profile } : {}) },
        memoryMiB,
        smp,
        hyperv: spec,
        state,
        ram,
      }),
  };
  if (snapshot) io.err(`hv: restoring the VM saved in ${o.restore} (${saved!.savedAt}: ${smp} vCPU, ${memoryMiB} MiB, ${saved!.state.tscKhz} kHz TSC)`);
  const result = await runMachineWithResets({
    kernel,
    kernelName,
    append,
    initrd,
    memoryMiB,
    smp,
    timeoutSeconds: o.timeoutSeconds,
    irqchip: saved ? "userspace" : o.irqchip ?? "userspace",
    hyperv: { composition, spec },
    onSerial,
    beforeTeardown,
    ...(save ? { save } : {}),
    ...(snapshot ? { restore: { state: saved!.state, loadRam: (into: Uint8Array) => snapshot!.loadRam(into) } } : {}),
  }, {
    maxResets,
    onReset: (r, n) => io.err(`hv: guest reset (${resetSourceName(r.source)}, vCPU ${r.vcpu}): power-cycling the VM (${n} of --max-resets ${maxResets})`),
  });
  for (const stop of stopListening) stop();
  guest.close();
  if (!reported) await reportRun(reportAs, io, guest, result.outcome);
  if (result.outcome.kind === "saved") io.err(`hv: VM saved to ${o.save} after ${result.seconds.toFixed(1)} s (resume it with: hv run --restore ${o.save})`);
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
