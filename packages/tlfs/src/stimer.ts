/**
 * Synthetic timers (STIMER0-3): the STIMERx_CONFIG layout and the HVMSG_TIMER_EXPIRED payload.
 * TLFS §12.4 "Synthetic Timers"; Linux `hyperv-tlfs.h` (`union hv_stimer_config`,
 * `struct hv_timer_message_payload`), `drivers/clocksource/hyperv_timer.c`. STIMERx_COUNT is an
 * absolute expiry time in 100 ns reference-time units (`HV_CLOCK_HZ`).
 * @module
 */

import { bitField, bitRange } from "./bits.ts";

/**
 * HV_X64_MSR_STIMERx_CONFIG (0x400000B0 + 2x) layout (`union hv_stimer_config`), TLFS §12.4.1:
 * - `enable` 0: the timer is armed.
 * - `periodic` 1: periodic (count = period) rather than one-shot (count = absolute expiry).
 * - `lazy` 2: lazy (the expiry may be coalesced).
 * - `auto_enable` 3: a non-zero write of STIMERx_COUNT sets `enable`.
 * - `apic_vector` 11:4: vector for direct mode.
 * - `direct_mode` 12: deliver as an APIC interrupt on `apic_vector` instead of a SynIC message
 *   (requires CPUID 0x40000003.EDX[19]).
 * - `reserved_z0` 15:13.
 * - `sintx` 19:16: SINT that receives HVMSG_TIMER_EXPIRED in message mode.
 * - `reserved_z1` 63:20.
 *
 * Linux writes 0x1ED9 (enable, auto_enable, vector 0xED, direct mode) in `hv_stimer_init`.
 */
export const HvStimerConfig = Object.freeze({
  enable: bitField(0, 1),
  periodic: bitField(1, 1),
  lazy: bitField(2, 1),
  auto_enable: bitField(3, 1),
  apic_vector: bitRange(11, 4),
  direct_mode: bitField(12, 1),
  reserved_z0: bitRange(15, 13),
  sintx: bitRange(19, 16),
  reserved_z1: bitRange(63, 20),
});

/**
 * Byte layout of the HVMSG_TIMER_EXPIRED payload (`struct hv_timer_message_payload`), offsets from
 * the start of the message payload (slot offset 16):
 * - `timer_index` u32 @0: which STIMER (0..3).
 * - `reserved` u32 @4.
 * - `expiration_time` u64 @8: when it was due, 100 ns reference time.
 * - `delivery_time` u64 @16: when the message was delivered, 100 ns reference time.
 */
export const HvTimerMessagePayload = {
  timer_index: { offset: 0, size: 4 },
  reserved: { offset: 4, size: 4 },
  expiration_time: { offset: 8, size: 8 },
  delivery_time: { offset: 16, size: 8 },
} as const;

/** `payload_size` of a timer message: 24 bytes (`sizeof(struct hv_timer_message_payload)`, as KVM sets it). */
export const HV_TIMER_MESSAGE_PAYLOAD_SIZE = 24;
