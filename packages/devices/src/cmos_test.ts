import assert from "node:assert/strict";
import {
  Cmos,
  CMOS_BASE,
  CMOS_NVRAM_FIRST,
  CMOS_PORT_COUNT,
  CMOS_STATE_BYTES,
  CmosReg,
  CmosRegB,
  IoBus,
  newCmosState,
  resetCmos,
} from "../mod.ts";

// 2024-02-29 (a Thursday) 23:59:58 UTC.
const T = Date.UTC(2024, 1, 29, 23, 59, 58);

const onBus = (state = newCmosState(), now = () => T) => {
  const cmos = new Cmos({ state, now });
  const bus = new IoBus();
  bus.register(cmos.base, CMOS_PORT_COUNT, cmos, "cmos");
  const rd = (reg: number) => {
    bus.write(CMOS_BASE, 1, reg);
    return bus.read(CMOS_BASE + 1, 1);
  };
  const wr = (reg: number, v: number) => {
    bus.write(CMOS_BASE, 1, reg);
    bus.write(CMOS_BASE + 1, 1, v);
  };
  return { cmos, bus, rd, wr, state };
};

Deno.test("CMOS: power-on status registers as QEMU's mc146818rtc (A 0x26, B 0x02, C 0, D 0x80), NVRAM zero", () => {
  const { rd } = onBus();
  assert.equal(rd(CmosReg.StatusA), 0x26);
  assert.equal(rd(CmosReg.StatusB), 0x02);
  assert.equal(rd(CmosReg.StatusC), 0);
  assert.equal(rd(CmosReg.StatusD), 0x80);
  for (let i = CMOS_NVRAM_FIRST; i < 0x80; i++) if (i !== CmosReg.Century) assert.equal(rd(i), 0, `NVRAM 0x${i.toString(16)}`);
});

Deno.test("CMOS: the clock reads the host time in BCD 24-hour by default, binary and 12-hour as register B says", () => {
  const { rd, wr } = onBus();
  assert.deepEqual(
    [CmosReg.Seconds, CmosReg.Minutes, CmosReg.Hours, CmosReg.DayOfWeek, CmosReg.DayOfMonth, CmosReg.Month, CmosReg.Year, CmosReg.Century].map(rd),
    [0x58, 0x59, 0x23, 5, 0x29, 0x02, 0x24, 0x20],
  );
  wr(CmosReg.StatusB, CmosRegB.Binary | CmosRegB.Hours24);
  assert.deepEqual([CmosReg.Seconds, CmosReg.Hours, CmosReg.DayOfMonth, CmosReg.Year, CmosReg.Century].map(rd), [58, 23, 29, 24, 20]);
  wr(CmosReg.StatusB, CmosRegB.Binary); // 12-hour: 11 PM
  assert.equal(rd(CmosReg.Hours), 0x80 | 11);
  wr(CmosReg.StatusB, 0); // 12-hour BCD
  assert.equal(rd(CmosReg.Hours), 0x80 | 0x11);
  // Writes to the clock are ignored: it follows the host.
  wr(CmosReg.StatusB, CmosRegB.Hours24);
  wr(CmosReg.Seconds, 0x10);
  assert.equal(rd(CmosReg.Seconds), 0x58);
});

Deno.test("CMOS: calendar edge cases (epoch, midnight in 12-hour mode, year 2000, 2100-03-01)", () => {
  const at = (ms: number, b = CmosRegB.Hours24 | CmosRegB.Binary) => {
    const { rd, wr } = onBus(newCmosState(), () => ms);
    wr(CmosReg.StatusB, b);
    return [CmosReg.Year, CmosReg.Month, CmosReg.DayOfMonth, CmosReg.DayOfWeek, CmosReg.Hours, CmosReg.Century].map(rd);
  };
  assert.deepEqual(at(0), [70, 1, 1, 5, 0, 19]); // Thursday
  assert.deepEqual(at(Date.UTC(2000, 0, 1, 0, 30)), [0, 1, 1, 7, 0, 20]); // Saturday
  assert.deepEqual(at(Date.UTC(2100, 2, 1, 12)), [0, 3, 1, 2, 12, 21]); // Monday
  assert.deepEqual(at(Date.UTC(2023, 6, 9, 0, 5), CmosRegB.Binary).slice(3, 5), [1, 12]); // Sunday, 12 AM
  assert.deepEqual(at(Date.UTC(2023, 6, 9, 12, 5), CmosRegB.Binary).slice(3, 5), [1, 0x80 | 12]); // 12 PM
  // Every day of 400 years against Date.
  const { rd, wr } = onBus(newCmosState(), () => now);
  let now = 0;
  wr(CmosReg.StatusB, CmosRegB.Hours24 | CmosRegB.Binary);
  for (let day = -365 * 70; day < 365 * 330; day += 1) {
    now = day * 86400000 + 43200000;
    const d = new Date(now);
    const got = [rd(CmosReg.Year) + 100 * rd(CmosReg.Century), rd(CmosReg.Month), rd(CmosReg.DayOfMonth), rd(CmosReg.DayOfWeek)];
    const want = [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCDay() + 1];
    if (got.join() !== want.join()) assert.deepEqual(got, want, d.toISOString());
  }
});

Deno.test("CMOS: NVRAM bytes, alarms, A and B read back; UIP, C and D are read-only; the index keeps the NMI bit", () => {
  const { rd, wr, bus, cmos } = onBus();
  for (let i = CMOS_NVRAM_FIRST; i < 0x80; i++) if (i !== CmosReg.Century) wr(i, (i * 7) & 0xff);
  for (let i = CMOS_NVRAM_FIRST; i < 0x80; i++) if (i !== CmosReg.Century) assert.equal(rd(i), (i * 7) & 0xff);
  wr(CmosReg.SecondsAlarm, 0x42);
  assert.equal(rd(CmosReg.SecondsAlarm), 0x42);
  wr(CmosReg.StatusA, 0xff);
  assert.equal(rd(CmosReg.StatusA), 0x7f, "UIP reads 0");
  wr(CmosReg.StatusC, 0xff);
  wr(CmosReg.StatusD, 0);
  assert.equal(rd(CmosReg.StatusC), 0);
  assert.equal(rd(CmosReg.StatusD), 0x80);
  bus.write(CMOS_BASE, 1, 0x80 | 0x40); // NMI masked, register 0x40
  assert.equal(cmos.nmiMasked, true);
  assert.equal(cmos.index, 0x40);
  assert.equal(bus.read(CMOS_BASE + 1, 1), (0x40 * 7) & 0xff);
  assert.equal(bus.read(CMOS_BASE, 1), 0xff, "the index port reads 0xFF");
});

Deno.test("CMOS: wider accesses split into bytes (outw 0x70 = index + data); bytes past 0x71 read 0xFF and are dropped", () => {
  const { bus, rd } = onBus();
  bus.write(CMOS_BASE, 2, (0x5a << 8) | 0x60);
  assert.equal(rd(0x60), 0x5a);
  bus.write(CMOS_BASE, 1, 0x60);
  assert.equal(bus.read(CMOS_BASE, 2), (0x5a << 8) | 0xff);
  assert.equal(bus.read(CMOS_BASE, 4), 0xffff5aff);
  bus.write(CMOS_BASE, 4, 0xeeee_1161);
  assert.equal(rd(0x61), 0x11);
  assert.equal(bus.read(CMOS_BASE + 1, 4), 0xffffff11);
});

Deno.test("CMOS: the state is shared (every vCPU's device, every boot) and a reset keeps NVRAM but clears B's interrupt enables and C", () => {
  const state = newCmosState();
  assert.equal(state.byteLength, CMOS_STATE_BYTES);
  const a = onBus(state), b = onBus(state);
  a.wr(0x60, 1);
  assert.equal(b.rd(0x60), 1, "another vCPU's device sees the byte");
  a.wr(CmosReg.StatusB, CmosRegB.Hours24 | CmosRegB.PeriodicInterrupt | CmosRegB.UpdateInterrupt | CmosRegB.Binary);
  resetCmos(state);
  const next = onBus(state);
  assert.equal(next.rd(0x60), 1, "NVRAM survives the power cycle");
  assert.equal(next.rd(CmosReg.StatusB), CmosRegB.Hours24 | CmosRegB.Binary);
  assert.throws(() => new Cmos({ state: new SharedArrayBuffer(16) }), RangeError);
  assert.throws(() => resetCmos(new SharedArrayBuffer(16)), RangeError);
  const fresh = onBus();
  assert.equal(fresh.rd(0x60), 0, "a new state is a new battery");
});

Deno.test("CMOS hostile: any port, size and value is absorbed without throwing", () => {
  const { cmos } = onBus();
  for (const port of [CMOS_BASE, CMOS_BASE + 1, CMOS_BASE + 2, 0, -1, 0x10000]) {
    for (const size of [0, 1, 2, 3, 4, 8]) {
      for (const v of [0, 0xff, 0xffffffff, -1, 2 ** 40, Number.NaN]) {
        cmos.write(port, size, v);
        const r = cmos.read(port, size);
        assert.ok(Number.isInteger(r) && r >= 0 && r <= 0xffffffff, `${port} ${size} ${v} -> ${r}`);
      }
    }
  }
});
