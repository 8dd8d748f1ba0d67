/**
 * Input blocks of the SynIC hypercalls HvCallPostMessage (0x005C) and HvCallSignalEvent (0x005D),
 * and the connection id format. TLFS §11.10 "Inter-Partition Communication Hypercalls"; Linux
 * `hyperv-tlfs.h` (`struct hv_input_post_message`, `struct hv_input_signal_event`,
 * `union hv_connection_id`); KVM `kvm_hvcall_signal_event`; QEMU `hw/hyperv/hyperv.c`.
 * @module
 */

import { bitRange } from "./bits.ts";

/**
 * Byte layout of the HvPostMessage input (`struct hv_input_post_message`), 256 bytes, memory-based only:
 * - `connection_id` u32 @0: `HV_CONNECTION_ID` (bits 23:0 id).
 * - `reserved` u32 @4.
 * - `message_type` u32 @8: guest-defined type, bit 31 clear (`HV_MESSAGE_TYPE_HYPERVISOR_BIT`).
 * - `payload_size` u32 @12: 0..240 bytes (larger → HV_STATUS_INVALID_HYPERCALL_INPUT in QEMU).
 * - `payload` 240 bytes @16.
 */
export const HvPostMessageInput = {
  connection_id: { offset: 0, size: 4 },
  reserved: { offset: 4, size: 4 },
  message_type: { offset: 8, size: 4 },
  payload_size: { offset: 12, size: 4 },
  payload: { offset: 16, size: 240 },
} as const;

/** Size of the HvPostMessage input block: 256 bytes. */
export const HV_POST_MESSAGE_INPUT_SIZE = 256;

/**
 * Byte layout of the HvSignalEvent input (`struct hv_input_signal_event`), 8 bytes; also passed by
 * value in RDX for the fast form (see {@link HvSignalEventParam}):
 * - `connection_id` u32 @0.
 * - `flag_number` u16 @4: event flag to set, relative to the connection's base flag.
 * - `rsvdz` u16 @6.
 */
export const HvSignalEventInput = {
  connection_id: { offset: 0, size: 4 },
  flag_number: { offset: 4, size: 2 },
  rsvdz: { offset: 6, size: 2 },
} as const;

/**
 * The HvSignalEvent input as one u64 (fast form RDX, or the qword at the input GPA):
 * - `connection_id` 23:0; `reserved` 31:24 (set → HV_STATUS_INVALID_HYPERCALL_INPUT in KVM).
 * - `flag_number` 47:32 (non-zero → HV_STATUS_INVALID_PORT_ID in KVM).
 * - `rsvdz` 63:48.
 */
export const HvSignalEventParam = Object.freeze({
  connection_id: bitRange(23, 0),
  reserved: bitRange(31, 24),
  flag_number: bitRange(47, 32),
  rsvdz: bitRange(63, 48),
});

/** `HV_CONNECTION_ID` (a u32): `id` 23:0, `reserved` 31:24. Linux `union hv_connection_id`. */
export const HvConnectionId = Object.freeze({
  id: bitRange(23, 0),
  reserved: bitRange(31, 24),
});

/** Mask of the id bits of a connection id: 0xFFFFFF. KVM `KVM_HYPERV_CONN_ID_MASK`. */
export const HV_CONNECTION_ID_MASK = 0xffffff;
