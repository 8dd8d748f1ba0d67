/**
 * Input blocks of HvCallSendSyntheticClusterIpi (0x000B) and HvCallSendSyntheticClusterIpiEx (0x0015).
 * TLFS hypercall reference pages `HvCallSendSyntheticClusterIpi` / `HvCallSendSyntheticClusterIpiEx`; Linux `hyperv-tlfs.h` (`struct hv_send_ipi`,
 * `struct hv_send_ipi_ex`), `arch/x86/hyperv/hv_apic.c`; KVM `kvm_hv_send_ipi`.
 * @module
 */

/**
 * Byte layout of the SendSyntheticClusterIpi input (`struct hv_send_ipi`):
 * - `vector` u32 @0: fixed interrupt vector, 0x10..0xFF.
 * - `reserved` u32 @4: zero.
 * - `processor_mask` u64 @8: bit n = VP index n (TLFS ProcessorMask; Linux `cpu_mask`).
 * Fast form (Linux's): RDX = `vector` (bits 63:32 must be zero), R8 = `processor_mask`.
 */
export const HvSendSyntheticClusterIpiInput = {
  vector: { offset: 0, size: 4 },
  reserved: { offset: 4, size: 4 },
  processor_mask: { offset: 8, size: 8 },
} as const;

/**
 * Byte layout of the SendSyntheticClusterIpiEx input (`struct hv_send_ipi_ex`):
 * - `vector` u32 @0, `reserved` u32 @4: as above.
 * - `vp_set` @8: an HV_VP_SET (`HvVpSet`), 16 + 8 * banks bytes; the banks are the variable header.
 * The size below is the fixed part of the VP set (format + valid_bank_mask).
 */
export const HvSendSyntheticClusterIpiExInput = {
  vector: { offset: 0, size: 4 },
  reserved: { offset: 4, size: 4 },
  vp_set: { offset: 8, size: 16 },
} as const;

/** Lowest vector a synthetic cluster IPI may carry: 0x10. Linux/KVM `HV_IPI_LOW_VECTOR`. */
export const HV_IPI_LOW_VECTOR = 0x10;
/** Highest vector a synthetic cluster IPI may carry: 0xFF. Linux/KVM `HV_IPI_HIGH_VECTOR`. */
export const HV_IPI_HIGH_VECTOR = 0xff;
