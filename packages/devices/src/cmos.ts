/**
 * The PC's RTC/CMOS chip, a Motorola MC146818 as QEMU's `mc146818rtc` models it (hw/rtc/mc146818rtc.c):
 * an index port (0x70) and a data port (0x71) in front of 128 byte registers.
 *
 * - 0x00..0x09: the clock. Seconds, minutes, hours, day of week (1 = Sunday), day of month, month
 *   and year read the host's clock (UTC), in BCD or binary and 24- or 12-hour format as register B
 *   says (power-on: BCD, 24-hour, as QEMU). Writes to them are ignored (the clock follows the host).
 *   The alarm registers 0x01, 0x03 and 0x05 are plain bytes.
 * - 0x0A..0x0D: status registers. A reads back what was written (power-on 0x26: 32.768 kHz time
 *   base, 1024 Hz rate), with UIP (bit 7) always 0; B reads back what was written (power-on 0x02);
 *   C reads 0 (no interrupt is ever pending: this device raises no IRQ 8); D reads 0x80 (valid RAM
 *   and time). C and D ignore writes.
 * - 0x0E..0x7F: battery-backed NVRAM, kept for as long as the state buffer lives, across machine
 *   resets and power cycles (as on a PC and in QEMU). 0x32 is the century register (PC/AT, QEMU's
 *   `RTC_CENTURY`): it reads the clock's century like the other time registers.
 *
 * The state (registers and index) lives in a {@link SharedArrayBuffer} ({@link newCmosState}), so
 * every vCPU's device instance and every boot of a power-cycled machine see the same chip. Index
 * writes keep bit 7 (the PC's NMI mask, see {@link Cmos.nmiMasked}) and select register `value & 0x7F`;
 * the index port reads 0xFF (QEMU `cmos_ioport_read`). QEMU's accesses are byte-wide: a 2- or
 * 4-byte access is split into bytes at consecutive ports, and bytes past 0x71 read 0xFF and are dropped.
 *
 * Exit-path safe: reads and writes are synchronous, allocate nothing and never throw.
 * @module
 */
import type { IoDevice } from "./bus.ts";

/** The index port (QEMU `mc146818rtc` iobase 0x70). The data port is {@link CMOS_BASE} + 1. */
export const CMOS_BASE = 0x70;
/** Ports the device occupies (0x70..0x71). */
export const CMOS_PORT_COUNT = 2;
/** Byte registers behind the index (0x00..0x7F). */
export const CMOS_REGISTERS = 128;
/** First NVRAM byte: 0x0E..0x7F are the battery-backed bytes a guest may use freely. */
export const CMOS_NVRAM_FIRST = 0x0e;
/** Bytes of a CMOS state buffer: the 128 registers, then the index register (byte 128), padded to 4. */
export const CMOS_STATE_BYTES = CMOS_REGISTERS + 4;

/** The MC146818's register numbers (and the PC/AT century byte). */
export const CmosReg = {
  Seconds: 0x00,
  SecondsAlarm: 0x01,
  Minutes: 0x02,
  MinutesAlarm: 0x03,
  Hours: 0x04,
  HoursAlarm: 0x05,
  DayOfWeek: 0x06,
  DayOfMonth: 0x07,
  Month: 0x08,
  Year: 0x09,
  StatusA: 0x0a,
  StatusB: 0x0b,
  StatusC: 0x0c,
  StatusD: 0x0d,
  Century: 0x32,
} as const;

/** Register B bits: PIE, AIE, UIE (interrupt enables), SQWE, DM (1 = binary), 24/12 (1 = 24-hour), DSE, SET. */
export const CmosRegB = {
  DaylightSaving: 0x01,
  Hours24: 0x02,
  Binary: 0x04,
  SquareWave: 0x08,
  UpdateInterrupt: 0x10,
  AlarmInterrupt: 0x20,
  PeriodicInterrupt: 0x40,
  Set: 0x80,
} as const;

/** Register A at power-on (QEMU `rtc_realizefn`: divider 010 = 32.768 kHz, rate 0110 = 1024 Hz). */
export const CMOS_POWER_ON_A = 0x26;
/** Register B at power-on (QEMU: 24-hour mode, BCD). */
export const CMOS_POWER_ON_B = CmosRegB.Hours24;
/** Register D: VRT (valid RAM and time). */
export const CMOS_REG_D = 0x80;

const INDEX = CMOS_REGISTERS;

/**
 * A fresh chip's state (a new battery): NVRAM all zero, A = 0x26, B = 0x02, C = 0, D = 0x80, index 0.
 * Pass the same buffer to every {@link Cmos} of a machine, and to every boot of a power-cycled one.
 */
export function newCmosState(): SharedArrayBuffer {
  const buffer = new SharedArrayBuffer(CMOS_STATE_BYTES);
  const r = new Uint8Array(buffer);
  r[CmosReg.StatusA] = CMOS_POWER_ON_A;
  r[CmosReg.StatusB] = CMOS_POWER_ON_B;
  r[CmosReg.StatusD] = CMOS_REG_D;
  return buffer;
}

/**
 * What a machine reset does to the chip (QEMU `rtc_reset`): clears B's interrupt enables and square
 * wave output (PIE, AIE, UIE, SQWE) and C's flags; the clock, A, the NVRAM and the index are kept.
 * Throws a RangeError when `state` is smaller than {@link CMOS_STATE_BYTES}.
 */
export function resetCmos(state: SharedArrayBuffer): void {
  if (state.byteLength < CMOS_STATE_BYTES) throw new RangeError(`a CMOS state needs ${CMOS_STATE_BYTES} bytes, got ${state.byteLength}`);
  const r = new Uint8Array(state);
  r[CmosReg.StatusB] &= ~(CmosRegB.PeriodicInterrupt | CmosRegB.AlarmInterrupt | CmosRegB.UpdateInterrupt | CmosRegB.SquareWave) & 0xff;
  r[CmosReg.StatusC] = 0;
}

/** Construction options for {@link Cmos}. */
export interface CmosOptions {
  /** The chip's state ({@link newCmosState}); default a fresh one (private to this instance). */
  readonly state?: SharedArrayBuffer;
  /** The host clock in milliseconds since the Unix epoch (UTC); default `Date.now`. */
  readonly now?: () => number;
  /** First port; default {@link CMOS_BASE} (0x70). */
  readonly base?: number;
}

/** Days since 1970-01-01 → year, month (1..12), day (1..31) of the proleptic Gregorian calendar (H. Hinnant's `civil_from_days`). */
function civil(days: number, field: number): number {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  if (field === CmosReg.DayOfMonth) return day;
  if (field === CmosReg.Month) return month;
  return yoe + era * 400 + (month <= 2 ? 1 : 0);
}

/**
 * The MC146818 RTC/CMOS at ports 0x70..0x71 (see the module documentation for the register map).
 * Register it with `bus.register(cmos.base, CMOS_PORT_COUNT, cmos, "cmos")`.
 */
export class Cmos implements IoDevice {
  /** First port (the index port). */
  readonly base: number;
  /** The shared state (registers and index), for the next boot of the machine. */
  readonly state: SharedArrayBuffer;
  readonly #r: Uint8Array;
  readonly #now: () => number;

  /** Creates the device (see {@link CmosOptions}); throws a RangeError for a state smaller than {@link CMOS_STATE_BYTES}. */
  constructor(options: CmosOptions = {}) {
    this.base = options.base ?? CMOS_BASE;
    this.state = options.state ?? newCmosState();
    if (this.state.byteLength < CMOS_STATE_BYTES) {
      throw new RangeError(`a CMOS state needs ${CMOS_STATE_BYTES} bytes, got ${this.state.byteLength}`);
    }
    this.#r = new Uint8Array(this.state);
    this.#now = options.now ?? Date.now;
  }

  /** The selected register (0x00..0x7F). */
  get index(): number {
    return this.#r[INDEX] & 0x7f;
  }

  /** Bit 7 of the last index write: on a PC it masks NMIs (recorded only; this machine has no NMI source here). */
  get nmiMasked(): boolean {
    return (this.#r[INDEX] & 0x80) !== 0;
  }

  /** Register `reg` (0x00..0x7F) as the guest reads it through the data port. */
  register(reg: number): number {
    const r = this.#r;
    switch (reg & 0x7f) {
      case CmosReg.Seconds:
      case CmosReg.Minutes:
      case CmosReg.Hours:
      case CmosReg.DayOfWeek:
      case CmosReg.DayOfMonth:
      case CmosReg.Month:
      case CmosReg.Year:
      case CmosReg.Century:
        return this.#clock(reg & 0x7f);
      case CmosReg.StatusA:
        return r[CmosReg.StatusA] & 0x7f;
      case CmosReg.StatusC:
        return 0;
      case CmosReg.StatusD:
        return CMOS_REG_D;
      default:
        return r[reg & 0x7f];
    }
  }

  /** Writes register `reg` (0x00..0x7F) as the guest does through the data port (clock, C and D ignore writes). */
  setRegister(reg: number, value: number): void {
    const i = reg & 0x7f, v = value & 0xff;
    switch (i) {
      case CmosReg.Seconds:
      case CmosReg.Minutes:
      case CmosReg.Hours:
      case CmosReg.DayOfWeek:
      case CmosReg.DayOfMonth:
      case CmosReg.Month:
      case CmosReg.Year:
      case CmosReg.Century:
      case CmosReg.StatusC:
      case CmosReg.StatusD:
        return;
      case CmosReg.StatusA:
        this.#r[i] = v & 0x7f;
        return;
      default:
        this.#r[i] = v;
    }
  }

  /** The guest's `IN`: 0xFF at the index port, the selected register at the data port (wider accesses split into bytes). */
  read(port: number, size: number): number {
    let v = 0;
    for (let i = 0; i < size && i < 4; i++) v += this.#readByte(port + i) * 2 ** (8 * i);
    return v;
  }

  /** The guest's `OUT`: selects a register at the index port, writes it at the data port (wider accesses split into bytes). */
  write(port: number, size: number, value: number): void {
    for (let i = 0; i < size && i < 4; i++) this.#writeByte(port + i, Math.floor(value / 2 ** (8 * i)) & 0xff);
  }

  #readByte(port: number): number {
    return port === this.base + 1 ? this.register(this.#r[INDEX] & 0x7f) : 0xff;
  }

  #writeByte(port: number, v: number): void {
    if (port === this.base) this.#r[INDEX] = v;
    else if (port === this.base + 1) this.setRegister(this.#r[INDEX] & 0x7f, v);
  }

  /** A time register from the host clock, encoded as register B says. */
  #clock(reg: number): number {
    const seconds = Math.floor(this.#now() / 1000);
    const days = Math.floor(seconds / 86400);
    const inDay = seconds - days * 86400;
    const b = this.#r[CmosReg.StatusB];
    let v: number, pm = 0;
    switch (reg) {
      case CmosReg.Seconds:
        v = inDay % 60;
        break;
      case CmosReg.Minutes:
        v = Math.floor(inDay / 60) % 60;
        break;
      case CmosReg.Hours:
        v = Math.floor(inDay / 3600);
        if ((b & CmosRegB.Hours24) === 0) {
          pm = v >= 12 ? 0x80 : 0;
          v = v % 12 || 12;
        }
        break;
      case CmosReg.DayOfWeek:
        v = (((days + 4) % 7) + 7) % 7 + 1; // 1970-01-01 was a Thursday; Sunday = 1
        break;
      case CmosReg.DayOfMonth:
      case CmosReg.Month:
        v = civil(days, reg);
        break;
      case CmosReg.Year:
        v = civil(days, reg) % 100;
        break;
      default: // century
        v = Math.floor(civil(days, CmosReg.Year) / 100) % 100;
    }
    return ((b & CmosRegB.Binary) !== 0 ? v : (Math.floor(v / 10) << 4) | (v % 10)) | pm;
  }
}
