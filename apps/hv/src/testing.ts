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

/** `hv run args...` in `cwd` (where hv writes hv-crash-*.json), as a child process with piped output. */
export const spawnHv = (cwd: string, ...args: string[]) =>
  new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-prompt", "--quiet", MAIN, "run", ...args],
    cwd,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();

/** Reads `stream` to its end into `into.text`, resolving `onMatch` the first time the text matches `re` (if given). */
export function collect(stream: ReadableStream<Uint8Array>, re?: RegExp) {
  const into = { text: "" };
  let matched = () => {};
  const onMatch = new Promise<void>((r) => (matched = r));
  const done = (async () => {
    const d = new TextDecoder();
    for await (const chunk of stream) {
      into.text += d.decode(chunk, { stream: true });
      if (re?.test(into.text)) matched();
    }
  })();
  return { into, onMatch, done };
}

/** Runs `fn` with a new temporary directory, removed afterwards whatever happens. */
export async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
