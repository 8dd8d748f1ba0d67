/**
 * `hv run`: boots a guest on /dev/kvm with the composed enlightenments served by hv's emulator
 * (Deno only: KVM through FFI). Without `--kernel` it boots the built-in probe guest, which checks
 * every advertised enlightenment the way that Windows version would, and prints a table.
 * @module
 */
import { Effect } from "effect";
import { composeRequest, type ComposeFlags } from "./compose_request.ts";
import { UsageError } from "./usage.ts";

/** `hv run`'s flags after parsing. */
export interface RunFlags extends ComposeFlags {
  readonly kernel?: string;
  readonly initrd: readonly string[];
  readonly append: string;
  /** `--smp`: vCPUs (default 1). */
  readonly smp?: number;
  /** `--memory`: guest RAM in MiB (default 256). */
  readonly memory?: number;
  readonly timeout: number;
  readonly serial: string;
  /** `--backend`: emulator (default), passthrough, or auto. */
  readonly backend?: string;
  /** `--max-resets`: guest resets served by power-cycling the VM (0..{@link MAX_RESETS_LIMIT}); default {@link DEFAULT_MAX_RESETS}. */
  readonly maxResets?: number;
  /** `--on-crash`: one of {@link ON_CRASH_ACTIONS}; default stop. */
  readonly onCrash?: string;
  /** `--kernel-irqchip`: "off" (default: hv's userspace APIC) or "on" (KVM's in-kernel irqchip). */
  readonly kernelIrqchip?: string;
  /** `--save DIR`: save the VM into this new directory when interrupted or after `saveAfter` seconds. */
  readonly save?: string;
  /** `--save-after SECONDS` (needs `save`; below `timeout`). */
  readonly saveAfter?: number;
  /** `--restore DIR`: resume a VM saved with `--save` (takes the VM from the snapshot). */
  readonly restore?: string;
}

/** The `hv run` flags that describe the VM, which `--restore` takes from the snapshot instead. */
const VM_FLAGS: readonly [string, (f: RunFlags) => boolean][] = [
  ["--profile", (f) => f.profile !== undefined],
  ["--with", (f) => f.with.length > 0],
  ["--without", (f) => f.without.length > 0],
  ["--set", (f) => f.set.length > 0],
  ["--auto-deps", (f) => f.autoDeps],
  ["--kernel", (f) => f.kernel !== undefined],
  ["--initrd", (f) => f.initrd.length > 0],
  ["--append", (f) => f.append !== ""],
  ["--smp", (f) => f.smp !== undefined],
  ["--memory", (f) => f.memory !== undefined],
  ["--kernel-irqchip", (f) => f.kernelIrqchip !== undefined],
];

/** One message for a `--save`/`--save-after`/`--restore` combination that cannot work, or undefined. */
export function checkSnapshotFlags(f: RunFlags): string | undefined {
  if (f.saveAfter !== undefined) {
    if (f.save === undefined) return "--save-after needs --save DIR (where to save the VM)";
    if (!Number.isInteger(f.saveAfter) || f.saveAfter < 1 || f.saveAfter >= f.timeout) return `--save-after must be 1..${f.timeout - 1} seconds (below --timeout ${f.timeout}), got ${f.saveAfter}`;
  }
  if ((f.save !== undefined || f.restore !== undefined) && (f.backend ?? "emulator") !== "emulator") {
    return `--${f.save !== undefined ? "save" : "restore"} is served by the emulator backend only (--backend emulator)`;
  }
  if ((f.kernelIrqchip ?? "off") === "on" && f.save !== undefined) return "--save needs hv's userspace APIC: drop --kernel-irqchip on";
  if (f.restore !== undefined) {
    const given = VM_FLAGS.filter(([, isSet]) => isSet(f)).map(([name]) => name);
    if (given.length > 0) return `--restore takes the VM (guest, vCPUs, RAM, enlightenments) from the snapshot: drop ${given.join(", ")}`;
    if (f.save !== undefined && f.save === f.restore) return "--save must name a new directory, not the one given to --restore";
  }
  return undefined;
}

/** The process exit code a command asks for (a guest's isa-debug-exit code, a failed probe). */
export class ExitCode {
  constructor(readonly code: number) {}
}

// Kept out of tsc's sight (the Node build): both backends are Deno-only.
const EMULATOR = "@hv/emulator";
const PASSTHROUGH = "@hv/kvm-passthrough";
/** `hv run --backend` choices. */
export const RUN_BACKENDS = ["emulator", "passthrough", "auto"] as const;
type Runner = (o: unknown, io: unknown) => Promise<number>;
/** `hv run --on-crash` choices (as `@hv/emulator`'s `ON_CRASH_ACTIONS`): stop the VM, or pause it until SIGINT/SIGTERM or `--timeout`. */
export const ON_CRASH_ACTIONS = ["stop", "pause"] as const;
/** `hv run --max-resets` default (as `@hv/machine`'s `DEFAULT_MAX_RESETS`). */
export const DEFAULT_MAX_RESETS = 8;
/** The largest `--max-resets`. */
export const MAX_RESETS_LIMIT = 1000;

/** Validates the machine flags (one clear message each), composes, and runs the emulator. */
export const runCommand = (f: RunFlags): Effect.Effect<void, UsageError | ExitCode> =>
  Effect.gen(function* () {
    const smp = f.smp ?? 1, memory = f.memory ?? 256;
    if (!Number.isInteger(smp) || smp < 1 || smp > 8) return yield* Effect.fail(new UsageError({ message: `--smp must be 1..8, got ${smp}` }));
    if (!Number.isInteger(memory) || memory < 2 || memory > 3072) {
      return yield* Effect.fail(new UsageError({ message: `--memory must be 2..3072 MiB, got ${memory}` }));
    }
    if (!(f.timeout > 0) || f.timeout > 86400) return yield* Effect.fail(new UsageError({ message: `--timeout must be 1..86400 seconds, got ${f.timeout}` }));
    const backend = f.backend ?? "emulator";
    if (!(RUN_BACKENDS as readonly string[]).includes(backend)) {
      return yield* Effect.fail(new UsageError({ message: `unknown backend '${backend}'; valid: ${RUN_BACKENDS.join(", ")}` }));
    }
    const maxResets = f.maxResets ?? DEFAULT_MAX_RESETS;
    if (!Number.isInteger(maxResets) || maxResets < 0 || maxResets > MAX_RESETS_LIMIT) {
      return yield* Effect.fail(new UsageError({ message: `--max-resets must be 0..${MAX_RESETS_LIMIT}, got ${maxResets}` }));
    }
    const onCrash = f.onCrash ?? "stop";
    if (!(ON_CRASH_ACTIONS as readonly string[]).includes(onCrash)) {
      return yield* Effect.fail(new UsageError({ message: `unknown --on-crash action '${onCrash}'; valid: ${ON_CRASH_ACTIONS.join(", ")}` }));
    }
    const kernelIrqchip = f.kernelIrqchip ?? "off";
    if (kernelIrqchip !== "on" && kernelIrqchip !== "off") {
      return yield* Effect.fail(new UsageError({ message: `--kernel-irqchip must be on or off, got '${kernelIrqchip}'` }));
    }
    const snapshotProblem = checkSnapshotFlags(f);
    if (snapshotProblem) return yield* Effect.fail(new UsageError({ message: snapshotProblem }));
    const request = yield* composeRequest(f);
    // deno-lint-ignore no-explicit-any
    const isDeno = typeof (globalThis as any).Deno?.dlopen === "function";
    if (!isDeno) return yield* Effect.fail(new UsageError({ message: "hv run needs Deno (KVM through FFI): run it as 'npx hv run' or 'deno task hv run'" }));
    let chosen = backend;
    if (backend === "auto") {
      const { chooseBackend } = yield* Effect.promise(() =>
        import(PASSTHROUGH) as Promise<{ chooseBackend: (r: unknown) => Promise<{ backend: string; reason?: string }> }>
      );
      const c = yield* Effect.promise(() => chooseBackend(request));
      chosen = c.backend;
      console.error(`hv: backend: ${c.backend}${c.reason ? ` (passthrough: ${c.reason})` : " (the host's KVM serves the whole set in-kernel)"}`);
    }
    if (chosen === "passthrough" && onCrash === "pause") console.error("hv: --on-crash pause is served by the emulator backend only; the passthrough backend stops the VM on a crash");
    const run: Runner = chosen === "passthrough"
      ? (yield* Effect.promise(() => import(PASSTHROUGH) as Promise<{ runPassthrough: Runner }>)).runPassthrough
      : (yield* Effect.promise(() => import(EMULATOR) as Promise<{ runEmulator: Runner }>)).runEmulator;
    const code: number = yield* Effect.promise(() =>
      run(
        {
          request,
          profile: f.profile,
          kernel: f.kernel,
          initrd: f.initrd,
          append: f.append,
          smp,
          memoryMiB: memory,
          timeoutSeconds: f.timeout,
          serial: f.serial,
          maxResets,
          onCrash,
          irqchip: kernelIrqchip === "on" ? "kernel" : "userspace",
          ...(f.save !== undefined ? { save: f.save } : {}),
          ...(f.saveAfter !== undefined ? { saveAfterSeconds: f.saveAfter } : {}),
          ...(f.restore !== undefined ? { restore: f.restore } : {}),
        },
        { out: (l: string) => console.log(l), err: (l: string) => console.error(l) },
      )
    );
    if (code !== 0) return yield* Effect.fail(new ExitCode(code));
  });
