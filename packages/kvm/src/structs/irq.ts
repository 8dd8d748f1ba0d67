/**
 * The interrupt-injection argument structs (include/uapi/linux/kvm.h):
 * - `struct kvm_irq_level` (8 bytes: irq/status u32, level u32) for KVM_IRQ_LINE (api.rst §4.25);
 * - `struct kvm_msi` (32 bytes: address_lo, address_hi, data, flags, devid u32, pad) for
 *   KVM_SIGNAL_MSI (api.rst §4.71): on x86, address 0xFEE00000 | dest APIC id << 12 (| dest mode,
 *   redirection hint), data = vector | delivery mode << 8 | trigger bits;
 * - `struct kvm_interrupt` (4 bytes: irq u32) for KVM_INTERRUPT (api.rst §4.16): the vector to
 *   inject when there is no in-kernel irqchip.
 * @module
 */
import { KvmStruct } from "./struct.ts";

/** A `struct kvm_irq_level`. */
export class KvmIrqLevel extends KvmStruct {
  /** Allocates a zeroed struct. */
  constructor() {
    super(8);
  }
  /** `irq`: the GSI (PIC 0..15, IOAPIC 0..23). */
  get irq(): number {
    return this.view.getUint32(0, true);
  }
  set irq(v: number) {
    this.view.setUint32(0, v, true);
  }
  /** `status` (KVM_IRQ_LINE_STATUS only; same field as `irq`). */
  get status(): number {
    return this.view.getInt32(0, true);
  }
  /** `level`: 1 asserted, 0 deasserted. */
  get level(): number {
    return this.view.getUint32(4, true);
  }
  set level(v: number) {
    this.view.setUint32(4, v, true);
  }
}

/** A `struct kvm_msi`. */
export class KvmMsi extends KvmStruct {
  /** Allocates a zeroed struct. */
  constructor() {
    super(32);
  }
  /** Sets the 64-bit address as halves, the data, and clears flags/devid. */
  set(addressLo: number, addressHi: number, data: number): this {
    this.view.setUint32(0, addressLo >>> 0, true);
    this.view.setUint32(4, addressHi >>> 0, true);
    this.view.setUint32(8, data >>> 0, true);
    this.view.setUint32(12, 0, true);
    this.view.setUint32(16, 0, true);
    return this;
  }
  /** `address_lo`. */
  get addressLo(): number {
    return this.view.getUint32(0, true);
  }
  /** `address_hi`. */
  get addressHi(): number {
    return this.view.getUint32(4, true);
  }
  /** `data`. */
  get data(): number {
    return this.view.getUint32(8, true);
  }
}

/** A `struct kvm_interrupt`. */
export class KvmInterrupt extends KvmStruct {
  /** Allocates a zeroed struct. */
  constructor() {
    super(4);
  }
  /** `irq`: the interrupt vector (0..255). */
  get irq(): number {
    return this.view.getUint32(0, true);
  }
  set irq(v: number) {
    this.view.setUint32(0, v, true);
  }
}
