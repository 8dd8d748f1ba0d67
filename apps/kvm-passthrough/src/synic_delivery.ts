/**
 * SynIC messages and events userspace delivers on the passthrough backend, through KVM's SINT routes
 * (`sint_routes.ts`). The guest-memory side is `@hv/synic`'s, unchanged (the same connection table,
 * SIMP slot writes, message queue and event-flag OR the emulator uses); what differs is how the
 * interrupt is raised and how an EOM is learned:
 *
 * - Raise: the synic package calls `vp.requestInterrupt(vector, autoEoi)` after a message lands in
 *   a free slot or an event flag goes 0 -> 1. {@link PassthroughSynic.requestInterrupt} (the
 *   partition's hook) turns that into a write of the (VP, SINT) route's eventfd, and KVM delivers
 *   the SINT as *it* holds it (QEMU `hyperv_sint_route_set_sint`). The SINT is known exactly for
 *   what the VMM posts here ({@link PassthroughSynic.postMessage}/{@link PassthroughSynic.signalEvent}
 *   set it for the call); for raises from inside the package (HvPostMessage/HvSignalEvent served
 *   after a KVM_EXIT_HYPERV, redelivery after an EOM) it is the SINT whose mirrored vector and
 *   auto-EOI match (the one the package just read); SINTs sharing a vector are one interrupt to the
 *   guest, and KVM acks every SINT of a vector together (`kvm_hv_synic_send_eoi`).
 * - Mask: the package gates on the SINT *mirror* (refreshed with KVM_GET_MSRS at each SYNIC exit,
 *   since KVM makes no exit for SINT writes). For what the VMM posts here, a message or flag the
 *   mirror calls masked is still signalled: KVM drops it if the SINT really is masked
 *   (`synic_set_irq` -> -ENOENT) and delivers it if the guest unmasked it since. Raises from inside
 *   the package still follow the mirror (a guest that unmasks a SINT without touching SCONTROL,
 *   SIEFP or SIMP afterwards is not seen until the next SYNIC exit).
 * - EOM: KVM signals the VP's ack eventfd (the irqfd resamplefd) from `kvm_hv_notify_acked_sint`
 *   when the guest writes HV_X64_MSR_EOM or EOIs a SINT vector; {@link PassthroughSynic.serviceAck}
 *   then runs `synicEndOfMessage`, which moves queued messages into freed slots (QEMU
 *   `sint_ack_handler` -> retry).
 * - KVM_HYPERV_EVENTFD ({@link HypervEventConnections}): the guest's HvSignalEvent on a bound
 *   connection is handled by KVM without an exit; userspace drains the eventfd and applies the
 *   connection (flag + SINT), as QEMU's event-flag handlers do.
 *
 * Known limit: KVM's own message producers (synthetic timers) write SIMP slots in-kernel on the
 * target vCPU's thread; QEMU serialises its posts with them by posting on that thread
 * (`async_run_on_cpu(cpu_post_msg)`), hv posts from the calling thread with guest-memory atomics,
 * so a VMM message and a timer message aimed at the same SINT at the same instant could collide.
 *
 * Every method here is exit-path safe: synchronous, no allocation after the first use per VP.
 * @module
 */
import {
  ConnectionKind,
  postSynicMessage,
  signalSynicEvent,
  synicEndOfMessage,
  type SynicEventResult,
  type SynicMessageResult,
  type SynicPartitionViews,
  type SynicTestDevBackend,
  synicTestDevBackend,
  SYNIC_CONNECTION_CAPACITY,
  SYNIC_OWNER,
  type SynicVpViews,
} from "@hv/synic";
import { HV_CONNECTION_ID_MASK, HV_SYNIC_SINT_COUNT } from "@hv/tlfs";
import type { PartitionView, VpView } from "@hv/x86";
import type { EventfdRef, KvmService, VmRef } from "./kvm_service.ts";
import type { SintRoutes } from "./sint_routes.ts";

const SINT_MASKED_BIT = 0x10000;
const SINT_AUTO_EOI_BIT = 0x20000;

/** A raise nothing could route: `(vp, vector, autoEoi)`, e.g. KVM_SIGNAL_MSI to the VP's APIC. */
export type InterruptFallback = (vp: VpView, vector: number, autoEoi: boolean) => void;

/**
 * The passthrough SynIC's interrupt side for one partition (see the module doc):
 * - `routes`: the SINT routes (absent: every raise goes to `fallback`);
 * - `fallback`: what a raise without a route does (absent: it is counted in `counts.unrouted`);
 * - `counts`: raises routed, unrouted, acks seen, EOM retries run.
 */
export class PassthroughSynic {
  /** What happened so far (diagnostics and tests). */
  readonly counts = { raised: 0, unrouted: 0, acks: 0, eoms: 0 };
  /** The SINT routes raises go through (undefined: none, every raise goes to the fallback). */
  readonly routes: SintRoutes | undefined;
  readonly #fallback: InterruptFallback | undefined;
  readonly #views = new WeakMap<VpView, SynicVpViews>();
  #ctxVp = -1;
  #ctxSint = -1;

  /** Delivery through `routes` (see the class doc). */
  constructor(routes: SintRoutes | undefined, fallback?: InterruptFallback) {
    this.routes = routes;
    this.#fallback = fallback;
  }

  #synic(vp: VpView): SynicVpViews {
    let v = this.#views.get(vp);
    if (v === undefined) {
      v = vp.state(SYNIC_OWNER) as unknown as SynicVpViews;
      this.#views.set(vp, v);
    }
    return v;
  }

  /**
   * The SINT of `vp` whose mirrored value is unmasked with `vector` and the `autoEoi` bit as given
   * (the lowest such), or -1. What the synic package's raise read. No allocation.
   */
  sintFor(vp: VpView, vector: number, autoEoi: boolean): number {
    const s = this.#synic(vp).sint;
    for (let n = 0; n < HV_SYNIC_SINT_COUNT; n++) {
      const lo = s[2 * n];
      if ((lo & SINT_MASKED_BIT) === 0 && (lo & 0xff) === (vector & 0xff) && ((lo & SINT_AUTO_EOI_BIT) !== 0) === autoEoi) return n;
    }
    return -1;
  }

  /** Signals the route of (`vp`, `sint`); true when written. Counted. No allocation. */
  raise(vp: number, sint: number): boolean {
    if (this.routes !== undefined && this.routes.raise(vp, sint)) {
      this.counts.raised++;
      return true;
    }
    return false;
  }

  /**
   * The partition's `requestInterrupt` hook: the SINT being posted to (inside {@link postMessage} /
   * {@link signalEvent}) or the one {@link sintFor} finds, raised through its route; else the
   * fallback, else counted as unrouted. No allocation.
   */
  requestInterrupt(vp: VpView, vector: number, autoEoi: boolean): void {
    const sint = vp.index === this.#ctxVp ? this.#ctxSint : this.routes !== undefined ? this.sintFor(vp, vector, autoEoi) : -1;
    if (sint >= 0 && this.raise(vp.index, sint)) return;
    if (this.#fallback !== undefined) this.#fallback(vp, vector, autoEoi);
    else this.counts.unrouted++;
  }

  /**
   * Posts a message from the VMM to SINT `sint` of `vp` (`@hv/synic`'s `postSynicMessage`: the
   * slot in guest RAM, or msg_pending + the queue when busy) and signals the route when it landed
   * in the slot, including when the mirror calls the SINT masked (KVM decides). "pending": retried
   * at the VP's next ack ({@link serviceAck}).
   */
  postMessage(vp: VpView, sint: number, messageType: number, payload: Uint32Array, payloadBytes: number, tag = 0): SynicMessageResult {
    this.#ctxVp = vp.index;
    this.#ctxSint = sint;
    try {
      const r = postSynicMessage(vp, sint, messageType, payload, payloadBytes, tag);
      if (r === "masked") this.raise(vp.index, sint);
      return r;
    } finally {
      this.#ctxVp = -1;
      this.#ctxSint = -1;
    }
  }

  /**
   * Sets event flag `flag` of SINT `sint` in `vp`'s SIEFP page (`signalSynicEvent`) and signals the
   * route when the flag went 0 -> 1, including when the mirror calls the SINT masked (KVM decides).
   */
  signalEvent(vp: VpView, sint: number, flag: number): SynicEventResult {
    this.#ctxVp = vp.index;
    this.#ctxSint = sint;
    try {
      const r = signalSynicEvent(vp, sint, flag);
      if (r === "masked") this.raise(vp.index, sint);
      return r;
    } finally {
      this.#ctxVp = -1;
      this.#ctxSint = -1;
    }
  }

  /** An EOM on `vp`: `synicEndOfMessage` (queued messages into freed slots, each raised through its route). */
  endOfMessage(vp: VpView): void {
    this.counts.eoms++;
    synicEndOfMessage(vp);
  }

  /** Whether `vp` has messages waiting for a slot (then an ack is worth checking). No allocation. */
  hasQueued(vp: VpView): boolean {
    const q = this.#synic(vp).queueCount;
    for (let n = 0; n < HV_SYNIC_SINT_COUNT; n++) if (q[n] !== 0) return true;
    return false;
  }

  /** If KVM signalled `vp`'s ack eventfd (EOM or SINT EOI), runs {@link endOfMessage}; true then. No allocation. */
  serviceAck(vp: VpView): boolean {
    if (this.routes === undefined || !this.routes.takeAck(vp.index)) return false;
    this.counts.acks++;
    this.endOfMessage(vp);
    return true;
  }

  /** {@link serviceAck} for every VP of `partition` that has routes; how many were acked. */
  serviceAcks(partition: PartitionView): number {
    let n = 0;
    const count = this.routes === undefined ? 0 : Math.min(this.routes.vpCount, partition.vpCount);
    for (let i = 0; i < count; i++) {
      const vp = partition.vp(i);
      if (vp !== undefined && this.serviceAck(vp)) n++;
    }
    return n;
  }
}

/**
 * KVM_HYPERV_EVENTFD for the partition's event connections (KVM_CAP_HYPERV_EVENTFD; QEMU
 * `hyperv_set_event_flag_handler`): {@link bind} gives connection `id` an eventfd KVM signals when the
 * guest's HvSignalEvent names it (flag number 0; no KVM_EXIT_HYPERV); {@link drain} drains the
 * eventfds and applies each signalled connection from `@hv/synic`'s table (its VP, SINT and flag)
 * through {@link PassthroughSynic.signalEvent}. Connections not bound keep the exit path
 * (`handleHypervExit`). Someone must call {@link drain}: a host thread (when the eventfds poll
 * readable) or the run loop.
 */
export class HypervEventConnections {
  readonly #ids: number[] = [];
  readonly #fds: EventfdRef[] = [];
  readonly #table: SynicPartitionViews;

  /** Connections of `partition` bound on `vm` through `service`, delivered by `synic`. */
  constructor(
    readonly service: KvmService,
    readonly vm: VmRef,
    readonly partition: PartitionView,
    readonly synic: PassthroughSynic,
  ) {
    this.#table = partition.state(SYNIC_OWNER) as unknown as SynicPartitionViews;
  }

  /** The table index of event connection `id`, or -1. No allocation. */
  #find(id: number): number {
    const t = this.#table;
    for (let i = 0; i < SYNIC_CONNECTION_CAPACITY; i++) {
      if (Atomics.load(t.connKind, i) === ConnectionKind.Event && t.connId[i] === id) return i;
    }
    return -1;
  }

  /** Connection ids bound (allocates). */
  get bound(): number[] {
    return [...this.#ids];
  }

  /**
   * Binds event connection `id` (it must exist in the synic table): an eventfd, then
   * KVM_HYPERV_EVENTFD. False (nothing done) when there is no such connection or it is bound
   * already; KvmIoctlError when KVM refuses (the eventfd is closed again).
   */
  bind(id: number): boolean {
    const conn = id & HV_CONNECTION_ID_MASK;
    if (conn !== id || this.#find(id) < 0 || this.#ids.includes(id)) return false;
    const e = this.service.createEventfd();
    try {
      this.service.hypervEventfd(this.vm, id, e);
    } catch (x) {
      this.service.closeEventfd(e);
      throw x;
    }
    this.#ids.push(id);
    this.#fds.push(e);
    return true;
  }

  /** Unbinds connection `id` (KVM_HYPERV_EVENTFD deassign, close); false when it was not bound. */
  unbind(id: number): boolean {
    const i = this.#ids.indexOf(id);
    if (i < 0) return false;
    const [e] = this.#fds.splice(i, 1);
    this.#ids.splice(i, 1);
    this.service.hypervEventfdDeassign(this.vm, id);
    this.service.closeEventfd(e);
    return true;
  }

  /**
   * Drains every bound eventfd; for each one KVM signalled, sets the connection's flag on its
   * target (a connection destroyed meanwhile is skipped). Returns how many fired. No allocation.
   */
  drain(): number {
    let fired = 0;
    const t = this.#table;
    for (let i = 0; i < this.#ids.length; i++) {
      if (this.service.readEventfd(this.#fds[i]) === 0) continue;
      const c = this.#find(this.#ids[i]);
      if (c < 0) continue;
      const vp = this.partition.vp(t.connVp[c]);
      if (vp === undefined) continue;
      this.synic.signalEvent(vp, t.connSint[c], t.connFlag[c]);
      fired++;
    }
    return fired;
  }

  /** Unbinds everything. */
  close(): void {
    for (const id of [...this.#ids]) this.unbind(id);
  }
}

/**
 * `base` with every VP's `requestInterrupt` replaced by `requestInterrupt(vp, vector, autoEoi)`,
 * everything else delegated (the same state arenas, memory, events). For a vCPU worker whose
 * partition (the machine's) raises SINTs with KVM_SIGNAL_MSI: the passthrough's hypercall handlers
 * run over this view instead, so HvPostMessage/HvSignalEvent raise through the SINT routes.
 */
export function routedPartition(base: PartitionView, requestInterrupt: (vp: VpView, vector: number, autoEoi: boolean) => void): PartitionView {
  const vps = new Map<number, VpView>();
  const partition: PartitionView = {
    get vpCount() {
      return base.vpCount;
    },
    get memory() {
      return base.memory;
    },
    get tscHz() {
      return base.tscHz;
    },
    get apicHz() {
      return base.apicHz;
    },
    get events() {
      return base.events;
    },
    get timers() {
      return base.timers;
    },
    flushTlb: (list, count) => base.flushTlb(list, count),
    advertised: (bit) => base.advertised(bit),
    state: (owner) => base.state(owner),
    vp(index) {
      let v = vps.get(index);
      if (v === undefined) {
        const b = base.vp(index);
        if (b === undefined) return undefined;
        const routed: VpView = {
          index: b.index,
          apicId: b.apicId,
          partition,
          state: (owner) => b.state(owner),
          guestTsc: () => b.guestTsc(),
          runTime: () => b.runTime(),
          requestInterrupt: (vector, autoEoi) => requestInterrupt(routed, vector, autoEoi),
          yieldCpu: () => b.yieldCpu(),
          ...(b.apic ? { apic: b.apic } : {}),
        };
        v = routed;
        vps.set(index, v);
      }
      return v;
    },
    ...(base.stopTscEmulation ? { stopTscEmulation: () => base.stopTscEmulation!() } : {}),
  };
  return partition;
}

/**
 * QEMU's hyperv-testdev backend on the passthrough backend: `@hv/synic`'s `synicTestDevBackend`
 * (route counts, message/event connections), except that "raise SINT" signals the route's eventfd
 * without consulting the mirror (QEMU `hyperv_sint_route_set_sint`: KVM decides), and, with
 * `eventConnections`, a created event connection is bound with KVM_HYPERV_EVENTFD (QEMU does when
 * KVM_CAP_HYPERV_EVENTFD is there) and unbound when destroyed. Commands QEMU would assert on are
 * ignored and counted in `ignored`.
 */
export function passthroughTestDevBackend(
  partition: PartitionView,
  synic: PassthroughSynic,
  eventConnections?: HypervEventConnections,
): SynicTestDevBackend {
  const base = synicTestDevBackend(partition);
  let ignored = 0;
  return {
    get ignored() {
      return base.ignored + ignored;
    },
    createSintRoute: (vp, sint) => base.createSintRoute(vp, sint),
    destroySintRoute: (vp, sint) => base.destroySintRoute(vp, sint),
    raiseSint(vp, sint) {
      const v = Number.isInteger(sint) && sint >= 0 && sint < HV_SYNIC_SINT_COUNT ? partition.vp(vp) : undefined;
      const routes = v === undefined ? undefined : (v.state(SYNIC_OWNER) as unknown as SynicVpViews).routes;
      if (routes === undefined || routes[sint] === 0 || !synic.raise(vp, sint)) ignored++;
    },
    createMessageConnection: (conn, vp, sint) => base.createMessageConnection(conn, vp, sint),
    destroyMessageConnection: (conn) => base.destroyMessageConnection(conn),
    createEventConnection(conn, vp, sint) {
      const before = base.ignored;
      base.createEventConnection(conn, vp, sint);
      if (base.ignored === before && eventConnections !== undefined) eventConnections.bind(conn);
    },
    destroyEventConnection(conn) {
      eventConnections?.unbind(conn);
      base.destroyEventConnection(conn);
    },
  };
}
