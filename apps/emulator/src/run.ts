/**
 * `hv run` for the emulator backend: decides what the emulator serves, composes, boots the kernel
 * (or the built-in probe guest with the profile's GUEST_OS_ID on its command line), relays the
 * serial console, and turns the probe's report into a table. Returns the process exit code.
 * @module
 */
import { Effect } from "effect";
import { type ComposeRequest, compose } from "@hv/compose";
import { runMachine } from "@hv/machine";
import { planEmulator } from "./policy.ts";
import { finishRun, prepareGuest } from "./session.ts";

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
  /** `--kernel-irqchip on` = "kernel" (KVM's irqchip); default "userspace" (hv's APIC). */
  readonly irqchip?: "userspace" | "kernel";
}

/** Where `hv run` writes: console output, notices/reports on stderr (injectable for tests). */
export interface RunIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
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

  // 2. The kernel (or the probe guest), initrd and serial console.
  const guest = await prepareGuest(o, io);
  if (typeof guest === "number") return guest;
  const { kernel, kernelName, append, initrd, onSerial } = guest;

  const result = await runMachine({
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
  });
  guest.close();
  return await finishRun(o, io, guest, result.outcome);
}
