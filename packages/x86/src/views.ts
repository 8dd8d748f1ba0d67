/**
 * What a plugin sees of the machine: the partition and each virtual processor. Implemented by the
 * emulator (`@hv/machine`), the passthrough backend and the KVM-free testkit; plugins depend only on
 * these interfaces, never on KVM.
 * @module
 */
import type { CpuidBit } from "@hv/tlfs";
import type { GuestMemory } from "./guest_memory.ts";

/**
 * A guest crash report as the crash MSRs deliver it (TLFS "Guest Crash Enlightenment"; KVM/QEMU
 * `hv-crash`): the VP that wrote CRASH_CTL, CRASH_P0..P4 as written (u64 each), the CRASH_CTL value,
 * and, when CrashMessage (bit 62) was set, the message the guest left at GPA P3 with length P4
 * (at most 4096 bytes, decoded as UTF-8, NULs dropped; absent when the range was not in RAM).
 */
export interface GuestCrashReport {
  readonly vp: number;
  readonly parameters: readonly bigint[];
  readonly control: bigint;
  readonly message?: string;
}

/**
 * Events a plugin raises for the whole machine; the backend decides what they mean (the emulator:
 * `reset` restarts the VM from power-on, `crash` writes the report and stops or pauses the VM).
 * Called on the exit path, but rare: implementations may allocate.
 */
export interface PartitionEvents {
  /** The guest asked for a reset (HV_X64_MSR_RESET); `source` names the plugin. */
  reset(source: string): void;
  /** The guest reported a crash (HV_X64_MSR_CRASH_CTL with CrashNotify). */
  crash(report: GuestCrashReport): void;
}

/**
 * Host timers for plugins (synthetic timers, APIC timers). Deadlines are absolute host monotonic
 * nanoseconds; when one passes, the backend calls the owner's `PluginHandlers.onTimer(vp, timer)`
 * on its timer thread (not on a vCPU thread), with sub-millisecond accuracy, whether or not the
 * guest exits. A plugin owns `timers.perVp` timers per VP (see `Plugin.timers`).
 * - `now()`: host monotonic time in ns (the same clock as deadlines).
 * - `arm(owner, vp, timer, atNs)`: (re)arms timer `timer` (0..perVp-1) of VP `vp` (its VP index) to
 *   fire at `atNs`; a deadline in the past fires as soon as possible. Replaces an armed deadline.
 * - `cancel(owner, vp, timer)`: disarms it (no effect when not armed).
 * Exit-path safe: no allocation.
 */
export interface TimerService {
  now(): number;
  arm(owner: string, vp: number, timer: number, atNs: number): void;
  cancel(owner: string, vp: number, timer: number): void;
}

/**
 * The partition (the VM) as plugins see it.
 * - `vpCount`: number of VPs; VP indices are 0..vpCount-1 unless a backend assigns others.
 * - `memory`: bounds-checked guest RAM.
 * - `vp(index)`: the VP with that VP index, or undefined (hostile indices are answered, not thrown).
 * - `tscHz`: the guest TSC frequency in Hz (what HV_X64_MSR_TSC_FREQUENCY reports).
 *   After a TSC frequency change it reports the new frequency at once, also while the backend
 *   still emulates the old rate for the guest (see `PluginHandlers.tscFrequencyChanging`).
 * - `apicHz`: the local APIC timer's real input frequency in Hz (what HV_X64_MSR_APIC_FREQUENCY
 *   reports; KVM's in-kernel LAPIC ticks at 1 ns, so 1e9 there).
 * - `state(owner)`: typed views of a plugin's per-partition state (see `StateLayout`).
 * - `events`: machine-wide events (reset, crash).
 * - `timers`: host timers (see {@link TimerService}).
 * - `advertised(bit)`: whether the composition shows the guest this CPUID bit (e.g. stimer checks
 *   0x40000003.EDX[19] before accepting direct mode). Exit-path safe.
 * - `flushTlb(vps, count)`: makes the VPs whose indices are `vps[0..count)` drop every cached
 *   guest translation before they next run guest code, and returns only when that is guaranteed for
 *   all of them (remote VPs are kicked out of the guest; the calling VP flushes before it resumes).
 *   Indices of VPs that do not exist are ignored. Used by HvCallFlushVirtualAddressSpace/List(Ex):
 *   the TLFS requires the flush to be complete when the hypercall returns.
 * - `stopTscEmulation()`: ends the TSC emulation a plugin asked for by holding a TSC frequency
 *   change (`PluginHandlers.tscFrequencyChanging` returned true; hv-reenlightenment calls it when
 *   the guest clears TSC_EMULATION_STATUS.InProgress, and at a VM reset): the backend switches the
 *   guest TSC to the frequency `tscHz` reports, without a jump in its value, and calls every
 *   plugin's `tscFrequencyChanged` (`applyTscFrequencyChange`) before returning and before the
 *   guest runs again on any VP. No effect when nothing is held. Optional: a backend that never
 *   announces a frequency change (KVM keeps the guest TSC rate with TSC scaling) leaves it out.
 */
export interface PartitionView {
  readonly vpCount: number;
  readonly memory: GuestMemory;
  readonly tscHz: number;
  readonly apicHz: number;
  readonly events: PartitionEvents;
  readonly timers: TimerService;
  flushTlb(vps: Uint32Array, count: number): void;
  advertised(bit: CpuidBit): boolean;
  vp(index: number): VpView | undefined;
  state(owner: string): Record<string, ArrayBufferView>;
  stopTscEmulation?(): void;
}

/**
 * One virtual processor.
 * - `index`: its VP index (HV_X64_MSR_VP_INDEX; may exceed 63, sparse VP sets address such VPs).
 * - `apicId`: its local APIC id.
 * - `partition`: the partition it belongs to.
 * - `state(owner)`: typed views of a plugin's per-VP state.
 * - `guestTsc()`: this VP's current guest TSC (cycles), as RDTSC in the guest would read it now.
 *   Exact for the VP whose exit is being handled; for another VP, or on the timer thread, an
 *   estimate from the host clock and the TSC rate (all VPs share one TSC timeline).
 * - `runTime()`: time this VP has spent running guest code, in 100 ns units, monotonic
 *   (HV_X64_MSR_VP_RUNTIME).
 * - `requestInterrupt(vector, autoEoi)`: raise a fixed interrupt on this VP (OpenVMM's
 *   `RequestInterrupt`); `autoEoi` = the SynIC auto-EOI semantics. Vector 16..255.
 * - `yieldCpu()`: give the host CPU to another thread (HvCallNotifyLongSpinWait).
 * - `apic`: the VP's local APIC when the backend runs it in userspace (see {@link VpApic}); absent
 *   with KVM's in-kernel irqchip, where the synthetic APIC MSRs cannot reach the APIC.
 */
export interface VpView {
  readonly index: number;
  readonly apicId: number;
  readonly partition: PartitionView;
  state(owner: string): Record<string, ArrayBufferView>;
  guestTsc(): number;
  runTime(): number;
  requestInterrupt(vector: number, autoEoi: boolean): void;
  yieldCpu(): void;
  readonly apic?: VpApic;
}

/**
 * A VP's local APIC as Hyper-V's synthetic APIC MSRs reach it (TLFS §10.5 "Virtual APIC MSRs";
 * KVM `kvm_hv_vapic_msr_write`/`kvm_hv_vapic_msr_read`, which act on the APIC in either mode).
 * Only the VP's own thread calls these (the MSRs are per VP). Exit-path safe: no allocation.
 * - `eoi()`: an EOI (HV_X64_MSR_EOI): clears the highest in-service vector.
 * - `writeIcr(lo, hi)`: HV_X64_MSR_ICR write: stores ICR[31:0] = `lo`, ICR[63:32] = `hi` and sends
 *   the interrupt it describes (destination: x2APIC mode `hi`; xAPIC mode `hi` bits 31:24).
 *   Returns false, changing nothing, when reserved bits of ICR[31:0] are set (the caller #GPs, as
 *   KVM's `kvm_x2apic_icr_write` does).
 * - `icrLo()`, `icrHi()`: the ICR as last written (HV_X64_MSR_ICR read).
 * - `tpr()`, `setTpr(value)`: the task priority register, 0..255 (HV_X64_MSR_TPR).
 * - `setAssistPage(gpa, enabled)`: HV_X64_MSR_VP_ASSIST_PAGE changed: with `enabled`, bit 0 of the
 *   u32 at guest physical address `gpa` (the page's `apic_assist` field, TLFS §7.8.7 "no EOI
 *   required") is the exit-less EOI flag the backend sets when the interrupt it delivers needs no
 *   EOI exit, and clears when it completes the EOI itself (KVM's PV EOI, `kvm_lapic_set_pv_eoi`).
 */
export interface VpApic {
  eoi(): void;
  writeIcr(lo: number, hi: number): boolean;
  icrLo(): number;
  icrHi(): number;
  tpr(): number;
  setTpr(value: number): void;
  setAssistPage(gpa: number, enabled: boolean): void;
}
