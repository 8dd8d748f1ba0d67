/**
 * The local APIC's declared per-VP state: every register lives in shared memory so that other
 * threads (an IPI sender, the timer thread, a device model) can post interrupts with `Atomics` on
 * the IRR/TMR words and the event word, and so that save/restore/inspection come for free.
 * @module
 */
import { defineState, type StateViews } from "@hv/x86";

/** The per-VP APIC state layout (owner name {@link APIC_STATE_OWNER} by convention). */
export const APIC_STATE = defineState({
  version: 1,
  fields: {
    apicBase: { type: "u64", reset: 0xfee00800n, doc: "IA32_APIC_BASE (BSP bit set by LocalApic.reset)" },
    id: { type: "u32", doc: "ID register as the guest reads it (xAPIC: id << 24; x2APIC: full id)" },
    version: { type: "u32", reset: 0x50014, doc: "version register" },
    tpr: { type: "u32", doc: "task priority" },
    ldr: { type: "u32", doc: "logical destination" },
    dfr: { type: "u32", reset: 0xffffffff, doc: "destination format (xAPIC)" },
    svr: { type: "u32", reset: 0xff, doc: "spurious vector; bit 8 = APIC software enable" },
    esr: { type: "u32", doc: "error status as last latched by an ESR write" },
    esrPending: { type: "u32", doc: "errors recorded since the last ESR write (posted with Atomics)" },
    icrLo: { type: "u32", doc: "ICR bits 31:0" },
    icrHi: { type: "u32", doc: "ICR bits 63:32" },
    lvt: { type: "u32", count: 6, reset: 0x10000, doc: "LVT timer, thermal, perf, LINT0, LINT1, error" },
    timerInitial: { type: "u32", doc: "timer initial count" },
    timerDivide: { type: "u32", doc: "timer divide configuration" },
    irr: { type: "u32", count: 8, doc: "interrupt request register (posted with Atomics)" },
    isr: { type: "u32", count: 8, doc: "in-service register" },
    tmr: { type: "u32", count: 8, doc: "trigger mode register (1 = level)" },
    aeoi: { type: "u32", count: 8, doc: "vectors in IRR to be acknowledged without entering ISR (auto-EOI)" },
    events: { type: "u32", doc: "posted ApicEvent bits (NMI, INIT, SIPI, SMI)" },
    sipiVector: { type: "u32", doc: "vector of the last posted SIPI" },
    mpState: { type: "u32", doc: "MpState: 0 runnable, 1 waiting for SIPI" },
    timerStart: { type: "f64", doc: "host ns when the initial count was last written" },
    timerDeadline: { type: "f64", doc: "host ns the timer is armed for; 0 when not armed" },
    tscDeadline: { type: "u64", doc: "IA32_TSC_DEADLINE" },
  },
});

/** Conventional state owner name (and timer owner) of the APIC. */
export const APIC_STATE_OWNER = "apic";

/** Typed views of one APIC's state. */
export type ApicViews = StateViews<typeof APIC_STATE.spec.fields>;
