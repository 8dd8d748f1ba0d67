/**
 * The synthetic interrupt controller (SynIC): message slots, the message and event-flags pages,
 * message types, and the SINTx / SCONTROL / SVERSION register layouts. TLFS §11 "Inter-Partition
 * Communication" (§11.8 "SynIC MSRs"); Linux `hyperv-tlfs.h` (`struct hv_message`,
 * `enum hv_message_type`, `union hv_synic_sint`). The SIMP / SIEFP MSR layouts are
 * `HvX64MsrSimp` / `HvX64MsrSiefp`; the SINT count is `HV_SYNIC_SINT_COUNT` (16).
 * @module
 */

import { bitField, bitRange } from "./bits.ts";
import { HV_SYNIC_SINT_COUNT } from "./msr.ts";

/** Size in bytes of one message slot (`struct hv_message`): 256. Linux `HV_MESSAGE_SIZE`. */
export const HV_MESSAGE_SIZE = 256;
/** Size in bytes of the message header: 16. */
export const HV_MESSAGE_HEADER_SIZE = 16;
/** Maximum payload in bytes: 240. Linux `HV_MESSAGE_PAYLOAD_BYTE_COUNT`. */
export const HV_MESSAGE_PAYLOAD_BYTE_COUNT = 240;
/** Maximum payload in qwords: 30. Linux `HV_MESSAGE_PAYLOAD_QWORD_COUNT`. */
export const HV_MESSAGE_PAYLOAD_QWORD_COUNT = 30;

/**
 * Byte layout of one 256-byte message slot (`struct hv_message`):
 * - `header` 16 bytes @0 (see {@link HvMessageHeader}).
 * - `payload` 240 bytes @16 (`payload_size` bytes are meaningful).
 */
export const HvMessage = {
  header: { offset: 0, size: 16 },
  payload: { offset: 16, size: 240 },
} as const;

/**
 * Byte layout of the message header (`struct hv_message_header`), offsets from the slot start:
 * - `message_type` u32 @0: an `HVMSG_*` value; HVMSG_NONE (0) = slot free.
 * - `payload_size` u8 @4: payload bytes, 0..240.
 * - `message_flags` u8 @5: see {@link HvMessageFlags}.
 * - `reserved` 2 bytes @6.
 * - `sender` u64 @8: sender partition id, or (as a u32 `hv_port_id`) the origination port.
 */
export const HvMessageHeader = {
  message_type: { offset: 0, size: 4 },
  payload_size: { offset: 4, size: 1 },
  message_flags: { offset: 5, size: 1 },
  reserved: { offset: 6, size: 2 },
  sender: { offset: 8, size: 8 },
} as const;

/**
 * Bits of the `message_flags` byte (`union hv_message_flags`):
 * - `msg_pending` bit 0: another message is queued for this SINT; the guest writes
 *   HV_X64_MSR_EOM after freeing the slot so the hypervisor redelivers.
 */
export const HvMessageFlags = Object.freeze({
  msg_pending: bitField(0, 1),
});

/** Size in bytes of the SIMP message page: 16 slots (one per SINT) x 256 = 4096. TLFS §11.8.4. */
export const HV_SYNIC_MESSAGE_PAGE_SIZE: number = HV_SYNIC_SINT_COUNT * HV_MESSAGE_SIZE;
/** Byte offset within the message page of the slot for SINT `sint` (0..15): `sint * 256`. */
export const hvMessageSlotOffset = (sint: number): number => sint * HV_MESSAGE_SIZE;

/** Number of event flags per SINT: 2048 (256 bytes x 8). Linux `HV_EVENT_FLAGS_COUNT`. */
export const HV_EVENT_FLAGS_COUNT = 2048;
/** Bytes of event flags per SINT: 256. Linux `HV_EVENT_FLAGS_BYTE_COUNT`. */
export const HV_EVENT_FLAGS_BYTE_COUNT = 256;
/** Size in bytes of the SIEFP event-flags page: 16 SINTs x 256 = 4096. TLFS §11.8.3. */
export const HV_SYNIC_EVENT_FLAGS_PAGE_SIZE: number = HV_SYNIC_SINT_COUNT * HV_EVENT_FLAGS_BYTE_COUNT;
/**
 * Byte offset within the event-flags page of SINT `sint`'s flags: `sint * 256`. Flag `n` of that SINT
 * is bit `n & 7` of the byte at `sint * 256 + (n >> 3)` (little-endian bit array).
 */
export const hvEventFlagsOffset = (sint: number): number => sint * HV_EVENT_FLAGS_BYTE_COUNT;

/** Message type bit 31: set for hypervisor-generated messages (`HVMSG_*` below); guest-posted types keep it clear. TLFS §11.10.1. */
export const HV_MESSAGE_TYPE_HYPERVISOR_BIT = 0x80000000;
/** Slot empty. */
export const HVMSG_NONE = 0x00000000;
/** Access to an unmapped GPA. */
export const HVMSG_UNMAPPED_GPA = 0x80000000;
/** GPA access intercept. */
export const HVMSG_GPA_INTERCEPT = 0x80000001;
/** A synthetic timer in message mode expired; payload `HvTimerMessagePayload`. TLFS §12.4. */
export const HVMSG_TIMER_EXPIRED = 0x80000010;
/** Invalid VP register value. */
export const HVMSG_INVALID_VP_REGISTER_VALUE = 0x80000020;
/** Unrecoverable exception in the guest. */
export const HVMSG_UNRECOVERABLE_EXCEPTION = 0x80000021;
/** Unsupported feature used. */
export const HVMSG_UNSUPPORTED_FEATURE = 0x80000022;
/** Event log buffer complete. */
export const HVMSG_EVENTLOG_BUFFERCOMPLETE = 0x80000040;
/** x64 I/O port intercept. */
export const HVMSG_X64_IOPORT_INTERCEPT = 0x80010000;
/** x64 MSR intercept. */
export const HVMSG_X64_MSR_INTERCEPT = 0x80010001;
/** x64 CPUID intercept. */
export const HVMSG_X64_CPUID_INTERCEPT = 0x80010002;
/** x64 exception intercept. */
export const HVMSG_X64_EXCEPTION_INTERCEPT = 0x80010003;
/** x64 APIC EOI. */
export const HVMSG_X64_APIC_EOI = 0x80010004;
/** x64 legacy floating-point error. */
export const HVMSG_X64_LEGACY_FP_ERROR = 0x80010005;

/** Name of every `HVMSG_*` value above, by value (Linux `enum hv_message_type`). */
export const HVMSG_NAMES: ReadonlyMap<number, string> = new Map<number, string>([
  [HVMSG_NONE, "HVMSG_NONE"],
  [HVMSG_UNMAPPED_GPA, "HVMSG_UNMAPPED_GPA"],
  [HVMSG_GPA_INTERCEPT, "HVMSG_GPA_INTERCEPT"],
  [HVMSG_TIMER_EXPIRED, "HVMSG_TIMER_EXPIRED"],
  [HVMSG_INVALID_VP_REGISTER_VALUE, "HVMSG_INVALID_VP_REGISTER_VALUE"],
  [HVMSG_UNRECOVERABLE_EXCEPTION, "HVMSG_UNRECOVERABLE_EXCEPTION"],
  [HVMSG_UNSUPPORTED_FEATURE, "HVMSG_UNSUPPORTED_FEATURE"],
  [HVMSG_EVENTLOG_BUFFERCOMPLETE, "HVMSG_EVENTLOG_BUFFERCOMPLETE"],
  [HVMSG_X64_IOPORT_INTERCEPT, "HVMSG_X64_IOPORT_INTERCEPT"],
  [HVMSG_X64_MSR_INTERCEPT, "HVMSG_X64_MSR_INTERCEPT"],
  [HVMSG_X64_CPUID_INTERCEPT, "HVMSG_X64_CPUID_INTERCEPT"],
  [HVMSG_X64_EXCEPTION_INTERCEPT, "HVMSG_X64_EXCEPTION_INTERCEPT"],
  [HVMSG_X64_APIC_EOI, "HVMSG_X64_APIC_EOI"],
  [HVMSG_X64_LEGACY_FP_ERROR, "HVMSG_X64_LEGACY_FP_ERROR"],
]);

/**
 * HV_X64_MSR_SINTx (0x40000090 + x) layout (`union hv_synic_sint`), TLFS §11.8.6:
 * - `vector` 7:0: interrupt vector; an unmasked vector below 16 is invalid (#GP in KVM).
 * - `reserved1` 15:8.
 * - `masked` 16: 1 = SINT masked (reset value 0x10000).
 * - `auto_eoi` 17: the hypervisor performs the EOI on delivery.
 * - `polling` 18: polling mode (CPUID 0x40000003.EDX[17]).
 * - `reserved2` 63:19.
 */
export const HvSynicSint = Object.freeze({
  vector: bitRange(7, 0),
  reserved1: bitRange(15, 8),
  masked: bitField(16, 1),
  auto_eoi: bitField(17, 1),
  polling: bitField(18, 1),
  reserved2: bitRange(63, 19),
});

/** Reset value of every SINTx MSR: masked, vector 0 (0x10000). Linux `HV_SYNIC_SINT_MASKED`. */
export const HV_SYNIC_SINT_RESET = 0x10000;
/** Lowest vector an unmasked SINT may use: 16. Linux `HV_SYNIC_FIRST_VALID_VECTOR`. */
export const HV_SYNIC_FIRST_VALID_VECTOR = 16;

/** HV_X64_MSR_SCONTROL (0x40000080) layout: `enable` bit 0 enables the SynIC. TLFS §11.8.1; Linux `HV_SYNIC_CONTROL_ENABLE`. */
export const HvSynicScontrol = Object.freeze({
  enable: bitField(0, 1),
});

/** Value of the read-only HV_X64_MSR_SVERSION (0x40000081): 1. TLFS §11.8.2; Linux `HV_SYNIC_VERSION_1`. */
export const HV_SYNIC_VERSION_1 = 1;
