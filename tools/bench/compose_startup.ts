/**
 * Benchmark: how long `hv compose --profile win2012 --format qemu` takes from exec to exit, next
 * to a reference measured in the same run (an empty `deno run` script: the floor any Deno CLI
 * pays). Prints medians and the ratio; the target is under 300 ms on this machine.
 * Not a test: run `deno run -A tools/bench/compose_startup.ts [runs]`.
 */
const root = new URL("../../", import.meta.url).pathname;
const runs = Number(Deno.args[0] ?? 15);
const deno = Deno.execPath();
const empty = await Deno.makeTempFile({ suffix: ".ts" });
await Deno.writeTextFile(empty, "");

async function time(args: string[]): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < runs + 2; i++) {
    const t0 = performance.now();
    const r = await new Deno.Command(deno, { args, stdout: "null", stderr: "piped", cwd: root }).output();
    const dt = performance.now() - t0;
    if (!r.success) throw new Error(`${args.join(" ")} failed: ${new TextDecoder().decode(r.stderr)}`);
    if (i >= 2) out.push(dt); // two warm-up runs fill the OS and V8 code caches
  }
  return out.sort((a, b) => a - b);
}
const median = (xs: number[]) => xs[Math.floor(xs.length / 2)];

const hv = await time(["run", "-A", "--quiet", "apps/hv/main.ts", "compose", "--profile", "win2012", "--format", "qemu"]);
const ref = await time(["run", "-A", "--quiet", empty]);
const [h, r] = [median(hv), median(ref)];
console.log(`hv compose --profile win2012 --format qemu: median ${h.toFixed(1)} ms (min ${hv[0].toFixed(1)}, max ${hv.at(-1)!.toFixed(1)}) over ${runs} runs`);
console.log(`reference (empty deno run):                median ${r.toFixed(1)} ms`);
console.log(`ratio hv/reference: ${(h / r).toFixed(2)}; hv's own work: ${(h - r).toFixed(1)} ms; target < 300 ms: ${h < 300 ? "met" : "NOT met"}`);
await Deno.remove(empty);
