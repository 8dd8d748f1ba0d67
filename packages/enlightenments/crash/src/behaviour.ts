/**
 * Behaviour of `hv-crash`: the guest crash MSRs CRASH_P0..P4 and CRASH_CTL, with the declared
 * per-partition state, and the crash report raised through {@link PartitionEvents.crash}.
 * @module
 */
import {
  fieldMaskHi,
  HV_CRASH_CTL_CRASH_NOTIFY,
  HV_CRASH_CTL_CRASH_NOTIFY_MSG,
  HV_CRASH_MAX_MESSAGE_BYTES,
  HV_CRASH_PARAMETER_COUNT,
  HV_X64_MSR_CRASH_CTL,
  HV_X64_MSR_CRASH_P0,
  HvCrashCtl,
} from "@hv/tlfs";
import {
  defineState,
  type GuestCrashReport,
  type GuestMemory,
  MsrOutcome,
  type PluginHandlers,
  type StateViews,
  u64Get,
  type VpView,
} from "@hv/x86";

/** The plugin's name, which is also the owner of its declared state. */
export const CRASH = "crash";

/**
 * What CRASH_CTL reads back: the capabilities hv offers, CrashNotify (bit 63) | CrashMessage
 * (bit 62) = 0xC000000000000000, since hv delivers the message a guest leaves at P3/P4 (Linux then
 * uses its kmsg-dump path, `hv_kmsg_dump`). Note: KVM itself keeps only bit 63 of what QEMU sets
 * (`kvm_hv_msr_set_crash_ctl`: `data & HV_CRASH_CTL_CRASH_NOTIFY`).
 */
export const CRASH_CTL_CAPABILITIES = HV_CRASH_CTL_CRASH_NOTIFY | HV_CRASH_CTL_CRASH_NOTIFY_MSG;

/** CRASH_CTL bit 63 (CrashNotify) within the high half of the value. */
const NOTIFY_HI = fieldMaskHi(HvCrashCtl.crash_notify);
/** CRASH_CTL bit 62 (CrashMessage) within the high half of the value. */
const MESSAGE_HI = fieldMaskHi(HvCrashCtl.crash_message);

const TWO_32 = 0x1_0000_0000;

/**
 * Per-partition crash state (KVM keeps it per VM, `struct kvm_hv`):
 * - `p[n]` (u64 × 5): CRASH_Pn as the guest wrote it, any value, 0 at power-on (Windows puts the
 *   bugcheck code and four parameters there; Linux err / guest id / RIP / RAX / RSP, or 0, 0, 0,
 *   message GPA, message length);
 * - `ctl` (u64): what CRASH_CTL reads back, the capabilities {@link CRASH_CTL_CAPABILITIES}; guest
 *   writes never change it (KVM stores only host-initiated writes).
 */
export const crashPartitionState = defineState({
  version: 1,
  fields: {
    p: { type: "u64", count: HV_CRASH_PARAMETER_COUNT, doc: "HV_X64_MSR_CRASH_P0..P4 as written by the guest" },
    ctl: { type: "u64", reset: CRASH_CTL_CAPABILITIES, doc: "HV_X64_MSR_CRASH_CTL as read: host capabilities (bit 63 CrashNotify, bit 62 CrashMessage)" },
  },
});

/** Typed views of {@link crashPartitionState}. */
export type CrashViews = StateViews<typeof crashPartitionState.spec.fields>;

/**
 * The crash message a guest left in RAM (CrashMessage protocol: P3 = GPA, P4 = length in bytes).
 *
 * - `gpaLo`/`gpaHi`, `lenLo`/`lenHi`: P3 and P4 as u32 halves (any values).
 * - The length is capped at {@link HV_CRASH_MAX_MESSAGE_BYTES} (4096); a range that does not lie in
 *   RAM after the cap gives `undefined` (no message), never a throw. The range may cross pages
 *   (RAM is contiguous). Length 0 at a GPA within RAM gives "".
 * - The bytes are read only through `memory` (bounds-checked), copied with NUL bytes dropped and
 *   decoded as UTF-8 (invalid sequences become U+FFFD).
 *
 * Edge code: allocates; called only when the guest reports a crash.
 */
export function readCrashMessage(memory: GuestMemory, gpaLo: number, gpaHi: number, lenLo: number, lenHi: number): string | undefined {
  const gpa = (gpaHi >>> 0) * TWO_32 + (gpaLo >>> 0);
  const len = lenHi !== 0 || lenLo >>> 0 > HV_CRASH_MAX_MESSAGE_BYTES ? HV_CRASH_MAX_MESSAGE_BYTES : lenLo >>> 0;
  const bytes = memory.slice(gpa, len);
  if (bytes === undefined) return undefined;
  const copy = new Uint8Array(len);
  let n = 0;
  for (let i = 0; i < len; i++) if (bytes[i] !== 0) copy[n++] = bytes[i];
  return new TextDecoder("utf-8", { fatal: false }).decode(copy.subarray(0, n));
}

/**
 * The report of a crash the guest signalled on `vp` by writing `control` (`lo`/`hi`) to CRASH_CTL:
 * `parameters` = CRASH_P0..P4 from `s`, `control` as written, and `message` only when the written
 * value has CrashMessage (bit 62) and {@link readCrashMessage} found the range in RAM.
 * Edge code: allocates (BigInts, the message); called once per crash notification.
 */
export function crashReport(vp: VpView, s: CrashViews, lo: number, hi: number): GuestCrashReport {
  const parameters: bigint[] = [];
  for (let n = 0; n < HV_CRASH_PARAMETER_COUNT; n++) parameters.push(u64Get(s.p, n));
  const control = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
  const message = (hi & MESSAGE_HI) !== 0 ? readCrashMessage(vp.partition.memory, s.p[6], s.p[7], s.p[8], s.p[9]) : undefined;
  return message === undefined ? { vp: vp.index, parameters, control } : { vp: vp.index, parameters, control, message };
}

/**
 * The handlers of `hv-crash` (built once per partition by `create`, over `state`, the partition's
 * {@link crashPartitionState} views):
 * - CRASH_P0..P4: RDMSR returns the stored value; WRMSR stores any value.
 * - CRASH_CTL RDMSR: `ctl`, the capabilities (CrashNotify | CrashMessage).
 * - CRASH_CTL WRMSR: never #GP. With CrashNotify (bit 63) set, raises
 *   `partition.events.crash(report)` ({@link crashReport}); every such write raises one. Without
 *   bit 63 the write is accepted and has no effect. Neither changes what CRASH_CTL reads.
 * - Any other MSR: NotMine.
 * Exit path: no allocation except building the crash report (once per crash).
 * Source: TLFS "Guest Crash Reporting"; KVM `kvm_hv_msr_set_crash_ctl`/`_crash_data`
 * (KVM_REQ_HV_CRASH -> KVM_SYSTEM_EVENT_CRASH); Linux `hv_common.c` (`hyperv_report_panic`, `hv_kmsg_dump`).
 */
export function crashHandlers(state: CrashViews): PluginHandlers {
  const p = state.p, ctl = state.ctl;
  return {
    rdmsr(_vp, msr) {
      const n = msr.index - HV_X64_MSR_CRASH_P0;
      if (n >= 0 && n < HV_CRASH_PARAMETER_COUNT) {
        msr.lo = p[2 * n];
        msr.hi = p[2 * n + 1];
      } else if (msr.index === HV_X64_MSR_CRASH_CTL) {
        msr.lo = ctl[0];
        msr.hi = ctl[1];
      } else {
        return MsrOutcome.NotMine;
      }
      return MsrOutcome.Ok;
    },
    wrmsr(vp, msr) {
      const n = msr.index - HV_X64_MSR_CRASH_P0;
      if (n >= 0 && n < HV_CRASH_PARAMETER_COUNT) {
        p[2 * n] = msr.lo;
        p[2 * n + 1] = msr.hi;
      } else if (msr.index === HV_X64_MSR_CRASH_CTL) {
        if ((msr.hi & NOTIFY_HI) !== 0) vp.partition.events.crash(crashReport(vp, state, msr.lo, msr.hi));
      } else {
        return MsrOutcome.NotMine;
      }
      return MsrOutcome.Ok;
    },
  };
}
