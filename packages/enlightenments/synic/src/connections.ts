/**
 * The partition's SynIC connection table and QEMU's hyperv-testdev backend.
 *
 * A message connection routes HvPostMessage on its id to (VP, SINT); an event connection routes
 * HvSignalEvent on its id to (VP, SINT, flag). Ids are the 24 bits of `HV_CONNECTION_ID`; a message
 * and an event connection may share an id (QEMU keeps two lists), two of one kind may not (QEMU
 * `hyperv_set_msg_handler`/`hyperv_set_event_flag_handler` answer -EEXIST). The table is declared
 * partition state (`synicPartitionState`), so it is saved, restored and inspected with the rest.
 *
 * Changes take the table's spinlock; lookups on the hypercall path are lock-free (an entry is
 * published by its `connKind` store, which comes last).
 * @module
 */
import { HV_CONNECTION_ID_MASK, HV_EVENT_FLAGS_COUNT, HV_SYNIC_SINT_COUNT } from "@hv/tlfs";
import type { PartitionView, VpView } from "@hv/x86";
import { raiseSint, synicPartition, synicVp } from "./delivery.ts";
import { acquire, ConnectionKind, release, SYNIC_CONNECTION_CAPACITY, type SynicPartitionViews } from "./state.ts";

type Kind = typeof ConnectionKind.Message | typeof ConnectionKind.Event;

const validTarget = (partition: PartitionView, vp: number, sint: number): boolean =>
  Number.isInteger(sint) && sint >= 0 && sint < HV_SYNIC_SINT_COUNT && Number.isInteger(vp) && vp >= 0 &&
  vp <= 0xffffffff && partition.vp(vp) !== undefined;

const validId = (id: number): boolean => Number.isInteger(id) && id >= 0 && id <= HV_CONNECTION_ID_MASK;

/** The table index of connection `id` of `kind`, or -1. Lock-free. */
export const findConnection = (t: SynicPartitionViews, kind: Kind, id: number): number => {
  for (let i = 0; i < SYNIC_CONNECTION_CAPACITY; i++) {
    if (Atomics.load(t.connKind, i) === kind && t.connId[i] === id) return i;
  }
  return -1;
};

const create = (partition: PartitionView, kind: Kind, id: number, vp: number, sint: number, flag: number): boolean => {
  if (!validId(id) || !validTarget(partition, vp, sint)) return false;
  const t = synicPartition(partition);
  acquire(t.lock);
  try {
    if (findConnection(t, kind, id) >= 0) return false;
    for (let i = 0; i < SYNIC_CONNECTION_CAPACITY; i++) {
      if (t.connKind[i] !== ConnectionKind.Free) continue;
      t.connId[i] = id;
      t.connVp[i] = vp;
      t.connSint[i] = sint;
      t.connFlag[i] = flag;
      Atomics.store(t.connKind, i, kind);
      return true;
    }
    return false;
  } finally {
    release(t.lock);
  }
};

const destroy = (partition: PartitionView, kind: Kind, id: number): boolean => {
  if (!validId(id)) return false;
  const t = synicPartition(partition);
  acquire(t.lock);
  try {
    const i = findConnection(t, kind, id);
    if (i < 0) return false;
    Atomics.store(t.connKind, i, ConnectionKind.Free);
    t.connId[i] = 0;
    t.connVp[i] = 0;
    t.connSint[i] = 0;
    t.connFlag[i] = 0;
    return true;
  } finally {
    release(t.lock);
  }
};

/**
 * Creates message connection `id` (0..0xFFFFFF) to SINT `sint` of the VP with index `vp`. False
 * (nothing changed) when the id is out of range or already a message connection, the VP does not
 * exist, the SINT is not 0..15, or the table (`SYNIC_CONNECTION_CAPACITY`) is full.
 */
export const createSynicMessageConnection = (partition: PartitionView, id: number, vp: number, sint: number): boolean =>
  create(partition, ConnectionKind.Message, id, vp, sint, 0);

/** Removes message connection `id`; false when there is none (ignored, unlike QEMU's assert). */
export const destroySynicMessageConnection = (partition: PartitionView, id: number): boolean =>
  destroy(partition, ConnectionKind.Message, id);

/**
 * Creates event connection `id` (0..0xFFFFFF) to SINT `sint` of VP `vp`; HvSignalEvent on it sets
 * event flag `flag` (0..2047). False as for {@link createSynicMessageConnection}, or for a bad flag.
 */
export const createSynicEventConnection = (
  partition: PartitionView,
  id: number,
  vp: number,
  sint: number,
  flag: number,
): boolean =>
  Number.isInteger(flag) && flag >= 0 && flag < HV_EVENT_FLAGS_COUNT &&
  create(partition, ConnectionKind.Event, id, vp, sint, flag);

/** Removes event connection `id`; false when there is none. */
export const destroySynicEventConnection = (partition: PartitionView, id: number): boolean =>
  destroy(partition, ConnectionKind.Event, id);

/** The connections, decoded (edge code: allocates; for diagnostics and tests). */
export const synicConnections = (
  partition: PartitionView,
): { kind: "message" | "event"; id: number; vp: number; sint: number; flag?: number }[] => {
  const t = synicPartition(partition);
  const out: { kind: "message" | "event"; id: number; vp: number; sint: number; flag?: number }[] = [];
  for (let i = 0; i < SYNIC_CONNECTION_CAPACITY; i++) {
    const k = t.connKind[i];
    if (k === ConnectionKind.Message) {
      out.push({ kind: "message", id: t.connId[i], vp: t.connVp[i], sint: t.connSint[i] });
    } else if (k === ConnectionKind.Event) {
      out.push({ kind: "event", id: t.connId[i], vp: t.connVp[i], sint: t.connSint[i], flag: t.connFlag[i] });
    }
  }
  return out;
};

/**
 * What QEMU's hyperv-testdev asks of the SynIC: structurally `HypervTestDevBackend` of
 * `@hv/devices` (kept structural so this package does not depend on the device model), plus a
 * count of the commands that were ignored.
 */
export interface SynicTestDevBackend {
  createSintRoute(vp: number, sint: number): void;
  destroySintRoute(vp: number, sint: number): void;
  raiseSint(vp: number, sint: number): void;
  createMessageConnection(conn: number, vp: number, sint: number): void;
  destroyMessageConnection(conn: number): void;
  createEventConnection(conn: number, vp: number, sint: number): void;
  destroyEventConnection(conn: number): void;
  /** Commands ignored: a missing VP, route or connection, a duplicate connection, a full table. */
  readonly ignored: number;
}

/**
 * hyperv-testdev's backend on `partition` (QEMU hw/misc/hyperv_testdev.c): wire it with
 * `new HypervTestDev(synicTestDevBackend(partition))`. Where QEMU asserts (a route or connection
 * that does not exist, a VP that does not exist, a duplicate id) the command is ignored and counted.
 * - SINT routes are counted per (VP, SINT) in the VP's state; ctl 3 raises the SINT through a route
 *   (as KVM `synic_set_irq`: nothing when masked; nothing while SCONTROL is disabled).
 * - Message connection `conn` echoes HvPostMessage on `conn` into the target's slot (QEMU `msg_handler`).
 * - Event connection `conn` sets event flag `conn` (QEMU `evt_conn_handler` → `hyperv_set_event_flag`).
 * Every method is exit-path safe (no allocation after the first use of each VP).
 */
export const synicTestDevBackend = (partition: PartitionView): SynicTestDevBackend => {
  let ignored = 0;
  const route = (vp: number, sint: number): VpView | undefined =>
    validTarget(partition, vp, sint) ? partition.vp(vp) : undefined;
  return {
    get ignored() {
      return ignored;
    },
    createSintRoute(vp, sint) {
      const v = route(vp, sint);
      if (v === undefined) return void ignored++;
      const r = synicVp(v).routes;
      if (r[sint] === 0xffff) return void ignored++;
      Atomics.add(r, sint, 1);
    },
    destroySintRoute(vp, sint) {
      const v = route(vp, sint);
      const r = v === undefined ? undefined : synicVp(v).routes;
      if (r === undefined || r[sint] === 0) return void ignored++;
      Atomics.sub(r, sint, 1);
    },
    raiseSint(vp, sint) {
      const v = route(vp, sint);
      if (v === undefined || synicVp(v).routes[sint] === 0) return void ignored++;
      raiseSint(v, synicVp(v), sint);
    },
    createMessageConnection(conn, vp, sint) {
      if (!createSynicMessageConnection(partition, conn, vp, sint)) ignored++;
    },
    destroyMessageConnection(conn) {
      if (!destroySynicMessageConnection(partition, conn)) ignored++;
    },
    createEventConnection(conn, vp, sint) {
      if (!createSynicEventConnection(partition, conn, vp, sint, conn)) ignored++;
    },
    destroyEventConnection(conn) {
      if (!destroySynicEventConnection(partition, conn)) ignored++;
    },
  };
};
