/**
 * `struct kvm_userspace_memory_region` (include/uapi/linux/kvm.h), 32 bytes: slot (u32), flags (u32),
 * guest_phys_addr, memory_size, userspace_addr (u64). KVM_SET_USER_MEMORY_REGION, api.rst §4.35.
 * A memory_size of 0 deletes the slot.
 * @module
 */
import { getU64, KvmStruct, setU64 } from "./struct.ts";

/** Slot flag: track dirty pages (KVM_GET_DIRTY_LOG). */
export const KVM_MEM_LOG_DIRTY_PAGES = 1 << 0;
/** Slot flag: read-only (writes exit as KVM_EXIT_MMIO; KVM_CAP_READONLY_MEM). */
export const KVM_MEM_READONLY = 1 << 1;

/** A `struct kvm_userspace_memory_region`. */
export class KvmUserspaceMemoryRegion extends KvmStruct {
  /** Allocates a zeroed struct. */
  constructor() {
    super(32);
  }
  /** Fills every field (addresses and sizes in bytes, page-aligned). */
  set(slot: number, flags: number, guestPhysAddr: number, memorySize: number, userspaceAddr: number): this {
    this.view.setUint32(0, slot, true);
    this.view.setUint32(4, flags, true);
    setU64(this.view, 8, guestPhysAddr);
    setU64(this.view, 16, memorySize);
    setU64(this.view, 24, userspaceAddr);
    return this;
  }
  /** `slot` (bits 16..31: address space id). */
  get slot(): number {
    return this.view.getUint32(0, true);
  }
  /** `flags`. */
  get flags(): number {
    return this.view.getUint32(4, true);
  }
  /** `guest_phys_addr`. */
  get guestPhysAddr(): number {
    return getU64(this.view, 8);
  }
  /** `memory_size`. */
  get memorySize(): number {
    return getU64(this.view, 16);
  }
  /** `userspace_addr`. */
  get userspaceAddr(): number {
    return getU64(this.view, 24);
  }
}
