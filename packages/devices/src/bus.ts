/**
 * The port-I/O bus: a table from each of the 65536 x86 I/O ports to the device that claims it,
 * built once at machine setup and consulted on every `KVM_EXIT_IO`.
 *
 * Exit-path safe: {@link IoBus.read} and {@link IoBus.write} are synchronous, allocate nothing, and
 * never throw, whatever port, size or value the guest uses. Only {@link IoBus.register} (setup time)
 * can throw.
 * @module
 */
import { Schema } from "effect";

/**
 * A port-I/O device. The bus calls it only for ports it registered, with `size` 1, 2 or 4 (bytes)
 * and, for writes, `value` already masked to the access size (unsigned).
 *
 * - `read(port, size)`: the value the guest's `IN` sees; the bus masks it to `size` bytes, so a
 *   device may return more bits than asked. `port` is the absolute port number.
 * - `write(port, size, value)`: the guest's `OUT`.
 *
 * An access that starts on a device's last port and runs past it (e.g. a 4-byte `inl` at the last
 * port) goes to that device whole: the device decides, as QEMU's region ops do for their own range.
 * Implementations on the exit path must be synchronous, must not allocate, and must not throw.
 */
export interface IoDevice {
  read(port: number, size: number): number;
  write(port: number, size: number, value: number): void;
}

/**
 * `register` was asked to claim a port already claimed, or a range that is not inside 0..0xFFFF.
 * `first`/`count` are the refused range; `existing` names the device that already holds `port`
 * (empty for a range error). A machine-setup error, never caused by the guest.
 */
export class IoPortConflict extends Schema.TaggedError<IoPortConflict>()("IoPortConflict", {
  first: Schema.Number,
  count: Schema.Number,
  port: Schema.Number,
  existing: Schema.String,
  message: Schema.String,
}) {}

/** Number of x86 I/O ports (0..0xFFFF). */
export const IO_PORT_COUNT = 0x10000;

/**
 * The all-ones value an access of `size` bytes reads from an unclaimed port: 0xFF, 0xFFFF or
 * 0xFFFFFFFF (QEMU's `unassigned_io_read` returns -1, truncated to the access size). Any other size
 * gives 0xFFFFFFFF.
 */
export const allOnes = (size: number): number => (size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff);

const hex = (n: number, width = 4) => `0x${n.toString(16).toUpperCase().padStart(width, "0")}`;

/**
 * A port-to-device table. Build it once with {@link register}, then call {@link read}/{@link write}
 * from the exit handler.
 *
 * - Unclaimed ports read all-ones for the access size ({@link allOnes}) and ignore writes, as an
 *   ISA bus with nothing decoding the address does (and as QEMU's unassigned I/O does).
 * - A port outside 0..0xFFFF or a size other than 1, 2 or 4 is treated as unclaimed (KVM never
 *   produces one; a hostile or buggy caller gets all-ones, not a throw). Such accesses are counted
 *   in {@link badAccesses}; unclaimed ones in {@link unclaimedReads}/{@link unclaimedWrites}.
 */
export class IoBus {
  readonly #devices: (IoDevice | undefined)[] = new Array<IoDevice | undefined>(IO_PORT_COUNT).fill(undefined);
  readonly #names: string[] = new Array<string>(IO_PORT_COUNT).fill("");
  /** Reads of ports no device claims. */
  unclaimedReads = 0;
  /** Writes to ports no device claims. */
  unclaimedWrites = 0;
  /** Accesses with a size other than 1, 2, 4 or a port outside 0..0xFFFF (ignored). */
  badAccesses = 0;

  /**
   * Claims ports [first, first + count) for `device`. `name` appears in conflict messages and
   * {@link deviceName}. Throws {@link IoPortConflict}, claiming nothing, when the range is empty,
   * leaves 0..0xFFFF, or overlaps a port already claimed.
   */
  register(first: number, count: number, device: IoDevice, name = "device"): void {
    if (
      !Number.isInteger(first) || !Number.isInteger(count) || count < 1 || first < 0 || first + count > IO_PORT_COUNT
    ) {
      throw new IoPortConflict({
        first,
        count,
        port: first,
        existing: "",
        message:
          `cannot register ${name} at ports ${first}+${count}: the range must be 1 or more ports inside 0x0000..0xFFFF`,
      });
    }
    for (let p = first; p < first + count; p++) {
      if (this.#devices[p] !== undefined) {
        throw new IoPortConflict({
          first,
          count,
          port: p,
          existing: this.#names[p],
          message: `cannot register ${name} at ports ${hex(first)}..${hex(first + count - 1)}: port ${
            hex(p)
          } is already claimed by ${this.#names[p]}`,
        });
      }
    }
    for (let p = first; p < first + count; p++) {
      this.#devices[p] = device;
      this.#names[p] = name;
    }
  }

  /** The name the device claiming `port` was registered with, or undefined when unclaimed. */
  deviceName(port: number): string | undefined {
    return Number.isInteger(port) && port >= 0 && port < IO_PORT_COUNT && this.#devices[port]
      ? this.#names[port]
      : undefined;
  }

  /**
   * The guest's `IN` of `size` bytes (1, 2 or 4) from `port`: the claiming device's value masked to
   * the size (unsigned), or {@link allOnes} when unclaimed or malformed. Never throws.
   */
  read(port: number, size: number): number {
    if ((size !== 1 && size !== 2 && size !== 4) || !(port >= 0 && port < IO_PORT_COUNT) || (port | 0) !== port) {
      this.badAccesses++;
      return allOnes(size);
    }
    const device = this.#devices[port];
    if (device === undefined) {
      this.unclaimedReads++;
      return allOnes(size);
    }
    const v = device.read(port, size);
    return size === 4 ? v >>> 0 : v & (size === 1 ? 0xff : 0xffff);
  }

  /**
   * The guest's `OUT` of `size` bytes (1, 2 or 4) to `port`: `value` is masked to the size and
   * given to the claiming device; ignored when unclaimed or malformed. Never throws.
   */
  write(port: number, size: number, value: number): void {
    if ((size !== 1 && size !== 2 && size !== 4) || !(port >= 0 && port < IO_PORT_COUNT) || (port | 0) !== port) {
      this.badAccesses++;
      return;
    }
    const device = this.#devices[port];
    if (device === undefined) {
      this.unclaimedWrites++;
      return;
    }
    device.write(port, size, size === 4 ? value >>> 0 : value & (size === 1 ? 0xff : 0xffff));
  }
}
