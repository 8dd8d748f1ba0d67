/**
 * The machine: creates the KVM VM (in-kernel irqchip and PIT), maps guest RAM, loads the kernel,
 * programs each vCPU (CPUID with the composed Hyper-V leaves, boot registers), routes the synthetic
 * MSR range to userspace, starts one Worker per vCPU, and ends the run on isa-debug-exit, a guest
 * failure, or the timeout, with a report. Edge code; the exit path lives in `vcpu_worker.ts`.
 * @module
 */
import { Effect } from "effect";
import type { Composition } from "@hv/compose";
import {
  installKickHandler,
  KVM_CAP_X86_USER_SPACE_MSR,
  KVM_MSR_EXIT_REASON_FILTER,
  KVM_MSR_EXIT_REASON_INVAL,
  KVM_MSR_FILTER_DEFAULT_ALLOW,
  denyMsrRange,
  Kvm,
  RFLAGS_FIXED,
  type Vcpu,
  type Vm,
} from "@hv/kvm";
import { type BootPlan, LoadError, tryLoadKernel } from "@hv/loader";
import { HV_X64_MSR_RANGE_FIRST, HV_X64_MSR_RANGE_LAST, IA32_TSC } from "@hv/tlfs";
import {
  type CpuidLeaf,
  type GuestCrashReport,
  GuestMemory,
  identityPageTablesSize,
  longModeSregs,
  protectedModeSregs,
  StateArena,
  writeGdt,
  writeIdentityPageTables,
} from "@hv/x86";
import { guestCpuid } from "./guest_cpuid.ts";
import { arenaBytes, arenaEntries, tscFrequencyCell } from "./hv_partition.ts";
import { applyMachineState, captureMachineState, type MachineRestore, type MachineState, type SaveRequest, SnapshotMismatchError, tscRateDiffers } from "./snapshot.ts";
import { timerBytes, timerLayout } from "./timers.ts";
import { APIC_STATE_BYTES, type IrqchipMode, irqchipTimerOwners, resetApicStates } from "./irqchip.ts";
import { SharedTimers } from "./timers.ts";
import { newCmosState } from "@hv/devices";
import { flushBytes } from "./remote_flush.ts";
import type { TimerInit } from "./timer_worker.ts";
import { Control, CONTROL_WORDS, type HypervSpec, type VcpuFault, type WorkerInit, type WorkerMessage } from "./protocol.ts";

/** The I/O port of hv's hypercall stub (`OUT 0xE4, EAX; RET`): unused by QEMU's PC devices. */
export const HV_HYPERCALL_PORT = 0xe4;

/**
 * A machine to run:
 * - `kernel`: the image bytes (multiboot v1 or ELF64), `append` its command line, `initrd` modules;
 * - `memoryMiB` (1..3072), `smp` vCPUs (1..8), `timeoutSeconds` (counted from when every vCPU worker is ready);
 * - `hyperv`: the composition (for the guest's CPUID) and its serialisable spec (for the workers);
 *   absent: no Hyper-V interface at all;
 * - `onSerial`: each line the guest prints on COM1.
 */
export interface MachineConfig {
  readonly kernel: Uint8Array;
  readonly kernelName?: string;
  readonly append?: string;
  readonly initrd?: readonly { readonly data: Uint8Array; readonly string?: string }[];
  readonly memoryMiB: number;
  readonly smp: number;
  readonly timeoutSeconds: number;
  readonly hyperv?: { readonly composition: Composition; readonly spec: HypervSpec };
  readonly onSerial: (line: string) => void;
  /** Another backend's hooks (see {@link MachineBackend}); absent: hv's emulator serves Hyper-V. */
  readonly backend?: MachineBackend;
  /**
   * The interrupt controller (QEMU `-machine kernel-irqchip=off|on`): `"userspace"` (default for the
   * emulator: hv's `@hv/apic` per VP, injection with KVM_INTERRUPT; needed for SynIC auto-EOI and
   * the VP assist page's exit-less EOI) or `"kernel"` (KVM's in-kernel LAPIC, IO-APIC, PIC and PIT;
   * forced with a `backend`, whose in-kernel Hyper-V needs it).
   */
  readonly irqchip?: IrqchipMode;
  /** The RTC/CMOS state (`@hv/devices` `newCmosState`) the vCPUs share; a caller keeps it across power cycles. Absent: a fresh one. */
  readonly cmos?: SharedArrayBuffer;
  /** Called once every vCPU has stopped, before the VM is torn down (`hv run --on-crash pause` holds a crashed VM here). */
  readonly beforeTeardown?: (result: RunResult) => Promise<void>;
  /**
   * Save the VM when asked (`hv run --save`): the vCPUs are stopped with their pending I/O completed,
   * the state is captured and handed to `save.write`, and the run ends with the `saved` outcome.
   * Userspace irqchip only (see `snapshot.ts`).
   */
  readonly save?: SaveRequest;
  /**
   * Resume this saved VM instead of loading `kernel` (which a later guest reset boots). When the
   * saved guest TSC frequency differs from this host's (beyond KVM's 250 ppm), the change is
   * announced to the plugins (hv-reenlightenment notifies the guest) and takes effect before the
   * guest runs: KVM here cannot scale the TSC, so the guest TSC ticks at the host's rate from the restore.
   */
  readonly restore?: MachineRestore;
}

/**
 * Another backend's hooks into the machine (the passthrough backend, where KVM's in-kernel Hyper-V
 * serves the guest): `setupVm` replaces the userspace-MSR routing, `setupVcpu` replaces the guest
 * CPUID programming (it receives KVM's supported CPUID), and vCPU workers import `workerModule`,
 * whose `createExitHook({vcpu, vm, partition, composition})` handles the exits the machine's loop
 * does not (KVM_EXIT_HYPERV, system events). With a backend there is no timer thread and no
 * hypercall port: KVM serves both.
 */
export interface MachineBackend {
  readonly name: string;
  setupVm(vm: Vm): void;
  setupVcpu(vcpu: Vcpu, index: number, supportedCpuid: readonly CpuidLeaf[]): void;
  readonly workerModule: string;
}

/** Tells backends that `MachineConfig.backend` is supported. */
export const MACHINE_BACKEND_HOOKS = true;

/** How a run ended. `code` is the process exit code hv uses. */
export type RunOutcome =
  | { readonly kind: "exit"; readonly guestCode: number; readonly code: number }
  | { readonly kind: "timeout"; readonly code: number; readonly registers: readonly Readonly<Record<string, string>>[] }
  | { readonly kind: "fault"; readonly code: number; readonly fault: VcpuFault }
  | { readonly kind: "crash"; readonly code: number; readonly report: GuestCrashReport }
  | { readonly kind: "reset"; readonly code: number; readonly vcpu: number; readonly source: string }
  | { readonly kind: "saved"; readonly code: number }
  | { readonly kind: "error"; readonly code: number; readonly message: string };

/** Result of a run: the outcome and per-vCPU exit counts. */
export interface RunResult {
  readonly outcome: RunOutcome;
  readonly exits: readonly Readonly<Record<string, number>>[];
  readonly seconds: number;
}

/** Process exit code when `--timeout` expires (as coreutils `timeout`). */
export const EXIT_TIMEOUT = 124;
/** Process exit code when the guest fails (triple fault, emulation failure, failed entry). */
export const EXIT_GUEST_FAULT = 125;
/** How long the vCPU workers may take to start (load their modules, attach) before the run is an error. */
export const STARTUP_LIMIT_SECONDS = 120;

/** Process exit code when the VMM itself fails. */
export const EXIT_VMM_ERROR = 70;

// Low memory the machine uses for ELF64 boots: GDT+TSS at 0x1000, identity page tables from 0x2000.
const GDT_AT = 0x1000;
const PT_AT = 0x2000;

/** Validates what a person can get wrong, with one clear message each. */
export function checkConfig(c: MachineConfig): string | undefined {
  if (!Number.isInteger(c.memoryMiB) || c.memoryMiB < 2 || c.memoryMiB > 3072) return `--memory must be 2..3072 MiB, got ${c.memoryMiB}`;
  if (!Number.isInteger(c.smp) || c.smp < 1 || c.smp > 8) return `--smp must be 1..8, got ${c.smp}`;
  if (!(c.timeoutSeconds > 0)) return `--timeout must be a positive number of seconds, got ${c.timeoutSeconds}`;
  return undefined;
}

function bootVcpu(vcpu: Vcpu, memory: GuestMemory, plan: BootPlan): void {
  const sregs = vcpu.getSregs();
  const regs = vcpu.regs;
  regs.clear();
  regs.rflags = RFLAGS_FIXED;
  const gdt = writeGdt(memory, GDT_AT);
  if (plan.kind === "multiboot") {
    // Multiboot v1 §3.2: 32-bit protected mode, flat segments, paging off; the kernel loads its own GDT.
    sregs.apply(protectedModeSregs({ gdt }));
    regs.rax = plan.eax;
    regs.rbx = plan.ebx;
    regs.rip = plan.entry;
  } else {
    // Identity-map the whole 4 GiB (RAM and the MMIO above it): 6 pages of tables at 0x2000..0x8000.
    const span = 4 * 1024 * 1024 * 1024;
    if (PT_AT + identityPageTablesSize(span) > 0x9000) throw new Error("page tables do not fit below 0x9000");
    const cr3 = writeIdentityPageTables(memory, PT_AT, span);
    sregs.apply(longModeSregs({ gdt, cr3 }));
    regs.rip = plan.entry;
    regs.rsp = 0x8ff0;
  }
  vcpu.setSregs();
  vcpu.setRegs();
}

/**
 * After a restore: how far vCPU 0's guest TSC is from the value the snapshot holds (cycles), when
 * more than 1 ms of ticks (KVM did not take the saved IA32_TSC: this host cannot offset the guest
 * TSC), else undefined.
 */
function restoredTscJump(vcpu: Vcpu, s: MachineState, tscHz: number): number | undefined {
  const saved = s.vcpus[0]?.msrs.find((m) => m.index === IA32_TSC)?.value;
  if (saved === undefined) return undefined;
  const jump = vcpu.getMsr(IA32_TSC) - Number(saved);
  return Math.abs(jump) > tscHz / 1000 ? jump : undefined;
}

/** Runs a machine to its end (see {@link RunOutcome}); never throws for what the guest does. */
export async function runMachine(cfg: MachineConfig): Promise<RunResult> {
  const t0 = performance.now();
  const kvm = Kvm.open();
  let vm: Vm | undefined;
  const workers: Worker[] = [];
  const kick = installKickHandler();
  try {
    vm = kvm.createVm();
    vm.setTssAddr(0xfffbd000);
    vm.setIdentityMapAddr(0xfffbc000);
    const irqchip: IrqchipMode = cfg.backend ? "kernel" : cfg.irqchip ?? "userspace";
    if (irqchip === "kernel") {
      vm.createIrqchip();
      vm.createPit2();
    }
    const ramBytes = cfg.memoryMiB * 1024 * 1024;
    const ram = vm.addRam(0, 0, ramBytes);
    const memory = new GuestMemory(ram.bytes);
    const usage = (message: string): RunResult => ({ outcome: { kind: "error", code: 2, message }, exits: [], seconds: 0 });
    let plan: BootPlan | undefined;
    if (cfg.restore) {
      if (irqchip !== "userspace") return usage("cannot restore a saved VM with KVM's in-kernel irqchip (the snapshot holds hv's userspace APIC)");
      if (cfg.restore.state.ramBytes !== ramBytes) return usage(`cannot restore the snapshot: it has ${cfg.restore.state.ramBytes / 1048576} MiB of RAM, this machine ${cfg.memoryMiB} MiB`);
      await cfg.restore.loadRam(ram.bytes);
    } else {
      const loaded = tryLoadKernel(memory, cfg.kernel, {
        cmdline: cfg.append,
        kernelName: cfg.kernelName,
        modules: cfg.initrd?.map((m) => ({ data: m.data, string: m.string })),
      });
      if (loaded instanceof LoadError) return usage(`cannot load the kernel: ${loaded.message}`);
      plan = loaded as BootPlan;
    }

    if (cfg.backend) cfg.backend.setupVm(vm);
    else if (cfg.hyperv || irqchip === "userspace") {
      // Userspace MSR exits: the synthetic MSR range (filtered) and, for the userspace APIC,
      // IA32_APIC_BASE and IA32_TSC_DEADLINE (filtered) plus the x2APIC range, which cannot be
      // filtered but exits as "invalid" when KVM has no LAPIC (KVM_MSR_EXIT_REASON_INVAL).
      const ranges = [
        ...(cfg.hyperv ? [denyMsrRange(HV_X64_MSR_RANGE_FIRST, HV_X64_MSR_RANGE_LAST - HV_X64_MSR_RANGE_FIRST + 1)] : []),
        ...(irqchip === "userspace" ? [denyMsrRange(0x1b, 1), denyMsrRange(0x6e0, 1)] : []),
      ];
      vm.enableCap(KVM_CAP_X86_USER_SPACE_MSR, [KVM_MSR_EXIT_REASON_FILTER | (irqchip === "userspace" ? KVM_MSR_EXIT_REASON_INVAL : 0)]);
      vm.setMsrFilter(KVM_MSR_FILTER_DEFAULT_ALLOW, ranges);
    }
    const supported = kvm.supportedCpuid();
    const hvLeaves = cfg.hyperv?.composition.cpuid ?? [];
    const vcpus: Vcpu[] = [];
    for (let i = 0; i < cfg.smp; i++) {
      const v = vm.createVcpu(i);
      if (cfg.backend) cfg.backend.setupVcpu(v, i, supported);
      else v.setCpuid2(guestCpuid(supported, hvLeaves, i));
      vcpus.push(v);
    }
    if (plan) bootVcpu(vcpus[0], memory, plan);
    const tscHz = vcpus[0].getTscKhz() * 1000;

    const partitionEntries = cfg.hyperv ? arenaEntries(cfg.hyperv.composition, "partition") : [];
    const vpEntries = cfg.hyperv ? arenaEntries(cfg.hyperv.composition, "vp") : [];
    const partitionState = new StateArena(partitionEntries, new SharedArrayBuffer(arenaBytes(partitionEntries)));
    partitionState.reset();
    if (cfg.save && irqchip !== "userspace") return usage("cannot save a VM that uses KVM's in-kernel irqchip (hv saves its own userspace APIC)");
    const vpStates = vcpus.map(() => {
      const a = new StateArena(vpEntries, new SharedArrayBuffer(arenaBytes(vpEntries)));
      a.reset();
      return a.buffer;
    });
    const controls = vcpus.map(() => new SharedArrayBuffer(CONTROL_WORDS * 4));
    // KVM serves the synthetic timers itself under another backend: no timer thread then.
    const layout = cfg.backend
      ? { owners: new Map(), slots: 0 }
      : timerLayout(cfg.hyperv?.composition, vcpus.length, irqchipTimerOwners(irqchip));
    const timersBuffer = new SharedArrayBuffer(timerBytes(layout));
    const epochMs = performance.timeOrigin + performance.now();
    // The userspace APICs' shared state (power-on values), and where workers publish their pthread_t.
    const apicStates = irqchip === "userspace" ? vcpus.map(() => new SharedArrayBuffer(APIC_STATE_BYTES)) : [];
    const mainTimers = new SharedTimers(layout, timersBuffer, vcpus.length, epochMs);
    resetApicStates(apicStates, mainTimers);
    const cmos = cfg.cmos ?? newCmosState();
    const parts = { vcpus, partition: partitionState, vpEntries, vpStates, apicStates, timers: mainTimers, cmos, ramBytes };
    // A restore: the saved state over the fresh machine, and the saved TSC rate until vCPU 0 announces this host's.
    let fromTscHz: number | undefined, tscJump: number | undefined;
    if (cfg.restore) {
      try {
        applyMachineState(parts, cfg.restore.state);
      } catch (e) {
        if (e instanceof SnapshotMismatchError) return usage(`cannot restore the snapshot: ${e.message}`);
        throw e;
      }
      const savedHz = cfg.restore.state.tscKhz * 1000;
      if (tscRateDiffers(savedHz, tscHz)) fromTscHz = savedHz;
      tscJump = restoredTscJump(vcpus[0], cfg.restore.state, tscHz);
    }
    const tscFrequency = tscFrequencyCell(fromTscHz ?? tscHz);
    const threadIds = new SharedArrayBuffer(8 * vcpus.length);
    const tscSample = { tsc: vcpus[0].getMsr(IA32_TSC), ns: (performance.timeOrigin + performance.now() - epochMs) * 1e6 };
    const timerStop = new SharedArrayBuffer(4);
    const flush = new SharedArrayBuffer(flushBytes(vcpus.length));
    const halted: boolean[] = vcpus.map(() => false);

    const result = await new Promise<RunResult>((resolve) => {
      const threads: (bigint | undefined)[] = [];
      const exits: Record<string, number>[] = [];
      const registers: Record<string, string>[] = [];
      let outcome: RunOutcome | undefined;
      let ready = 0, stopped = 0;
      // --timeout counts guest time: it starts when every vCPU is ready (a worker's start-up, e.g.
      // module loading and type checking under `deno test`, is not the guest's). Until then a
      // start-up watchdog ends a VMM that never gets going.
      let saveTimer: ReturnType<typeof setTimeout> | undefined;
      // Settles when the timer thread has left its loop (or at once when there is none).
      let timerStoppedNow = () => {};
      const timerStopped = layout.slots > 0 ? new Promise<void>((r) => (timerStoppedNow = r)) : Promise.resolve();
      cfg.save?.requested?.then(() => finish({ kind: "saved", code: 0 }), () => {});
      let timer = setTimeout(
        () => finish({ kind: "error", code: EXIT_VMM_ERROR, message: `the vCPU workers did not start within ${STARTUP_LIMIT_SECONDS} s` }),
        STARTUP_LIMIT_SECONDS * 1000,
      );
      const finish = (o: RunOutcome) => {
        if (outcome) return;
        outcome = o;
        clearTimeout(timer);
        clearTimeout(saveTimer);
        Atomics.store(new Int32Array(timerStop), 0, 1);
        vcpus.forEach((v, i) => {
          const ctl = new Int32Array(controls[i]);
          Atomics.store(ctl, Control.STOP, 1);
          Atomics.add(ctl, Control.DOORBELL, 1);
          Atomics.notify(ctl, Control.DOORBELL);
          if (threads[i] !== undefined && Atomics.load(ctl, Control.RUNNING) === 1) v.kick(threads[i]!);
        });
        // Workers blocked in KVM_RUN return at the kick; give them a moment, then stop regardless.
        setTimeout(() => done(), 10_000);
      };
      let settled = false;
      const done = () => {
        if (!outcome || settled) return;
        settled = true;
        let o: RunOutcome = outcome.kind === "timeout" ? { ...outcome, registers } : outcome;
        if (o.kind === "saved" && stopped < vcpus.length) {
          o = { kind: "error", code: EXIT_VMM_ERROR, message: `cannot save the VM: ${vcpus.length - stopped} vCPU(s) did not stop` };
        }
        const settle = () => {
          for (const w of workers) w.terminate();
          resolve({ outcome: o, exits, seconds: (performance.now() - t0) / 1000 });
        };
        // A save reads state the timer thread writes: let it finish its last expiry first (it
        // sees the stop word within 50 ms); terminating it could cut a delivery in half.
        if (o.kind === "saved") void Promise.race([timerStopped, new Promise((r) => setTimeout(r, 2000))]).then(settle);
        else settle();
      };
      vcpus.forEach((v, i) => {
        const w = new Worker(new URL("./vcpu_worker.ts", import.meta.url), { type: "module" });
        workers.push(w);
        w.onmessage = (e: MessageEvent<WorkerMessage>) => {
          const m = e.data;
          switch (m.type) {
            case "ready":
              threads[m.vcpu] = m.thread;
              new Float64Array(threadIds)[m.vcpu] = Number(m.thread);
              if (++ready === vcpus.length) {
                clearTimeout(timer);
                timer = setTimeout(() => finish({ kind: "timeout", code: EXIT_TIMEOUT, registers: [] }), cfg.timeoutSeconds * 1000);
                const after = cfg.save?.afterSeconds;
                if (after !== undefined) saveTimer = setTimeout(() => finish({ kind: "saved", code: 0 }), after * 1000);
                workers.slice(0, vcpus.length).forEach((x) => x.postMessage({ type: "start" }));
              }
              break;
            case "serial":
              cfg.onSerial(m.text);
              break;
            case "exit":
              finish({ kind: "exit", guestCode: m.code, code: m.code & 0xff });
              break;
            case "fault":
              finish({ kind: "fault", code: EXIT_GUEST_FAULT, fault: m.fault });
              break;
            case "crash":
              finish({ kind: "crash", code: EXIT_GUEST_FAULT, report: m.report });
              break;
            case "reset":
              finish({ kind: "reset", code: 0, vcpu: m.vcpu, source: m.source });
              break;
            case "error":
              finish({ kind: "error", code: EXIT_VMM_ERROR, message: `vCPU ${m.vcpu}: ${m.message}` });
              break;
            case "stopped":
              exits[m.vcpu] = { ...m.exits };
              registers[m.vcpu] = { ...m.registers };
              halted[m.vcpu] = m.halted;
              if (!outcome) finish({ kind: "error", code: EXIT_VMM_ERROR, message: `vCPU ${m.vcpu} stopped unexpectedly` });
              if (++stopped === vcpus.length) done();
              break;
          }
        };
        w.onerror = (e) => {
          e.preventDefault();
          finish({ kind: "error", code: EXIT_VMM_ERROR, message: `vCPU ${i} worker failed: ${e.message}` });
        };
        const init: WorkerInit = {
          type: "init",
          vcpu: v.handle,
          vmFd: vm!.fd,
          vcpuCount: vcpus.length,
          ram: { address: ram.address, size: ramBytes },
          partitionState: partitionState.buffer,
          vpStates,
          control: controls[i],
          hyperv: cfg.hyperv?.spec,
          tscHz,
          tscFrequency,
          hypercallPort: HV_HYPERCALL_PORT,
          timers: timersBuffer,
          epochMs,
          tscSample,
          vcpus: vcpus.map((x) => x.handle),
          controls,
          flush,
          cmos,
          irqchip,
          apicStates,
          threadIds,
          ...(cfg.backend ? { exitModule: cfg.backend.workerModule } : {}),
          ...(cfg.restore ? { restore: { halted: cfg.restore.state.vcpus[i].halted, ...(i === 0 && fromTscHz !== undefined ? { fromTscHz } : {}), ...(i === 0 && tscJump !== undefined ? { tscJump } : {}) } } : {}),
        };
        w.postMessage(init);
      });
      if (layout.slots > 0) {
        // The timer thread: expiries of synthetic timers without waiting for guest exits.
        const t = new Worker(new URL("./timer_worker.ts", import.meta.url), { type: "module" });
        workers.push(t);
        t.onmessage = (e: MessageEvent<{ type: string; message?: string; report?: GuestCrashReport; source?: string }>) => {
          if (e.data.type === "error") finish({ kind: "error", code: EXIT_VMM_ERROR, message: `timer thread: ${e.data.message}` });
          else if (e.data.type === "timer-stopped") timerStoppedNow();
        };
        const init: TimerInit = {
          type: "timer-init",
          vmFd: vm!.fd,
          vcpuMmapSize: kvm.vcpuMmapSize,
          vcpuCount: vcpus.length,
          ram: { address: ram.address, size: ramBytes },
          partitionState: partitionState.buffer,
          vpStates,
          hyperv: cfg.hyperv?.spec,
          tscHz,
          tscFrequency,
          hypercallPort: HV_HYPERCALL_PORT,
          timers: timersBuffer,
          epochMs,
          tscSample,
          vcpus: vcpus.map((x) => x.handle),
          controls,
          irqchip,
          apicStates,
          threadIds,
          stop: timerStop,
        };
        t.postMessage(init);
      }
    });
    if (result.outcome.kind === "saved" && cfg.save) {
      try {
        await cfg.save.write(captureMachineState({ ...parts, halted }), ram.bytes);
      } catch (e) {
        return { ...result, outcome: { kind: "error", code: EXIT_VMM_ERROR, message: `cannot save the VM: ${e instanceof Error ? e.message : String(e)}` } };
      }
    }
    await cfg.beforeTeardown?.(result);
    return result;
  } finally {
    for (const w of workers) w.terminate();
    // A kick sent just as its vCPU left KVM_RUN may still be pending: let it land on the handler
    // first (removing the handler restores SIGUSR2's default action, which ends the process).
    await new Promise((r) => setTimeout(r, 500));
    kick[Symbol.dispose]();
    vm?.close();
    kvm.close();
  }
}

/** {@link runMachine} as an Effect for the CLI (failures to create the VM become a tagged error's message). */
export const runMachineEffect = (cfg: MachineConfig) => Effect.promise(() => runMachine(cfg));
