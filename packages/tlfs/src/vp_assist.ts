/**
 * The VP assist page (TLFS §7.8.7 "Virtual Processor Assist Page", `HV_VP_ASSIST_PAGE`; Linux
 * `hyperv-tlfs.h` `struct hv_vp_assist_page`). Mapped per VP at the GPA given by
 * HV_X64_MSR_VP_ASSIST_PAGE (layout `HvX64MsrVpAssistPage`). hv uses only `apic_assist`
 * (lazy EOI); the nested-virtualization fields are listed for completeness.
 * @module
 */

import { bitField } from "./bits.ts";

/**
 * Byte layout of the VP assist page (4096 bytes; the rest is reserved):
 * - `apic_assist` u32 @0: `HV_VIRTUAL_APIC_ASSIST`; bit 0 = no EOI required (see {@link HvApicAssist}).
 * - `reserved1` u32 @4.
 * - `vtl_control` 24 bytes @8: VTL entry reason and return RAX/RCX (VSM only).
 * - `nested_control` 8 bytes @32: `hv_nested_enlightenments_control` (features, hypercall controls).
 * - `enlighten_vmentry` u8 @40: eVMCS in use for VM entry (nested only).
 * - `current_nested_vmcs` u64 @48: GPA of the current enlightened VMCS (nested only).
 * - `synthetic_time_unhalted_timer_expired` u8 @56.
 */
export const HvVpAssistPage = {
  apic_assist: { offset: 0, size: 4 },
  reserved1: { offset: 4, size: 4 },
  vtl_control: { offset: 8, size: 24 },
  nested_control: { offset: 32, size: 8 },
  enlighten_vmentry: { offset: 40, size: 1 },
  current_nested_vmcs: { offset: 48, size: 8 },
  synthetic_time_unhalted_timer_expired: { offset: 56, size: 1 },
} as const;

/**
 * Bits of the `apic_assist` u32 (`HV_VIRTUAL_APIC_ASSIST`, TLFS §7.8.7 "EOI Assist"):
 * - `no_eoi_required` bit 0: set by the hypervisor when the injected interrupt needs no EOI; the
 *   guest then clears it instead of writing the EOI register (Linux `hv_apic_eoi_write`,
 *   `arch/x86/hyperv/hv_apic.c`; KVM PV-EOI).
 */
export const HvApicAssist = Object.freeze({
  no_eoi_required: bitField(0, 1),
});
