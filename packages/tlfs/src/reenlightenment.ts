/**
 * Reenlightenment and TSC-emulation MSRs (0x40000106-0x40000108) and TSC_INVARIANT_CONTROL
 * (0x40000118). TLFS "Reenlightenment" (nested, CPUID 0x40000003.EAX[13]); Linux `hyperv-tlfs.h`
 * (`struct hv_reenlightenment_control`, `hv_tsc_emulation_control`, `hv_tsc_emulation_status`,
 * `HV_EXPOSE_INVARIANT_TSC`).
 * @module
 */

import { bitField, bitRange } from "./bits.ts";

/**
 * HV_X64_MSR_REENLIGHTENMENT_CONTROL (0x40000106) layout (`struct hv_reenlightenment_control`):
 * - `vector` 7:0: interrupt vector raised on a TSC frequency change.
 * - `reserved1` 15:8.
 * - `enabled` 16.
 * - `reserved2` 31:17.
 * - `target_vp` 63:32: VP index that receives the interrupt.
 * KVM stores the value as written. Linux (kvm_intel in the guest) writes `0xEE | 1 << 16 | vp << 32`.
 */
export const HvReenlightenmentControl = Object.freeze({
  vector: bitRange(7, 0),
  reserved1: bitRange(15, 8),
  enabled: bitField(16, 1),
  reserved2: bitRange(31, 17),
  target_vp: bitRange(63, 32),
});

/** HV_X64_MSR_TSC_EMULATION_CONTROL (0x40000107): `enabled` bit 0 (while set KVM freezes the TSC page), rest reserved. */
export const HvTscEmulationControl = Object.freeze({
  enabled: bitField(0, 1),
  reserved: bitRange(63, 1),
});

/** HV_X64_MSR_TSC_EMULATION_STATUS (0x40000108): `inprogress` bit 0 (a migration is in progress); the guest may write only 0. */
export const HvTscEmulationStatus = Object.freeze({
  inprogress: bitField(0, 1),
  reserved: bitRange(63, 1),
});

/**
 * HV_X64_MSR_TSC_INVARIANT_CONTROL (0x40000118): `expose_invariant_tsc` bit 0 exposes
 * CPUID.80000007:EDX[8]; any other bit #GPs in KVM. Linux `HV_EXPOSE_INVARIANT_TSC`.
 */
export const HvTscInvariantControl = Object.freeze({
  expose_invariant_tsc: bitField(0, 1),
  reserved: bitRange(63, 1),
});
