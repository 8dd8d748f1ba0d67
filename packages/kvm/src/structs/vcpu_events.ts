/**
 * `struct kvm_vcpu_events` (arch/x86/include/uapi/asm/kvm.h), 64 bytes: exception {injected, nr,
 * has_error_code, pending: u8; error_code: u32} @0, interrupt {injected, nr, soft, shadow: u8} @8,
 * nmi {injected, pending, masked, pad: u8} @12, sipi_vector u32 @16, flags u32 @20, smi {smm,
 * pending, smm_inside_nmi, latched_init: u8} @24, triple_fault.pending u8 @28, reserved[26],
 * exception_has_payload u8 @55, exception_payload u64 @56. KVM_GET_VCPU_EVENTS /
 * KVM_SET_VCPU_EVENTS (KVM_CAP_VCPU_EVENTS), api.rst "KVM_GET_VCPU_EVENTS".
 * @module
 */
import { KVM_VCPU_EVENTS_SIZE } from "./run.ts";
import { KvmStruct } from "./struct.ts";

/** `flags`: KVM_SET_VCPU_EVENTS applies `nmi.pending` (KVM_GET_VCPU_EVENTS always sets it). */
export const KVM_VCPUEVENT_VALID_NMI_PENDING = 0x01;
/** `flags`: applies `sipi_vector` (only to an in-kernel LAPIC). */
export const KVM_VCPUEVENT_VALID_SIPI_VECTOR = 0x02;
/** `flags`: applies `interrupt.shadow` (KVM_X86_SHADOW_INT_MOV_SS 1, KVM_X86_SHADOW_INT_STI 2). */
export const KVM_VCPUEVENT_VALID_SHADOW = 0x04;
/** `flags`: applies `smi` (EINVAL for smm/pending without KVM_CAP_X86_SMM). */
export const KVM_VCPUEVENT_VALID_SMM = 0x08;
/** `flags`: applies `exception.pending` and the payload (only with KVM_CAP_EXCEPTION_PAYLOAD enabled, else EINVAL). */
export const KVM_VCPUEVENT_VALID_PAYLOAD = 0x10;
/** `flags`: applies `triple_fault.pending` (only with KVM_CAP_X86_TRIPLE_FAULT_EVENT enabled, else EINVAL). */
export const KVM_VCPUEVENT_VALID_TRIPLE_FAULT = 0x20;

/** Byte offsets of the u8 fields of `struct kvm_vcpu_events`, for {@link KvmVcpuEvents.byte}. */
export const VcpuEventsByte = {
  exceptionInjected: 0,
  exceptionNr: 1,
  exceptionHasErrorCode: 2,
  exceptionPending: 3,
  interruptInjected: 8,
  interruptNr: 9,
  interruptSoft: 10,
  interruptShadow: 11,
  nmiInjected: 12,
  nmiPending: 13,
  nmiMasked: 14,
  smiSmm: 24,
  smiPending: 25,
  smiInsideNmi: 26,
  smiLatchedInit: 27,
  tripleFaultPending: 28,
  exceptionHasPayload: 55,
} as const;
/** One of {@link VcpuEventsByte}'s values. */
export type VcpuEventsByte = typeof VcpuEventsByte[keyof typeof VcpuEventsByte];

/** A preallocated `struct kvm_vcpu_events`: u8 fields by {@link VcpuEventsByte}, the wider ones by name. */
export class KvmVcpuEvents extends KvmStruct {
  /** Allocates a zeroed struct, or wraps `bytes` (e.g. `kvmRun.syncEvents`). */
  constructor(bytes?: Uint8Array<ArrayBuffer>) {
    super(KVM_VCPU_EVENTS_SIZE, bytes);
  }
  /** The u8 field at `field`. */
  byte(field: VcpuEventsByte): number {
    return this.bytes[field];
  }
  /** Sets the u8 field at `field`. */
  setByte(field: VcpuEventsByte, value: number): void {
    this.bytes[field] = value;
  }
  /** `exception.error_code`. */
  get exceptionErrorCode(): number {
    return this.view.getUint32(4, true);
  }
  set exceptionErrorCode(v: number) {
    this.view.setUint32(4, v >>> 0, true);
  }
  /** `sipi_vector`. */
  get sipiVector(): number {
    return this.view.getUint32(16, true);
  }
  set sipiVector(v: number) {
    this.view.setUint32(16, v >>> 0, true);
  }
  /** `flags`: KVM_VCPUEVENT_VALID_* (which optional fields KVM_SET_VCPU_EVENTS applies). */
  get flags(): number {
    return this.view.getUint32(20, true);
  }
  set flags(v: number) {
    this.view.setUint32(20, v >>> 0, true);
  }
  /** `exception_payload` (e.g. CR2 of a pending #PF). */
  get exceptionPayload(): bigint {
    return this.u64Big(56);
  }
  set exceptionPayload(v: bigint) {
    this.setU64Big(56, v);
  }
}
