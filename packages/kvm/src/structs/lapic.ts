/**
 * `struct kvm_lapic_state` (arch/x86/include/uapi/asm/kvm.h): the in-kernel local APIC's 1024-byte
 * register page (KVM_APIC_REG_SIZE), laid out like the xAPIC MMIO page (register at offset 0x10 * n,
 * 32 bits each). KVM_GET_LAPIC / KVM_SET_LAPIC, api.rst §4.57, §4.58 (with in-kernel irqchip only).
 * In x2APIC mode with KVM_CAP_X2APIC_API the ID register holds the full x2APIC id.
 * @module
 */
import { KvmStruct } from "./struct.ts";

/** sizeof(struct kvm_lapic_state). */
export const KVM_APIC_REG_SIZE = 0x400;

/** xAPIC register offsets (SDM 3A table 11-1), as used in the LAPIC state page. */
export const APIC_REG = {
  ID: 0x20,
  VERSION: 0x30,
  TPR: 0x80,
  PPR: 0xa0,
  EOI: 0xb0,
  LDR: 0xd0,
  DFR: 0xe0,
  SVR: 0xf0,
  ISR: 0x100,
  TMR: 0x180,
  IRR: 0x200,
  ESR: 0x280,
  ICR_LOW: 0x300,
  ICR_HIGH: 0x310,
  LVT_TIMER: 0x320,
  LVT_LINT0: 0x350,
  LVT_LINT1: 0x360,
  LVT_ERROR: 0x370,
  TIMER_INITIAL: 0x380,
  TIMER_CURRENT: 0x390,
  TIMER_DIVIDE: 0x3e0,
} as const;

/** A preallocated `struct kvm_lapic_state`. */
export class KvmLapicState extends KvmStruct {
  /** Allocates a zeroed page. */
  constructor() {
    super(KVM_APIC_REG_SIZE);
  }
  /** The 32-bit register at byte `offset` ({@link APIC_REG}). */
  reg(offset: number): number {
    return this.view.getUint32(offset, true);
  }
  /** Sets the 32-bit register at byte `offset`. */
  setReg(offset: number, value: number): void {
    this.view.setUint32(offset, value >>> 0, true);
  }
  /** Whether `vector` is set in the 256-bit register array at `base` (ISR, TMR, IRR: 8 words at 0x10 stride). */
  bit(base: number, vector: number): boolean {
    return ((this.view.getUint32(base + (vector >>> 5) * 0x10, true) >>> (vector & 31)) & 1) === 1;
  }
  /** Sets or clears `vector` in the 256-bit register array at `base`. */
  setBit(base: number, vector: number, on: boolean): void {
    const off = base + (vector >>> 5) * 0x10;
    const w = this.view.getUint32(off, true);
    const m = 1 << (vector & 31);
    this.view.setUint32(off, (on ? w | m : w & ~m) >>> 0, true);
  }
}
