/**
 * GSI routing and irqfd argument structs (include/uapi/linux/kvm.h; sizes checked against the
 * x86-64 uapi headers with `sizeof`):
 * - `struct kvm_irq_routing` (8-byte header: u32 nr, u32 flags; then `nr` entries) for
 *   KVM_SET_GSI_ROUTING (api.rst section "KVM_SET_GSI_ROUTING");
 * - `struct kvm_irq_routing_entry` (48 bytes: u32 gsi, type, flags, pad; a 32-byte union at 16):
 *   `irqchip` {u32 irqchip, pin}, `msi` {u32 address_lo, address_hi, data, devid}, `hv_sint`
 *   {u32 vcpu, sint} (vcpu is the target's Hyper-V VP index);
 * - `struct kvm_irqfd` (32 bytes: u32 fd, gsi, flags, resamplefd; 16 pad) for KVM_IRQFD (api.rst "KVM_IRQFD");
 * - `struct kvm_hyperv_eventfd` (24 bytes: u32 conn_id, s32 fd, u32 flags, 3 u32 pad) for
 *   KVM_HYPERV_EVENTFD (api.rst "KVM_HYPERV_EVENTFD").
 *
 * KVM_SET_GSI_ROUTING *replaces* the whole table: with KVM_CREATE_IRQCHIP a VM starts with KVM's
 * default x86 routing (GSI 0..15 to the IOAPIC pin and the PIC, 16..23 to the IOAPIC;
 * `kvm_setup_default_irq_routing`), so a table that adds routes must carry
 * {@link defaultIrqchipRoutes} too, or the PIT, serial and other ISA interrupts stop (QEMU re-adds
 * them in `kvm_pc_setup_irq_routing`).
 * @module
 */
import { KvmStruct } from "./struct.ts";

/** `KVM_IRQ_ROUTING_IRQCHIP` (1): a pin of the in-kernel PIC or IOAPIC. */
export const KVM_IRQ_ROUTING_IRQCHIP = 1;
/** `KVM_IRQ_ROUTING_MSI` (2): an MSI (address/data) to the in-kernel LAPICs. */
export const KVM_IRQ_ROUTING_MSI = 2;
/** `KVM_IRQ_ROUTING_S390_ADAPTER` (3): s390 only. */
export const KVM_IRQ_ROUTING_S390_ADAPTER = 3;
/** `KVM_IRQ_ROUTING_HV_SINT` (4): a Hyper-V SynIC SINT of a VP (needs KVM's in-kernel Hyper-V). */
export const KVM_IRQ_ROUTING_HV_SINT = 4;
/** `KVM_IRQ_ROUTING_XEN_EVTCHN` (5): a Xen event channel. */
export const KVM_IRQ_ROUTING_XEN_EVTCHN = 5;

/** `KVM_IRQCHIP_PIC_MASTER` (0): the master 8259 (pins 0..7). */
export const KVM_IRQCHIP_PIC_MASTER = 0;
/** `KVM_IRQCHIP_PIC_SLAVE` (1): the slave 8259 (GSI 8..15 as its pins 0..7). */
export const KVM_IRQCHIP_PIC_SLAVE = 1;
/** `KVM_IRQCHIP_IOAPIC` (2): the IOAPIC (24 pins). */
export const KVM_IRQCHIP_IOAPIC = 2;
/** Pins of KVM's in-kernel IOAPIC (`KVM_IOAPIC_NUM_PINS`): GSIs 0..23 are theirs by default. */
export const KVM_IOAPIC_NUM_PINS = 24;

/** `KVM_MSI_VALID_DEVID` (1): the entry's `devid` is valid (not used on x86). */
export const KVM_MSI_VALID_DEVID = 1;
/** `KVM_IRQFD_FLAG_DEASSIGN` (1): remove the irqfd (fd, gsi). */
export const KVM_IRQFD_FLAG_DEASSIGN = 1;
/** `KVM_IRQFD_FLAG_RESAMPLE` (2, KVM_CAP_IRQFD_RESAMPLE): `resamplefd` is signalled when the GSI is acked. */
export const KVM_IRQFD_FLAG_RESAMPLE = 2;
/** `KVM_HYPERV_CONN_ID_MASK` (0x00ffffff): the connection ids KVM_HYPERV_EVENTFD accepts. */
export const KVM_HYPERV_CONN_ID_MASK = 0x00ffffff;
/** `KVM_HYPERV_EVENTFD_DEASSIGN` (1): remove the eventfd of `conn_id`. */
export const KVM_HYPERV_EVENTFD_DEASSIGN = 1;
/** `KVM_MAX_IRQ_ROUTES` on x86 (4096): the most entries, and one past the highest GSI; KVM_CAP_IRQ_ROUTING answers it. */
export const KVM_MAX_IRQ_ROUTES = 4096;

/** sizeof(struct kvm_irq_routing) (the header before the entries). */
export const KVM_IRQ_ROUTING_HEADER_SIZE = 8;
/** sizeof(struct kvm_irq_routing_entry). */
export const KVM_IRQ_ROUTING_ENTRY_SIZE = 48;
/** sizeof(struct kvm_irqfd). */
export const KVM_IRQFD_SIZE = 32;
/** sizeof(struct kvm_hyperv_eventfd). */
export const KVM_HYPERV_EVENTFD_SIZE = 24;

/** One routing entry, decoded (GSI numbers 0..KVM_MAX_IRQ_ROUTES-1; all fields u32). */
export type IrqRoute =
  /** A pin of an in-kernel PIC/IOAPIC (`irqchip`: KVM_IRQCHIP_*). */
  | { readonly gsi: number; readonly type: typeof KVM_IRQ_ROUTING_IRQCHIP; readonly irqchip: number; readonly pin: number }
  /** An MSI: x86 `addressLo` = 0xFEE00000 | dest APIC id << 12 | ..., `data` = vector | delivery mode << 8 .... */
  | {
    readonly gsi: number;
    readonly type: typeof KVM_IRQ_ROUTING_MSI;
    readonly addressLo: number;
    readonly addressHi: number;
    readonly data: number;
    readonly flags?: number;
    readonly devid?: number;
  }
  /** SINT `sint` (0..15) of the VP whose Hyper-V VP index is `vcpu` (`struct kvm_irq_routing_hv_sint`). */
  | { readonly gsi: number; readonly type: typeof KVM_IRQ_ROUTING_HV_SINT; readonly vcpu: number; readonly sint: number };

/**
 * KVM's default x86 routing with a full in-kernel irqchip (`default_routing` in KVM's
 * `kvm_setup_default_irq_routing`): for GSI 0..15 an IOAPIC entry (pin = GSI) then a PIC entry
 * (master for 0..7, slave for 8..15, pin = GSI % 8); for GSI 16..23 an IOAPIC entry. 40 entries.
 */
export function defaultIrqchipRoutes(): IrqRoute[] {
  const out: IrqRoute[] = [];
  for (let gsi = 0; gsi < KVM_IOAPIC_NUM_PINS; gsi++) {
    out.push({ gsi, type: KVM_IRQ_ROUTING_IRQCHIP, irqchip: KVM_IRQCHIP_IOAPIC, pin: gsi });
    if (gsi < 16) {
      out.push({ gsi, type: KVM_IRQ_ROUTING_IRQCHIP, irqchip: gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE, pin: gsi % 8 });
    }
  }
  return out;
}

/** The KVM name of a routing entry type ("KVM_IRQ_ROUTING_HV_SINT"), or "type N". */
export function irqRouteTypeName(type: number): string {
  switch (type) {
    case KVM_IRQ_ROUTING_IRQCHIP:
      return "KVM_IRQ_ROUTING_IRQCHIP";
    case KVM_IRQ_ROUTING_MSI:
      return "KVM_IRQ_ROUTING_MSI";
    case KVM_IRQ_ROUTING_S390_ADAPTER:
      return "KVM_IRQ_ROUTING_S390_ADAPTER";
    case KVM_IRQ_ROUTING_HV_SINT:
      return "KVM_IRQ_ROUTING_HV_SINT";
    case KVM_IRQ_ROUTING_XEN_EVTCHN:
      return "KVM_IRQ_ROUTING_XEN_EVTCHN";
    default:
      return `type ${type}`;
  }
}

/**
 * A `struct kvm_irq_routing` with room for `capacity` entries (8 + 48 * capacity bytes), filled
 * with {@link add}/{@link set}; `bytes` is the KVM_SET_GSI_ROUTING argument. {@link entries}
 * decodes it back (what the simulated kernel and the tests read).
 */
export class KvmIrqRouting extends KvmStruct {
  /** How many entries fit. */
  readonly capacity: number;

  /** Allocates a zeroed table for `capacity` entries (RangeError beyond KVM_MAX_IRQ_ROUTES). */
  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 0 || capacity > KVM_MAX_IRQ_ROUTES) {
      throw new RangeError(`a GSI routing table holds 0..${KVM_MAX_IRQ_ROUTES} entries, not ${capacity}`);
    }
    super(KVM_IRQ_ROUTING_HEADER_SIZE + capacity * KVM_IRQ_ROUTING_ENTRY_SIZE);
    this.capacity = capacity;
  }

  /** A table holding exactly `routes`, in order. */
  static of(routes: readonly IrqRoute[]): KvmIrqRouting {
    return new KvmIrqRouting(routes.length).set(routes);
  }

  /** Wraps the bytes of a `struct kvm_irq_routing` (e.g. an ioctl argument), `nr` entries long. */
  static wrap(bytes: Uint8Array<ArrayBuffer>): KvmIrqRouting {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const nr = view.getUint32(0, true);
    const r = new KvmIrqRouting(nr);
    r.bytes.set(bytes.subarray(0, KVM_IRQ_ROUTING_HEADER_SIZE + nr * KVM_IRQ_ROUTING_ENTRY_SIZE));
    return r;
  }

  /** `nr`: the number of entries KVM reads. */
  get nr(): number {
    return this.view.getUint32(0, true);
  }
  set nr(v: number) {
    this.view.setUint32(0, v, true);
  }

  /** `flags` (must be 0). */
  get flags(): number {
    return this.view.getUint32(4, true);
  }

  /** Clears the table and writes `routes` (RangeError when more than {@link capacity}). */
  set(routes: readonly IrqRoute[]): this {
    if (routes.length > this.capacity) throw new RangeError(`${routes.length} routes do not fit in a table of ${this.capacity}`);
    this.clear();
    for (const r of routes) this.add(r);
    return this;
  }

  /** Appends `route` as entry `nr` and increments `nr`. */
  add(route: IrqRoute): this {
    const i = this.nr;
    if (i >= this.capacity) throw new RangeError(`the GSI routing table is full (${this.capacity} entries)`);
    const o = KVM_IRQ_ROUTING_HEADER_SIZE + i * KVM_IRQ_ROUTING_ENTRY_SIZE;
    this.bytes.fill(0, o, o + KVM_IRQ_ROUTING_ENTRY_SIZE);
    const v = this.view;
    v.setUint32(o, route.gsi >>> 0, true);
    v.setUint32(o + 4, route.type, true);
    switch (route.type) {
      case KVM_IRQ_ROUTING_IRQCHIP:
        v.setUint32(o + 16, route.irqchip >>> 0, true);
        v.setUint32(o + 20, route.pin >>> 0, true);
        break;
      case KVM_IRQ_ROUTING_MSI:
        v.setUint32(o + 8, (route.flags ?? 0) >>> 0, true);
        v.setUint32(o + 16, route.addressLo >>> 0, true);
        v.setUint32(o + 20, route.addressHi >>> 0, true);
        v.setUint32(o + 24, route.data >>> 0, true);
        v.setUint32(o + 28, (route.devid ?? 0) >>> 0, true);
        break;
      case KVM_IRQ_ROUTING_HV_SINT:
        v.setUint32(o + 16, route.vcpu >>> 0, true);
        v.setUint32(o + 20, route.sint >>> 0, true);
        break;
    }
    this.nr = i + 1;
    return this;
  }

  /** The raw fields of entry `i`: gsi, type, flags, and the union's first four u32 words. */
  raw(i: number): { gsi: number; type: number; flags: number; u: [number, number, number, number] } {
    const o = KVM_IRQ_ROUTING_HEADER_SIZE + i * KVM_IRQ_ROUTING_ENTRY_SIZE;
    const v = this.view;
    return {
      gsi: v.getUint32(o, true),
      type: v.getUint32(o + 4, true),
      flags: v.getUint32(o + 8, true),
      u: [v.getUint32(o + 16, true), v.getUint32(o + 20, true), v.getUint32(o + 24, true), v.getUint32(o + 28, true)],
    };
  }

  /**
   * The `nr` entries decoded as {@link IrqRoute}s. Throws RangeError for a type this codec does not
   * decode (S390 adapter, Xen event channel), naming it.
   */
  entries(): IrqRoute[] {
    const out: IrqRoute[] = [];
    for (let i = 0; i < this.nr; i++) {
      const { gsi, type, flags, u } = this.raw(i);
      if (type === KVM_IRQ_ROUTING_IRQCHIP) out.push({ gsi, type, irqchip: u[0], pin: u[1] });
      else if (type === KVM_IRQ_ROUTING_MSI) out.push({ gsi, type, addressLo: u[0], addressHi: u[1], data: u[2], flags, devid: u[3] });
      else if (type === KVM_IRQ_ROUTING_HV_SINT) out.push({ gsi, type, vcpu: u[0], sint: u[1] });
      else throw new RangeError(`entry ${i} (GSI ${gsi}) has ${irqRouteTypeName(type)}, which this codec does not decode`);
    }
    return out;
  }
}

/** A `struct kvm_irqfd` (preallocate one and reuse it). */
export class KvmIrqfd extends KvmStruct {
  /** Allocates a zeroed struct. */
  constructor() {
    super(KVM_IRQFD_SIZE);
  }
  /** Sets every field (the padding is zeroed): `fd`, `gsi`, `flags` (KVM_IRQFD_FLAG_*), `resamplefd`. */
  set(fd: number, gsi: number, flags = 0, resamplefd = 0): this {
    this.clear();
    this.view.setUint32(0, fd >>> 0, true);
    this.view.setUint32(4, gsi >>> 0, true);
    this.view.setUint32(8, flags >>> 0, true);
    this.view.setUint32(12, resamplefd >>> 0, true);
    return this;
  }
  /** `fd`: the eventfd whose signal raises `gsi`. */
  get fd(): number {
    return this.view.getUint32(0, true);
  }
  /** `gsi`. */
  get gsi(): number {
    return this.view.getUint32(4, true);
  }
  /** `flags`: KVM_IRQFD_FLAG_DEASSIGN, KVM_IRQFD_FLAG_RESAMPLE. */
  get flags(): number {
    return this.view.getUint32(8, true);
  }
  /** `resamplefd` (valid with KVM_IRQFD_FLAG_RESAMPLE): signalled when the guest acks the GSI. */
  get resamplefd(): number {
    return this.view.getUint32(12, true);
  }
}

/** A `struct kvm_hyperv_eventfd` (preallocate one and reuse it). */
export class KvmHypervEventfd extends KvmStruct {
  /** Allocates a zeroed struct. */
  constructor() {
    super(KVM_HYPERV_EVENTFD_SIZE);
  }
  /** Sets `conn_id` (0..0xFFFFFF), `fd` (-1 to deassign, as QEMU passes) and `flags` (KVM_HYPERV_EVENTFD_DEASSIGN). */
  set(connId: number, fd: number, flags = 0): this {
    this.clear();
    this.view.setUint32(0, connId >>> 0, true);
    this.view.setInt32(4, fd | 0, true);
    this.view.setUint32(8, flags >>> 0, true);
    return this;
  }
  /** `conn_id`. */
  get connId(): number {
    return this.view.getUint32(0, true);
  }
  /** `fd` (signed). */
  get fd(): number {
    return this.view.getInt32(4, true);
  }
  /** `flags`. */
  get flags(): number {
    return this.view.getUint32(8, true);
  }
}
