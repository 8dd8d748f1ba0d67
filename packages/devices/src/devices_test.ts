import assert from "node:assert/strict";
import {
  COM1_BASE,
  DEBUG_EXIT_BASE,
  FW_CFG_PORT_COUNT,
  FW_CFG_PORT_DATA,
  FW_CFG_PORT_SEL,
  FwCfg,
  FwCfgKey,
  type FwCfgOptions,
  HYPERV_TESTDEV_BASE,
  HYPERV_TESTDEV_PORT_COUNT,
  HypervTestDev,
  type HypervTestDevBackend,
  IoBus,
  IsaDebugExit,
  Uart16550,
  UART_PORT_COUNT,
} from "../mod.ts";

// ---------------------------------------------------------------- UART

const uartOnBus = () => {
  const out: number[] = [];
  const irqs: boolean[] = [];
  const uart = new Uart16550({ sink: (b) => out.push(b), irq: (l) => irqs.push(l), inputCapacity: 4 });
  const bus = new IoBus();
  bus.register(uart.base, UART_PORT_COUNT, uart, "COM1");
  return { uart, bus, out, irqs };
};

Deno.test("UART: THR writes reach the sink; LSR reports THRE|TEMT; IIR reports nothing pending", () => {
  const { bus, out } = uartOnBus();
  for (const c of "ok\n") bus.write(COM1_BASE, 1, c.charCodeAt(0));
  assert.equal(new TextDecoder().decode(Uint8Array.from(out)), "ok\n");
  assert.equal(bus.read(COM1_BASE + 5, 1), 0x60);
  assert.equal(bus.read(COM1_BASE + 2, 1), 0x01);
  bus.write(COM1_BASE, 2, 0x4142);
  assert.equal(out.at(-1), 0x42, "wider access uses the low byte");
});

Deno.test("UART: DLAB switches offsets 0/1 to the divisor latch; IER, LCR, MCR, SCR read back", () => {
  const { bus, uart, out } = uartOnBus();
  bus.write(COM1_BASE + 1, 1, 0xff);
  assert.equal(bus.read(COM1_BASE + 1, 1), 0x0f, "IER keeps its low 4 bits");
  bus.write(COM1_BASE + 1, 1, 0);
  bus.write(COM1_BASE + 3, 1, 0x83);
  bus.write(COM1_BASE + 0, 1, 0x01);
  bus.write(COM1_BASE + 1, 1, 0x00);
  assert.equal(uart.divisor, 1);
  assert.equal(out.length, 0, "a DLL write is not a transmitted byte");
  assert.equal(bus.read(COM1_BASE + 0, 1), 0x01);
  bus.write(COM1_BASE + 3, 1, 0x03);
  assert.equal(bus.read(COM1_BASE + 3, 1), 0x03);
  assert.equal(bus.read(COM1_BASE + 1, 1), 0x00, "IER again");
  bus.write(COM1_BASE + 4, 1, 0xff);
  assert.equal(bus.read(COM1_BASE + 4, 1), 0x1f);
  bus.write(COM1_BASE + 4, 1, 0x0b);
  bus.write(COM1_BASE + 7, 1, 0x5a);
  assert.equal(bus.read(COM1_BASE + 7, 1), 0x5a);
  assert.equal(bus.read(COM1_BASE + 6, 1), 0xb0, "MSR: DCD|DSR|CTS");
  bus.write(COM1_BASE + 5, 1, 0);
  bus.write(COM1_BASE + 6, 1, 0);
  assert.equal(bus.read(COM1_BASE + 5, 1), 0x60, "LSR is read-only");
});

Deno.test("UART: input queue sets DR, pops through RBR, overruns set OE once", () => {
  const { bus, uart } = uartOnBus();
  assert.equal(bus.read(COM1_BASE, 1), 0, "empty RBR reads 0");
  for (const b of [1, 2, 3, 4]) assert.equal(uart.pushInput(b), true);
  assert.equal(uart.pushInput(5), false);
  assert.equal(uart.droppedInput, 1);
  assert.equal(bus.read(COM1_BASE + 5, 1), 0x63, "DR|OE|THRE|TEMT");
  assert.equal(bus.read(COM1_BASE + 5, 1), 0x61, "OE cleared by the read");
  assert.deepEqual([1, 2, 3, 4].map(() => bus.read(COM1_BASE, 1)), [1, 2, 3, 4]);
  assert.equal(bus.read(COM1_BASE + 5, 1), 0x60);
  uart.pushInput(9);
  bus.write(COM1_BASE + 2, 1, 0x03); // FIFO enable + clear RX
  assert.equal(uart.inputPending, false);
  assert.equal(bus.read(COM1_BASE + 2, 1), 0xc1, "FIFOs enabled, no interrupt");
});

Deno.test("UART: loopback mirrors MCR into MSR (Linux 8250 probe) and THR into RBR", () => {
  const { bus, out } = uartOnBus();
  bus.write(COM1_BASE + 4, 1, 0x1a); // LOOP | OUT2 | RTS
  assert.equal(bus.read(COM1_BASE + 6, 1) & 0xf0, 0x90);
  bus.write(COM1_BASE + 4, 1, 0x1f);
  assert.equal(bus.read(COM1_BASE + 6, 1) & 0xf0, 0xf0);
  bus.write(COM1_BASE, 1, 0x55);
  assert.equal(out.length, 0);
  assert.equal(bus.read(COM1_BASE + 5, 1) & 1, 1);
  assert.equal(bus.read(COM1_BASE, 1), 0x55);
});

Deno.test("UART: interrupt hook follows RX-data and THR-empty conditions", () => {
  const { bus, uart, irqs } = uartOnBus();
  bus.write(COM1_BASE + 1, 1, 0x01); // ERBFI
  uart.pushInput(7);
  assert.deepEqual(irqs, [true]);
  assert.equal(bus.read(COM1_BASE + 2, 1), 0x04);
  bus.read(COM1_BASE, 1);
  assert.deepEqual(irqs, [true, false]);
  bus.write(COM1_BASE + 1, 1, 0x02); // ETBEI: THR is empty, so pending at once
  assert.deepEqual(irqs, [true, false, true]);
  assert.equal(bus.read(COM1_BASE + 2, 1), 0x02);
  assert.equal(bus.read(COM1_BASE + 2, 1), 0x01, "reading IIR acknowledged THR-empty");
  assert.deepEqual(irqs, [true, false, true, false]);
});

// ---------------------------------------------------------------- isa-debug-exit

Deno.test("isa-debug-exit: code = (value << 1) | 1 with the value masked to the access size; reads 0", () => {
  const codes: number[] = [];
  const dev = new IsaDebugExit({ onExit: (c) => codes.push(c) });
  const bus = new IoBus();
  bus.register(dev.base, dev.size, dev, "isa-debug-exit");
  assert.equal(dev.base, DEBUG_EXIT_BASE);
  bus.write(0xf4, 1, 0);
  bus.write(0xf4, 1, 0x1ff);
  bus.write(0xf4, 2, 0x12345);
  bus.write(0xf4, 4, 0xffffffff);
  bus.write(0xf7, 4, 3);
  assert.deepEqual(codes, [1, 0x1ff, 0x468b, 0x1ffffffff, 7]);
  assert.equal(dev.lastCode & 0xff, 7, "the process status keeps the low byte");
  assert.equal(bus.read(0xf4, 1), 0);
  assert.equal(bus.read(0xf4, 4), 0);
  assert.equal(bus.read(0xf8, 1), 0xff, "outside the 4-port region");
});

// ---------------------------------------------------------------- fw_cfg

const fwOnBus = (opts: FwCfgOptions = { ramSize: 64 << 20, cpus: 2 }) => {
  const fw = new FwCfg(opts);
  const bus = new IoBus();
  bus.register(fw.base, FW_CFG_PORT_COUNT, fw, "fw_cfg");
  /** kvm-unit-tests' fwcfg_get_u: outw(0x510, key), then `bytes` inb(0x511), little-endian. */
  const get = (key: number, bytes: number) => {
    bus.write(FW_CFG_PORT_SEL, 2, key);
    let r = 0n;
    for (let i = 0; i < bytes; i++) r |= BigInt(bus.read(FW_CFG_PORT_DATA, 1)) << BigInt(8 * i);
    return r;
  };
  const bytes = (key: number, n: number) => {
    bus.write(FW_CFG_PORT_SEL, 2, key);
    return Array.from({ length: n }, () => bus.read(FW_CFG_PORT_DATA, 1));
  };
  return { fw, bus, get, bytes };
};

Deno.test("fw_cfg: QEMU's keys as kvm-unit-tests reads them", () => {
  const { get, bytes } = fwOnBus({ ramSize: 64 << 20, cpus: 2 });
  assert.equal(String.fromCharCode(...bytes(FwCfgKey.Signature, 4)), "QEMU");
  assert.equal(get(FwCfgKey.Id, 4), 1n);
  assert.equal(get(FwCfgKey.RamSize, 8), 64n << 20n);
  assert.equal(get(FwCfgKey.NbCpus, 2), 2n);
  assert.equal(get(FwCfgKey.MaxCpus, 2), 2n);
  assert.equal(get(FwCfgKey.KvmUnitTestsMaxRam, 8), 64n << 20n);
  assert.equal(FwCfgKey.KvmUnitTestsMaxRam, 0x11);
  assert.deepEqual(bytes(FwCfgKey.FileDir, 4), [0, 0, 0, 0]);
});

Deno.test("fw_cfg: large RAM sizes encode as u64 LE; maxCpus and maxRam are configurable", () => {
  const { get } = fwOnBus({ ramSize: 6 * 2 ** 30, cpus: 3, maxCpus: 8, maxRam: 0 });
  assert.equal(get(FwCfgKey.RamSize, 8), 6n << 30n);
  assert.equal(get(FwCfgKey.NbCpus, 2), 3n);
  assert.equal(get(FwCfgKey.MaxCpus, 2), 8n);
  assert.equal(get(FwCfgKey.KvmUnitTestsMaxRam, 8), 0n);
  assert.throws(() => new FwCfg({ ramSize: -1, cpus: 1 }), RangeError);
  assert.throws(() => new FwCfg({ ramSize: 1, cpus: 0 }), RangeError);
  assert.throws(() => new FwCfg({ ramSize: 1, cpus: 0x10000 }), RangeError);
  assert.throws(() => new FwCfg({ ramSize: 1, cpus: 4, maxCpus: 2 }), RangeError);
});

Deno.test("fw_cfg hostile: past the end, unknown keys, out-of-range selectors, wrong sizes all read 0", () => {
  const { bus, get, bytes, fw } = fwOnBus();
  assert.deepEqual(bytes(FwCfgKey.Signature, 8), [0x51, 0x45, 0x4d, 0x55, 0, 0, 0, 0], "past the end reads 0");
  assert.equal(fw.remaining, 0);
  assert.equal(get(0x02, 16), 0n, "UUID: not served");
  assert.equal(get(0x3f, 4), 0n, "last file slot, empty");
  assert.equal(get(0x40, 4), 0n, "beyond the slots");
  assert.equal(get(0xffff, 4), 0n, "FW_CFG_INVALID");
  assert.equal(get(0x8000, 4), 0n, "arch-local: no items");
  assert.equal(get(0x4000 | FwCfgKey.Signature, 4), 0x554d4551n, "the write-channel bit is masked, as QEMU does");
  assert.equal(get(0x8000 | FwCfgKey.Signature, 4), 0n);
  // wrong sizes
  bus.write(FW_CFG_PORT_SEL, 2, FwCfgKey.Signature);
  assert.equal(bus.read(FW_CFG_PORT_DATA, 2), 0, "2-byte data read is invalid");
  assert.equal(bus.read(FW_CFG_PORT_DATA, 4), 0);
  assert.equal(bus.read(FW_CFG_PORT_DATA, 1), 0x51, "the invalid reads did not advance");
  bus.write(FW_CFG_PORT_SEL, 4, FwCfgKey.RamSize);
  bus.write(FW_CFG_PORT_DATA, 1, 0xaa);
  assert.equal(
    bus.read(FW_CFG_PORT_SEL, 1),
    0x45,
    "a 1-byte read of 0x510 is a data read (QEMU comb region); 4-byte and 1-byte writes ignored",
  );
  bus.write(FW_CFG_PORT_DATA, 2, FwCfgKey.NbCpus);
  assert.equal(bus.read(FW_CFG_PORT_DATA, 1), 2, "a 2-byte write to 0x511 also selects");
  assert.throws(() => fw.setItem(0x40, new Uint8Array(1)), RangeError);
  fw.setItem(0x20, Uint8Array.of(9));
  assert.equal(get(0x20, 2), 9n);
});

// ---------------------------------------------------------------- hyperv-testdev

const testdev = () => {
  const calls: string[] = [];
  const backend: HypervTestDevBackend = {
    createSintRoute: (vp, sint) => calls.push(`createSintRoute ${vp} ${sint}`),
    destroySintRoute: (vp, sint) => calls.push(`destroySintRoute ${vp} ${sint}`),
    raiseSint: (vp, sint) => calls.push(`raiseSint ${vp} ${sint}`),
    createMessageConnection: (conn, vp, sint) => calls.push(`createMessageConnection ${conn} ${vp} ${sint}`),
    destroyMessageConnection: (conn) => calls.push(`destroyMessageConnection ${conn}`),
    createEventConnection: (conn, vp, sint) => calls.push(`createEventConnection ${conn} ${vp} ${sint}`),
    destroyEventConnection: (conn) => calls.push(`destroyEventConnection ${conn}`),
  };
  const dev = new HypervTestDev(backend);
  const bus = new IoBus();
  bus.register(dev.base, HYPERV_TESTDEV_PORT_COUNT, dev, "hyperv-testdev");
  /** kvm-unit-tests lib/x86/hyperv.c synic_ctl. */
  const ctl = (c: number, vp: number, sint: number, conn: number) =>
    bus.write(HYPERV_TESTDEV_BASE, 4, ((conn << 24) | (c << 16) | (vp << 8) | sint) >>> 0);
  return { dev, bus, calls, ctl };
};

Deno.test("hyperv-testdev decodes conn<<24 | ctl<<16 | vp<<8 | sint into backend calls", () => {
  const { dev, calls, ctl, bus } = testdev();
  ctl(1, 1, 2, 0);
  ctl(3, 1, 2, 0);
  ctl(2, 1, 2, 0);
  ctl(4, 0, 15, 0xfe);
  ctl(5, 9, 9, 0xfe);
  ctl(6, 255, 0, 0x81);
  ctl(7, 0, 0, 0x81);
  assert.deepEqual(calls, [
    "createSintRoute 1 2",
    "raiseSint 1 2",
    "destroySintRoute 1 2",
    "createMessageConnection 254 0 15",
    "destroyMessageConnection 254",
    "createEventConnection 129 255 0",
    "destroyEventConnection 129",
  ]);
  assert.equal(dev.accepted, 7);
  assert.equal(dev.ignored, 0);
  assert.equal(bus.read(HYPERV_TESTDEV_BASE, 4), 0, "reads return 0");
  assert.equal(bus.read(HYPERV_TESTDEV_BASE + 3, 1), 0);
});

Deno.test("hyperv-testdev hostile: wrong sizes, unknown ctl and SINT >= 16 are ignored and counted", () => {
  const { dev, calls, ctl, bus } = testdev();
  bus.write(HYPERV_TESTDEV_BASE, 1, 0x01);
  bus.write(HYPERV_TESTDEV_BASE, 2, 0x0001);
  ctl(0, 0, 0, 0);
  ctl(8, 0, 0, 0);
  ctl(0xff, 0, 0, 0);
  ctl(1, 0, 16, 0);
  ctl(3, 0, 0xff, 0);
  ctl(4, 0, 16, 1);
  ctl(6, 0, 200, 1);
  assert.deepEqual(calls, []);
  assert.equal(dev.ignored, 9);
  ctl(5, 0, 0xff, 3);
  assert.deepEqual(calls, ["destroyMessageConnection 3"], "destroy by conn does not look at sint");
  bus.write(HYPERV_TESTDEV_BASE + 2, 4, 0x00010001);
  assert.equal(calls.at(-1), "createSintRoute 0 1", "any port of the region, as QEMU ignores the offset");
  assert.equal(bus.read(HYPERV_TESTDEV_BASE + 4, 1), 0xff, "0x3004 is not the device's");
});
