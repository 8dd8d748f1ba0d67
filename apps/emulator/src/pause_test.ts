import assert from "node:assert/strict";
import { holdPaused, ON_CRASH_ACTIONS, type PauseSignal, type SignalSource } from "./pause.ts";

/** A signal source the test fires by hand, tracking who listens. */
function fakeSignals() {
  const handlers = new Map<PauseSignal, Set<() => void>>([["SIGINT", new Set()], ["SIGTERM", new Set()]]);
  const source: SignalSource = {
    listen(signal, handler) {
      handlers.get(signal)!.add(handler);
      return () => handlers.get(signal)!.delete(handler);
    },
  };
  const fire = (s: PauseSignal) => [...handlers.get(s)!].forEach((h) => h());
  const listening = () => handlers.get("SIGINT")!.size + handlers.get("SIGTERM")!.size;
  return { source, fire, listening };
}

const ioLog = () => {
  const err: string[] = [];
  return { io: { out: () => {}, err: (l: string) => err.push(l) }, err };
};

Deno.test("--on-crash actions: stop (default) and pause", () => {
  assert.deepEqual([...ON_CRASH_ACTIONS], ["stop", "pause"]);
});

for (const sig of ["SIGINT", "SIGTERM"] as const) {
  Deno.test(`a pause says how to end it, waits, and ends on ${sig} (listeners removed)`, async () => {
    const s = fakeSignals();
    const { io, err } = ioLog();
    const p = holdPaused(io, { untilMs: 30_500, now: () => 0, signals: s.source, pid: 4242 });
    assert.equal(err.length, 1);
    assert.match(err[0], /^hv: paused \(--on-crash pause\): the vCPUs are stopped and the VM is kept; end it with Ctrl-C or 'kill -TERM 4242' \(it ends by itself when --timeout expires, in 31 s\)$/);
    assert.equal(s.listening(), 2);
    let settled = false;
    p.then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(settled, false, "still paused");
    s.fire(sig);
    s.fire("SIGINT"); // a second signal after the end changes nothing
    assert.equal(await p, sig);
    assert.equal(s.listening(), 0);
    assert.deepEqual(err.slice(1), [`hv: ${sig}: tearing the paused VM down`]);
  });
}

Deno.test("a pause ends by itself at the --timeout deadline (at once when it has passed)", async () => {
  const s = fakeSignals();
  const { io, err } = ioLog();
  const t0 = performance.now();
  assert.equal(await holdPaused(io, { untilMs: t0 + 50, signals: s.source, pid: 1 }), "timeout");
  assert.ok(performance.now() - t0 >= 40);
  assert.equal(err.at(-1), "hv: --timeout expired while paused; tearing the VM down");
  assert.equal(s.listening(), 0);
  assert.equal(await holdPaused(io, { untilMs: -1, now: () => 1000, signals: s.source, pid: 1 }), "timeout");
  assert.match(err.at(-2)!, /in 0 s\)$/);
});
