/**
 * `hv`: the command-line entry point (`apps/hv/bin/hv` runs it with Deno). See `src/cli.ts`.
 * @module
 */
import { Effect } from "effect";
import { run } from "./src/cli.ts";

Effect.runPromise(run(Deno.args)).then(
  (code) => {
    Deno.exitCode = code;
  },
  (err) => {
    console.error(`hv: internal error: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    Deno.exitCode = 1;
  },
);
