/**
 * `@hv/apic`: a userspace local APIC for backends that run without KVM's in-kernel irqchip (needed
 * for SynIC auto-EOI and exit-less EOI): xAPIC MMIO, x2APIC MSRs, IA32_APIC_BASE mode switches,
 * TPR/PPR, IRR/ISR/TMR with auto-EOI, EOI forwarding, IPIs from the ICR, INIT/SIPI, and the
 * one-shot/periodic/TSC-deadline timer. State lives in declared shared memory. Knows nothing of KVM
 * beyond reading and writing the `kvm_lapic_state` page layout.
 * @module
 */
export * from "./src/consts.ts";
export * from "./src/state.ts";
export * from "./src/apic.ts";
export * from "./src/bus.ts";
export * from "./src/pv_eoi.ts";
export * from "./src/hyperv.ts";
