/**
 * What userspace still does when KVM serves the Hyper-V interface in-kernel (api.rst §5
 * "KVM_EXIT_HYPERV"; QEMU `kvm_hv_handle_exit`; OpenVMM `virt_kvm`):
 * - KVM_EXIT_HYPERV_SYNIC (the guest wrote SCONTROL, SIEFP or SIMP; SynIC2): the three values are
 *   mirrored into the `synic` package's per-VP state, so hv's inspection shows them and the SynIC
 *   delivery code (which writes the SIMP/SIEFP pages) finds the pages. KVM does not exit on SINTn
 *   writes, so the vCPU loop refreshes the mirrored SINTs with KVM_GET_MSRS at each SYNIC exit
 *   (guests enable SCONTROL last, after the SINTs: Linux `hv_synic_enable_regs`).
 * - KVM_EXIT_HYPERV_HCALL: HvPostMessage and HvSignalEvent, which KVM passes to userspace, go
 *   through `@hv/dispatch`'s `HypercallDispatcher` to the `synic` plugin's own handlers over the
 *   same connection table the emulator uses, so every status is the emulator's; the status is
 *   written to `hcall.result`. Any other code answers HV_STATUS_INVALID_HYPERCALL_CODE (QEMU).
 * - KVM_EXIT_SYSTEM_EVENT: CRASH (the guest set CRASH_CTL bit 63) is read back with KVM_GET_MSRS
 *   into the `crash` package's state and reported with its `crashReport`, as the emulator does;
 *   RESET (HV_X64_MSR_RESET) asks the machine for a reset.
 * - SynIC interrupts userspace raises go through KVM's SINT routes (`synic_delivery.ts`): the
 *   partition's `requestInterrupt` is a {@link PassthroughSynic}'s, and at each exit of a VP with
 *   messages waiting for a slot, its ack eventfd (signalled by KVM on EOM) is checked and the queue
 *   retried. KVM reports an EOM only that way (no KVM_EXIT_HYPERV: `synic_set_msr` exits for
 *   SCONTROL, SIEFP and SIMP only); a SYNIC exit naming HV_X64_MSR_EOM, should a kernel make one,
 *   retries too.
 *
 * The handlers are plain functions over a decoded {@link HypervExit} (exit path: no Effect).
 * @module
 */
import type { Composition } from "@hv/compose";
import { CRASH, crashPartitionState, crashReport, type CrashViews } from "@hv/crash";
import { advertised, HypercallDispatcher, HypercallOutcome, type HypercallRoute } from "@hv/dispatch";
import { KVM_EXIT_HYPERV, KVM_EXIT_HYPERV_HCALL, KVM_EXIT_HYPERV_SYNIC, KVM_EXIT_SYSTEM_EVENT, KVM_SYSTEM_EVENT } from "@hv/kvm";
import { arenaEntries, tscFrequencyCell, WorkerPartition } from "@hv/machine";
import { SYNIC_OWNER, type SynicVpViews } from "@hv/synic";
import {
  HV_CRASH_PARAMETER_COUNT,
  HV_STATUS_INVALID_HYPERCALL_CODE,
  HV_SYNIC_SINT_COUNT,
  HV_X64_MSR_CRASH_CTL,
  HV_X64_MSR_EOM,
  HV_X64_MSR_SINT0,
  HvCallPostMessage,
  HvCallSignalEvent,
  hvMsrCrashP,
} from "@hv/tlfs";
import {
  type AnyPlugin,
  type GuestCrashReport,
  type GuestMemory,
  Gpr,
  newCpuMode,
  newGprFile,
  newHypercallInput,
  type PartitionEvents,
  type PartitionView,
  type PluginHandlers,
  StateArena,
  type TimerService,
  type VpView,
} from "@hv/x86";
import { type HypervExit, type KvmService, newHypervExit, type VcpuRef } from "./kvm_service.ts";
import type { PassthroughSynic } from "./synic_delivery.ts";

/**
 * Hypercalls KVM hands to userspace that hv serves (OpenVMM's KVM dispatcher list): HvPostMessage
 * always (KVM only validates rep/varhead/SynIC-active), HvSignalEvent when no KVM_HYPERV_EVENTFD
 * matched the connection. KVM answers every other Hyper-V hypercall in-kernel.
 */
export const KVM_USERSPACE_HYPERCALLS: readonly number[] = [HvCallPostMessage, HvCallSignalEvent];

/** {@link handleHypervExit}'s answer for a SYNIC exit (mirrored; nothing to write back). */
export const HYPERV_EXIT_SYNIC = -1;
/** {@link handleHypervExit}'s answer for an exit type hv does not serve (SYNDBG: no debugger transport). */
export const HYPERV_EXIT_IGNORED = -2;

/**
 * Options of {@link passthroughPartition}:
 * - `composition`, `memory` (guest RAM), `vpCount`, `tscHz` (informational: KVM serves the TSC MSRs);
 * - `partitionState`/`vpStates`: the shared arenas (the machine's, so every vCPU worker and the
 *   main thread see one state); allocated (and reset) here when absent;
 * - `requestInterrupt(vp, vector, autoEoi)`: raise a fixed interrupt on a VP: with synic, a
 *   {@link PassthroughSynic}'s (the SINT's route, KVM_IRQFD); without routes, KVM_SIGNAL_MSI to its APIC;
 * - `events`: crash/reset, as the emulator's partition raises them.
 */
export interface PassthroughPartitionOptions {
  readonly composition: Composition;
  readonly memory: GuestMemory;
  readonly vpCount: number;
  readonly tscHz?: number;
  readonly partitionState?: SharedArrayBuffer;
  readonly vpStates?: readonly SharedArrayBuffer[];
  readonly requestInterrupt: (vp: VpView, vector: number, autoEoi: boolean) => void;
  readonly events?: PartitionEvents;
}

/** Host timers do not exist on this backend: KVM runs the synthetic timers in-kernel. */
const NO_TIMERS: TimerService = {
  now: () => performance.now() * 1e6,
  arm: () => {
    throw new Error("the passthrough backend has no host timers: KVM runs the synthetic timers in-kernel");
  },
  cancel: () => {},
};

/**
 * The partition userspace keeps beside KVM's: the composition's declared state (the `synic`
 * connection table and per-VP SynIC mirror, the `crash` parameters read back), guest RAM, and VP
 * views whose index is the VP_INDEX KVM was given (= vCPU index = APIC id). Built on
 * `@hv/machine`'s `WorkerPartition` and `arenaEntries`, so its layout is the emulator's.
 * `guestTsc()`/`runTime()` are NaN (KVM owns them); there are no host timers.
 */
export function passthroughPartition(o: PassthroughPartitionOptions): WorkerPartition {
  const pEntries = arenaEntries(o.composition, "partition");
  const vEntries = arenaEntries(o.composition, "vp");
  const partitionArena = new StateArena(pEntries, o.partitionState);
  const vpArenas = Array.from({ length: o.vpCount }, (_, i) => new StateArena(vEntries, o.vpStates?.[i]));
  const events: PartitionEvents = o.events ?? { reset: () => {}, crash: () => {} };
  const t = advertised(o.composition);
  return new WorkerPartition(
    o.memory,
    tscFrequencyCell(o.tscHz ?? 0),
    partitionArena,
    (index, partition) => {
      const vp: VpView = {
        index,
        apicId: index,
        partition,
        state: (owner) => vpArenas[index].views(owner),
        guestTsc: () => Number.NaN,
        runTime: () => Number.NaN,
        requestInterrupt: (vector, autoEoi) => o.requestInterrupt(vp, vector, autoEoi),
        yieldCpu: () => {},
      };
      return vp;
    },
    o.vpCount,
    events,
    NO_TIMERS,
    t,
    () => {
      throw new Error("KVM flushes remote TLBs in-kernel on the passthrough backend");
    },
  );
}

/**
 * The userspace Hyper-V of one partition on this backend: the dispatcher for
 * {@link KVM_USERSPACE_HYPERCALLS} (routes and plugin instances built from the composition, over
 * `partition`), whether the SynIC state exists, and reusable exit-path buffers.
 */
export interface PassthroughHyperv {
  readonly composition: Composition;
  readonly partition: PartitionView;
  readonly dispatcher: HypercallDispatcher;
  readonly synic: boolean;
  readonly gpr: Uint32Array;
  readonly mode: ReturnType<typeof newCpuMode>;
  readonly call: ReturnType<typeof newHypercallInput>;
  readonly exit: HypervExit;
}

/**
 * Builds {@link PassthroughHyperv}: instantiates each plugin owning a userspace hypercall once
 * (`create`, as `@hv/dispatch`'s `buildDispatch` does) and gives `HypercallDispatcher` only those
 * routes, with the environment KVM implies: the gates are the composition's CPUID (KVM, with
 * KVM_CAP_HYPERV_ENFORCE_CPUID, checked them too), hypercalls are live (KVM exits only when
 * GUEST_OS_ID != 0), no XMM input (KVM passes two parameters).
 */
export function createPassthroughHyperv(composition: Composition, partition: PartitionView): PassthroughHyperv {
  const instances = new Map<string, PluginHandlers>();
  const routes: HypercallRoute[] = [];
  for (const [code, { owner, claim }] of composition.hypercalls) {
    if (!KVM_USERSPACE_HYPERCALLS.includes(code)) continue;
    let h = instances.get(owner);
    if (!h) {
      const e = composition.enlightenments.find((x) => x.name === owner);
      const plugin: AnyPlugin | undefined = e?.plugin;
      h = plugin?.create ? plugin.create({ params: e!.params, partition }) : {};
      instances.set(owner, h);
    }
    routes.push({ claim, owner, handlers: h });
  }
  const dispatcher = new HypercallDispatcher(routes, {
    isAdvertised: advertised(composition),
    xmmInput: false,
    readXmm: () => {
      throw new Error("KVM passes no XMM registers with KVM_EXIT_HYPERV");
    },
    hypercallsLive: () => true,
  });
  return {
    composition,
    partition,
    dispatcher,
    synic: composition.enlightenments.some((e) => e.name === SYNIC_OWNER),
    gpr: newGprFile(),
    mode: newCpuMode(),
    call: newHypercallInput(),
    exit: newHypervExit(),
  };
}

const FAST_BIT = 0x10000;

/**
 * Handles one decoded KVM_EXIT_HYPERV for `vp`:
 * - SYNIC: mirrors SCONTROL/SIEFP/SIMP (and, when given, `sints`: SINT0..15 as KVM holds them) into
 *   the VP's `synic` state; answers {@link HYPERV_EXIT_SYNIC}. Without synic composed nothing is stored.
 * - HCALL: answers the HV_STATUS to write into `hcall.result`: routed codes through the dispatcher
 *   (RCX = input, RDX = params[0], R8 = params[1], 64-bit CPL 0; HvSignalEvent with the fast bit
 *   set, since KVM already read its parameter), others HV_STATUS_INVALID_HYPERCALL_CODE.
 * - anything else (SYNDBG): {@link HYPERV_EXIT_IGNORED}.
 * No allocation.
 */
export function handleHypervExit(h: PassthroughHyperv, vp: VpView, exit: HypervExit, sints?: readonly bigint[]): number {
  if (exit.type === KVM_EXIT_HYPERV_SYNIC) {
    if (!h.synic) return HYPERV_EXIT_SYNIC;
    const s = vp.state(SYNIC_OWNER) as unknown as SynicVpViews;
    s.scontrol[0] = exit.controlLo;
    s.scontrol[1] = exit.controlHi;
    s.siefp[0] = exit.evtPageLo;
    s.siefp[1] = exit.evtPageHi;
    s.simp[0] = exit.msgPageLo;
    s.simp[1] = exit.msgPageHi;
    if (sints) {
      for (let n = 0; n < HV_SYNIC_SINT_COUNT && n < sints.length; n++) {
        s.sint[2 * n] = Number(sints[n] & 0xffffffffn);
        s.sint[2 * n + 1] = Number((sints[n] >> 32n) & 0xffffffffn);
      }
    }
    return HYPERV_EXIT_SYNIC;
  }
  if (exit.type !== KVM_EXIT_HYPERV_HCALL) return HYPERV_EXIT_IGNORED;
  const code = exit.inputLo & 0xffff;
  if (!KVM_USERSPACE_HYPERCALLS.includes(code)) return HV_STATUS_INVALID_HYPERCALL_CODE;
  const g = h.gpr;
  g.fill(0);
  g[2 * Gpr.RCX] = code === HvCallSignalEvent ? (exit.inputLo | FAST_BIT) >>> 0 : exit.inputLo;
  g[2 * Gpr.RCX + 1] = exit.inputHi;
  g[2 * Gpr.RDX] = exit.param0Lo;
  g[2 * Gpr.RDX + 1] = exit.param0Hi;
  g[2 * Gpr.R8] = exit.param1Lo;
  g[2 * Gpr.R8 + 1] = exit.param1Hi;
  h.mode.longMode = true;
  h.mode.protectedMode = true;
  h.mode.cpl = 0;
  const out = h.dispatcher.dispatch(vp, g, h.mode, h.call);
  return out === HypercallOutcome.Done ? g[2 * Gpr.RAX] & 0xffff : HV_STATUS_INVALID_HYPERCALL_CODE;
}

/** The crash MSRs read back: CRASH_P0..P4 then CRASH_CTL. */
export const CRASH_MSRS: readonly number[] = [
  ...Array.from({ length: HV_CRASH_PARAMETER_COUNT }, (_, n) => hvMsrCrashP(n)),
  HV_X64_MSR_CRASH_CTL,
];

/**
 * After KVM_EXIT_SYSTEM_EVENT / KVM_SYSTEM_EVENT_CRASH on `vcpu`: reads CRASH_P0..P4 and CRASH_CTL
 * with KVM_GET_MSRS (host-initiated), stores them in the partition's `crash` state (a scratch
 * arena when crash is not composed), and builds the report with `@hv/crash`'s `crashReport`, the
 * emulator's. KVM keeps only the host-set CRASH_CTL (bit 63), not the guest's written value, so the
 * report's `control` is what CRASH_CTL reads (0x8000000000000000, what a Windows guest writes) and
 * there is never a CrashMessage text (KVM advertises no bit 62).
 */
export function readCrashReport(service: KvmService, vcpu: VcpuRef, vp: VpView): GuestCrashReport {
  const values = service.getMsrs(vcpu, CRASH_MSRS);
  let views: CrashViews;
  try {
    views = vp.partition.state(CRASH) as unknown as CrashViews;
  } catch {
    views = new StateArena([{ owner: CRASH, layout: crashPartitionState }]).views(CRASH) as unknown as CrashViews;
  }
  for (let n = 0; n < HV_CRASH_PARAMETER_COUNT; n++) {
    views.p[2 * n] = Number(values[n] & 0xffffffffn);
    views.p[2 * n + 1] = Number(values[n] >> 32n);
  }
  const ctl = values[HV_CRASH_PARAMETER_COUNT];
  views.ctl[0] = Number(ctl & 0xffffffffn);
  views.ctl[1] = Number(ctl >> 32n);
  return crashReport(vp, views, views.ctl[0], views.ctl[1]);
}

/** What the vCPU loop does after {@link PassthroughVcpuExits.onExit}. */
export type ExitAction =
  /** Handled: enter the guest again. */
  | { readonly kind: "continue" }
  /** The guest reported a crash (end the run with the report, as the emulator does). */
  | { readonly kind: "crash"; readonly report: GuestCrashReport }
  /** The guest asked for a reset through HV_X64_MSR_RESET. */
  | { readonly kind: "reset"; readonly source: string }
  /** Not a Hyper-V exit: the machine's own loop handles it (I/O, MMIO, shutdown, ...). */
  | { readonly kind: "unhandled" };

const CONTINUE: ExitAction = Object.freeze({ kind: "continue" });
const UNHANDLED: ExitAction = Object.freeze({ kind: "unhandled" });
const SINT_MSRS: readonly number[] = Array.from({ length: HV_SYNIC_SINT_COUNT }, (_, n) => HV_X64_MSR_SINT0 + n);

/**
 * The run-loop hook of one vCPU: given the exit reason KVM_RUN returned, handles what belongs to the
 * passthrough backend (KVM_EXIT_HYPERV; KVM_EXIT_SYSTEM_EVENT CRASH and RESET) through `service`
 * and answers an {@link ExitAction}. `vp` is this vCPU's view of the partition in `h`; `synic`
 * (with synic composed) its SINT delivery: at every exit, when `vp` has messages waiting for a slot,
 * the VP's ack eventfd is checked and, if KVM signalled an EOM, the queue is retried (one
 * non-blocking read, only then).
 */
export class PassthroughVcpuExits {
  /** KVM_EXIT_HYPERV exits seen, by kind. */
  readonly counts = { synic: 0, hcall: 0, ignored: 0 };

  constructor(
    readonly service: KvmService,
    readonly vcpu: VcpuRef,
    readonly h: PassthroughHyperv,
    readonly vp: VpView,
    readonly synic?: PassthroughSynic,
  ) {}

  /** Handles exit `reason` (see the class doc). */
  onExit(reason: number): ExitAction {
    const synic = this.synic;
    if (synic !== undefined && this.h.synic && synic.hasQueued(this.vp)) synic.serviceAck(this.vp);
    if (reason === KVM_EXIT_HYPERV) {
      const e = this.service.readHypervExit(this.vcpu, this.h.exit);
      const sints = e.type === KVM_EXIT_HYPERV_SYNIC && this.h.synic ? this.service.getMsrs(this.vcpu, SINT_MSRS) : undefined;
      const r = handleHypervExit(this.h, this.vp, e, sints);
      if (e.type === KVM_EXIT_HYPERV_SYNIC && e.msr === HV_X64_MSR_EOM && synic !== undefined && this.h.synic) synic.endOfMessage(this.vp);
      if (r >= 0) {
        this.counts.hcall++;
        this.service.setHypercallResult(this.vcpu, r);
      } else if (r === HYPERV_EXIT_SYNIC) this.counts.synic++;
      else this.counts.ignored++;
      return CONTINUE;
    }
    if (reason === KVM_EXIT_SYSTEM_EVENT) {
      const type = this.service.systemEventType(this.vcpu);
      if (type === KVM_SYSTEM_EVENT.CRASH) return { kind: "crash", report: readCrashReport(this.service, this.vcpu, this.vp) };
      if (type === KVM_SYSTEM_EVENT.RESET) return { kind: "reset", source: "HV_X64_MSR_RESET (KVM_SYSTEM_EVENT_RESET)" };
    }
    return UNHANDLED;
  }
}
