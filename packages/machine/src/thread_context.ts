/**
 * What every machine thread (a vCPU worker, the timer thread) builds the same way from its init
 * message: the composition (re-composed from the serialisable spec: plugins are code), the shared
 * host timers, the userspace APICs (when the machine runs without KVM's irqchip), the kicker, and
 * the partition with one `VpView` per VP. Edge code (once per thread); the views it returns are
 * exit-path safe.
 * @module
 */
import type { Composition } from "@hv/compose";
import type { LocalApic } from "@hv/apic";
import { attachHostMemory, Vcpu, type Vm } from "@hv/kvm";
import { GuestMemory, type PartitionEvents, StateArena, type VpApic, type VpView } from "@hv/x86";
import { advertisedIn, arenaEntries, composeSpec, loadRegistry, WorkerPartition } from "./hv_partition.ts";
import { buildApics, irqchipTimerOwners, Kicker } from "./irqchip.ts";
import type { WorkerInit } from "./protocol.ts";
import { SharedTimers, timerLayout } from "./timers.ts";

/** The init fields every thread shares (a vCPU worker's init minus its own vCPU). */
export type ThreadInit = Omit<WorkerInit, "type" | "vcpu" | "control" | "flush" | "exitModule">;

/**
 * This thread's own VP, when it has one (a vCPU worker): exact guest TSC and run time, a real
 * yield, and the `VpApic` the synthetic APIC MSRs act on.
 */
export interface OwnVp {
  readonly index: number;
  guestTsc(): number;
  runTime(): number;
  yieldCpu(): void;
  /** Built once the APICs exist (the own VP's exit-less EOI state lives with its worker). */
  apic?: (apic: LocalApic, memory: GuestMemory) => VpApic;
}

/** See the module documentation. */
export interface ThreadContext {
  readonly memory: GuestMemory;
  readonly composition: Composition | undefined;
  readonly timers: SharedTimers;
  /** One per VP with the userspace irqchip; undefined with KVM's. */
  readonly apics: LocalApic[] | undefined;
  readonly kicker: Kicker;
  /** Every vCPU's kvm_run mapping (this thread's own vCPU included when passed as `self`). */
  readonly vcpus: readonly Vcpu[];
  readonly partition: WorkerPartition;
}

/**
 * Builds a thread's context. `self` is the worker's own attached vCPU (reused rather than mapped
 * twice); `flushTlb` the partition's remote flush (vCPU workers only).
 */
export async function threadContext(
  msg: ThreadInit,
  vm: Vm,
  events: PartitionEvents,
  own?: OwnVp,
  self?: Vcpu,
  flushTlb?: (vps: Uint32Array, count: number) => void,
): Promise<ThreadContext> {
  const memory = new GuestMemory(attachHostMemory(msg.ram.address, msg.ram.size).bytes);
  const composition = msg.hyperv ? composeSpec(msg.hyperv, await loadRegistry(msg.hyperv)) : undefined;
  const timers = new SharedTimers(timerLayout(composition, msg.vcpuCount, irqchipTimerOwners(msg.irqchip)), msg.timers, msg.vcpuCount, msg.epochMs);
  const vcpus = msg.vcpus.map((h) => (self && h.id === self.id ? self : Vcpu.attach(h.fd, h.mmapSize, h.id)));
  const kicker = new Kicker(msg.controls.map((b) => new Int32Array(b)), vcpus, new Float64Array(msg.threadIds));
  const estimateTsc = () => msg.tscSample.tsc + ((timers.now() - msg.tscSample.ns) * msg.tscHz) / 1e9;
  const tscOf = (i: number) => ({ tscHz: msg.tscHz, guestTsc: own && own.index === i ? own.guestTsc : estimateTsc });
  const apics = msg.irqchip === "userspace" ? buildApics(msg.apicStates, timers, (v) => kicker.kick(v), tscOf) : undefined;
  const vpEntries = composition ? arenaEntries(composition, "vp") : [];
  const noop = () => {};
  const makeVp = (index: number, partition: WorkerPartition): VpView => {
    const arena = composition ? new StateArena(vpEntries, msg.vpStates[index]) : undefined;
    const mine = own !== undefined && own.index === index;
    const apic = apics?.[index];
    return {
      index,
      apicId: index,
      partition,
      state: (owner) => arena!.views(owner),
      guestTsc: mine ? own.guestTsc : estimateTsc,
      runTime: mine ? own.runTime : () => Number.NaN,
      // Userspace irqchip: post into the APIC (it kicks the VP). Kernel irqchip: an MSI to the LAPIC.
      requestInterrupt: apic
        ? (vector, autoEoi) => void apic.accept(vector & 0xff, false, autoEoi)
        : (vector) => void vm.signalMsi(0xfee00000 + index * 4096, vector & 0xff),
      yieldCpu: mine ? own.yieldCpu : noop,
      ...(mine && apic && own.apic ? { apic: own.apic(apic, memory) } : {}),
    };
  };
  const partitionEntries = composition ? arenaEntries(composition, "partition") : [];
  const partition = new WorkerPartition(
    memory,
    msg.tscFrequency,
    new StateArena(partitionEntries, msg.partitionState),
    makeVp,
    msg.vcpuCount,
    events,
    timers,
    composition ? advertisedIn(composition) : undefined,
    flushTlb,
  );
  return { memory, composition, timers, apics, kicker, vcpus, partition };
}
