import assert from "node:assert/strict";
import { flushBytes, RemoteFlush } from "./remote_flush.ts";
import { Control, CONTROL_WORDS } from "./protocol.ts";

function setup(n: number) {
  const buf = new SharedArrayBuffer(flushBytes(n));
  const controls = Array.from({ length: n }, () => new Int32Array(CONTROL_WORDS));
  const flushed: number[] = [];
  const kicked: number[] = [];
  const vps: RemoteFlush[] = [];
  for (let i = 0; i < n; i++) {
    vps.push(new RemoteFlush(buf, n, i, controls, (v) => {
      kicked.push(v);
      vps[v].service(); // the kicked vCPU leaves KVM_RUN and serves before re-entering
    }, () => flushed.push(i)));
  }
  return { vps, controls, flushed, kicked };
}

Deno.test("a flush reaches every running target and the caller itself before request() returns", () => {
  const { vps, controls, flushed, kicked } = setup(3);
  controls.forEach((c) => (c[Control.RUNNING] = 1));
  vps[0].request(Uint32Array.of(0, 1, 2, 1, 4000), 5);
  assert.deepEqual(flushed.sort(), [0, 1, 2], "each once, duplicates and absent VPs ignored");
  assert.deepEqual(kicked.sort(), [1, 2], "only remote targets are kicked");
  flushed.length = 0;
  vps[1].service();
  assert.deepEqual(flushed, [], "nothing left pending");
});

Deno.test("targets not in their run loop count as done (nothing cached they could use) and still flush when they next run", () => {
  const { vps, controls, flushed, kicked } = setup(2);
  controls[0][Control.RUNNING] = 1;
  vps[0].request(Uint32Array.of(1), 1);
  assert.deepEqual(kicked, []);
  assert.deepEqual(flushed, []);
  vps[1].service();
  assert.deepEqual(flushed, [1], "served before its first KVM_RUN");
});

Deno.test("an empty set flushes nothing; counters survive many rounds", () => {
  const { vps, controls, flushed } = setup(2);
  controls.forEach((c) => (c[Control.RUNNING] = 1));
  vps[1].request(new Uint32Array(4), 0);
  assert.deepEqual(flushed, []);
  for (let i = 0; i < 1000; i++) vps[1].request(Uint32Array.of(0), 1);
  assert.equal(flushed.length, 1000);
});
