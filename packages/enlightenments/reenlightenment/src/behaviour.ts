/**
 * Behaviour of `hv-reenlightenment`: the three partition-wide MSRs, their declared state, and the
 * plugin's part in a TSC frequency change (`PluginHandlers.tscFrequencyChanging`, see
 * {@link reenlightenmentNotify}; the guest's acknowledgement ends the TSC emulation through
 * `PartitionView.stopTscEmulation`).
 *
 * **The protocol** (TLFS "Reenlightenment"; Linux `set_hv_tscchange_cb`, `hv_reenlightenment_notify`,
 * `hyperv_stop_tsc_emulation`): the guest (a hypervisor itself, e.g. Linux with kvm_intel) writes
 * REENLIGHTENMENT_CONTROL = vector | enable | target VP << 32 and TSC_EMULATION_CONTROL = 1. When the
 * backend announces a TSC frequency change, this plugin sets TSC_EMULATION_STATUS.InProgress, raises
 * the vector on the target VP and holds the change, so the backend keeps emulating the old frequency:
 * the guest TSC, TIME_REF_COUNT and the reference TSC page go on as before (hv-time keeps its
 * parameters), while HV_X64_MSR_TSC_FREQUENCY already reports the new frequency. The guest updates
 * its own clocks and writes TSC_EMULATION_STATUS = 0: the new frequency takes effect (hv-time
 * republishes the page, continuous) before that WRMSR returns.
 *
 * **Where hv differs from KVM.** KVM (`kvm_hv_set_msr_pw`) only stores the three MSRs: it never
 * sets TSC_EMULATION_STATUS, never raises the notification and never changes a running guest's TSC
 * frequency (userspace keeps it across migration with TSC scaling, and QEMU requires that for
 * hv-reenlightenment); while TSC_EMULATION_CONTROL is non-zero it leaves the TSC page alone on every
 * host-side clock update (`tsc_page_update_unsafe`), emulation or not. hv implements the notification
 * and the emulation hand-shake, and freezes the page exactly while an emulation is in progress. The
 * MSR rules are KVM's (below): no reserved-bit checks, STATUS accepts only 0 from the guest.
 * @module
 */
import {
  fieldGet,
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
 * - `emulation_control`: TSC_EMULATION_CONTROL, bit 0 enable (the guest wants the old TSC frequency
 *   emulated after a change until it acknowledges);
 * - `emulation_status`: TSC_EMULATION_STATUS, bit 0 emulation in progress (only the host sets it;
 *   the guest may only write 0, which is its acknowledgement).
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

/** The partition's {@link reenlightenmentPartitionState} views (hv-reenlightenment must be composed). */
const viewsOf = (partition: PartitionView): ReenlightenmentViews =>
  partition.state(REENLIGHTENMENT) as unknown as ReenlightenmentViews;

/** The u64 field (control, emulation_control, emulation_status) an MSR index maps to, or undefined. */
const fieldOf = (s: ReenlightenmentViews, index: number): Uint32Array | undefined =>
  index === HV_X64_MSR_REENLIGHTENMENT_CONTROL ? s.control
  : index === HV_X64_MSR_TSC_EMULATION_CONTROL ? s.emulation_control
  : index === HV_X64_MSR_TSC_EMULATION_STATUS ? s.emulation_status
  : undefined;

/** Bit 0 of TSC_EMULATION_STATUS's low word (`HvTscEmulationStatus.inprogress`). */
const IN_PROGRESS = 1 << HvTscEmulationStatus.inprogress.shift;

/**
 * The handlers of `hv-reenlightenment` for `partition` (built once per partition by `create`), over
 * `state`, the partition's {@link reenlightenmentPartitionState} views (default: its own).
 *
 * MSRs (all three read/write, read back what was stored; KVM `kvm_hv_set_msr_pw` / `kvm_hv_get_msr_pw`):
 * - REENLIGHTENMENT_CONTROL: any value is stored, no #GP ([7:0] vector, bit 16 enable, [63:32] target
 *   VP; garbage in the reserved bits, a vector below 16 or a target VP that does not exist is stored
 *   too, and only matters to {@link reenlightenmentNotify}, which then raises nothing);
 * - TSC_EMULATION_CONTROL: any value is stored, no #GP (only bit 0 is looked at);
 * - TSC_EMULATION_STATUS: the guest may write only 0; any non-zero value -> #GP, state unchanged
 *   (KVM: `if (data && !host) return 1`; hyperv_features.c writes 1 and expects #GP). Writing 0 while
 *   InProgress is set is the guest's acknowledgement: InProgress is cleared, then
 *   `vp.partition.stopTscEmulation()` makes the held frequency change take effect before the WRMSR
 *   returns (hv-time republishes its page). Writing 0 otherwise only stores 0.
 * - Any other MSR: NotMine.
 *
 * Frequency change: `tscFrequencyChanging` = {@link reenlightenmentNotify}, holding the change only
 * when it answers {@link ReenlightenmentNotice.Emulating}. VM reset (`reset`, the state already back
 * at 0): `partition.stopTscEmulation()`, since the rebooting guest will never acknowledge a change
 * held for its previous incarnation. Exit path (MSRs): no allocation.
 */
export function reenlightenmentHandlers(partition: PartitionView, state: ReenlightenmentViews = viewsOf(partition)): PluginHandlers {
  return {
    rdmsr(_vp, msr) {
      const f = fieldOf(state, msr.index);
      if (f === undefined) return MsrOutcome.NotMine;
      msr.lo = Atomics.load(f, 0);
      msr.hi = Atomics.load(f, 1);
      return MsrOutcome.Ok;
    },
    wrmsr(vp, msr) {
      const f = fieldOf(state, msr.index);
      if (f === undefined) return MsrOutcome.NotMine;
      if (f === state.emulation_status) {
        if (msr.lo !== 0 || msr.hi !== 0) return MsrOutcome.Gp;
        Atomics.store(f, 1, 0);
        if ((Atomics.exchange(f, 0, 0) & IN_PROGRESS) !== 0) vp.partition.stopTscEmulation?.();
        return MsrOutcome.Ok;
      }
      Atomics.store(f, 0, msr.lo);
      Atomics.store(f, 1, msr.hi);
      return MsrOutcome.Ok;
    },
    tscFrequencyChanging() {
      return reenlightenmentNotify(partition, state) === ReenlightenmentNotice.Emulating;
    },
    reset() {
      partition.stopTscEmulation?.();
    },
  };
}

/** What {@link reenlightenmentNotify} did for one TSC frequency change. */
export const ReenlightenmentNotice = Object.freeze({
  /** Nothing: notification disabled, vector below 16 or no such target VP. The change takes effect at once. */
  None: 0,
  /** The vector was raised on the target VP; TSC emulation not requested, so the change takes effect at once. */
  Notified: 1,
  /** TSC_EMULATION_STATUS.InProgress set and the vector raised: the backend must hold the old frequency until the guest clears InProgress. */
  Emulating: 2,
});
/** One of {@link ReenlightenmentNotice}'s values. */
export type ReenlightenmentNotice = (typeof ReenlightenmentNotice)[keyof typeof ReenlightenmentNotice];

/**
 * The reenlightenment notification for one TSC frequency change (`tscFrequencyChanging`; TLFS
 * "Reenlightenment"; Linux `sysvec_hyperv_reenlightenment` / `hv_reenlightenment_notify`):
 * 1. REENLIGHTENMENT_CONTROL.enabled clear, vector below 16 (exceptions, not interrupts: a local
 *    APIC refuses 0..15 as illegal, as for stimer direct mode; the write itself was accepted, as KVM
 *    does) or target VP index naming no VP: nothing happens, no crash ({@link ReenlightenmentNotice.None});
 * 2. otherwise, when TSC_EMULATION_CONTROL.enabled is set, TSC_EMULATION_STATUS.InProgress is set
 *    first (the guest's handler reads it), and the result is `Emulating`;
 * 3. the vector is raised on the target VP, fixed, no auto-EOI (`requestInterrupt(vector, false)`).
 * hv holds a change (emulates the old frequency) only for a guest that asked for emulation *and*
 * was told: a guest that cannot be notified would never acknowledge, and would be held at the old
 * rate for good. A second change while one is held notifies again (status stays set). `state`
 * defaults to the partition's own (hv-reenlightenment must be composed). Edge code, once per change.
 */
export function reenlightenmentNotify(partition: PartitionView, state: ReenlightenmentViews = viewsOf(partition)): ReenlightenmentNotice {
  const c = state.control;
  const lo = Atomics.load(c, 0), hi = Atomics.load(c, 1);
  if (fieldGet(lo, hi, HvReenlightenmentControl.enabled) === 0) return ReenlightenmentNotice.None;
  const vector = fieldGet(lo, hi, HvReenlightenmentControl.vector);
  const target = partition.vp(fieldGet(lo, hi, HvReenlightenmentControl.target_vp));
  if (target === undefined || vector < 16) return ReenlightenmentNotice.None;
  const e = state.emulation_control;
  const emulate = fieldGet(Atomics.load(e, 0), Atomics.load(e, 1), HvTscEmulationControl.enabled) !== 0;
  if (emulate) Atomics.or(state.emulation_status, 0, IN_PROGRESS);
  target.requestInterrupt(vector, false);
  return emulate ? ReenlightenmentNotice.Emulating : ReenlightenmentNotice.Notified;
}

/**
 * Whether the guest asked for TSC emulation (TSC_EMULATION_CONTROL non-zero): KVM's condition for
 * leaving the reference TSC page alone on host-side clock updates (`tsc_page_update_unsafe`). hv's
 * time plugin does not need it: its page changes only at a guest enable and when a frequency change
 * takes effect, which never happens while an emulation is in progress. Reads
 * `partition.state("reenlightenment")`; call only when hv-reenlightenment is composed.
 */
export function tscEmulationRequested(partition: PartitionView): boolean {
  const s = viewsOf(partition);
  return (Atomics.load(s.emulation_control, 0) | Atomics.load(s.emulation_control, 1)) !== 0;
}

/**
 * Whether a TSC emulation is in progress (TSC_EMULATION_STATUS.InProgress): a frequency change was
 * announced and held, and the guest has not acknowledged it yet. Call only when hv-reenlightenment
 * is composed.
 */
export function tscEmulationInProgress(partition: PartitionView): boolean {
  return (Atomics.load(viewsOf(partition).emulation_status, 0) & IN_PROGRESS) !== 0;
}
