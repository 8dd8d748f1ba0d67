/**
 * Machine snapshots: the state of a stopped VM that the machine can save and later restore (QEMU's
 * `savevm`/`-incoming`, Firecracker's snapshot create/load), in memory. The file format is the
 * caller's (`@hv/emulator`'s `hv run --save DIR` / `--restore DIR`); guest RAM travels beside the
 * state (a view of the live mapping when saving, `MachineRestore.loadRam` when restoring).
 *
 * What is saved: every vCPU's KVM state (`vcpu_state.ts`; the guest TSC among its MSRs, so guest
 * time continues from where it stopped: the time the VM spent saved is not seen by the guest), whether
 * each vCPU was halted, every plugin's declared state (partition and per-VP arenas, with layout
 * versions), each userspace APIC (its timer deadlines relative to the save, so a restored timer has
 * the time left it had), the RTC/CMOS bytes, and the guest TSC frequency. Not saved: host timers
 * (plugins re-arm theirs in `restored()`), the UART's registers, in-flight remote TLB flushes (a
 * stopped VM has none). Only the userspace irqchip (hv's APIC) is supported: KVM's in-kernel
 * irqchip would need its LAPIC/IO-APIC/PIC/PIT state too.
 * Edge code.
 * @module
 */
import { APIC_STATE } from "@hv/apic";
import type { Vcpu } from "@hv/kvm";
import { type SavedSlot, StateArena, type StateLayout, StateRestoreError } from "@hv/x86";
import { APIC_TIMER_OWNER } from "./irqchip.ts";
import type { SharedTimers } from "./timers.ts";
import { applyVcpuState, captureVcpuState, type SavedVcpuState, VcpuStateError } from "./vcpu_state.ts";

/** One vCPU of a {@link MachineState}: its KVM state and whether it was halted (sleeping after HLT). */
export interface SavedVcpu extends SavedVcpuState {
  readonly halted: boolean;
}

/** The saved state of a stopped machine (see the module documentation). */
export interface MachineState {
  /** The guest TSC frequency in kHz when saved (KVM_GET_TSC_KHZ). */
  readonly tscKhz: number;
  /** Guest RAM size in bytes (the RAM itself travels beside the state). */
  readonly ramBytes: number;
  /** One per vCPU, in vCPU order. */
  readonly vcpus: readonly SavedVcpu[];
  /** The partition's state arena (`StateArena.save`: owner -> layout version + bytes). */
  readonly partition: Readonly<Record<string, SavedSlot>>;
  /** Each VP's state arena, in VP order. */
  readonly vps: readonly Readonly<Record<string, SavedSlot>>[];
  /** Each VP's userspace APIC (`@hv/apic` `APIC_STATE`), its timer times relative to the save (ns). */
  readonly apics: readonly SavedSlot[];
  /** The RTC/CMOS state bytes (`@hv/devices` `newCmosState`). */
  readonly cmos: Uint8Array;
}

/** `MachineConfig.save`: when to save the running VM and where the state goes. */
export interface SaveRequest {
  /** Save after this many seconds of the run (counted from when every vCPU worker is ready, as `--timeout`). */
  readonly afterSeconds?: number;
  /** Save when this settles (e.g. on SIGINT/SIGTERM). */
  readonly requested?: Promise<unknown>;
  /**
   * Stores the state; called with every vCPU stopped and the VM still mapped. `ram` is a view of the
   * live guest RAM, valid only until the returned promise settles. A rejection ends the run with a
   * VMM error naming it.
   */
  write(state: MachineState, ram: Uint8Array): Promise<void>;
}

/** `MachineConfig.restore`: a saved VM to resume instead of booting the kernel. */
export interface MachineRestore {
  readonly state: MachineState;
  /** Fills `into` (the new VM's guest RAM, exactly `state.ramBytes` long) with the saved RAM. */
  loadRam(into: Uint8Array): Promise<void>;
}

/** Why a snapshot cannot be restored on this machine (its message is for the user; exit code 2). */
export class SnapshotMismatchError extends Error {
  override readonly name = "SnapshotMismatchError";
}

/**
 * KVM's tolerance for a TSC frequency to count as the same (`tsc_tolerance_ppm`, 250 ppm): within
 * it, a restore announces no TSC frequency change.
 */
export const TSC_TOLERANCE_PPM = 250;

/** Whether `savedHz` and `hostHz` differ by more than {@link TSC_TOLERANCE_PPM}. */
export const tscRateDiffers = (savedHz: number, hostHz: number): boolean =>
  Math.abs(savedHz - hostHz) > (hostHz * TSC_TOLERANCE_PPM) / 1e6;

/** The stopped machine's parts {@link captureMachineState} reads. */
export interface MachineParts {
  readonly vcpus: readonly Vcpu[];
  readonly halted: readonly boolean[];
  readonly partition: StateArena;
  readonly vpEntries: readonly { owner: string; layout: StateLayout }[];
  readonly vpStates: readonly SharedArrayBuffer[];
  readonly apicStates: readonly SharedArrayBuffer[];
  readonly timers: SharedTimers;
  readonly cmos: SharedArrayBuffer;
  readonly ramBytes: number;
}

/** Captures a stopped machine (no vCPU inside KVM_RUN) as a {@link MachineState}. */
export function captureMachineState(m: MachineParts): MachineState {
  const now = m.timers.now();
  return {
    tscKhz: m.vcpus[0].getTscKhz(),
    ramBytes: m.ramBytes,
    vcpus: m.vcpus.map((v, i) => ({ ...captureVcpuState(v), halted: m.halted[i] === true })),
    partition: m.partition.save(),
    vps: m.vpStates.map((b) => new StateArena([...m.vpEntries], b).save()),
    apics: m.apicStates.map((b) => {
      const copy = b.slice(0);
      shiftApicTimes(copy, -now);
      return { version: APIC_STATE.version, bytes: new Uint8Array(copy) };
    }),
    cmos: new Uint8Array(m.cmos.slice(0)),
  };
}

/** The fresh machine's parts {@link applyMachineState} writes (vCPUs created, CPUID set, nothing run). */
export type RestoreParts = Omit<MachineParts, "halted">;

/**
 * Writes `s` into a fresh machine: the state arenas, the APICs (their
 * timers re-armed with the time they had left), the CMOS bytes, then every vCPU's KVM state. Every
 * size, count and layout version is checked before anything is written; a mismatch throws
 * {@link SnapshotMismatchError} (a snapshot of another machine shape or hv version), and KVM refusing
 * a vCPU part throws it too, with KVM's reason.
 */
export function applyMachineState(m: RestoreParts, s: MachineState): void {
  const fail = (what: string) => {
    throw new SnapshotMismatchError(what);
  };
  if (s.ramBytes !== m.ramBytes) fail(`it has ${s.ramBytes / 1048576} MiB of RAM, this machine ${m.ramBytes / 1048576} MiB`);
  if (s.vcpus.length !== m.vcpus.length || s.vps.length !== m.vcpus.length) fail(`it has ${s.vcpus.length} vCPUs, this machine ${m.vcpus.length}`);
  if (s.apics.length !== m.apicStates.length) fail(`it has ${s.apics.length} userspace APICs, this machine ${m.apicStates.length}`);
  for (const a of s.apics) {
    if (a.version !== APIC_STATE.version || a.bytes.byteLength !== APIC_STATE.byteLength) fail(`its APIC state has layout version ${a.version} (${a.bytes.byteLength} bytes), this hv's ${APIC_STATE.version} (${APIC_STATE.byteLength} bytes)`);
  }
  if (s.cmos.byteLength !== m.cmos.byteLength) fail(`its CMOS state has ${s.cmos.byteLength} bytes, this hv's ${m.cmos.byteLength}`);
  try {
    // Each arena checks every slot before writing any; a refusal leaves a half-restored machine
    // that the caller tears down unrun.
    m.partition.restore(s.partition);
    m.vpStates.forEach((b, i) => new StateArena([...m.vpEntries], b).restore(s.vps[i]));
  } catch (e) {
    if (e instanceof StateRestoreError) fail(`plugin state: ${e.message}`);
    throw e;
  }
  const now = m.timers.now();
  s.apics.forEach((a, i) => {
    new Uint8Array(m.apicStates[i]).set(a.bytes);
    const deadline = shiftApicTimes(m.apicStates[i], now);
    if (deadline !== 0) m.timers.arm(APIC_TIMER_OWNER, i, 0, deadline);
  });
  new Uint8Array(m.cmos).set(s.cmos);
  try {
    m.vcpus.forEach((v, i) => applyVcpuState(v, s.vcpus[i]));
  } catch (e) {
    if (e instanceof VcpuStateError) fail(`vCPU state: ${e.message}`);
    throw e;
  }
}

/** Adds `deltaNs` to an APIC state's host times (timer start, and the deadline when armed); returns the new deadline (0: not armed). */
function shiftApicTimes(buf: SharedArrayBuffer, deltaNs: number): number {
  const v = APIC_STATE.views(buf);
  v.timerStart[0] += deltaNs;
  if (v.timerDeadline[0] !== 0) v.timerDeadline[0] = Math.max(1, v.timerDeadline[0] + deltaNs);
  return v.timerDeadline[0];
}
