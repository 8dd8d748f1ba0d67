/**
 * QEMU's `isa-debug-exit` (hw/misc/debugexit.c): a guest write ends the VM with a status derived
 * from the value, which is how kvm-unit-tests and many test kernels report pass/fail
 * (`-device isa-debug-exit,iobase=0xf4,iosize=0x4`).
 * @module
 */
import type { IoDevice } from "./bus.ts";

/** The port kvm-unit-tests configures (`iobase=0xf4`). QEMU's own default is 0x501. */
export const DEBUG_EXIT_BASE = 0xf4;
/** The region size kvm-unit-tests configures (`iosize=0x4`). QEMU's own default is 2. */
export const DEBUG_EXIT_SIZE = 4;

/** Construction options for {@link IsaDebugExit}. */
export interface IsaDebugExitOptions {
  /**
   * Called synchronously on the write with `code = (value << 1) | 1`, where `value` is the written
   * value masked to the access size (1, 2 or 4 bytes), so `code` is an odd number up to 2^33 - 1.
   * QEMU passes `code` to exit(3), so the host process status is `code & 0xFF`; the machine should
   * do the same (e.g. `outb(0xf4, 0)` → status 1, `outl(0xf4, 0x7f)` → 255). The callback should
   * stop the vCPU loop; the device itself does nothing else.
   */
  readonly onExit: (code: number) => void;
  /** First port; default {@link DEBUG_EXIT_BASE} (0xF4). */
  readonly base?: number;
  /** Region size in ports (QEMU's `iosize`); default {@link DEBUG_EXIT_SIZE} (4). */
  readonly size?: number;
}

/**
 * `isa-debug-exit`: any write of 1, 2 or 4 bytes to any of its ports requests a VM exit with
 * `(value << 1) | 1` (QEMU `debug_exit_write`, which ignores the port offset). Reads return 0
 * (QEMU `debug_exit_read`). Register it with `bus.register(dev.base, dev.size, dev, "isa-debug-exit")`.
 */
export class IsaDebugExit implements IoDevice {
  /** First port. */
  readonly base: number;
  /** Number of ports. */
  readonly size: number;
  readonly #onExit: (code: number) => void;
  /** The last code requested, or -1 when the guest has not written. */
  lastCode = -1;

  /** Creates the device (see {@link IsaDebugExitOptions}). */
  constructor(options: IsaDebugExitOptions) {
    this.base = options.base ?? DEBUG_EXIT_BASE;
    this.size = options.size ?? DEBUG_EXIT_SIZE;
    this.#onExit = options.onExit;
  }

  /** Reads return 0 (QEMU `debug_exit_read`). */
  read(_port: number, _size: number): number {
    return 0;
  }

  /** Requests the exit; `value` is already masked to the access size by the bus. */
  write(_port: number, size: number, value: number): void {
    const v = size === 1 ? value & 0xff : size === 2 ? value & 0xffff : value >>> 0;
    this.lastCode = v * 2 + 1;
    this.#onExit(this.lastCode);
  }
}
