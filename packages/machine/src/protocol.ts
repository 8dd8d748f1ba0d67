/**
 * Messages between the machine (main thread) and its vCPU workers, and the shared control block.
 * Edge code: messages are rare (start, serial lines, end of run); the exit path never posts.
 * @module
 */
import type { HvVersion } from "@hv/compose";
import type { VcpuHandle } from "@hv/kvm";
import type { GuestCrashReport } from "@hv/x86";
import type { IrqchipMode } from "./irqchip.ts";

/** The Hyper-V composition a worker rebuilds (plugins are code, so workers re-compose from the request). */
export interface HypervSpec {
  readonly requested: readonly { readonly name: string; readonly reason: string }[];
  readonly set: Readonly<Record<string, string>>;
  readonly version: HvVersion;
  /** Module specifiers whose `builtins`-like export `registry` (or `builtins`) lists the plugins; default `@hv/builtins`. */
  readonly registryModules?: readonly string[];
}

/** Everything a vCPU worker needs to attach and run. */
export interface WorkerInit {
  readonly type: "init";
  readonly vcpu: VcpuHandle;
  readonly vmFd: number;
  readonly vcpuCount: number;
  readonly ram: { readonly address: number; readonly size: number };
  readonly partitionState: SharedArrayBuffer;
  readonly vpStates: readonly SharedArrayBuffer[];
  readonly control: SharedArrayBuffer;
  readonly hyperv?: HypervSpec;
  /** The rate in Hz at which the guest TSC ticks (the host's: KVM here cannot scale it); estimates other VPs' TSC. */
  readonly tscHz: number;
  /**
   * Float64[1]: the guest TSC frequency in Hz that plugins see (`PartitionView.tscHz`, what
   * HV_X64_MSR_TSC_FREQUENCY reports). Equal to `tscHz` except during a restore onto a host with
   * another TSC rate, when it holds the saved rate until vCPU 0's worker has announced the change.
   */
  readonly tscFrequency: SharedArrayBuffer;
  readonly hypercallPort: number;
  /** The shared host-timer table (see `timers.ts`). */
  readonly timers: SharedArrayBuffer;
  /** The machine's start on the `performance.timeOrigin + performance.now()` clock (ms). */
  readonly epochMs: number;
  /** Every vCPU's handle (this worker maps each one's kvm_run to kick it for remote TLB flushes). */
  readonly vcpus: readonly VcpuHandle[];
  /** Every vCPU's control block (RUNNING tells whether a kick is needed). */
  readonly controls: readonly SharedArrayBuffer[];
  /** Another backend's exit-hook module (see `MachineBackend.workerModule`); absent: the emulator's dispatch. */
  readonly exitModule?: string;
  /** The shared remote-flush block (`remote_flush.ts`). */
  readonly flush: SharedArrayBuffer;
  /** Interrupt controller: "userspace" (hv's APIC per VP, `apicStates`) or "kernel" (KVM's irqchip). */
  readonly irqchip: IrqchipMode;
  /** One `APIC_STATE` buffer per VP (userspace irqchip), empty otherwise. */
  readonly apicStates: readonly SharedArrayBuffer[];
  /** Float64 per VP: the vCPU thread's pthread_t once its worker is ready, 0 before (kicks from any thread). */
  readonly threadIds: SharedArrayBuffer;
  /** vCPU 0's guest TSC sampled at host time `ns` (since epoch): estimates other VPs' TSC. */
  readonly tscSample: { readonly tsc: number; readonly ns: number };
  /** The RTC/CMOS state every vCPU's `Cmos` device shares (`@hv/devices` `newCmosState`); absent: a private one. */
  readonly cmos?: SharedArrayBuffer;
  /** Set when the machine restored a saved VM (see {@link WorkerRestore}); absent: a fresh boot. */
  readonly restore?: WorkerRestore;
}

/**
 * What a vCPU worker does when its VM was restored from a snapshot, before it reports ready: every
 * plugin's `restored()` hook (each worker: a plugin may keep per-thread state of its own VP), and
 * on vCPU 0 only, when `fromTscHz` is set (the saved VM's guest TSC ran at another rate than this
 * host's), the TSC frequency change from `fromTscHz` to `WorkerInit.tscHz`
 * (`announceTscFrequencyChange`, then `applyTscFrequencyChange` at the restored TSC); when
 * `tscJump` is set (KVM did not take the saved guest TSC value), `applyTscFrequencyChange` with
 * `sinceTsc` = the TSC minus the jump, so reference time goes on from its saved value.
 */
export interface WorkerRestore {
  /** The vCPU was halted (HLT) when the VM was saved: it sleeps until an interrupt before it runs. */
  readonly halted: boolean;
  /** The saved guest TSC frequency in Hz, when it differs from this host's (vCPU 0 only). */
  readonly fromTscHz?: number;
  /**
   * Cycles the guest TSC jumped at the restore (its value after the restore minus the saved one),
   * when KVM did not set it to the saved value (e.g. a host that cannot offset the guest TSC; vCPU 0 only).
   */
  readonly tscJump?: number;
}

/** Why a run ended, as the worker saw it. */
export interface VcpuFault {
  readonly vcpu: number;
  readonly what: string;
  readonly exitReason: string;
  readonly registers: Readonly<Record<string, string>>;
}

/** Worker -> machine. */
export type WorkerMessage =
  | { readonly type: "ready"; readonly vcpu: number; readonly thread: bigint }
  | { readonly type: "serial"; readonly text: string }
  | { readonly type: "exit"; readonly vcpu: number; readonly code: number }
  | { readonly type: "fault"; readonly fault: VcpuFault }
  | { readonly type: "reset"; readonly vcpu: number; readonly source: string }
  | { readonly type: "crash"; readonly report: GuestCrashReport }
  | {
    readonly type: "stopped";
    readonly vcpu: number;
    readonly exits: Readonly<Record<string, number>>;
    readonly registers: Readonly<Record<string, string>>;
    /** The vCPU was halted (sleeping after HLT) when it stopped. */
    readonly halted: boolean;
  }
  | { readonly type: "error"; readonly vcpu: number; readonly message: string };

/** Machine -> worker. */
export type MachineMessage = WorkerInit | { readonly type: "start" };

/** Int32 slots of a vCPU's control block (a SharedArrayBuffer of {@link CONTROL_WORDS} words). */
export const Control = {
  /** 1 when the machine asks the vCPU to stop (checked after every KVM_RUN that returns EINTR). */
  STOP: 0,
  /** 1 while the worker is inside its run loop (the machine kicks only running vCPUs: a signal to an idle thread is wasted). */
  RUNNING: 1,
  /** Bumped (and `Atomics.notify`d) by anyone who posts work for the VP: wakes a halted or SIPI-waiting worker. */
  DOORBELL: 2,
  /** 1 from just before the worker's last look at pending interrupts until KVM_RUN returns: a poster must kick. */
  IN_GUEST: 3,
} as const;
/** Size of a control block in Int32 words. */
export const CONTROL_WORDS = 4;

/** Exit statistics keys a worker counts (per exit reason; `injected` = interrupts injected with KVM_INTERRUPT, `exitless_eoi` = EOIs the guest skipped through the VP assist page and hv completed). */
export const EXIT_COUNTERS = ["io", "hypercall", "mmio", "rdmsr", "wrmsr", "hlt", "irq_window", "interrupted", "other", "injected", "exitless_eoi"] as const;
