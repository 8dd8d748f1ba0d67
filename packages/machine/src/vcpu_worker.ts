/**
 * A vCPU worker: attaches to one vCPU and runs KVM_RUN synchronously in a loop, handling every exit
 * in plain TypeScript with preallocated buffers (no allocation, no await, no Effect on the exit path):
 * port I/O through the device bus, the hypercall port through `@hv/dispatch`, MMIO (no devices:
 * reads all-ones, writes ignored), userspace MSR exits through the MSR table. Ends on isa-debug-exit,
 * a stop request (kick), or a guest failure, which it reports with the registers.
 *
 * Hypercall registers: when KVM offers KVM_CAP_SYNC_REGS with REGS|SREGS, the worker sets
 * `kvm_valid_regs` once, reads the hypercall's registers and mode (CR0.PE, EFER.LMA + CS.L, CPL) in
 * place from `kvm_run.s.regs`, and returns RAX (or EDX:EAX) by writing the synced registers and
 * setting `kvm_dirty_regs` = REGS: no KVM_GET_REGS, KVM_GET_SREGS or KVM_SET_REGS per hypercall.
 * Without the capability (or with HV_KVM_SYNC_REGS=0 in the environment, for comparisons) it uses
 * the three ioctls.
 * @module
 */
/// <reference lib="deno.worker" />
import { FwCfg, HypervTestDev, type HypervTestDevBackend, IoBus, IsaDebugExit, Uart16550 } from "@hv/devices";
import { Cmos, CMOS_PORT_COUNT } from "@hv/devices";
import { KVM_SYSTEM_EVENT } from "@hv/kvm";
import { synicTestDevBackend } from "@hv/synic";
import { HypercallOutcome, type Dispatch } from "@hv/dispatch";
import {
  currentThread,
  exitReasonName,
  KVM_EXIT_FAIL_ENTRY,
  KVM_EXIT_HLT,
  KVM_EXIT_HYPERV,
  KVM_EXIT_INTERNAL_ERROR,
  KVM_EXIT_IO,
  KVM_EXIT_IRQ_WINDOW_OPEN,
  KVM_EXIT_SET_TPR,
  KVM_EXIT_IO_OUT,
  KVM_EXIT_MMIO,
  KVM_EXIT_SHUTDOWN,
  KVM_EXIT_SYSTEM_EVENT,
  KVM_EXIT_X86_RDMSR,
  KVM_EXIT_X86_WRMSR,
  KVM_CAP_SYNC_REGS,
  KVM_SYNC_X86_REGS,
  KVM_SYNC_X86_SREGS,
  KVM_RUN_AGAIN,
  KVM_RUN_INTERRUPTED,
  libc,
  Vcpu,
  Vm,
} from "@hv/kvm";
import { type LocalApic, vpApicOf } from "@hv/apic";
import {
  announceTscFrequencyChange,
  applyTscFrequencyChange,
  CR0_PE,
  CR0_PG,
  CR4_PGE,
  type GuestCrashReport,
  MsrOutcome,
  type PartitionEvents,
  newCpuMode,
  newHypercallInput,
  newMsrAccess,
  type VpView,
} from "@hv/x86";
import { type WorkerPartition, workerDispatch } from "./hv_partition.ts";
import { Entry, type Kicker, VcpuInterrupts } from "./irqchip.ts";
import { Control, EXIT_COUNTERS, type MachineMessage, type WorkerInit, type WorkerMessage } from "./protocol.ts";
import { registerSnapshot } from "./registers.ts";
import { RemoteFlush } from "./remote_flush.ts";
import { type OwnVp, threadContext } from "./thread_context.ts";

const post = (m: WorkerMessage) => self.postMessage(m);
const UD_VECTOR = 6;
/** RFLAGS.IF. */
const RFLAGS_IF = 0x200;
const IA32_TSC = 0x10;
/** The sync-regs areas the hypercall path reads: registers and, for the mode, sregs. */
const SYNC_REGS = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS;

let init: WorkerInit;
let vcpu: Vcpu;
let dispatch: Dispatch | undefined;
let self_vp: VpView;
let bus: IoBus;
let control: Int32Array;
let ended = false;
/** Whether the vCPU was sleeping after HLT when it stopped (a snapshot records it). */
let halted = false;
/** Another backend's exit hook (see `MachineBackend`); answers continue, crash, reset or unhandled. */
let exitHook: ((reason: number) => { kind: string; report?: GuestCrashReport; source?: string }) | undefined;
const noop = () => {};
/** hyperv-testdev without a SynIC: commands are accepted and ignored (as writes to an absent device). */
const NO_SYNIC_TESTDEV: HypervTestDevBackend = {
  createSintRoute: noop,
  destroySintRoute: noop,
  raiseSint: noop,
  createMessageConnection: noop,
  destroyMessageConnection: noop,
  createEventConnection: noop,
  destroyEventConnection: noop,
};
let remoteFlush: RemoteFlush;
let kicker: Kicker;
/** The userspace irqchip: this VP's APIC and its injection side (undefined with KVM's irqchip). */
let apic: LocalApic | undefined;
let irq: VcpuInterrupts | undefined;

/** Makes KVM drop this vCPU's cached translations: toggle CR4.PGE and back (each SET_SREGS with a changed CR4 resets the MMU context). */
function flushOwnTlb(): void {
  const s = vcpu.getSregs();
  if ((s.cr0 & CR0_PG) === 0) return; // no paging, nothing cached
  const cr4 = s.cr4;
  s.cr4 = (cr4 ^ CR4_PGE) >>> 0;
  vcpu.setSregs();
  s.cr4 = cr4;
  vcpu.setSregs();
}
/** This vCPU's time inside KVM_RUN, in 100 ns units (HV_X64_MSR_VP_RUNTIME). */
let runTime100ns = 0;
/** Whether kvm_valid_regs = SYNC_REGS was set (KVM_CAP_SYNC_REGS has REGS|SREGS and Hyper-V is on). */
let syncRegs = false;
const counts = new Float64Array(EXIT_COUNTERS.length);
const C = Object.fromEntries(EXIT_COUNTERS.map((k, i) => [k, i])) as Record<typeof EXIT_COUNTERS[number], number>;

// Serial output: bytes are gathered per line and posted on '\n' (or a full buffer).
const line = new Uint8Array(4096);
let lineLen = 0;
const flushLine = () => {
  if (lineLen === 0) return;
  post({ type: "serial", text: new TextDecoder().decode(line.subarray(0, lineLen)) });
  lineLen = 0;
};

async function setup(msg: WorkerInit): Promise<void> {
  init = msg;
  vcpu = Vcpu.attach(msg.vcpu.fd, msg.vcpu.mmapSize, msg.vcpu.id);
  control = new Int32Array(msg.control);
  const vm = new Vm(msg.vmFd, msg.vcpu.mmapSize);

  bus = new IoBus();
  const uart = new Uart16550({
    sink: (b) => {
      if (b === 0x0a) return flushLine();
      line[lineLen++] = b;
      if (lineLen === line.length) flushLine();
    },
  });
  bus.register(0x3f8, 8, uart, "uart");
  bus.register(0xf4, 4, new IsaDebugExit({ onExit: (code) => end({ type: "exit", vcpu: msg.vcpu.id, code }) }), "isa-debug-exit");
  bus.register(0x510, 2, new FwCfg({ ramSize: msg.ram.size, cpus: msg.vcpuCount }), "fw_cfg");
  const cmos = new Cmos({ state: msg.cmos });
  bus.register(cmos.base, CMOS_PORT_COUNT, cmos, "cmos");
  // QEMU's hyperv-testdev at 0x3000: backed by the SynIC plugin when it is composed (registered
  // below, once the partition exists), else a device that accepts and ignores commands.
  let testdev: HypervTestDevBackend = NO_SYNIC_TESTDEV;

  const events: PartitionEvents = {
    reset: (source) => end({ type: "reset", vcpu: msg.vcpu.id, source }),
    crash: (report) => end({ type: "crash", report }),
  };
  const own: OwnVp = {
    index: msg.vcpu.id,
    guestTsc: () => vcpu.getMsr(IA32_TSC),
    runTime: () => runTime100ns,
    yieldCpu: () => void libc().sched_yield(),
    apic: (apic, memory) => {
      irq = new VcpuInterrupts(vcpu, apic, memory, control);
      return vpApicOf(apic, irq.pvEoi);
    },
  };
  const ctx = await threadContext(msg, vm, events, own, vcpu, (vps, count) => remoteFlush.request(vps, count));
  const partition = ctx.partition;
  self_vp = partition.vp(msg.vcpu.id)!;
  kicker = ctx.kicker;
  apic = ctx.apics?.[msg.vcpu.id];
  // Without Hyper-V (or a VP view without the vapic bridge) the worker still owns its APIC.
  if (apic && !irq) irq = new VcpuInterrupts(vcpu, apic, ctx.memory, control);
  const c = ctx.composition;
  if (c && msg.hyperv) {
    if (c.enlightenments.some((e) => e.name === "synic")) testdev = synicTestDevBackend(partition);
    if (msg.exitModule) {
      // Another backend (passthrough): KVM serves Hyper-V; its hook handles KVM_EXIT_HYPERV and friends.
      const mod = await import(msg.exitModule);
      exitHook = mod.createExitHook({ vcpu, vm, partition, composition: c });
    } else dispatch = workerDispatch(c, partition, msg.hypercallPort, (_vp, into) => {
      vcpu.getFpu();
      for (let n = 0; n < 6; n++) for (let w = 0; w < 4; w++) into[n * 4 + w] = vcpu.fpu.xmm(n, w);
    });
  }
  // Sync regs serve only the hypercall path: without Hyper-V, KVM need not copy registers at every exit.
  syncRegs = dispatch !== undefined && syncRegsWanted() && (vm.checkExtension(KVM_CAP_SYNC_REGS) & SYNC_REGS) === SYNC_REGS;
  if (syncRegs) vcpu.enableSyncRegs(SYNC_REGS);
  bus.register(0x3000, 4, new HypervTestDev(testdev), "hyperv-testdev");
  if (msg.restore) afterRestore(partition, msg.restore.fromTscHz, msg.restore.tscJump);

  // Remote TLB flushes: share REQ/DONE words; a kick rings the target's doorbell and interrupts its KVM_RUN.
  remoteFlush = new RemoteFlush(
    msg.flush,
    msg.vcpuCount,
    msg.vcpu.id,
    msg.controls.map((b) => new Int32Array(b)),
    (v) => kicker.kick(v),
    flushOwnTlb,
  );
  post({ type: "ready", vcpu: msg.vcpu.id, thread: currentThread() });
}

/**
 * A restored VM, before this vCPU reports ready (`WorkerRestore`): every plugin's `restored()`; on
 * vCPU 0, when the saved guest TSC ran at `fromTscHz`, the TSC frequency change to this host's rate:
 * announced while `tscHz` still reports the old rate (hv-reenlightenment raises its vector, hv-time
 * pins its parameters), then `tscHz` reports the new rate and the change takes effect at the
 * restored TSC at once, whether or not a plugin asked to hold it: KVM here cannot scale the guest
 * TSC, so it already ticks at the new rate (hv-time republishes its page before the guest runs;
 * the guest's acknowledgement through TSC_EMULATION_STATUS then only clears InProgress). When the
 * guest TSC value jumped at the restore (`tscJump` cycles: KVM did not take the saved value), the
 * change (or, at the same rate, a change of nothing but the value) is applied with `sinceTsc` = the
 * TSC minus the jump: reference time goes on from where it was saved, never back.
 */
function afterRestore(partition: WorkerPartition, fromTscHz: number | undefined, tscJump: number | undefined): void {
  const instances = dispatch?.instances.values() ?? [];
  for (const h of instances) h.restored?.();
  if ((fromTscHz === undefined && tscJump === undefined) || !dispatch) return;
  const toHz = init.tscHz, fromHz = fromTscHz ?? toHz;
  if (fromHz !== toHz) announceTscFrequencyChange(dispatch.instances.values(), fromHz, toHz);
  partition.tscHz = toHz;
  const at = vcpu.getMsr(IA32_TSC);
  applyTscFrequencyChange(dispatch.instances.values(), fromHz, toHz, at, at - (tscJump ?? 0));
}

/** HV_KVM_SYNC_REGS=0 turns sync regs off (to compare with the ioctl path); without env permission: on (never prompts). */
function syncRegsWanted(): boolean {
  try {
    const variable = "HV_KVM_SYNC_REGS";
    if (Deno.permissions.querySync({ name: "env", variable }).state !== "granted") return true;
    return Deno.env.get(variable) !== "0";
  } catch {
    return true;
  }
}

function end(m: WorkerMessage): void {
  if (ended) return;
  ended = true;
  flushLine();
  post(m);
}

function fault(what: string, reason: number): void {
  end({ type: "fault", fault: { vcpu: init.vcpu.id, what, exitReason: exitReasonName(reason), registers: registerSnapshot(vcpu) } });
}

const msr = newMsrAccess();
const mode = newCpuMode();
const call = newHypercallInput();

function hypercall(): void {
  const run = vcpu.kvmRun;
  // KVM synced this exit's registers when kvm_valid_regs still holds both bits (Vcpu.run re-asserts it).
  if (syncRegs && (run.kvmValidRegs & SYNC_REGS) === SYNC_REGS) {
    const sregs = run.syncSregs;
    mode.protectedMode = (sregs.cr0 & CR0_PE) !== 0;
    mode.longMode = sregs.longMode;
    mode.cpl = sregs.cpl;
    const out = dispatch!.hypercall.dispatch(self_vp, run.syncRegs.words, mode, call);
    if (out === HypercallOutcome.Done) vcpu.markRegsDirty();
    else if (out === HypercallOutcome.Ud) vcpu.injectException(UD_VECTOR);
    return;
  }
  const regs = vcpu.getRegs();
  const sregs = vcpu.getSregs();
  mode.protectedMode = (sregs.cr0 & CR0_PE) !== 0;
  mode.longMode = sregs.longMode;
  mode.cpl = sregs.cpl;
  const out = dispatch!.hypercall.dispatch(self_vp, regs.words, mode, call);
  if (out === HypercallOutcome.Done) vcpu.setRegs();
  else if (out === HypercallOutcome.Ud) vcpu.injectException(UD_VECTOR);
}

function io(): void {
  const run = vcpu.kvmRun;
  const port = run.ioPort, size = run.ioSize, n = run.ioCount, out = run.ioDirection === KVM_EXIT_IO_OUT;
  if (out && port === init.hypercallPort && dispatch && size === 4 && n === 1) {
    counts[C.hypercall]++;
    return hypercall();
  }
  counts[C.io]++;
  const bytes = run.bytes, view = run.view;
  let off = run.ioDataOffset;
  for (let i = 0; i < n; i++, off += size) {
    if (out) {
      const v = size === 1 ? bytes[off] : size === 2 ? view.getUint16(off, true) : view.getUint32(off, true);
      bus.write(port, size, v);
    } else {
      const v = bus.read(port, size);
      if (size === 1) bytes[off] = v;
      else if (size === 2) view.setUint16(off, v, true);
      else view.setUint32(off, v >>> 0, true);
    }
  }
}

/** MMIO: the xAPIC page of the userspace APIC; nothing else is mapped (reads all-ones, writes ignored). */
function mmio(): void {
  counts[C.mmio]++;
  const run = vcpu.kvmRun;
  const a = apic;
  if (a !== undefined && a.xapic) {
    const off = run.mmioPhysAddr - a.mmioBase;
    if (off >= 0 && off < 0x1000 && a.mmioBaseHi === 0) {
      if (run.mmioIsWrite) a.write(off, run.mmioLen, run.mmioDataLo);
      else run.setMmioData(a.read(off, run.mmioLen), 0);
      return;
    }
  }
  if (!run.mmioIsWrite) run.setMmioData(0xffffffff, 0xffffffff);
}

/** IA32_APIC_BASE, IA32_TSC_DEADLINE and the x2APIC range go to the userspace APIC. */
const isApicMsr = (i: number) => i === 0x1b || i === 0x6e0 || (i >= 0x800 && i <= 0x8ff);

function rdmsr(): void {
  counts[C.rdmsr]++;
  const run = vcpu.kvmRun;
  msr.index = run.msrIndex;
  msr.lo = 0;
  msr.hi = 0;
  const out = apic !== undefined && isApicMsr(msr.index)
    ? apic.rdmsr(msr)
    : dispatch
    ? dispatch.msr.rdmsr(self_vp, msr)
    : MsrOutcome.Gp;
  if (out === MsrOutcome.Ok) {
    run.setMsrData(msr.lo, msr.hi);
    run.msrError = 0;
  } else run.msrError = 1;
}

function wrmsr(): void {
  counts[C.wrmsr]++;
  const run = vcpu.kvmRun;
  msr.index = run.msrIndex;
  msr.lo = run.msrDataLo;
  msr.hi = run.msrDataHi;
  const out = apic !== undefined && isApicMsr(msr.index)
    ? apic.wrmsr(msr)
    : dispatch
    ? dispatch.msr.wrmsr(self_vp, msr)
    : MsrOutcome.Gp;
  run.msrError = out === MsrOutcome.Ok ? 0 : 1;
}

/** Serves remote TLB flushes while idle (one closure, made once: the HLT path allocates nothing). */
const serviceWhileIdle = () => remoteFlush.service();

/** HLT or waiting for SIPI with the userspace irqchip: sleep on the doorbell. False: stop. */
function idle(hlt: boolean): boolean {
  return irq!.idle(hlt, serviceWhileIdle);
}

function loop(): void {
  const run = vcpu.kvmRun;
  const ints = irq;
  // Restored halted: sleep as after the HLT (kvm_run's IF is not set before a first KVM_RUN: take the saved RFLAGS.IF).
  if (init.restore?.halted && ints !== undefined && !ints.idle(true, serviceWhileIdle, (vcpu.getRegs().rflags & RFLAGS_IF) !== 0)) {
    halted = true;
    return;
  }
  for (;;) {
    remoteFlush.service();
    if (ints !== undefined) {
      // IN_GUEST before the last look at pending interrupts: a later post sees it and kicks.
      Atomics.store(control, Control.IN_GUEST, 1);
      if (ints.beforeRun() === Entry.WaitForSipi) {
        Atomics.store(control, Control.IN_GUEST, 0);
        if (!idle(false)) return;
        continue;
      }
    }
    const t0 = performance.now();
    const r = vcpu.run();
    runTime100ns += (performance.now() - t0) * 1e4;
    if (ints !== undefined) {
      Atomics.store(control, Control.IN_GUEST, 0);
      ints.afterRun();
    }
    if (exitHook !== undefined && (r === KVM_EXIT_HYPERV || r === KVM_EXIT_SYSTEM_EVENT)) {
      const a = exitHook(r);
      if (a.kind === "continue") continue;
      if (a.kind === "crash") return end({ type: "crash", report: a.report! });
      if (a.kind === "reset") return end({ type: "reset", vcpu: init.vcpu.id, source: a.source ?? "passthrough" });
    }
    switch (r) {
      case KVM_EXIT_IO:
        io();
        break;
      case KVM_EXIT_X86_RDMSR:
        rdmsr();
        break;
      case KVM_EXIT_X86_WRMSR:
        wrmsr();
        break;
      case KVM_EXIT_MMIO:
        mmio();
        break;
      case KVM_RUN_AGAIN:
        break;
      case KVM_RUN_INTERRUPTED:
        counts[C.interrupted]++;
        if (Atomics.load(control, Control.STOP) !== 0) return;
        break;
      case KVM_EXIT_SHUTDOWN:
        return fault("the guest triple-faulted (KVM_EXIT_SHUTDOWN)", r);
      case KVM_EXIT_INTERNAL_ERROR:
        return fault(`KVM could not emulate an instruction (internal error, suberror ${run.internalSuberror})`, r);
      case KVM_EXIT_FAIL_ENTRY:
        return fault(`KVM failed to enter the guest (hardware reason 0x${run.failEntryReason.toString(16)})`, r);
      case KVM_EXIT_HLT:
        counts[C.hlt]++;
        if (ints === undefined) return fault("the vCPU halted with no interrupt controller to wake it", r);
        if (!idle(true)) {
          halted = true;
          return;
        }
        break;
      case KVM_EXIT_IRQ_WINDOW_OPEN:
        counts[C.irq_window]++;
        break;
      case KVM_EXIT_SET_TPR:
        break; // kvm_run.cr8 reached the TPR in afterRun
      case KVM_EXIT_SYSTEM_EVENT:
        if (run.systemEventType === KVM_SYSTEM_EVENT.RESET) return end({ type: "reset", vcpu: init.vcpu.id, source: "KVM_SYSTEM_EVENT_RESET" });
        return fault("the guest requested a system event (reset or shutdown)", r);
      default:
        counts[C.other]++;
        return fault(`unexpected exit ${exitReasonName(r)}`, r);
    }
    if (ended) return;
  }
}

self.onmessage = async (e: MessageEvent<MachineMessage>) => {
  const m = e.data;
  try {
    if (m.type === "init") await setup(m);
    else if (m.type === "start") {
      Atomics.store(control, Control.RUNNING, 1);
      if (Atomics.load(control, Control.STOP) === 0) loop();
      Atomics.store(control, Control.RUNNING, 0);
      flushLine();
      const exits: Record<string, number> = {};
      if (irq !== undefined) {
        counts[C.injected] = irq.injected;
        counts[C.exitless_eoi] = irq.pvEoi.completed;
      }
      EXIT_COUNTERS.forEach((k, i) => (exits[k] = counts[i]));
      post({ type: "stopped", vcpu: init.vcpu.id, exits, registers: registerSnapshot(vcpu), halted });
    }
  } catch (err) {
    post({ type: "error", vcpu: init?.vcpu.id ?? -1, message: err instanceof Error ? err.stack ?? err.message : String(err) });
  }
};
