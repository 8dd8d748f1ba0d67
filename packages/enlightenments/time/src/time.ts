import { HV_X64_MSR_REFERENCE_TSC, HV_X64_MSR_TIME_REF_COUNT, HvPrivilegeEax } from "@hv/tlfs";
import { defineState, definePlugin } from "@hv/x86";
import { timeHandlers } from "./behaviour.ts";

/**
 * Per-partition time state (shared by every VP; all 0 at power-on and after a reset):
 * - `reference_tsc`: HV_X64_MSR_REFERENCE_TSC as written (u64: bit 0 enable, bits 63:12 GPA page
 *   number, bits 11:1 kept as written: no reserved-bit check, as KVM);
 * - `tsc_sequence`: the last `tsc_sequence` published in the reference TSC page (0 = never
 *   published; updates skip 0 and 0xFFFFFFFF, as KVM does);
 * - `params_seq`: sequence lock over `tsc_scale`/`tsc_offset` (odd while a writer changes them or
 *   writes the page; readers retry), so every vCPU thread reads a consistent pair;
 * - `tsc_scale`, `tsc_offset`: the partition's current reference-time parameters (u64 and s64 as
 *   two u32 words), which TIME_REF_COUNT uses at every read and the page publishes. Both 0 means
 *   "the initial ones": `floor((10^7 << 64) / tscHz)` and offset 0. They are stored when the page
 *   is first published and when the TSC frequency changes (new scale, offset chosen so that
 *   reference time is continuous).
 */
export const timePartitionState = defineState({
  version: 3,
  fields: {
    reference_tsc: { type: "u64", doc: "HV_X64_MSR_REFERENCE_TSC: bit 0 enable, bits 63:12 GPA page number" },
    tsc_sequence: { type: "u32", doc: "tsc_sequence last written into the reference TSC page (0: never)" },
    params_seq: { type: "u32", doc: "sequence lock over tsc_scale/tsc_offset (odd: being written)" },
    tsc_scale: { type: "u64", doc: "current reference-time scale (0: initial, floor((10^7 << 64) / tscHz))" },
    tsc_offset: { type: "u64", doc: "current reference-time offset in 100 ns (s64, two's complement; 0 until a frequency change)" },
  },
});

/**
 * Per-VP time state: the last TIME_REF_COUNT this VP returned (`ref_last`) and a copy of its high
 * word written before it (`ref_last_hi_first`), so that other VPs read it consistently without a
 * lock (see `monotonic.ts`). Written only by the VP itself; 0 at power-on.
 */
export const timeVpState = defineState({
  version: 1,
  fields: {
    ref_last: { type: "u64", doc: "last HV_X64_MSR_TIME_REF_COUNT value this VP returned (100 ns)" },
    ref_last_hi_first: { type: "u32", doc: "copy of ref_last's high word, stored first (Lamport's multi-word read)" },
  },
});

/**
 * `hv-time`: 0x40000003.EAX[1] AccessPartitionReferenceCounter and EAX[9]
 * AccessPartitionReferenceTsc.
 *
 * MSRs:
 * - HV_X64_MSR_TIME_REF_COUNT 0x40000020, read-only (gate EAX[1]): partition reference time in
 *   100 ns units, computed from the guest TSC with the same scale/offset as the page; WRMSR -> #GP.
 * - HV_X64_MSR_REFERENCE_TSC 0x40000021, read/write (gate EAX[9]): no reserved-bit check; when bit 0
 *   is set the page at GPA[63:12] holds a valid {tsc_sequence, scale, offset} before the guest runs
 *   again; with bit 0 clear the page is never written.
 * Any access without its gate bit -> #GP. Reference time is `((guest_tsc * scale) >> 64) + offset`
 * with `scale = floor((10^7 << 64) / tscHz)` and offset 0 (the guest TSC in 100 ns units); the MSR
 * never steps back on any VP. On a TSC frequency change (`tscFrequencyChanged`) the page gets the new
 * scale, an offset that keeps reference time continuous and a new sequence; while hv-reenlightenment
 * holds the change (TSC emulation), nothing changes. Behaviour: `timeHandlers` (behaviour.ts).
 * Source: TLFS §12.3 and §12.7; KVM `get_time_ref_counter`, `kvm_hv_setup_tsc_page`; QEMU `HYPERV_FEAT_TIME`.
 */
export const time = definePlugin({
  name: "time",
  summary: "Partition reference time: a 100 ns counter MSR and the reference TSC page the guest reads without exits",
  requires: [],
  cpuid: { set: [HvPrivilegeEax.AccessPartitionReferenceCounter, HvPrivilegeEax.AccessPartitionReferenceTsc] },
  msrs: [
    { index: HV_X64_MSR_TIME_REF_COUNT, name: "HV_X64_MSR_TIME_REF_COUNT", access: "ro", gate: HvPrivilegeEax.AccessPartitionReferenceCounter },
    { index: HV_X64_MSR_REFERENCE_TSC, name: "HV_X64_MSR_REFERENCE_TSC", access: "rw", gate: HvPrivilegeEax.AccessPartitionReferenceTsc },
  ],
  hypercalls: [],
  state: { partition: timePartitionState, vp: timeVpState },
  emulator: { supported: true },
  passthrough: { capabilities: ["KVM_CAP_HYPERV_TIME"] },
  formats: {
    qemu: { property: "hv-time" },
    libvirt: { clockTimer: "hypervclock" },
    kubevirt: { clockTimer: "hyperv" },
  },
  docs: {
    description: "Advertises the partition reference counter MSR (100 ns ticks) and the reference TSC page (0x40000003.EAX[1], [9]): a shared page with scale and offset from which the guest computes reference time from RDTSC.",
    guestGains: "A stable, cheap clock source: reading time costs an RDTSC instead of an exit (Linux: hyperv_clocksource_tsc_page; Windows: no more HPET/PM-timer reads).",
    windows: "The reference TSC page is supported on Windows 7 / 2008 R2 and later (Requirements PDF); every profile enables it (Proxmox from machine 2.3, virt-install and Nova as <timer name='hypervclock'>).",
    sources: [
      "TLFS §12.3 Partition Reference Counter; §12.7 Reference TSC Page",
      "QEMU hv-time (HYPERV_FEAT_TIME); libvirt <timer name='hypervclock'>",
      "KVM arch/x86/kvm/hyperv.c get_time_ref_counter, kvm_hv_setup_tsc_page",
    ],
  },
  create: ({ partition }) => timeHandlers(partition),
});
