/**
 * Synthetic MSR indices of the Hyper-V interface (TLFS Appendix "Hypervisor Synthetic MSRs";
 * Linux `hyperv-tlfs.h`). Values are MSR numbers as used by RDMSR/WRMSR in ECX.
 * @module
 */

/** First MSR of the range Hyper-V reserves for synthetic MSRs (0x40000000..0x400001FF is what hv routes). */
export const HV_X64_MSR_RANGE_FIRST = 0x40000000;
/** Last MSR of the routed synthetic range (inclusive). */
export const HV_X64_MSR_RANGE_LAST = 0x400001ff;

/** Guest OS identity, partition-wide; see {@link ./guest_os_id.ts}. TLFS §3.6. */
export const HV_X64_MSR_GUEST_OS_ID = 0x40000000;
/** Hypercall page: bit 0 enable, bits 63:12 GPA page number. TLFS §3.13. */
export const HV_X64_MSR_HYPERCALL = 0x40000001;
/** This VP's index, read-only. TLFS §7.8.1. */
export const HV_X64_MSR_VP_INDEX = 0x40000002;
/** Partition reset: writing 1 (bit 0) resets the system. */
export const HV_X64_MSR_RESET = 0x40000003;
/** VP run time in 100 ns units, read-only. TLFS §7.7.1. */
export const HV_X64_MSR_VP_RUNTIME = 0x40000010;
/** Partition reference counter in 100 ns units, read-only. TLFS §12.3. */
export const HV_X64_MSR_TIME_REF_COUNT = 0x40000020;
/** Reference TSC page: bit 0 enable, bits 63:12 GPA page number. TLFS §12.7. */
export const HV_X64_MSR_REFERENCE_TSC = 0x40000021;
/** TSC frequency in Hz, read-only. */
export const HV_X64_MSR_TSC_FREQUENCY = 0x40000022;
/** Local APIC timer frequency in Hz, read-only. */
export const HV_X64_MSR_APIC_FREQUENCY = 0x40000023;
/** Nested page-fault injection configuration. */
export const HV_X64_MSR_NPIEP_CONFIG = 0x40000040;
/** Fast EOI: a write performs an APIC EOI. TLFS §10.5.1. */
export const HV_X64_MSR_EOI = 0x40000070;
/** Fast ICR: 64-bit interrupt command register. TLFS §10.5.2. */
export const HV_X64_MSR_ICR = 0x40000071;
/** Fast TPR access. TLFS §10.5.3. */
export const HV_X64_MSR_TPR = 0x40000072;
/** VP assist page: bit 0 enable, bits 63:12 GPA page number. TLFS §7.8.7. */
export const HV_X64_MSR_VP_ASSIST_PAGE = 0x40000073;
/** SynIC control: bit 0 enable. TLFS §11.8.1. */
export const HV_X64_MSR_SCONTROL = 0x40000080;
/** SynIC version, read-only (1). TLFS §11.8.2. */
export const HV_X64_MSR_SVERSION = 0x40000081;
/** SynIC event flags page: bit 0 enable, bits 63:12 GPA page number. TLFS §11.8.3. */
export const HV_X64_MSR_SIEFP = 0x40000082;
/** SynIC message page: bit 0 enable, bits 63:12 GPA page number. TLFS §11.8.4. */
export const HV_X64_MSR_SIMP = 0x40000083;
/** End of message: write-only trigger for redelivery of pending messages. TLFS §11.8.5. */
export const HV_X64_MSR_EOM = 0x40000084;
/** SINT0; SINTn = SINT0 + n for n in 0..15. TLFS §11.8.6. */
export const HV_X64_MSR_SINT0 = 0x40000090;
/** SINT15, the last synthetic interrupt source. */
export const HV_X64_MSR_SINT15 = 0x4000009f;
/** Number of SINTs per VP. */
export const HV_SYNIC_SINT_COUNT = 16;
/** STIMER0_CONFIG; STIMERn_CONFIG = STIMER0_CONFIG + 2n, n in 0..3. TLFS §12.4. */
export const HV_X64_MSR_STIMER0_CONFIG = 0x400000b0;
/** STIMER0_COUNT; STIMERn_COUNT = STIMER0_COUNT + 2n. Absolute expiry in 100 ns reference time. */
export const HV_X64_MSR_STIMER0_COUNT = 0x400000b1;
/** STIMER3_COUNT, the last synthetic timer MSR. */
export const HV_X64_MSR_STIMER3_COUNT = 0x400000b7;
/** Number of synthetic timers per VP. */
export const HV_SYNIC_STIMER_COUNT = 4;
/** Guest idle: a read idles the VP until an interrupt. */
export const HV_X64_MSR_GUEST_IDLE = 0x400000f0;
/** Synthetic debugger control. */
export const HV_X64_MSR_SYNDBG_CONTROL = 0x400000f1;
/** Synthetic debugger status. */
export const HV_X64_MSR_SYNDBG_STATUS = 0x400000f2;
/** Synthetic debugger send buffer GPA. */
export const HV_X64_MSR_SYNDBG_SEND_BUFFER = 0x400000f3;
/** Synthetic debugger receive buffer GPA. */
export const HV_X64_MSR_SYNDBG_RECV_BUFFER = 0x400000f4;
/** Synthetic debugger pending buffer GPA. */
export const HV_X64_MSR_SYNDBG_PENDING_BUFFER = 0x400000f5;
/** Synthetic debugger options. */
export const HV_X64_MSR_SYNDBG_OPTIONS = 0x400000ff;
/** Guest crash parameter 0; P0..P4 are 0x40000100..0x40000104. */
export const HV_X64_MSR_CRASH_P0 = 0x40000100;
/** Guest crash parameter 4. */
export const HV_X64_MSR_CRASH_P4 = 0x40000104;
/** Guest crash control: bit 63 CrashNotify, bit 62 CrashMessage. */
export const HV_X64_MSR_CRASH_CTL = 0x40000105;
/** Reenlightenment control: [7:0] vector, bit 16 enable, [63:32] target VP. */
export const HV_X64_MSR_REENLIGHTENMENT_CONTROL = 0x40000106;
/** TSC emulation control: bit 0 enable. */
export const HV_X64_MSR_TSC_EMULATION_CONTROL = 0x40000107;
/** TSC emulation status: bit 0 in progress. */
export const HV_X64_MSR_TSC_EMULATION_STATUS = 0x40000108;
/** Synthetic time-unhalted timer config. */
export const HV_X64_MSR_STIME_UNHALTED_TIMER_CONFIG = 0x40000114;
/** Synthetic time-unhalted timer count. */
export const HV_X64_MSR_STIME_UNHALTED_TIMER_COUNT = 0x40000115;
/** TSC invariant control: bit 0 exposes invariant TSC. */
export const HV_X64_MSR_TSC_INVARIANT_CONTROL = 0x40000118;

/** The SINTn MSR index, n in 0..15. */
export const hvMsrSint = (n: number): number => HV_X64_MSR_SINT0 + n;
/** The STIMERn_CONFIG MSR index, n in 0..3. */
export const hvMsrStimerConfig = (n: number): number => HV_X64_MSR_STIMER0_CONFIG + 2 * n;
/** The STIMERn_COUNT MSR index, n in 0..3. */
export const hvMsrStimerCount = (n: number): number => HV_X64_MSR_STIMER0_COUNT + 2 * n;
/** The CRASH_Pn MSR index, n in 0..4. */
export const hvMsrCrashP = (n: number): number => HV_X64_MSR_CRASH_P0 + n;

/** Architectural MSRs hv touches (Intel SDM vol. 4). */
export const IA32_TSC = 0x10;
/** x2APIC MSR base (Intel SDM §10.12). */
export const IA32_X2APIC_BASE_MSR = 0x800;

/**
 * Name of every synthetic MSR hv knows, by index (for diagnostics, explain and `json` output).
 * Computed once from the constants above.
 */
export const HV_MSR_NAMES: ReadonlyMap<number, string> = new Map<number, string>([
  [HV_X64_MSR_GUEST_OS_ID, "HV_X64_MSR_GUEST_OS_ID"],
  [HV_X64_MSR_HYPERCALL, "HV_X64_MSR_HYPERCALL"],
  [HV_X64_MSR_VP_INDEX, "HV_X64_MSR_VP_INDEX"],
  [HV_X64_MSR_RESET, "HV_X64_MSR_RESET"],
  [HV_X64_MSR_VP_RUNTIME, "HV_X64_MSR_VP_RUNTIME"],
  [HV_X64_MSR_TIME_REF_COUNT, "HV_X64_MSR_TIME_REF_COUNT"],
  [HV_X64_MSR_REFERENCE_TSC, "HV_X64_MSR_REFERENCE_TSC"],
  [HV_X64_MSR_TSC_FREQUENCY, "HV_X64_MSR_TSC_FREQUENCY"],
  [HV_X64_MSR_APIC_FREQUENCY, "HV_X64_MSR_APIC_FREQUENCY"],
  [HV_X64_MSR_NPIEP_CONFIG, "HV_X64_MSR_NPIEP_CONFIG"],
  [HV_X64_MSR_EOI, "HV_X64_MSR_EOI"],
  [HV_X64_MSR_ICR, "HV_X64_MSR_ICR"],
  [HV_X64_MSR_TPR, "HV_X64_MSR_TPR"],
  [HV_X64_MSR_VP_ASSIST_PAGE, "HV_X64_MSR_VP_ASSIST_PAGE"],
  [HV_X64_MSR_SCONTROL, "HV_X64_MSR_SCONTROL"],
  [HV_X64_MSR_SVERSION, "HV_X64_MSR_SVERSION"],
  [HV_X64_MSR_SIEFP, "HV_X64_MSR_SIEFP"],
  [HV_X64_MSR_SIMP, "HV_X64_MSR_SIMP"],
  [HV_X64_MSR_EOM, "HV_X64_MSR_EOM"],
  ...Array.from({ length: 16 }, (_, n) => [hvMsrSint(n), `HV_X64_MSR_SINT${n}`] as [number, string]),
  ...Array.from({ length: 4 }, (_, n) => [
    [hvMsrStimerConfig(n), `HV_X64_MSR_STIMER${n}_CONFIG`] as [number, string],
    [hvMsrStimerCount(n), `HV_X64_MSR_STIMER${n}_COUNT`] as [number, string],
  ]).flat(),
  [HV_X64_MSR_GUEST_IDLE, "HV_X64_MSR_GUEST_IDLE"],
  [HV_X64_MSR_SYNDBG_CONTROL, "HV_X64_MSR_SYNDBG_CONTROL"],
  [HV_X64_MSR_SYNDBG_STATUS, "HV_X64_MSR_SYNDBG_STATUS"],
  [HV_X64_MSR_SYNDBG_SEND_BUFFER, "HV_X64_MSR_SYNDBG_SEND_BUFFER"],
  [HV_X64_MSR_SYNDBG_RECV_BUFFER, "HV_X64_MSR_SYNDBG_RECV_BUFFER"],
  [HV_X64_MSR_SYNDBG_PENDING_BUFFER, "HV_X64_MSR_SYNDBG_PENDING_BUFFER"],
  [HV_X64_MSR_SYNDBG_OPTIONS, "HV_X64_MSR_SYNDBG_OPTIONS"],
  ...Array.from({ length: 5 }, (_, n) => [hvMsrCrashP(n), `HV_X64_MSR_CRASH_P${n}`] as [number, string]),
  [HV_X64_MSR_CRASH_CTL, "HV_X64_MSR_CRASH_CTL"],
  [HV_X64_MSR_REENLIGHTENMENT_CONTROL, "HV_X64_MSR_REENLIGHTENMENT_CONTROL"],
  [HV_X64_MSR_TSC_EMULATION_CONTROL, "HV_X64_MSR_TSC_EMULATION_CONTROL"],
  [HV_X64_MSR_TSC_EMULATION_STATUS, "HV_X64_MSR_TSC_EMULATION_STATUS"],
  [HV_X64_MSR_STIME_UNHALTED_TIMER_CONFIG, "HV_X64_MSR_STIME_UNHALTED_TIMER_CONFIG"],
  [HV_X64_MSR_STIME_UNHALTED_TIMER_COUNT, "HV_X64_MSR_STIME_UNHALTED_TIMER_COUNT"],
  [HV_X64_MSR_TSC_INVARIANT_CONTROL, "HV_X64_MSR_TSC_INVARIANT_CONTROL"],
]);
