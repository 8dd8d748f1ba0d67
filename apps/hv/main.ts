/**
 * `hv`: the command-line entry point (`apps/hv/bin/hv` runs it with Deno). See `src/cli.ts`.
 * @module
 */
import { Effect } from "effect";
import { run } from "./src/cli.ts";

// Deno.exit, not exitCode: a finished `hv run` must not wait for anything a guest left behind
// (console output is written synchronously, so nothing is lost).
Effect.runPromise(run(Deno.args)).then(
  (code) => Deno.exit(code),
  (err) => {
    console.error(`hv: internal error: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    Deno.exit(1);
  },
);
