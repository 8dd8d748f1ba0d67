/**
 * The KVM operations the passthrough backend needs, as one small interface ({@link KvmService}), and
 * its implementation over `@hv/kvm` ({@link RealKvmService}). The simulated Hyper-V-capable kernel
 * for tests is `simulated_kvm.ts`.
 *
 * Why a plain interface and not an Effect `Context.Service`: every operation is a synchronous FFI
 * ioctl, and part of the backend runs inside vCPU workers on the exit path, where hv uses no Effect
 * (docs/architecture.md "One exit, end to end"). The service is passed explicitly to `preflight`,
 * `setupPassthroughVm` and the exit handler, which is all the injection the tests need; the Effect
 * edge (`preflight` returns an Effect) wraps it where failures become typed.
 *
 * Handles are opaque {@link VmRef}/{@link VcpuRef} values (the fd and, for a vCPU, its id), so a
 * recording implementation can print every call as "ioctl target args".
 * @module
 */
import {
  closeFd,
  EventFd,
  eventfdRead,
  eventfdSignal,
  KVM_CAPS,
  KVM_EXIT_HYPERV_HCALL,
  KVM_EXIT_HYPERV_SYNIC,
  KVM_EXIT_IO_OUT,
  KvmIoctlError,
  type KvmCapName,
  type KvmIrqRouting,
  KvmMsrs,
  type KvmRun,
  Kvm,
  KvmUnavailable,
  pointerAddress,
  type Vcpu,
  type Vm,
} from "@hv/kvm";
import type { CpuidLeaf } from "@hv/x86";

/** A VM created through a {@link KvmService} (opaque; `fd` is the VM fd, or a simulated number). */
export interface VmRef {
  readonly kind: "vm";
  readonly fd: number;
}

/** A vCPU created through a {@link KvmService}: its fd and the id given to KVM_CREATE_VCPU (the APIC id). */
export interface VcpuRef {
  readonly kind: "vcpu";
  readonly fd: number;
  readonly id: number;
}

/**
 * An eventfd created (or adopted) through a {@link KvmService}: `fd` is the process-wide descriptor
 * (a simulated number in tests), which is what crosses to other threads.
 */
export interface EventfdRef {
  readonly kind: "eventfd";
  readonly fd: number;
}

/** One `struct kvm_msr_entry`: MSR index and its 64-bit value. */
export interface MsrEntry {
  readonly index: number;
  readonly value: bigint;
}

/**
 * `kvm_run.hyperv` (`struct kvm_hyperv_exit`, api.rst §5 "KVM_EXIT_HYPERV") decoded into a reusable
 * record, 64-bit fields as u32 halves (no BigInt on the exit path):
 * - `type`: KVM_EXIT_HYPERV_SYNIC (1), KVM_EXIT_HYPERV_HCALL (2) or KVM_EXIT_HYPERV_SYNDBG (3);
 * - SYNIC (the guest wrote SCONTROL, SIEFP or SIMP; SynIC2 only): `msr` the MSR written, `control`
 *   SCONTROL, `evtPage` SIEFP, `msgPage` SIMP (all three current values, whichever was written);
 * - HCALL (a hypercall KVM passes to userspace: HvPostMessage, HvSignalEvent (when no eventfd
 *   matched), extended calls): `input` the hypercall input value, `param0`/`param1` the input and
 *   output GPAs, or for HvSignalEvent the already-read 64-bit parameter (KVM converts it to fast,
 *   without setting the fast bit in `input`: OpenVMM `virt_kvm` "KVM automatically converts
 *   HvSignalEvent to a fast hypercall").
 */
export interface HypervExit {
  type: number;
  msr: number;
  controlLo: number;
  controlHi: number;
  evtPageLo: number;
  evtPageHi: number;
  msgPageLo: number;
  msgPageHi: number;
  inputLo: number;
  inputHi: number;
  param0Lo: number;
  param0Hi: number;
  param1Lo: number;
  param1Hi: number;
}

/** A zeroed {@link HypervExit} (one per vCPU, reused). */
export const newHypervExit = (): HypervExit => ({
  type: 0,
  msr: 0,
  controlLo: 0,
  controlHi: 0,
  evtPageLo: 0,
  evtPageHi: 0,
  msgPageLo: 0,
  msgPageHi: 0,
  inputLo: 0,
  inputHi: 0,
  param0Lo: 0,
  param0Hi: 0,
  param1Lo: 0,
  param1Hi: 0,
});

// Byte offsets within kvm_run: the exit union starts at 32; struct kvm_hyperv_exit is
// { u32 type; u32 pad1; union { synic { u32 msr; u32 pad2; u64 control, evt_page, msg_page; }
//   hcall { u64 input, result, params[2]; } } } (include/uapi/linux/kvm.h).
const U = 32;

/** Reads `kvm_run.hyperv` of the current KVM_EXIT_HYPERV into `into` (no allocation). */
export function decodeHypervExit(run: KvmRun, into: HypervExit): HypervExit {
  const v = run.view;
  into.type = v.getUint32(U, true);
  if (into.type === KVM_EXIT_HYPERV_SYNIC) {
    into.msr = v.getUint32(U + 8, true);
    into.controlLo = v.getUint32(U + 16, true);
    into.controlHi = v.getUint32(U + 20, true);
    into.evtPageLo = v.getUint32(U + 24, true);
    into.evtPageHi = v.getUint32(U + 28, true);
    into.msgPageLo = v.getUint32(U + 32, true);
    into.msgPageHi = v.getUint32(U + 36, true);
  } else if (into.type === KVM_EXIT_HYPERV_HCALL) {
    into.inputLo = v.getUint32(U + 8, true);
    into.inputHi = v.getUint32(U + 12, true);
    into.param0Lo = v.getUint32(U + 24, true);
    into.param0Hi = v.getUint32(U + 28, true);
    into.param1Lo = v.getUint32(U + 32, true);
    into.param1Hi = v.getUint32(U + 36, true);
  }
  return into;
}

/**
 * Writes `exit` into `run` as KVM would for KVM_EXIT_HYPERV (exit_reason 27 and the union); used by
 * the simulated kernel so the real decoder is what the tests run.
 */
export function encodeHypervExit(run: KvmRun, exit: HypervExit): void {
  const v = run.view;
  v.setUint32(8, 27, true); // exit_reason = KVM_EXIT_HYPERV
  for (let o = U; o < U + 48; o += 4) v.setUint32(o, 0, true);
  v.setUint32(U, exit.type, true);
  if (exit.type === KVM_EXIT_HYPERV_SYNIC) {
    v.setUint32(U + 8, exit.msr, true);
    v.setUint32(U + 16, exit.controlLo, true);
    v.setUint32(U + 20, exit.controlHi, true);
    v.setUint32(U + 24, exit.evtPageLo, true);
    v.setUint32(U + 28, exit.evtPageHi, true);
    v.setUint32(U + 32, exit.msgPageLo, true);
    v.setUint32(U + 36, exit.msgPageHi, true);
  } else if (exit.type === KVM_EXIT_HYPERV_HCALL) {
    v.setUint32(U + 8, exit.inputLo, true);
    v.setUint32(U + 12, exit.inputHi, true);
    v.setUint32(U + 24, exit.param0Lo, true);
    v.setUint32(U + 28, exit.param0Hi, true);
    v.setUint32(U + 32, exit.param1Lo, true);
    v.setUint32(U + 36, exit.param1Hi, true);
  }
}

/** Decodes `kvm_run.io` (see {@link IoExit}). */
export const ioExitOf = (run: KvmRun): IoExit => ({
  out: run.ioDirection === KVM_EXIT_IO_OUT,
  port: run.ioPort,
  size: run.ioSize,
  value: run.ioData,
});

/** `kvm_run.hyperv.u.hcall.result` (u64 at union + 16): the value KVM loads into RAX on re-entry. */
export function writeHypercallResult(run: KvmRun, lo: number, hi = 0): void {
  run.view.setUint32(U + 16, lo >>> 0, true);
  run.view.setUint32(U + 20, hi >>> 0, true);
}

/**
 * Exactly the KVM operations the passthrough backend performs (names as in api.rst §4):
 * - `unavailable()`: undefined when /dev/kvm opens, else why not (`KvmUnavailable`'s message);
 *   opening creates nothing.
 * - `checkExtension(cap)`: KVM_CHECK_EXTENSION on the system fd (0 absent).
 * - `supportedHvCpuid()`: system KVM_GET_SUPPORTED_HV_CPUID (KVM_CAP_SYS_HYPERV_CPUID, api.rst
 *   §4.118), undefined when the kernel cannot answer it.
 * - `supportedCpuid()`: KVM_GET_SUPPORTED_CPUID (§4.46).
 * - `createVm()`, `createIrqchip(vm)`, `createVcpu(vm, id)`: KVM_CREATE_VM, KVM_CREATE_IRQCHIP,
 *   KVM_CREATE_VCPU.
 * - `enableVmCap(vm, cap, args)`, `enableVcpuCap(vcpu, cap, args)`: KVM_ENABLE_CAP on a VM / vCPU fd
 *   (§7, §8); fails (KvmIoctlError EINVAL) for a capability KVM does not have. KVM's Hyper-V has no
 *   VM-level capability today (SynIC2, eVMCS and enforce-cpuid are per vCPU), so the setup uses
 *   only the vCPU one; the VM one is there for plugins whose `enableCapabilities` may need it.
 * - `enableEnlightenedVmcs(vcpu)`: KVM_ENABLE_CAP(KVM_CAP_HYPERV_ENLIGHTENED_VMCS) with args[0]
 *   pointing at a u16 KVM fills with the supported eVMCS version range (low byte: lowest, high
 *   byte: highest, §7.17); returns that u16.
 * - `setCpuid2(vcpu, leaves)`: KVM_SET_CPUID2.
 * - `setMsrs(vcpu, msrs)`: KVM_SET_MSRS (host-initiated); throws KvmIoctlError when KVM writes fewer.
 * - `getMsrs(vcpu, indices)`: KVM_GET_MSRS (host-initiated); throws when KVM reads fewer.
 * - `signalMsi(vm, apicId, vector)`: KVM_SIGNAL_MSI of a fixed interrupt to a local APIC.
 * - `run(vcpu)`: KVM_RUN; the exit reason (or @hv/kvm's KVM_RUN_INTERRUPTED / KVM_RUN_AGAIN).
 * - `readHypervExit(vcpu, into)`, `setHypercallResult(vcpu, status)`: `kvm_run.hyperv` of the last
 *   KVM_EXIT_HYPERV, and its `hcall.result` (status in bits 15:0).
 * - `systemEventType(vcpu)`: `kvm_run.system_event.type` of the last KVM_EXIT_SYSTEM_EVENT.
 * - `ioExit(vcpu)`: `kvm_run.io` of the last KVM_EXIT_IO (direction, port, size, first datum).
 * - `createEventfd()`: `eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)` (QEMU `event_notifier_init`);
 *   `signalEventfd(e)`: adds 1 (exit path: no allocation, no throw; false when the write failed);
 *   `readEventfd(e)`: takes the counter, 0 when none (non-blocking); `closeEventfd(e)`.
 * - `setGsiRouting(vm, routing)`: KVM_SET_GSI_ROUTING with a prepared `KvmIrqRouting` (the whole
 *   table: KVM's default irqchip routes must be in it).
 * - `irqfd(vm, e, gsi, resample?)` / `irqfdDeassign(vm, e, gsi)`: KVM_IRQFD, with
 *   KVM_IRQFD_FLAG_RESAMPLE when `resample` is given (signalled when the guest acks the GSI).
 * - `hypervEventfd(vm, connId, e)` / `hypervEventfdDeassign(vm, connId)`: KVM_HYPERV_EVENTFD.
 * - `close()`: releases everything the service created.
 * Every failing ioctl throws `KvmIoctlError` ("KVM_SET_CPUID2 failed: EINVAL ...").
 */
export interface KvmService {
  /** "kvm" for /dev/kvm, "simulated" for the test kernel. */
  readonly kind: string;
  unavailable(): string | undefined;
  checkExtension(cap: KvmCapName): number;
  supportedHvCpuid(): readonly CpuidLeaf[] | undefined;
  supportedCpuid(): readonly CpuidLeaf[];
  createVm(): VmRef;
  createIrqchip(vm: VmRef): void;
  createVcpu(vm: VmRef, id: number): VcpuRef;
  enableVmCap(vm: VmRef, cap: KvmCapName, args?: readonly number[]): void;
  enableVcpuCap(vcpu: VcpuRef, cap: KvmCapName, args?: readonly number[]): void;
  enableEnlightenedVmcs(vcpu: VcpuRef): number;
  setCpuid2(vcpu: VcpuRef, leaves: readonly CpuidLeaf[]): void;
  setMsrs(vcpu: VcpuRef, msrs: readonly MsrEntry[]): void;
  getMsrs(vcpu: VcpuRef, indices: readonly number[]): bigint[];
  signalMsi(vm: VmRef, apicId: number, vector: number): void;
  run(vcpu: VcpuRef): number;
  readHypervExit(vcpu: VcpuRef, into: HypervExit): HypervExit;
  setHypercallResult(vcpu: VcpuRef, status: number): void;
  systemEventType(vcpu: VcpuRef): number;
  ioExit(vcpu: VcpuRef): IoExit;
  createEventfd(): EventfdRef;
  signalEventfd(e: EventfdRef): boolean;
  readEventfd(e: EventfdRef): number;
  closeEventfd(e: EventfdRef): void;
  setGsiRouting(vm: VmRef, routing: KvmIrqRouting): void;
  irqfd(vm: VmRef, e: EventfdRef, gsi: number, resample?: EventfdRef): void;
  irqfdDeassign(vm: VmRef, e: EventfdRef, gsi: number): void;
  hypervEventfd(vm: VmRef, connId: number, e: EventfdRef): void;
  hypervEventfdDeassign(vm: VmRef, connId: number): void;
  close(): void;
}

/** `kvm_run.io` of a KVM_EXIT_IO: `out` (KVM_EXIT_IO_OUT), `port`, access `size` (1, 2, 4), first datum `value`. */
export interface IoExit {
  readonly out: boolean;
  readonly port: number;
  readonly size: number;
  readonly value: number;
}

/** Every capability of `@hv/kvm`'s KVM_CAPS table through `service.checkExtension` (the `hv doctor` caps record). */
export function serviceCapabilities(service: KvmService): Record<string, number> {
  const caps: Record<string, number> = {};
  for (const name of Object.keys(KVM_CAPS) as KvmCapName[]) caps[name] = service.checkExtension(name);
  return caps;
}

const EINVAL = 22;
const hex = (n: number) => `0x${n.toString(16)}`;

/**
 * {@link KvmService} over `@hv/kvm` (Deno FFI): opens /dev/kvm lazily, keeps the `Vm`/`Vcpu` objects
 * behind the refs, and closes them in {@link close} (the VMs first, which drops their irqfds, then
 * the eventfds it created). `adoptVm`/`adoptVcpu`/`adoptEventfd` wrap objects someone else created
 * (the machine, another thread) without taking ownership. The eventfd calls work on any fd number,
 * so a vCPU worker signals eventfds the main thread created.
 */
export class RealKvmService implements KvmService {
  readonly kind = "kvm";
  readonly #path: string;
  #kvm: Kvm | undefined;
  #reason: string | undefined;
  #tried = false;
  readonly #vms = new Map<number, Vm>();
  readonly #vcpus = new Map<number, Vcpu>();
  readonly #owned: Vm[] = [];
  readonly #eventfds = new Map<number, EventFd>();
  readonly #evmcs = new Uint16Array(1);

  /** A service for `path` (default /dev/kvm); nothing is opened until first use. */
  constructor(path = "/dev/kvm") {
    this.#path = path;
  }

  #open(): Kvm {
    if (!this.#tried) {
      this.#tried = true;
      try {
        this.#kvm = Kvm.open(this.#path);
      } catch (e) {
        this.#reason = e instanceof KvmUnavailable ? e.message : e instanceof Error ? e.message : String(e);
      }
    }
    if (!this.#kvm) throw new KvmUnavailable({ reason: "unavailable", message: this.#reason ?? "KVM is unavailable" });
    return this.#kvm;
  }

  unavailable(): string | undefined {
    try {
      this.#open();
      return undefined;
    } catch {
      return this.#reason;
    }
  }
  checkExtension(cap: KvmCapName): number {
    return this.#open().checkExtension(KVM_CAPS[cap]);
  }
  supportedHvCpuid(): readonly CpuidLeaf[] | undefined {
    return this.#open().supportedHvCpuid();
  }
  supportedCpuid(): readonly CpuidLeaf[] {
    return this.#open().supportedCpuid();
  }
  createVm(): VmRef {
    const vm = this.#open().createVm();
    this.#owned.push(vm);
    return this.adoptVm(vm);
  }
  /** A ref for a `Vm` created elsewhere (not closed by {@link close}). */
  adoptVm(vm: Vm): VmRef {
    this.#vms.set(vm.fd, vm);
    return { kind: "vm", fd: vm.fd };
  }
  /** A ref for a `Vcpu` created or attached elsewhere (not closed by {@link close}). */
  adoptVcpu(vcpu: Vcpu): VcpuRef {
    this.#vcpus.set(vcpu.fd, vcpu);
    return { kind: "vcpu", fd: vcpu.fd, id: vcpu.id };
  }
  #vm(ref: VmRef): Vm {
    const vm = this.#vms.get(ref.fd);
    if (!vm) throw new RangeError(`no VM with fd ${ref.fd} in this service`);
    return vm;
  }
  #vcpu(ref: VcpuRef): Vcpu {
    const v = this.#vcpus.get(ref.fd);
    if (!v) throw new RangeError(`no vCPU with fd ${ref.fd} in this service`);
    return v;
  }
  createIrqchip(vm: VmRef): void {
    this.#vm(vm).createIrqchip();
  }
  createVcpu(vm: VmRef, id: number): VcpuRef {
    return this.adoptVcpu(this.#vm(vm).createVcpu(id));
  }
  enableVmCap(vm: VmRef, cap: KvmCapName, args: readonly number[] = []): void {
    this.#vm(vm).enableCap(KVM_CAPS[cap], args);
  }
  enableVcpuCap(vcpu: VcpuRef, cap: KvmCapName, args: readonly number[] = []): void {
    this.#vcpu(vcpu).enableCap(KVM_CAPS[cap], args);
  }
  enableEnlightenedVmcs(vcpu: VcpuRef): number {
    // args[0] is a user pointer to a u16 KVM fills (QEMU passes &supported_evmcs_version).
    this.#evmcs[0] = 0;
    const ptr = pointerAddress(Deno.UnsafePointer.of(this.#evmcs));
    this.#vcpu(vcpu).enableCap(KVM_CAPS.KVM_CAP_HYPERV_ENLIGHTENED_VMCS, [ptr]);
    return this.#evmcs[0];
  }
  setCpuid2(vcpu: VcpuRef, leaves: readonly CpuidLeaf[]): void {
    this.#vcpu(vcpu).setCpuid2(leaves);
  }
  setMsrs(vcpu: VcpuRef, msrs: readonly MsrEntry[]): void {
    const m = new KvmMsrs(msrs.length);
    m.nmsrs = msrs.length;
    msrs.forEach((e, i) => {
      m.setIndex(i, e.index);
      m.setDataHalves(i, Number(e.value & 0xffffffffn), Number(e.value >> 32n));
    });
    const n = this.#vcpu(vcpu).setMsrs(m);
    if (n !== msrs.length) throw KvmIoctlError.of("KVM_SET_MSRS", EINVAL, `vCPU ${vcpu.id}: KVM refused MSR ${hex(msrs[n].index)}`);
  }
  getMsrs(vcpu: VcpuRef, indices: readonly number[]): bigint[] {
    const m = new KvmMsrs(indices.length);
    m.setIndices(indices);
    const n = this.#vcpu(vcpu).getMsrs(m);
    if (n !== indices.length) throw KvmIoctlError.of("KVM_GET_MSRS", EINVAL, `vCPU ${vcpu.id}: KVM cannot read MSR ${hex(indices[n])}`);
    return indices.map((_, i) => (BigInt(m.dataHi(i)) << 32n) | BigInt(m.dataLo(i)));
  }
  signalMsi(vm: VmRef, apicId: number, vector: number): void {
    this.#vm(vm).signalMsi(0xfee00000 + (apicId & 0xff) * 4096, vector & 0xff);
  }
  run(vcpu: VcpuRef): number {
    return this.#vcpu(vcpu).run();
  }
  readHypervExit(vcpu: VcpuRef, into: HypervExit): HypervExit {
    return decodeHypervExit(this.#vcpu(vcpu).kvmRun, into);
  }
  setHypercallResult(vcpu: VcpuRef, status: number): void {
    writeHypercallResult(this.#vcpu(vcpu).kvmRun, status & 0xffff, 0);
  }
  systemEventType(vcpu: VcpuRef): number {
    return this.#vcpu(vcpu).kvmRun.systemEventType;
  }
  ioExit(vcpu: VcpuRef): IoExit {
    return ioExitOf(this.#vcpu(vcpu).kvmRun);
  }
  createEventfd(): EventfdRef {
    const e = EventFd.create();
    this.#eventfds.set(e.fd, e);
    return { kind: "eventfd", fd: e.fd };
  }
  /** A ref for an eventfd created elsewhere (another thread, by number); not closed by {@link close}. */
  adoptEventfd(fd: number): EventfdRef {
    return { kind: "eventfd", fd };
  }
  signalEventfd(e: EventfdRef): boolean {
    return eventfdSignal(e.fd);
  }
  readEventfd(e: EventfdRef): number {
    return eventfdRead(e.fd);
  }
  closeEventfd(e: EventfdRef): void {
    const owned = this.#eventfds.get(e.fd);
    if (owned) {
      this.#eventfds.delete(e.fd);
      owned.close();
    } else closeFd(e.fd);
  }
  setGsiRouting(vm: VmRef, routing: KvmIrqRouting): void {
    this.#vm(vm).setGsiRouting(routing);
  }
  irqfd(vm: VmRef, e: EventfdRef, gsi: number, resample?: EventfdRef): void {
    this.#vm(vm).irqfd(e.fd, gsi, resample ? resample.fd : -1);
  }
  irqfdDeassign(vm: VmRef, e: EventfdRef, gsi: number): void {
    this.#vm(vm).irqfdDeassign(e.fd, gsi);
  }
  hypervEventfd(vm: VmRef, connId: number, e: EventfdRef): void {
    this.#vm(vm).hypervEventfd(connId, e.fd);
  }
  hypervEventfdDeassign(vm: VmRef, connId: number): void {
    this.#vm(vm).hypervEventfdDeassign(connId);
  }
  close(): void {
    for (const vm of this.#owned.splice(0)) vm.close();
    for (const e of this.#eventfds.values()) e.close();
    this.#eventfds.clear();
    this.#vms.clear();
    this.#vcpus.clear();
    this.#kvm?.close();
    this.#kvm = undefined;
    this.#tried = false;
  }
}
