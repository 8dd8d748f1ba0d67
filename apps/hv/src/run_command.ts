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
  readonly smp: number;
  readonly memory: number;
  readonly timeout: number;
  readonly serial: string;
  /** `--backend`: emulator (default), passthrough, or auto. */
  readonly backend?: string;
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

/** Validates the machine flags (one clear message each), composes, and runs the emulator. */
export const runCommand = (f: RunFlags): Effect.Effect<void, UsageError | ExitCode> =>
  Effect.gen(function* () {
    if (!Number.isInteger(f.smp) || f.smp < 1 || f.smp > 8) return yield* Effect.fail(new UsageError({ message: `--smp must be 1..8, got ${f.smp}` }));
    if (!Number.isInteger(f.memory) || f.memory < 2 || f.memory > 3072) {
      return yield* Effect.fail(new UsageError({ message: `--memory must be 2..3072 MiB, got ${f.memory}` }));
    }
    if (!(f.timeout > 0) || f.timeout > 86400) return yield* Effect.fail(new UsageError({ message: `--timeout must be 1..86400 seconds, got ${f.timeout}` }));
    const backend = f.backend ?? "emulator";
    if (!(RUN_BACKENDS as readonly string[]).includes(backend)) {
      return yield* Effect.fail(new UsageError({ message: `unknown backend '${backend}'; valid: ${RUN_BACKENDS.join(", ")}` }));
    }
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
          smp: f.smp,
          memoryMiB: f.memory,
          timeoutSeconds: f.timeout,
          serial: f.serial,
        },
        { out: (l: string) => console.log(l), err: (l: string) => console.error(l) },
      )
    );
    if (code !== 0) return yield* Effect.fail(new ExitCode(code));
  });
