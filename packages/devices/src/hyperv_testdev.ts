/**
 * QEMU's `hyperv-testdev` (hw/misc/hyperv_testdev.c), the control port kvm-unit-tests' Hyper-V
 * SynIC, stimer and connection tests drive (lib/x86/hyperv.c `synic_ctl`). This device only
 * decodes and validates the guest's commands; the SynIC plugin does the work through
 * {@link HypervTestDevBackend}.
 * @module
 */
import { HV_SYNIC_SINT_COUNT } from "@hv/tlfs";
import type { IoDevice } from "./bus.ts";

/** The port QEMU maps the device at. */
export const HYPERV_TESTDEV_BASE = 0x3000;
/** The region size (QEMU: `memory_region_init_io(..., "hyperv-testdev-ctl", 4)`). */
export const HYPERV_TESTDEV_PORT_COUNT = 4;

/** The `ctl` byte (bits 23:16) of a command (QEMU's `HV_TEST_DEV_*` enum). */
export const HypervTestDevCtl = {
  SintRouteCreate: 1,
  SintRouteDestroy: 2,
  SintRouteSetSint: 3,
  MsgConnCreate: 4,
  MsgConnDestroy: 5,
  EvtConnCreate: 6,
  EvtConnDestroy: 7,
} as const;

/**
 * What the device asks of the SynIC. `vp` is a VP index (0..255), `sint` a SINT (0..15, already
 * validated), `conn` a connection id (0..255). Called synchronously on the exit path; QEMU asserts
 * on a missing route or connection, the backend should instead ignore (and may count) such commands.
 */
export interface HypervTestDevBackend {
  /** ctl 1: create a SINT route to (vp, sint). */
  createSintRoute(vp: number, sint: number): void;
  /** ctl 2: destroy the SINT route to (vp, sint). */
  destroySintRoute(vp: number, sint: number): void;
  /** ctl 3: raise SINT `sint` on `vp` through its route (QEMU `hyperv_sint_route_set_sint`). */
  raiseSint(vp: number, sint: number): void;
  /**
   * ctl 4: create message connection `conn` targeting (vp, sint): an HvPostMessage on `conn` is
   * echoed (same type and payload) into `vp`'s SIMP slot for `sint`; a busy slot is retried after
   * the guest writes EOM (QEMU `msg_handler`/`msg_retry`).
   */
  createMessageConnection(conn: number, vp: number, sint: number): void;
  /** ctl 5: destroy message connection `conn`. */
  destroyMessageConnection(conn: number): void;
  /**
   * ctl 6: create event connection `conn` targeting (vp, sint): an HvSignalEvent on `conn` sets
   * flag `conn` in `vp`'s SIEFP page for `sint`, raising the SINT only if the flag was clear
   * (QEMU `evt_conn_handler` → `hyperv_set_event_flag`).
   */
  createEventConnection(conn: number, vp: number, sint: number): void;
  /** ctl 7: destroy event connection `conn`. */
  destroyEventConnection(conn: number): void;
}

/**
 * `hyperv-testdev` at 0x3000..0x3003. A 4-byte write (to any of its ports, as in QEMU, which ignores
 * the offset) of `conn<<24 | ctl<<16 | vp<<8 | sint` calls the matching backend method. Ignored and
 * counted in {@link ignored}: writes of 1 or 2 bytes (QEMU: `valid.min_access_size = 4`), unknown
 * `ctl` values, and a `sint` of 16 or more for ctl 1, 2, 3, 4 and 6 (QEMU would abort). Reads return 0.
 */
export class HypervTestDev implements IoDevice {
  /** First port. */
  readonly base: number;
  readonly #backend: HypervTestDevBackend;
  /** Writes ignored (wrong size, unknown ctl, SINT out of range). */
  ignored = 0;
  /** Commands passed to the backend. */
  accepted = 0;

  /** Creates the device; register it with `bus.register(dev.base, HYPERV_TESTDEV_PORT_COUNT, dev, "hyperv-testdev")`. */
  constructor(backend: HypervTestDevBackend, base = HYPERV_TESTDEV_BASE) {
    this.#backend = backend;
    this.base = base;
  }

  /** Reads return 0 (QEMU `hv_test_dev_read`). */
  read(_port: number, _size: number): number {
    return 0;
  }

  /** Decodes one command (see the class description). */
  write(_port: number, size: number, value: number): void {
    if (size !== 4) {
      this.ignored++;
      return;
    }
    const sint = value & 0xff;
    const vp = (value >>> 8) & 0xff;
    const ctl = (value >>> 16) & 0xff;
    const conn = (value >>> 24) & 0xff;
    const sintOk = sint < HV_SYNIC_SINT_COUNT;
    const b = this.#backend;
    switch (ctl) {
      case HypervTestDevCtl.SintRouteCreate:
        if (!sintOk) break;
        this.accepted++;
        return b.createSintRoute(vp, sint);
      case HypervTestDevCtl.SintRouteDestroy:
        if (!sintOk) break;
        this.accepted++;
        return b.destroySintRoute(vp, sint);
      case HypervTestDevCtl.SintRouteSetSint:
        if (!sintOk) break;
        this.accepted++;
        return b.raiseSint(vp, sint);
      case HypervTestDevCtl.MsgConnCreate:
        if (!sintOk) break;
        this.accepted++;
        return b.createMessageConnection(conn, vp, sint);
      case HypervTestDevCtl.MsgConnDestroy:
        this.accepted++;
        return b.destroyMessageConnection(conn);
      case HypervTestDevCtl.EvtConnCreate:
        if (!sintOk) break;
        this.accepted++;
        return b.createEventConnection(conn, vp, sint);
      case HypervTestDevCtl.EvtConnDestroy:
        this.accepted++;
        return b.destroyEventConnection(conn);
    }
    this.ignored++;
  }
}
