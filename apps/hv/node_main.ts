/**
 * `hv` under Node >= 20: the same CLI as `main.ts`, with `@deno/shim-deno` standing in for the
 * Deno calls (arguments, exit code). Built to `dist/node_main.js` by `npm run build`; commands that
 * need KVM (Deno FFI) are Deno-only.
 * @module
 */
import { Deno } from "@deno/shim-deno";
import { Effect } from "effect";
import { run } from "./src/cli.ts";

let code: number;
try {
  code = await Effect.runPromise(run(Deno.args));
} catch (err) {
  console.error(`hv: internal error: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
  code = 1;
}
// exitCode, not exit(): let piped stdout drain before node exits.
process.exitCode = code;
