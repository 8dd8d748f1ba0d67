/**
 * Guest crash reporting MSRs (HV_X64_MSR_CRASH_P0-P4, HV_X64_MSR_CRASH_CTL). TLFS "Guest Crash
 * Reporting"; Linux `hyperv-tlfs.h` (`HV_CRASH_CTL_*`), `drivers/hv/hv_common.c`
 * (`hv_kmsg_dump`, `hyperv_report_panic`). Gated by CPUID 0x40000003.EDX[10].
 *
 * Notify mode: P0 = error code, P1 = guest OS id, P2 = RIP, P3 = RAX, P4 = RSP, then CTL = CrashNotify.
 * Message mode: P0-P2 = 0, P3 = GPA of the message buffer, P4 = its length in bytes (<= 4096), then
 * CTL = CrashNotify | CrashMessage.
 * @module
 */

import { bitField, bitRange } from "./bits.ts";

/**
 * HV_X64_MSR_CRASH_CTL (0x40000105) layout. Read: the capabilities the host offers. Write with
 * `crash_notify` set: the guest crashed, P0-P4 are valid.
 * - `reserved` 61:0.
 * - `crash_message` 62: P3/P4 describe a message buffer (TLFS "CrashMessage"; Linux `HV_CRASH_CTL_CRASH_NOTIFY_MSG`).
 * - `crash_notify` 63: crash notification (TLFS "CrashNotify"; Linux `HV_CRASH_CTL_CRASH_NOTIFY`).
 */
export const HvCrashCtl = Object.freeze({
  reserved: bitRange(61, 0),
  crash_message: bitField(62, 1),
  crash_notify: bitField(63, 1),
});

/** CRASH_CTL bit 63 as a u64: 0x8000000000000000. Linux `HV_CRASH_CTL_CRASH_NOTIFY`. */
export const HV_CRASH_CTL_CRASH_NOTIFY = 0x8000000000000000n;
/** CRASH_CTL bit 62 as a u64: 0x4000000000000000. Linux `HV_CRASH_CTL_CRASH_NOTIFY_MSG`. */
export const HV_CRASH_CTL_CRASH_NOTIFY_MSG = 0x4000000000000000n;
/** Largest crash message (P4) in bytes: one page, 4096. Linux `hv_kmsg_dump` (HV_HYP_PAGE_SIZE). */
export const HV_CRASH_MAX_MESSAGE_BYTES = 4096;
/** Number of crash parameter MSRs (P0..P4): 5. */
export const HV_CRASH_PARAMETER_COUNT = 5;
