/**
 * Behaviour of `hv-reenlightenment`: the three partition-wide MSRs, their declared state, and the
 * hook the TSC-frequency-change path will call ({@link reenlightenmentNotify}).
 * @module
 */
import {
  fieldGet,
  fieldSet,
  HV_X64_MSR_REENLIGHTENMENT_CONTROL,
  HV_X64_MSR_TSC_EMULATION_CONTROL,
  HV_X64_MSR_TSC_EMULATION_STATUS,
  HvReenlightenmentControl,
  HvTscEmulationControl,
  HvTscEmulationStatus,
} from "@hv/tlfs";
import { defineState, MsrOutcome, type PartitionView, type PluginHandlers, type StateViews } from "@hv/x86";

/** The plugin's name, which is also the owner of its declared state. */
export const REENLIGHTENMENT = "reenlightenment";

/**
 * Per-partition reenlightenment state (KVM keeps it per VM, `struct kvm_hv`), each u64 as written,
 * 0 at power-on:
 * - `control`: REENLIGHTENMENT_CONTROL, [7:0] vector, bit 16 enable, [63:32] target VP;
 * - `emulation_control`: TSC_EMULATION_CONTROL, bit 0 enable (while non-zero KVM freezes the TSC page);
 * - `emulation_status`: TSC_EMULATION_STATUS, bit 0 emulation in progress (only the host sets it;
 *   the guest may only write 0).
 */
export const reenlightenmentPartitionState = defineState({
  version: 1,
  fields: {
    control: { type: "u64", doc: "HV_X64_MSR_REENLIGHTENMENT_CONTROL: [7:0] vector, bit 16 enable, [63:32] target VP" },
    emulation_control: { type: "u64", doc: "HV_X64_MSR_TSC_EMULATION_CONTROL: bit 0 enable" },
    emulation_status: { type: "u64", doc: "HV_X64_MSR_TSC_EMULATION_STATUS: bit 0 in progress" },
  },
});

/** Typed views of {@link reenlightenmentPartitionState}. */
export type ReenlightenmentViews = StateViews<typeof reenlightenmentPartitionState.spec.fields>;

/** The u64 field (control, emulation_control, emulation_status) an MSR index maps to, or undefined. */
const fieldOf = (s: ReenlightenmentViews, index: number): Uint32Array | undefined =>
  index === HV_X64_MSR_REENLIGHTENMENT_CONTROL ? s.control
  : index === HV_X64_MSR_TSC_EMULATION_CONTROL ? s.emulation_control
  : index === HV_X64_MSR_TSC_EMULATION_STATUS ? s.emulation_status
  : undefined;

/**
 * The handlers of `hv-reenlightenment` (built once per partition by `create`, over `state`, the
 * partition's {@link reenlightenmentPartitionState} views). All three MSRs are read/write and read
 * back what was stored; no reserved-bit checks (KVM `kvm_hv_set_msr_pw` stores the values as written):
 * - REENLIGHTENMENT_CONTROL: any value is stored ([7:0] vector, bit 16 enable, [63:32] target VP;
 *   garbage in the reserved bits, a vector below 16 or a target VP that does not exist is stored
 *   too, and only matters to {@link reenlightenmentNotify});
 * - TSC_EMULATION_CONTROL: any value is stored;
 * - TSC_EMULATION_STATUS: the guest may write only 0 (stored); any non-zero value -> #GP, state
 *   unchanged (KVM: `if (data && !host) return 1`; hyperv_features.c writes 1 and expects #GP).
 * - Any other MSR: NotMine.
 * Exit path: no allocation.
 */
export function reenlightenmentHandlers(state: ReenlightenmentViews): PluginHandlers {
  return {
    rdmsr(_vp, msr) {
      const f = fieldOf(state, msr.index);
      if (f === undefined) return MsrOutcome.NotMine;
      msr.lo = f[0];
      msr.hi = f[1];
      return MsrOutcome.Ok;
    },
    wrmsr(_vp, msr) {
      const f = fieldOf(state, msr.index);
      if (f === undefined) return MsrOutcome.NotMine;
      if (f === state.emulation_status && (msr.lo !== 0 || msr.hi !== 0)) return MsrOutcome.Gp;
      f[0] = msr.lo;
      f[1] = msr.hi;
      return MsrOutcome.Ok;
    },
  };
}

/**
 * Whether the guest asked for TSC emulation (TSC_EMULATION_CONTROL non-zero). While it is, KVM
 * leaves the reference TSC page as it is (`kvm_hv_setup_tsc_page`), so a time plugin rewriting
 * the page should skip the rewrite. Reads `partition.state("reenlightenment")`; call only when
 * hv-reenlightenment is composed.
 */
export function tscEmulationRequested(partition: PartitionView): boolean {
  const s = partition.state(REENLIGHTENMENT) as unknown as ReenlightenmentViews;
  return s.emulation_control[0] !== 0 || s.emulation_control[1] !== 0;
}

/**
 * HOOK, not called by any backend yet: what the TSC-frequency-change path (e.g. after a migration
 * to a host with another TSC frequency) must do for a reenlightenment guest (TLFS "Reenlightenment
 * notification"; Linux `hv_reenlightenment_notify` / `hv_stop_tsc_emulation`):
 * 1. if TSC_EMULATION_CONTROL.enabled, set TSC_EMULATION_STATUS.inprogress (the backend keeps
 *    the old TSC frequency visible until the guest clears the status by writing 0);
 * 2. if REENLIGHTENMENT_CONTROL.enabled and the target VP exists and the vector is 16..255, raise
 *    that vector (fixed, no auto-EOI) on the target VP.
 * Returns whether an interrupt was raised. The backend's own part (TSC scaling, frequency update,
 * TSC page parameters) is not here. Edge code, once per frequency change.
 */
export function reenlightenmentNotify(partition: PartitionView): boolean {
  const s = partition.state(REENLIGHTENMENT) as unknown as ReenlightenmentViews;
  if (fieldGet(s.emulation_control[0], s.emulation_control[1], HvTscEmulationControl.enabled) !== 0) {
    fieldSet(s.emulation_status[0], s.emulation_status[1], HvTscEmulationStatus.inprogress, 1, s.emulation_status);
  }
  const c = s.control;
  if (fieldGet(c[0], c[1], HvReenlightenmentControl.enabled) === 0) return false;
  const vector = fieldGet(c[0], c[1], HvReenlightenmentControl.vector);
  const target = partition.vp(fieldGet(c[0], c[1], HvReenlightenmentControl.target_vp));
  if (target === undefined || vector < 16) return false; // vectors 0..15 are exceptions, not interrupts

  target.requestInterrupt(vector, false);
  return true;
}
