/**
 * The userspace interrupt controller of a machine run without KVM's in-kernel irqchip: one
 * `@hv/apic` {@link LocalApic} per VP over shared state, reachable from every thread (vCPU workers
 * post IPIs, the timer thread fires APIC timers and synthetic-timer interrupts), with
 * - {@link Kicker}: after something is posted to a VP, ring its doorbell (wakes a halted or
 *   SIPI-waiting worker) and, when it is inside KVM_RUN, kick it out (`immediate_exit` + SIGUSR2);
 * - {@link VcpuInterrupts}: the owning worker's side around each KVM_RUN: INIT/SIPI/NMI, injection
 *   with `KVM_INTERRUPT` (or an interrupt-window request), CR8 <-> TPR, exit-less EOI through the
 *   VP assist page, and HLT.
 * Why userspace: KVM's in-kernel LAPIC cannot honour SynIC auto-EOI or the assist page's "no EOI
 * required" bit for a userspace Hyper-V (nothing tells userspace when the guest accepts an
 * interrupt). No IO-APIC or PIC is modelled: the test guests use only the local APIC.
 * Exit-path methods allocate nothing.
 * @module
 */
import { APIC_STATE, ApicEvent, LocalApic, MpState, PeerBus, PvEoi, type ApicTscClock } from "@hv/apic";
import { type Vcpu, RFLAGS_FIXED } from "@hv/kvm";
import { type GuestMemory, realModeSregs, type TimerService } from "@hv/x86";
import { Control } from "./protocol.ts";

/** How interrupts reach the guest: `"userspace"` (hv's `@hv/apic`, `KVM_INTERRUPT`) or `"kernel"` (KVM's in-kernel irqchip and PIT). */
export type IrqchipMode = "userspace" | "kernel";

/** Timer owner (and state owner) name of the userspace APIC timers: one timer per VP. */
export const APIC_TIMER_OWNER = "apic";

/** Extra host-timer owners the machine needs besides the plugins' (see `timerLayout`). */
export const irqchipTimerOwners = (mode: IrqchipMode): { owner: string; perVp: number }[] =>
  mode === "userspace" ? [{ owner: APIC_TIMER_OWNER, perVp: 1 }] : [];

/** Bytes of one VP's APIC state buffer. */
export const APIC_STATE_BYTES = APIC_STATE.byteLength;

/**
 * Wakes VPs from any thread. `controls[v]` are the VPs' control words (DOORBELL, IN_GUEST),
 * `vcpus[v]` a mapping of each vCPU's kvm_run (for `immediate_exit`), `threads[v]` each vCPU
 * thread's pthread_t as a number (0 until the worker started: nothing to interrupt then).
 */
export class Kicker {
  constructor(
    readonly controls: readonly Int32Array[],
    readonly vcpus: readonly Vcpu[],
    readonly threads: Float64Array,
  ) {}

  /** Rings VP `vp`'s doorbell and interrupts its KVM_RUN when it is in the guest. */
  kick(vp: number): void {
    const c = this.controls[vp];
    Atomics.add(c, Control.DOORBELL, 1);
    Atomics.notify(c, Control.DOORBELL);
    if (Atomics.load(c, Control.IN_GUEST) === 1) {
      const t = this.threads[vp];
      if (t !== 0) this.vcpus[vp].kick(t);
    }
  }
}

/**
 * Builds the machine's APICs over `states` (one `APIC_STATE` buffer per VP; VP i has APIC id i, VP 0
 * is the BSP), connected through a {@link PeerBus}. `kick(v)` wakes VP v after a post; `tsc(v)` its
 * guest TSC (TSC-deadline mode). Edge code.
 */
export function buildApics(
  states: readonly SharedArrayBuffer[],
  timers: TimerService,
  kick: (vp: number) => void,
  tsc: (vp: number) => ApicTscClock,
): LocalApic[] {
  const bus = new PeerBus();
  const apics = states.map((buf, i) =>
    new LocalApic({
      views: APIC_STATE.views(buf),
      apicId: i,
      bsp: i === 0,
      bus,
      timers,
      timerOwner: APIC_TIMER_OWNER,
      vpIndex: i,
      timerIndex: 0,
      tsc: tsc(i),
      kick: () => kick(i),
    })
  );
  bus.attach(apics);
  return apics;
}

/** Power-on state for every APIC buffer (the machine calls it once, before any worker starts). */
export function resetApicStates(states: readonly SharedArrayBuffer[], timers: TimerService): void {
  const none = () => {};
  for (const a of buildApics(states, timers, none, () => ({ tscHz: 1, guestTsc: () => 0 }))) a.reset();
}

/**
 * What {@link VcpuInterrupts.beforeRun} decided: `Run` (enter the guest) or `WaitForSipi` (the VP
 * waits for a start-up IPI: do not enter; wait with {@link VcpuInterrupts.idle}).
 */
export const Entry = { Run: 0, WaitForSipi: 1 } as const;

/**
 * The owning worker's side of one VP's userspace APIC: `beforeRun`/`afterRun` around each KVM_RUN,
 * `idle` for HLT and SIPI waits. Exit-path safe (no allocation; KVM_INTERRUPT, KVM_NMI and, for
 * INIT/SIPI only, KVM_GET/SET_SREGS and KVM_GET/SET_REGS).
 */
export class VcpuInterrupts {
  /** This VP's exit-less EOI state (the vapic plugin points it at the VP assist page). */
  readonly pvEoi: PvEoi;
  /** Interrupts injected with KVM_INTERRUPT. */
  injected = 0;
  /** CR8 and request_interrupt_window as kvm_run holds them. */
  #cr8 = 0;
  #window = 0;

  constructor(
    readonly vcpu: Vcpu,
    readonly apic: LocalApic,
    memory: GuestMemory,
    readonly control: Int32Array,
  ) {
    this.pvEoi = new PvEoi(apic, memory);
  }

  /**
   * Before KVM_RUN (after IN_GUEST is set, so a concurrent post either is seen here or kicks):
   * applies INIT/SIPI/NMI, injects the highest deliverable vector when the guest can take it
   * (`ready_for_interrupt_injection`) or asks KVM for an interrupt window, writes CR8, and arms
   * exit-less EOI.
   */
  beforeRun(): number {
    const apic = this.apic, run = this.vcpu.kvmRun;
    if (apic.hasEvents()) {
      const e = apic.takeEvents();
      if ((e & ApicEvent.Init) !== 0) this.#enterRealMode(-1);
      if ((e & ApicEvent.Sipi) !== 0) this.#enterRealMode(apic.startupVector);
      if ((e & ApicEvent.Nmi) !== 0) this.vcpu.nmi();
    }
    if (apic.mpState === MpState.WaitForSipi) return Entry.WaitForSipi;
    const vec = apic.pending();
    let window = 0;
    if (vec >= 0) {
      if (run.readyForInterruptInjection !== 0) {
        apic.acknowledge(vec);
        this.vcpu.interrupt(vec);
        this.injected++;
      } else window = 1;
    }
    // kvm_run fields are written only when they change (KVM leaves both as they were at the exit).
    if (window !== this.#window) run.requestInterruptWindow = this.#window = window;
    const cr8 = apic.cr8;
    if (cr8 !== this.#cr8) run.cr8 = this.#cr8 = cr8;
    this.pvEoi.beforeEntry();
    return Entry.Run;
  }

  /** After KVM_RUN returns, before the exit is handled: CR8 writes reach the TPR; a skipped EOI is completed. */
  afterRun(): void {
    const cr8 = this.vcpu.kvmRun.cr8;
    if (cr8 !== this.#cr8) {
      this.apic.setCr8(cr8);
      this.#cr8 = cr8;
    }
    this.pvEoi.afterExit();
  }

  /**
   * Blocks the worker while the VP is halted (KVM_EXIT_HLT: `halted` true; wakes for a deliverable
   * interrupt when the guest's IF is set, for INIT/SIPI/NMI, or for a stop) or waiting for SIPI
   * (`halted` false: wakes for events or a stop). `service()` runs on every wake (remote TLB
   * flushes aimed at this VP must not wait for it). `interruptible` is the guest's RFLAGS.IF
   * (default: as KVM reported it at the last exit). Returns false when the machine asked to stop.
   */
  idle(halted: boolean, service: () => void, interruptible: boolean = this.vcpu.kvmRun.ifFlag !== 0): boolean {
    const c = this.control, apic = this.apic;
    for (;;) {
      const bell = Atomics.load(c, Control.DOORBELL);
      if (Atomics.load(c, Control.STOP) !== 0) return false;
      service();
      if (apic.hasEvents()) return true;
      if (halted && interruptible && apic.pending() >= 0) return true;
      Atomics.wait(c, Control.DOORBELL, bell, 100);
    }
  }

  /** INIT (`vector` < 0: reset vector, CS:IP = F000:FFF0) or SIPI (CS = vector << 8, IP = 0) state. */
  #enterRealMode(vector: number): void {
    const v = this.vcpu;
    const s = v.getSregs();
    s.apply(realModeSregs(vector < 0 ? undefined : vector));
    s.cr8 = 0;
    v.setSregs();
    const r = v.getRegs();
    r.clear();
    r.rflags = RFLAGS_FIXED;
    r.rip = vector < 0 ? 0xfff0 : 0;
    r.rdx = 0x600; // family/model/stepping after RESET/INIT (SDM table 10-1): an arbitrary P6-class value
    v.setRegs();
  }
}
