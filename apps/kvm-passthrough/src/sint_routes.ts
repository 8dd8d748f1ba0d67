/**
 * SynIC interrupt routes through KVM: how userspace raises SINT n of VP v when KVM's in-kernel SynIC
 * owns the SINT registers (QEMU hw/hyperv/hyperv.c `hyperv_sint_route_new`,
 * `kvm_irqchip_add_hv_sint_route`, `hyperv_sint_route_set_sint`):
 *
 * - one eventfd per (VP, SINT) and a GSI routed to it with a `KVM_IRQ_ROUTING_HV_SINT` entry
 *   (`{ vcpu: VP index, sint }`), bound with KVM_IRQFD: writing the eventfd makes KVM run
 *   `kvm_hv_synic_set_irq`, which reads the SINT *as KVM holds it* (masked: nothing; else the
 *   vector to the VP's LAPIC). Userspace never needs the SINT's vector or mask.
 * - per VP one "ack" eventfd, given to every SINT irqfd of that VP as its resamplefd: KVM signals it
 *   from `kvm_hv_notify_acked_sint`, i.e. when the guest writes HV_X64_MSR_EOM (for every SINT) or
 *   EOIs a SINT's vector. That is how userspace learns of an EOM: KVM makes no KVM_EXIT_HYPERV for
 *   it (`synic_set_msr` exits only for SCONTROL, SIEFP and SIMP). QEMU gives each message route its
 *   own ack eventfd; one per VP suffices here because an EOM acks every SINT of the VP and the retry
 *   (`synicEndOfMessage`) is per VP.
 *
 * The table is built once, after every vCPU exists with KVM_CAP_HYPERV_SYNIC2 enabled: KVM records
 * the SINT -> GSI mapping the resamplefd path needs (`kvm_hv_set_sint_gsi`) only for VPs whose SynIC
 * is active when the routing is set, and silently skips the others. Sequence (QEMU commits the table
 * once per route; hv once for all):
 *
 * ```
 * per VP v: eventfd x16 (SINT 0..15), eventfd (ack)
 * KVM_SET_GSI_ROUTING  KVM's 40 default irqchip entries + 16 x vpCount HV_SINT entries,
 *                      GSI = 24 + 16 v + n (after the IOAPIC's 24 pins)
 * per VP v, SINT n: KVM_IRQFD eventfd(v, n) -> GSI, resamplefd = ack(v)
 * ```
 *
 * Raising ({@link SintRoutes.raise}) and checking for an ack ({@link SintRoutes.takeAck}) are exit-path
 * operations: synchronous, no allocation, any thread (the fds are process-wide; a vCPU worker
 * rebuilds the table from its {@link SintRouteLayout} with {@link SintRouteTable.attach}).
 * @module
 */
import {
  defaultIrqchipRoutes,
  KVM_IOAPIC_NUM_PINS,
  KVM_IRQ_ROUTING_HV_SINT,
  KVM_MAX_IRQ_ROUTES,
  KvmIoctlError,
  KvmIrqRouting,
} from "@hv/kvm";
import { HV_SYNIC_SINT_COUNT } from "@hv/tlfs";
import { PassthroughSetupError } from "./errors.ts";
import type { EventfdRef, KvmService, VmRef } from "./kvm_service.ts";

/** The first GSI of the SINT routes: right after the IOAPIC's 24 pins (KVM's default routing covers 0..23). */
export const SINT_GSI_BASE = KVM_IOAPIC_NUM_PINS;

/** The GSI of (VP `vp`, SINT `sint`) in a table starting at `base` (default {@link SINT_GSI_BASE}): base + 16 vp + sint. */
export const sintGsi = (vp: number, sint: number, base: number = SINT_GSI_BASE): number => base + vp * HV_SYNIC_SINT_COUNT + sint;

/** Routing entries a table for `vpCount` VPs installs: KVM's default irqchip entries, then the HV_SINT ones. */
export const sintRouteCount = (vpCount: number): number => defaultIrqchipRoutes().length + vpCount * HV_SYNIC_SINT_COUNT;

/**
 * The fd numbers of a route table, as plain data for other threads (structured-clone and URL safe):
 * `gsiBase`, and per VP (index = VP index) the 16 SINT eventfds and the ack eventfd.
 */
export interface SintRouteLayout {
  readonly gsiBase: number;
  readonly vps: readonly { readonly sints: readonly number[]; readonly ack: number }[];
}

/**
 * What the delivery path needs from routes (see the module doc):
 * - `vpCount`: VPs with routes (VP indexes 0..vpCount-1);
 * - `raise(vp, sint)`: signal the route's eventfd; KVM delivers the SINT (or drops it when KVM holds it
 *   masked). False for a VP/SINT without a route or a failed write. No allocation.
 * - `takeAck(vp)`: whether KVM signalled the VP's ack eventfd since the last call (takes the
 *   counter; non-blocking). No allocation.
 * - `gsi(vp, sint)`: the route's GSI.
 * - `layout()`: the fd numbers, for another thread.
 */
export interface SintRoutes {
  readonly vpCount: number;
  raise(vp: number, sint: number): boolean;
  takeAck(vp: number): boolean;
  gsi(vp: number, sint: number): number;
  layout(): SintRouteLayout;
}

/** Options of {@link SintRouteTable.create}: `maxRoutes`, KVM_CAP_IRQ_ROUTING's answer (KVM_MAX_IRQ_ROUTES, 4096 on x86). */
export interface SintRouteOptions {
  readonly maxRoutes?: number;
}

/**
 * The SINT route table of a VM (see the module doc). {@link create} makes it with the service's
 * ioctls and owns what it made ({@link close} unbinds and closes); {@link attach} rebuilds it from
 * a {@link SintRouteLayout} in another thread, owning nothing.
 */
export class SintRouteTable implements SintRoutes {
  /** VPs with routes (VP indexes 0..vpCount-1). */
  readonly vpCount: number;
  /** The GSI of VP 0 SINT 0. */
  readonly gsiBase: number;
  readonly #service: KvmService;
  readonly #vm: VmRef | undefined;
  /** Index vp * 16 + sint. */
  readonly #sints: readonly EventfdRef[];
  readonly #acks: readonly EventfdRef[];
  #bound: number;
  #closed = false;

  private constructor(
    service: KvmService,
    vm: VmRef | undefined,
    gsiBase: number,
    sints: readonly EventfdRef[],
    acks: readonly EventfdRef[],
    bound: number,
  ) {
    this.#service = service;
    this.#vm = vm;
    this.gsiBase = gsiBase;
    this.#sints = sints;
    this.#acks = acks;
    this.vpCount = acks.length;
    this.#bound = bound;
  }

  /**
   * Builds the routes of VPs 0..vpCount-1 on `vm` (sequence in the module doc). Call after every vCPU
   * is created and configured (SynIC2 enabled, VP_INDEX set). Throws {@link PassthroughSetupError}
   * naming the step: "KVM_SET_GSI_ROUTING" when the table would exceed `maxRoutes` (checked before
   * anything is created) or KVM refuses it (EINVAL: e.g. a kernel without CONFIG_KVM_HYPERV knows no
   * KVM_IRQ_ROUTING_HV_SINT), "KVM_IRQFD" or "eventfd" when those fail; what was made so far is
   * released first (the table KVM accepted stays, harmless, until the VM closes).
   */
  static create(service: KvmService, vm: VmRef, vpCount: number, options: SintRouteOptions = {}): SintRouteTable {
    if (!Number.isInteger(vpCount) || vpCount < 1) throw new RangeError(`SINT routes need at least one VP, got ${vpCount}`);
    const max = options.maxRoutes ?? KVM_MAX_IRQ_ROUTES;
    const entries = sintRouteCount(vpCount);
    const lastGsi = sintGsi(vpCount - 1, HV_SYNIC_SINT_COUNT - 1);
    if (entries > max || lastGsi >= max) {
      throw new PassthroughSetupError({
        vcpu: -1,
        step: "KVM_SET_GSI_ROUTING",
        message: `cannot route the SynIC interrupts of ${vpCount} VPs through KVM: ${entries} routing entries (GSI up to ${lastGsi}) ` +
          `exceed KVM_CAP_IRQ_ROUTING (${max}); use fewer vCPUs, remove synic (--without synic), or use --backend emulator`,
      });
    }
    const made: EventfdRef[] = [];
    const sints: EventfdRef[] = [];
    const acks: EventfdRef[] = [];
    const fail = (vcpu: number, step: string, e: unknown, what: string): never => {
      for (const x of made) service.closeEventfd(x);
      if (!(e instanceof KvmIoctlError)) throw e;
      throw new PassthroughSetupError({
        vcpu,
        step,
        message: `cannot route the SynIC interrupts through KVM: ${e.message} (${what}); ` +
          "KVM needs in-kernel Hyper-V (CONFIG_KVM_HYPERV) with KVM_CAP_IRQ_ROUTING and KVM_CAP_IRQFD_RESAMPLE; " +
          "remove synic (--without synic) or use --backend emulator",
      });
    };
    try {
      for (let v = 0; v < vpCount; v++) {
        for (let n = 0; n < HV_SYNIC_SINT_COUNT; n++) {
          const e = service.createEventfd();
          made.push(e);
          sints.push(e);
        }
        const ack = service.createEventfd();
        made.push(ack);
        acks.push(ack);
      }
    } catch (e) {
      return fail(-1, "eventfd", e, `eventfd ${made.length + 1} of ${vpCount * (HV_SYNIC_SINT_COUNT + 1)}`);
    }
    const routing = new KvmIrqRouting(entries);
    for (const r of defaultIrqchipRoutes()) routing.add(r);
    for (let v = 0; v < vpCount; v++) {
      for (let n = 0; n < HV_SYNIC_SINT_COUNT; n++) routing.add({ gsi: sintGsi(v, n), type: KVM_IRQ_ROUTING_HV_SINT, vcpu: v, sint: n });
    }
    try {
      service.setGsiRouting(vm, routing);
    } catch (e) {
      return fail(-1, "KVM_SET_GSI_ROUTING", e, `${defaultIrqchipRoutes().length} irqchip + ${vpCount * HV_SYNIC_SINT_COUNT} KVM_IRQ_ROUTING_HV_SINT entries, GSI ${SINT_GSI_BASE}..${lastGsi}`);
    }
    let bound = 0;
    for (let v = 0; v < vpCount; v++) {
      for (let n = 0; n < HV_SYNIC_SINT_COUNT; n++, bound++) {
        try {
          service.irqfd(vm, sints[bound], sintGsi(v, n), acks[v]);
        } catch (e) {
          for (let i = 0; i < bound; i++) service.irqfdDeassign(vm, sints[i], SINT_GSI_BASE + i);
          return fail(v, "KVM_IRQFD", e, `VP ${v} SINT ${n}, GSI ${sintGsi(v, n)}`);
        }
      }
    }
    return new SintRouteTable(service, vm, SINT_GSI_BASE, sints, acks, bound);
  }

  /**
   * The table another thread built, from its {@link layout} (no ioctl, nothing owned: {@link close}
   * does nothing). Throws RangeError for a malformed layout.
   */
  static attach(service: KvmService, layout: SintRouteLayout): SintRouteTable {
    if (!Number.isInteger(layout.gsiBase) || layout.vps.length === 0) throw new RangeError("malformed SINT route layout");
    const sints: EventfdRef[] = [];
    const acks: EventfdRef[] = [];
    for (const vp of layout.vps) {
      if (vp.sints.length !== HV_SYNIC_SINT_COUNT) throw new RangeError(`a VP has ${HV_SYNIC_SINT_COUNT} SINT routes, not ${vp.sints.length}`);
      for (const fd of vp.sints) sints.push({ kind: "eventfd", fd });
      acks.push({ kind: "eventfd", fd: vp.ack });
    }
    return new SintRouteTable(service, undefined, layout.gsiBase, sints, acks, 0);
  }

  /** Signals (VP `vp`, SINT `sint`)'s eventfd (see {@link SintRoutes}). No allocation. */
  raise(vp: number, sint: number): boolean {
    if (this.#closed || vp < 0 || vp >= this.vpCount || sint < 0 || sint >= HV_SYNIC_SINT_COUNT) return false;
    return this.#service.signalEventfd(this.#sints[vp * HV_SYNIC_SINT_COUNT + sint]);
  }

  /** Takes VP `vp`'s ack eventfd counter: true when KVM reported an EOM/EOI since the last call. No allocation. */
  takeAck(vp: number): boolean {
    if (this.#closed || vp < 0 || vp >= this.vpCount) return false;
    return this.#service.readEventfd(this.#acks[vp]) > 0;
  }

  /** The GSI of (vp, sint). */
  gsi(vp: number, sint: number): number {
    return sintGsi(vp, sint, this.gsiBase);
  }

  /** The fd numbers (see {@link SintRouteLayout}); allocates. */
  layout(): SintRouteLayout {
    return {
      gsiBase: this.gsiBase,
      vps: this.#acks.map((ack, v) => ({
        sints: this.#sints.slice(v * HV_SYNIC_SINT_COUNT, (v + 1) * HV_SYNIC_SINT_COUNT).map((e) => e.fd),
        ack: ack.fd,
      })),
    };
  }

  /**
   * Owner only: KVM_IRQFD deassign of every route, then closes the eventfds (the routing table stays
   * until the VM closes). Idempotent; a no-op for an attached table.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.#vm) return;
    for (let i = 0; i < this.#bound; i++) this.#service.irqfdDeassign(this.#vm, this.#sints[i], this.gsiBase + i);
    for (const e of this.#sints) this.#service.closeEventfd(e);
    for (const e of this.#acks) this.#service.closeEventfd(e);
  }
}

/** `layout` as a URL query value (JSON, percent-encoded), see {@link decodeSintRouteLayout}. */
export const encodeSintRouteLayout = (layout: SintRouteLayout): string => encodeURIComponent(JSON.stringify(layout));

/**
 * The layout {@link encodeSintRouteLayout} wrote, validated (integers, 16 SINT fds per VP); throws
 * RangeError naming what is wrong.
 */
export function decodeSintRouteLayout(text: string): SintRouteLayout {
  const v = JSON.parse(decodeURIComponent(text)) as unknown;
  const isFd = (x: unknown): x is number => Number.isInteger(x) && (x as number) >= 0;
  if (typeof v !== "object" || v === null) throw new RangeError("SINT route layout: not an object");
  const o = v as { gsiBase?: unknown; vps?: unknown };
  if (!Number.isInteger(o.gsiBase) || !Array.isArray(o.vps) || o.vps.length === 0) throw new RangeError("SINT route layout: gsiBase and vps expected");
  const vps = o.vps.map((x: unknown, i: number) => {
    const p = x as { sints?: unknown; ack?: unknown };
    if (!Array.isArray(p.sints) || p.sints.length !== HV_SYNIC_SINT_COUNT || !p.sints.every(isFd) || !isFd(p.ack)) {
      throw new RangeError(`SINT route layout: VP ${i} needs ${HV_SYNIC_SINT_COUNT} SINT fds and an ack fd`);
    }
    return { sints: p.sints as number[], ack: p.ack };
  });
  return { gsiBase: o.gsiBase as number, vps };
}
