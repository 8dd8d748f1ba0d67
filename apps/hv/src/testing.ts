/**
 * Test helpers: run the CLI as a subprocess (`deno run -A main.ts ...`).
 * @module
 */

/** `apps/hv/main.ts`. */
export const MAIN = new URL("../main.ts", import.meta.url).pathname;
/** `apps/hv/bin/hv`. */
export const BIN = new URL("../bin/hv", import.meta.url).pathname;

/** What a run produced. */
export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

const dec = new TextDecoder();

/** Runs `hv args...` through `deno run -A main.ts`. */
export const hv = async (...args: string[]): Promise<RunResult> => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-prompt", "--quiet", MAIN, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
};

/** Runs `fn` over `items`, at most `limit` at a time, keeping order. */
export const pool = async <A, B>(items: readonly A[], limit: number, fn: (a: A) => Promise<B>): Promise<B[]> => {
  const out: B[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
};
