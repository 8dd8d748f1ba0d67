import assert from "node:assert/strict";
import { LastReturned, type LastSlot, loadLast, storeLast } from "../mod.ts";

const newSlot = (buffer: ArrayBufferLike = new SharedArrayBuffer(12), at = 0): LastSlot => ({
  last: new Uint32Array(buffer, at, 2),
  hiFirst: new Uint32Array(buffer, at + 8, 1),
});
const read = (s: LastSlot) => {
  const o = loadLast(s, new Uint32Array(2));
  return (BigInt(o[1]) << 32n) | BigInt(o[0]);
};

Deno.test("storeLast/loadLast: a completed store reads back whole", () => {
  const s = newSlot();
  assert.equal(read(s), 0n);
  storeLast(s, 0xdeadbeef, 0x12345678);
  assert.deepEqual([...s.last, ...s.hiFirst], [0xdeadbeef, 0x12345678, 0x12345678], "lo, hi, hi copy");
  assert.equal(read(s), 0x12345678_deadbeefn);
});

Deno.test("loadLast on every state a reader can see while (4, 0xFFFFFFF0) becomes (5, 7): never above the new value, never below the old", () => {
  const old = (4n << 32n) | 0xfffffff0n, neu = (5n << 32n) | 7n;
  const s = newSlot();
  storeLast(s, 0xfffffff0, 4);
  // The writer's three stores, one at a time: hiFirst, lo, hi.
  const steps: [number, number, number][] = [[0xfffffff0, 4, 4], [0xfffffff0, 4, 5], [7, 4, 5], [7, 5, 5]];
  for (const [lo, hi, hiFirst] of steps) {
    s.last[0] = lo;
    s.last[1] = hi;
    s.hiFirst[0] = hiFirst;
    const v = read(s);
    assert.ok(v >= old && v <= neu, `lo=${lo} hi=${hi} hiFirst=${hiFirst}: read ${v.toString(16)}`);
  }
  // A reader that loaded hi before the update and lo/hiFirst after it ("torn"): hi=4, lo=7, hiFirst=5.
  s.last[0] = 7;
  s.last[1] = 4;
  s.hiFirst[0] = 5;
  assert.equal(read(s), 5n << 32n, "mismatch -> (hiFirst, 0), between old and new");
});

Deno.test("LastReturned.clamp: max over every slot, stored in the caller's slot; slots never decrease", () => {
  const slots = new Map<string, LastSlot>([["a", newSlot()], ["b", newSlot()]]);
  const lr = new LastReturned<string>((k) => slots.get(k)!);
  const io = new Uint32Array(2);
  const clamp = (k: string, v: bigint) => {
    io[0] = Number(v & 0xffffffffn);
    io[1] = Number(v >> 32n);
    lr.clamp(k, io);
    return (BigInt(io[1]) << 32n) | BigInt(io[0]);
  };
  assert.equal(clamp("a", 100n), 100n);
  assert.equal(clamp("b", 50n), 100n, "b is behind a: clamped to a's last");
  assert.equal(read(slots.get("b")!), 100n);
  assert.equal(clamp("b", (1n << 32n) + 5n), (1n << 32n) + 5n, "across the high word");
  assert.equal(clamp("a", 0xffffffffn), (1n << 32n) + 5n, "a low word larger than b's but a smaller value");
  assert.equal(clamp("a", 1n << 40n), 1n << 40n);
  assert.equal(lr.size, 2);
  assert.equal(lr.add("a"), 0, "idempotent");
});

/**
 * The body of one stress-test worker (one "VP"): reads its own skewed clock through LastReturned and
 * counts results below its previous one, and results below the witness (the max of reads that had
 * completed before this one began, kept under a test-only spin lock). Runs in a blob worker built
 * from the functions' own source, so plain `deno test` (no --allow-read) can start it.
 */
function stressWorker(e: MessageEvent) {
  const { id, workers, iters, slots, witness } = e.data;
  // deno-lint-ignore no-explicit-any
  const lr = new (LastReturned as any)((k: number) => ({ last: new Uint32Array(slots, 16 * k, 2), hiFirst: new Uint32Array(slots, 16 * k + 8, 1) }));
  for (let k = 0; k < workers; k++) lr.add(k);
  const wit = new Uint32Array(witness);
  const lock = () => {
    while (Atomics.compareExchange(wit, 0, 0, 1) !== 0) { /* spin */ }
  };
  const unlock = () => Atomics.store(wit, 0, 0);
  // Each worker's clock starts just below 2^32 with its own skew and advances at its own pace.
  let clock = 2 ** 32 - 300_000 + id * 50_000;
  const io = new Uint32Array(2);
  let prev = 0, backward = 0, belowWitness = 0, clamped = 0;
  for (let i = 0; i < iters; i++) {
    clock += 1 + ((i * (id + 3)) % 7);
    lock();
    const before = wit[2] * 2 ** 32 + wit[1];
    unlock();
    io[1] = Math.floor(clock / 2 ** 32);
    io[0] = clock - io[1] * 2 ** 32;
    lr.clamp(id, io);
    const r = io[1] * 2 ** 32 + io[0];
    if (r < prev) backward++;
    if (r < before) belowWitness++;
    if (r > clock) clamped++;
    prev = r;
    lock();
    if (r > wit[2] * 2 ** 32 + wit[1]) {
      wit[1] = io[0];
      wit[2] = io[1];
    }
    unlock();
  }
  // deno-lint-ignore no-explicit-any
  (self as any).postMessage({ id, backward, belowWitness, clamped, last: String(prev) });
}

Deno.test("LastReturned under real concurrency: 4 workers, skewed clocks crossing 2^32, no step back, no read below a completed one", async () => {
  const WORKERS = 4, ITERS = 200_000;
  const slots = new SharedArrayBuffer(16 * WORKERS);
  const witness = new SharedArrayBuffer(12); // lock, lo, hi
  const source = [storeLast, loadLast, LastReturned, stressWorker].map(String).join("\n") + "\nself.onmessage = stressWorker;\n";
  const url = URL.createObjectURL(new Blob([source], { type: "application/javascript" }));
  type Result = { id: number; backward: number; belowWitness: number; clamped: number; last: string };
  const results = await Promise.all(Array.from({ length: WORKERS }, (_, id) =>
    new Promise<Result>((resolve, reject) => {
      const w = new Worker(url, { type: "module" });
      w.onmessage = (e) => {
        w.terminate();
        resolve(e.data);
      };
      w.onerror = (e) => {
        e.preventDefault();
        w.terminate();
        reject(new Error(e.message));
      };
      w.postMessage({ id, workers: WORKERS, iters: ITERS, slots, witness });
    })));
  URL.revokeObjectURL(url);
  for (const r of results) {
    assert.equal(r.backward, 0, `worker ${r.id}: a result below its previous one`);
    assert.equal(r.belowWitness, 0, `worker ${r.id}: a result below a read that completed before it began`);
    assert.ok(BigInt(r.last) > 1n << 32n, `worker ${r.id} crossed 2^32 (${r.last})`);
  }
  assert.ok(results.some((r) => r.clamped > 0), "skewed clocks made some reads clamp");
  // Every slot holds a value some worker returned, the largest being the last of the fastest.
  const max = results.map((r) => BigInt(r.last)).reduce((a, b) => (a > b ? a : b));
  const final = Array.from({ length: WORKERS }, (_, k) => read(newSlot(slots, 16 * k))).reduce((a, b) => (a > b ? a : b));
  assert.equal(final, max);
});
