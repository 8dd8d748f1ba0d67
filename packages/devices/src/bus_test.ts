import assert from "node:assert/strict";
import { allOnes, IoBus, type IoDevice, IoPortConflict } from "../mod.ts";

class Recorder implements IoDevice {
  reads: [number, number][] = [];
  writes: [number, number, number][] = [];
  constructor(readonly value: number) {}
  read(port: number, size: number) {
    this.reads.push([port, size]);
    return this.value;
  }
  write(port: number, size: number, value: number) {
    this.writes.push([port, size, value]);
  }
}

Deno.test("unclaimed ports read all-ones for the access size and ignore writes", () => {
  const bus = new IoBus();
  assert.equal(bus.read(0x80, 1), 0xff);
  assert.equal(bus.read(0x80, 2), 0xffff);
  assert.equal(bus.read(0x80, 4), 0xffffffff);
  bus.write(0x80, 1, 0x12);
  assert.equal(bus.unclaimedReads, 3);
  assert.equal(bus.unclaimedWrites, 1);
  assert.deepEqual([allOnes(1), allOnes(2), allOnes(4)], [0xff, 0xffff, 0xffffffff]);
});

Deno.test("register claims a range, dispatches with absolute ports, and masks values to the size", () => {
  const bus = new IoBus();
  const d = new Recorder(0x12345678);
  bus.register(0x100, 4, d, "rec");
  assert.equal(bus.deviceName(0x103), "rec");
  assert.equal(bus.deviceName(0x104), undefined);
  assert.equal(bus.read(0x101, 1), 0x78);
  assert.equal(bus.read(0x102, 2), 0x5678);
  assert.equal(bus.read(0x103, 4), 0x12345678);
  bus.write(0x100, 1, 0x1ff);
  bus.write(0x100, 2, -1);
  bus.write(0x100, 4, -1);
  assert.deepEqual(d.reads, [[0x101, 1], [0x102, 2], [0x103, 4]]);
  assert.deepEqual(d.writes, [[0x100, 1, 0xff], [0x100, 2, 0xffff], [0x100, 4, 0xffffffff]]);
  assert.equal(bus.read(0x104, 1), 0xff, "next port is unclaimed");
});

Deno.test("negative device values come back unsigned", () => {
  const bus = new IoBus();
  bus.register(0x10, 1, new Recorder(-1));
  assert.equal(bus.read(0x10, 4), 0xffffffff);
  assert.equal(bus.read(0x10, 2), 0xffff);
});

Deno.test("register refuses overlaps and bad ranges, claiming nothing", () => {
  const bus = new IoBus();
  bus.register(0x3f8, 8, new Recorder(0), "COM1");
  assert.throws(() => bus.register(0x3f0, 9, new Recorder(1), "other"), (e: unknown) => {
    assert.ok(e instanceof IoPortConflict);
    assert.equal(e._tag, "IoPortConflict");
    assert.equal(e.port, 0x3f8);
    assert.equal(e.existing, "COM1");
    assert.match(e.message, /port 0x03F8 is already claimed by COM1/);
    return true;
  });
  assert.equal(bus.deviceName(0x3f0), undefined, "the refused range stays unclaimed");
  assert.throws(() => bus.register(0xfffe, 4, new Recorder(0)), IoPortConflict);
  assert.throws(() => bus.register(-1, 1, new Recorder(0)), IoPortConflict);
  assert.throws(() => bus.register(0x10, 0, new Recorder(0)), IoPortConflict);
  assert.throws(() => bus.register(0.5, 1, new Recorder(0)), IoPortConflict);
  bus.register(0xffff, 1, new Recorder(7), "last");
  assert.equal(bus.read(0xffff, 1), 7);
});

Deno.test("hostile accesses: bad sizes and ports never reach a device or throw", () => {
  const bus = new IoBus();
  const d = new Recorder(0);
  bus.register(0, 0x10000, d, "everything");
  for (const size of [0, 3, 8, -1, 1.5, NaN]) {
    assert.equal(bus.read(0x10, size), 0xffffffff);
    bus.write(0x10, size, 1);
  }
  for (const port of [-1, 0x10000, 1.5, NaN, 2 ** 40]) {
    assert.equal(bus.read(port, 1), 0xff);
    bus.write(port, 1, 1);
  }
  assert.equal(d.reads.length + d.writes.length, 0);
  assert.equal(bus.badAccesses, 22);
});
