/**
 * Benchmark: VM exits per second handled in TypeScript (hv's emulator, `hv run`) next to a C reference
 * loop doing the same exits (`tools/guests/build/mockhv`), in the same run.
 *
 * Both boot the same guest, `tools/guests/build/bench.elf`, which sets up Hyper-V (GUEST_OS_ID, the
 * hypercall page) and then runs `n` exits of one kind:
 * - `out`:       OUT to the unclaimed port 0xEF (KVM_EXIT_IO, ignored by the port bus);
 * - `rdmsr`:     RDMSR HV_X64_MSR_VP_INDEX (KVM_EXIT_X86_RDMSR through the MSR filter, answered in user space);
 * - `hypercall`: a null hypercall (code 0xFFFF -> status 2) through the hypercall page's
 *                `OUT imm8, EAX; RET` stub (KVM_EXIT_IO, registers read, RAX written back).
 * Each process is timed from spawn to exit with n=N and with n=0 (start-up, boot and tear-down only);
 * the difference is the cost of N exits. The four runs of a repetition are interleaved
 * (TS n=N, C n=N, TS n=0, C n=0, ...) so background load hits both sides alike; medians over the
 * repetitions are reported. The guest also reports the TSC cycles its loop took (RDTSC exits on some
 * hosts, but only twice per run): a second per-exit figure free of start-up noise.
 *
 * The C reference handles the hypercall with KVM_GET_REGS + KVM_GET_SREGS + KVM_SET_REGS (mockhv's
 * default); hv reads and writes the registers through kvm_run's sync-regs area when the host has
 * KVM_CAP_SYNC_REGS. For the hypercall kind two more variants run in the same interleaving (unless
 * `--no-variants`), giving two more rows:
 * - `hypercall (TS ioctls)`: hv with HV_KVM_SYNC_REGS=0, i.e. the ioctl path, against the same C;
 * - `hypercall (C -S)`:      hv against `mockhv -S`, a C loop that uses sync regs too.
 *
 * Not a test and asserts no timing: run `npx deno run -A tools/bench/exits.ts [N] [--reps R]
 * [--kinds out,rdmsr,hypercall] [--no-variants]` (defaults: N = 100000, R = 5, all kinds).
 * @module
 */
const root = new URL("../../", import.meta.url).pathname;
const guests = `${root}tools/guests/`;
const image = `${guests}build/bench.elf`;
const mockhv = `${guests}build/mockhv`;
const hv = `${root}apps/hv/bin/hv`;
const MEMORY_MIB = 128;
const TIMEOUT_S = 600;

// ---------------------------------------------------------------------------------------- arguments
let n = 100_000;
let reps = 5;
let kinds = ["out", "rdmsr", "hypercall"];
let variants = true;
for (let i = 0; i < Deno.args.length; i++) {
  const a = Deno.args[i];
  if (a === "--reps") reps = Number(Deno.args[++i]);
  else if (a === "--kinds") kinds = Deno.args[++i].split(",");
  else if (a === "--no-variants") variants = false;
  else if (/^\d+$/.test(a)) n = Number(a);
  else {
    console.error(`usage: exits.ts [N] [--reps R] [--kinds out,rdmsr,hypercall] [--no-variants]; unknown argument ${a}`);
    Deno.exit(2);
  }
}
if (!(n > 0) || !(reps >= 1) || kinds.some((k) => !["out", "rdmsr", "hypercall"].includes(k))) {
  console.error("N and --reps must be positive; kinds are out, rdmsr, hypercall");
  Deno.exit(2);
}

// ---------------------------------------------------------------------------------------- build
{
  const make = await new Deno.Command("make", { args: ["-s", "-C", guests], stdout: "inherit", stderr: "inherit" }).output();
  if (!make.success) throw new Error("make -C tools/guests failed");
}

// ---------------------------------------------------------------------------------------- one run
interface Sample {
  /** Wall time from spawn to exit, ms. */
  readonly ms: number;
  /** Guest TSC cycles across its exit loop. */
  readonly cycles: number;
}

/** ts: hv; tsi: hv with HV_KVM_SYNC_REGS=0 (ioctls for the hypercall registers); c: mockhv; cs: mockhv -S. */
type Side = "ts" | "tsi" | "c" | "cs";
const command = (side: Side, kind: string, count: number): [string, string[], Record<string, string>] => {
  const append = `kind=${kind} n=${count}`;
  if (side === "ts" || side === "tsi") {
    const args = ["run", "--kernel", image, "--with", "relaxed", "--memory", String(MEMORY_MIB), "--timeout", String(TIMEOUT_S), "--append", append];
    return [hv, args, { HV_KVM_SYNC_REGS: side === "tsi" ? "0" : "1" }];
  }
  return [mockhv, [...(side === "cs" ? ["-S"] : []), "-m", String(MEMORY_MIB), "-t", String(TIMEOUT_S), image, append], {}];
};

async function runOnce(side: Side, kind: string, count: number): Promise<Sample> {
  const [cmd, args, env] = command(side, kind, count);
  const t0 = performance.now();
  const r = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped", cwd: root }).output();
  const ms = performance.now() - t0;
  const out = new TextDecoder().decode(r.stdout);
  const line = out.split("\n").find((l) => l.startsWith("@@bench {"));
  const why = () => `${cmd} ${args.join(" ")} -> exit ${r.code}\n${out}${new TextDecoder().decode(r.stderr)}`;
  // isa-debug-exit: guest code 0 is process status 1 (both VMMs).
  if (r.code !== 1 || !line) throw new Error(`run failed: ${why()}`);
  const res = JSON.parse(line.slice("@@bench ".length)) as { kind: string; n: number; errors: number; cycles: number; hv: boolean };
  if (res.kind !== kind || res.n !== count || res.errors !== 0 || !res.hv) throw new Error(`unexpected result ${line}: ${why()}`);
  return { ms, cycles: res.cycles };
}

// ---------------------------------------------------------------------------------------- measure
const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

interface Result {
  /** Seconds per exit (wall: median(n=N) - median(n=0), over N). */
  readonly perExit: number;
  /** Guest TSC cycles per exit (median). */
  readonly cyclesPerExit: number;
  /** Median spawn-to-exit time with n=0, ms. */
  readonly startupMs: number;
}
const summarize = (full: Sample[], empty: Sample[]): Result => ({
  perExit: (median(full.map((s) => s.ms)) - median(empty.map((s) => s.ms))) / 1000 / n,
  cyclesPerExit: median(full.map((s) => s.cycles)) / n,
  startupMs: median(empty.map((s) => s.ms)),
});

interface Row {
  readonly label: string;
  readonly ts: Result;
  readonly c: Result;
}
const rows: Row[] = [];
const started = performance.now();
console.log(`bench.elf, N = ${n} exits per run, ${reps} repetitions, interleaved TS/C, n=N and n=0 (start-up subtracted)`);
for (const kind of kinds) {
  const sides: Side[] = kind === "hypercall" && variants ? ["ts", "c", "tsi", "cs"] : ["ts", "c"];
  const full = new Map<Side, Sample[]>(sides.map((s) => [s, []]));
  const empty = new Map<Side, Sample[]>(sides.map((s) => [s, []]));
  // One warm-up pair: fills the page cache and Deno's code cache.
  for (const s of sides) await runOnce(s, kind, 0);
  for (let r = 0; r < reps; r++) {
    for (const s of sides) full.get(s)!.push(await runOnce(s, kind, n));
    for (const s of sides) empty.get(s)!.push(await runOnce(s, kind, 0));
    if (Deno.stderr.isTerminal()) Deno.stderr.writeSync(new TextEncoder().encode(`  ${kind}: repetition ${r + 1}/${reps}\r`));
  }
  const result = (s: Side) => summarize(full.get(s)!, empty.get(s)!);
  rows.push({ label: kind, ts: result("ts"), c: result("c") });
  if (sides.includes("tsi")) rows.push({ label: `${kind} (TS ioctls)`, ts: result("tsi"), c: result("c") });
  if (sides.includes("cs")) rows.push({ label: `${kind} (C -S)`, ts: result("ts"), c: result("cs") });
}
if (Deno.stderr.isTerminal()) Deno.stderr.writeSync(new TextEncoder().encode(" ".repeat(40) + "\r"));

// ---------------------------------------------------------------------------------------- report
const rate = (r: Result) => (r.perExit > 0 ? 1 / r.perExit : Number.NaN);
const cols = ["kind", "TS exits/s", "C exits/s", "TS/C", "TS us/exit", "C us/exit", "TS cyc/exit", "C cyc/exit", "TS start ms", "C start ms"];
const table = rows.map((r) => [
  r.label,
  Math.round(rate(r.ts)).toLocaleString("en-US"),
  Math.round(rate(r.c)).toLocaleString("en-US"),
  (rate(r.ts) / rate(r.c)).toFixed(2),
  (r.ts.perExit * 1e6).toFixed(2),
  (r.c.perExit * 1e6).toFixed(2),
  Math.round(r.ts.cyclesPerExit).toLocaleString("en-US"),
  Math.round(r.c.cyclesPerExit).toLocaleString("en-US"),
  r.ts.startupMs.toFixed(0),
  r.c.startupMs.toFixed(0),
]);
const widths = cols.map((c, i) => Math.max(c.length, ...table.map((t) => t[i].length)));
const fmt = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
console.log(fmt(cols));
console.log(widths.map((w) => "-".repeat(w)).join("  "));
for (const t of table) console.log(fmt(t));
console.log(
  `\nTS/C = TS exits/s over C exits/s from wall time (target: >= 0.90, i.e. TypeScript within 10% of C); ` +
    `cyc/exit = guest TSC cycles per exit (guest-measured, no start-up); ${((performance.now() - started) / 1000).toFixed(0)} s total.`,
);
console.log(
  `TS: apps/hv/bin/hv run --kernel bench.elf --with relaxed (sync regs when KVM_CAP_SYNC_REGS has REGS|SREGS; "TS ioctls": HV_KVM_SYNC_REGS=0); ` +
    `C: tools/guests/build/mockhv (KVM_GET_REGS/GET_SREGS/SET_REGS per hypercall; "C -S": sync regs).`,
);
