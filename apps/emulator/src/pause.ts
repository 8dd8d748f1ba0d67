/**
 * `hv run --on-crash pause` (QEMU's `-no-shutdown`, pvpanic's pause action): after a guest crash
 * report the vCPUs stay stopped but the VM is kept until the user ends it with SIGINT (Ctrl-C) or
 * SIGTERM, or until `--timeout` expires; then hv tears it down and exits with the crash's exit code.
 * @module
 */
import type { RunIo } from "./run.ts";

/** `hv run --on-crash` actions: stop (tear the VM down at once; the default) or pause (keep it until a signal or `--timeout`). */
export const ON_CRASH_ACTIONS = ["stop", "pause"] as const;
/** One of {@link ON_CRASH_ACTIONS}. */
export type OnCrash = typeof ON_CRASH_ACTIONS[number];

/** The signals that end a pause. */
export type PauseSignal = "SIGINT" | "SIGTERM";

/** Where the signals come from (the process by default; tests pass their own). */
export interface SignalSource {
  /** Calls `handler` on `signal`; returns a function that stops listening. */
  listen(signal: PauseSignal, handler: () => void): () => void;
}

/** The process's SIGINT/SIGTERM through `Deno.addSignalListener` (while listening, they no longer end the process). */
export const processSignals: SignalSource = {
  listen(signal, handler) {
    Deno.addSignalListener(signal, handler);
    return () => Deno.removeSignalListener(signal, handler);
  },
};

/** Options of {@link holdPaused}. */
export interface PauseOptions {
  /** When the pause ends by itself, on the `now` clock (the run's `--timeout` deadline). */
  readonly untilMs: number;
  /** A monotonic clock in milliseconds; default `performance.now`. */
  readonly now?: () => number;
  /** Default {@link processSignals}. */
  readonly signals?: SignalSource;
  /** The process id to name in the message; default `Deno.pid`. */
  readonly pid?: number;
}

/**
 * Keeps the caller waiting (the VM kept) until SIGINT, SIGTERM or `untilMs`; prints one line when
 * the pause starts (how to end it) and one when it ends. Resolves to what ended it.
 */
export function holdPaused(io: RunIo, o: PauseOptions): Promise<PauseSignal | "timeout"> {
  const now = o.now ?? (() => performance.now());
  const signals = o.signals ?? processSignals;
  const left = Math.max(0, o.untilMs - now());
  io.err(
    `hv: paused (--on-crash pause): the vCPUs are stopped and the VM is kept; end it with Ctrl-C or 'kill -TERM ${
      o.pid ?? Deno.pid
    }' (it ends by itself when --timeout expires, in ${Math.ceil(left / 1000)} s)`,
  );
  return new Promise((resolve) => {
    const stops: (() => void)[] = [];
    let ended = false;
    const end = (why: PauseSignal | "timeout") => {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      for (const s of stops.splice(0)) s();
      io.err(why === "timeout" ? "hv: --timeout expired while paused; tearing the VM down" : `hv: ${why}: tearing the paused VM down`);
      resolve(why);
    };
    const timer = setTimeout(() => end("timeout"), left);
    for (const s of ["SIGINT", "SIGTERM"] as const) stops.push(signals.listen(s, () => end(s)));
  });
}
