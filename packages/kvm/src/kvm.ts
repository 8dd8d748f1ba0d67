/**
 * The KVM system fd (`/dev/kvm`, {@link Kvm}) and VM fds ({@link Vm}): opening with clear
 * {@link KvmUnavailable} errors, capabilities, supported CPUID and MSR lists, guest RAM, the in-kernel
 * devices, MSR filters, interrupt injection, and vCPU creation (api.rst §4, "API description").
 * Effect wrappers for the edge: {@link openKvmEffect}, {@link createVmEffect}.
 * @module
 */
import { Effect } from "effect";
import type { CpuidLeaf } from "@hv/x86";
import { KVM_CAP_SYS_HYPERV_CPUID } from "./caps.ts";
import { KvmIoctlError, KvmUnavailable } from "./errors.ts";
import {
  KVM_CHECK_EXTENSION,
  KVM_CREATE_IRQCHIP,
  KVM_CREATE_PIT2,
  KVM_CREATE_VCPU,
  KVM_CREATE_VM,
  KVM_ENABLE_CAP,
  KVM_GET_API_VERSION,
  KVM_GET_CLOCK,
  KVM_GET_MSR_FEATURE_INDEX_LIST,
  KVM_GET_MSR_INDEX_LIST,
  KVM_GET_SUPPORTED_CPUID,
  KVM_GET_SUPPORTED_HV_CPUID,
  KVM_GET_TSC_KHZ,
  KVM_GET_VCPU_MMAP_SIZE,
  KVM_HYPERV_EVENTFD,
  KVM_IRQ_LINE,
  KVM_IRQFD,
  KVM_SET_GSI_ROUTING,
  KVM_SET_IDENTITY_MAP_ADDR,
  KVM_SET_TSC_KHZ,
  KVM_SET_TSS_ADDR,
  KVM_SET_USER_MEMORY_REGION,
  KVM_SIGNAL_MSI,
  KVM_X86_SET_MSR_FILTER,
} from "./ioctls.ts";
import { cString, EACCES, ENOENT, EPERM, errno, F_OK, libc, O_CLOEXEC, O_RDWR } from "./libc.ts";
import { allocateHostMemory, type HostMemory, unmapHostMemory } from "./memory.ts";
import { KvmClockData } from "./structs/clock.ts";
import { KvmCpuid2 } from "./structs/cpuid2.ts";
import { KvmEnableCap } from "./structs/enable_cap.ts";
import { KvmIrqLevel, KvmMsi } from "./structs/irq.ts";
import {
  type IrqRoute,
  KVM_HYPERV_EVENTFD_DEASSIGN,
  KVM_IRQFD_FLAG_DEASSIGN,
  KVM_IRQFD_FLAG_RESAMPLE,
  KvmHypervEventfd,
  KvmIrqfd,
  KvmIrqRouting,
} from "./structs/irq_routing.ts";
import { KvmUserspaceMemoryRegion } from "./structs/memory_region.ts";
import { KvmMsrFilter, type MsrFilterRange } from "./structs/msr_filter.ts";
import { KvmMsrList } from "./structs/msrs.ts";
import { KvmStruct } from "./structs/struct.ts";
import { closeFd, ioctlBuf, ioctlBufErrno, ioctlVal } from "./sys.ts";
import { Vcpu, type VcpuHost } from "./vcpu.ts";

/** KVM_API_VERSION: the only stable KVM API version. */
export const KVM_API_VERSION = 12;

const E2BIG = 7;
const EBADF = 9;

/** The `/dev/kvm` system fd. */
export class Kvm implements Disposable {
  /** The system fd. */
  readonly fd: number;
  /** KVM_GET_API_VERSION (always 12 once opened). */
  readonly apiVersion: number;
  #closed = false;

  private constructor(fd: number, apiVersion: number) {
    this.fd = fd;
    this.apiVersion = apiVersion;
  }

  /**
   * Opens `path` (default /dev/kvm) read-write. The device is probed with libc `access()`/`open()`
   * through FFI (not `Deno.statSync`, which needs --allow-all). Throws {@link KvmUnavailable}:
   * "no /dev/kvm", "permission denied", "API version N != 12", "open failed: E...", or
   * "FFI not permitted" (no --allow-ffi).
   */
  static open(path = "/dev/kvm"): Kvm {
    let lib;
    try {
      lib = libc();
    } catch (e) {
      throw KvmUnavailable.noFfi(e instanceof Error ? e.message : String(e));
    }
    const p = cString(path);
    if (lib.access(p, F_OK) !== 0 && errno() === ENOENT) throw KvmUnavailable.noDevice();
    const fd = lib.open(p, O_RDWR | O_CLOEXEC, 0);
    if (fd < 0) {
      const e = errno();
      if (e === EACCES || e === EPERM) throw KvmUnavailable.permissionDenied();
      if (e === ENOENT) throw KvmUnavailable.noDevice();
      throw KvmUnavailable.openFailed(e);
    }
    const version = lib.ioctl_val(fd, KVM_GET_API_VERSION, 0n);
    if (version !== KVM_API_VERSION) {
      closeFd(fd);
      throw KvmUnavailable.apiVersion(version);
    }
    return new Kvm(fd, version);
  }

  /** KVM_CHECK_EXTENSION on the system fd: 0 absent, positive present (some caps return a count or mask). */
  checkExtension(cap: number): number {
    return ioctlVal(this.fd, KVM_CHECK_EXTENSION, cap);
  }

  /** KVM_GET_VCPU_MMAP_SIZE: bytes to mmap from a vCPU fd (kvm_run and the PIO/coalesced-MMIO pages). */
  get vcpuMmapSize(): number {
    return ioctlVal(this.fd, KVM_GET_VCPU_MMAP_SIZE, 0);
  }

  /** KVM_GET_SUPPORTED_CPUID as the raw struct (flags kept), growing the buffer on E2BIG. */
  supportedCpuidRaw(): KvmCpuid2 {
    for (let cap = 128;; cap *= 2) {
      const c = new KvmCpuid2(cap);
      const r = ioctlBufErrno(this.fd, KVM_GET_SUPPORTED_CPUID, c.bytes);
      if (r >= 0) return c;
      if (-r !== E2BIG || cap >= 4096) throw KvmIoctlError.of("KVM_GET_SUPPORTED_CPUID", -r);
    }
  }

  /** KVM_GET_SUPPORTED_CPUID: every leaf KVM can present to a guest, with the bits it supports (api.rst §4.46). */
  supportedCpuid(): CpuidLeaf[] {
    return this.supportedCpuidRaw().toLeaves();
  }

  /**
   * KVM_GET_SUPPORTED_HV_CPUID on the system fd (api.rst §4.118): the Hyper-V leaves 0x40000000..
   * KVM's own emulation offers, or undefined when KVM_CAP_SYS_HYPERV_CPUID is absent (as under PVM).
   */
  supportedHvCpuid(): CpuidLeaf[] | undefined {
    if (this.checkExtension(KVM_CAP_SYS_HYPERV_CPUID) <= 0) return undefined;
    const c = new KvmCpuid2(64);
    ioctlBuf(this.fd, KVM_GET_SUPPORTED_HV_CPUID, c.bytes);
    return c.toLeaves();
  }

  /**
   * KVM_GET_MSR_INDEX_LIST: the MSRs KVM_GET/SET_MSRS can save and restore (api.rst §4.3). The list
   * is fixed when KVM loads, so it is asked once and kept (a fresh copy is returned); asked after
   * {@link close}, it throws KvmIoctlError (EBADF).
   */
  msrIndexList(): number[] {
    if (this.#msrIndexList === undefined) {
      if (this.#closed) throw KvmIoctlError.of("KVM_GET_MSR_INDEX_LIST", EBADF, "the /dev/kvm fd is closed");
      this.#msrIndexList = this.#msrList(KVM_GET_MSR_INDEX_LIST, "KVM_GET_MSR_INDEX_LIST");
    }
    return [...this.#msrIndexList];
  }
  #msrIndexList: number[] | undefined;

  /** KVM_GET_MSR_FEATURE_INDEX_LIST: feature MSRs readable on the system fd (KVM_CAP_GET_MSR_FEATURES). */
  msrFeatureIndexList(): number[] {
    return this.#msrList(KVM_GET_MSR_FEATURE_INDEX_LIST, "KVM_GET_MSR_FEATURE_INDEX_LIST");
  }

  #msrList(req: number, name: string): number[] {
    const probe = new KvmMsrList(0);
    const r = ioctlBufErrno(this.fd, req, probe.bytes);
    if (r >= 0) return [];
    if (-r !== E2BIG) throw KvmIoctlError.of(name, -r);
    const list = new KvmMsrList(probe.nmsrs);
    ioctlBuf(this.fd, req, list.bytes);
    return list.indices();
  }

  /** KVM_CREATE_VM (machine type 0): a new, empty VM (which keeps this Kvm for {@link Vm.msrIndexList}). */
  createVm(type = 0): Vm {
    const fd = ioctlVal(this.fd, KVM_CREATE_VM, type);
    return new Vm(fd, this.vcpuMmapSize, this);
  }

  /** Closes the system fd (VMs created from it stay valid). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeFd(this.fd);
  }

  /** Same as {@link close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** One guest RAM region: its memory slot, guest-physical base, and the host mapping behind it. */
export interface GuestRam extends HostMemory {
  readonly slot: number;
  /** Guest-physical address of the first byte. */
  readonly gpa: number;
}

/**
 * A VM fd. Owns the vCPUs it creates and the RAM it allocates ({@link close} releases all of them).
 * It is the {@link VcpuHost} of its vCPUs (its KVM_CHECK_EXTENSION answers, its Kvm's MSR list).
 */
export class Vm implements Disposable, VcpuHost {
  /** The VM fd. */
  readonly fd: number;
  /** KVM_GET_VCPU_MMAP_SIZE, for the vCPUs of this VM. */
  readonly vcpuMmapSize: number;
  readonly #ram: GuestRam[] = [];
  readonly #vcpus: Vcpu[] = [];
  readonly #region = new KvmUserspaceMemoryRegion();
  readonly #cap = new KvmEnableCap();
  readonly #msi = new KvmMsi();
  readonly #irq = new KvmIrqLevel();
  readonly #irqfd = new KvmIrqfd();
  readonly #hvEventfd = new KvmHypervEventfd();
  #filter: KvmMsrFilter | undefined;
  #closed = false;

  readonly #kvm: Kvm | undefined;

  /** Wraps a VM fd from KVM_CREATE_VM (see {@link Kvm.createVm}); `kvm`, the system fd it came from, answers {@link msrIndexList}. */
  constructor(fd: number, vcpuMmapSize: number, kvm?: Kvm) {
    this.fd = fd;
    this.vcpuMmapSize = vcpuMmapSize;
    this.#kvm = kvm;
  }

  /** KVM_CHECK_EXTENSION on the VM fd (KVM_CAP_CHECK_EXTENSION_VM): the answer for this VM. */
  checkExtension(cap: number): number {
    return ioctlVal(this.fd, KVM_CHECK_EXTENSION, cap);
  }

  /**
   * {@link Kvm.msrIndexList} of the Kvm this VM was created from (KVM_GET_MSR_INDEX_LIST is a
   * system-fd ioctl). Throws a TypeError for a VM wrapped without its Kvm.
   */
  msrIndexList(): number[] {
    if (this.#kvm === undefined) throw new TypeError(`VM fd ${this.fd} was wrapped without its Kvm: no MSR index list`);
    return this.#kvm.msrIndexList();
  }

  /**
   * KVM_SET_USER_MEMORY_REGION: maps `bytes` of host memory at `hostAddress` to guest-physical `gpa`
   * in `slot` (all page-aligned; `bytes` = 0 deletes the slot). `flags`: KVM_MEM_LOG_DIRTY_PAGES,
   * KVM_MEM_READONLY. EINVAL for misalignment, EEXIST for overlapping slots.
   */
  setUserMemoryRegion(slot: number, gpa: number, bytes: number, hostAddress: number, flags = 0): void {
    ioctlBuf(
      this.fd,
      KVM_SET_USER_MEMORY_REGION,
      this.#region.set(slot, flags, gpa, bytes, hostAddress).bytes,
      `slot ${slot} at GPA 0x${gpa.toString(16)}`,
    );
  }

  /**
   * Allocates `size` bytes of zeroed guest RAM (anonymous shared mapping) and registers it at `gpa` in
   * `slot`. Returns the mapping: `bytes` for `new GuestMemory(ram.bytes)` (when gpa is 0), `address`
   * for other threads (`attachHostMemory`). Unmapped by {@link close}.
   */
  addRam(slot: number, gpa: number, size: number): GuestRam {
    const m = allocateHostMemory(size);
    try {
      this.setUserMemoryRegion(slot, gpa, size, m.address);
    } catch (e) {
      unmapHostMemory(m);
      throw e;
    }
    const ram: GuestRam = { ...m, slot, gpa };
    this.#ram.push(ram);
    return ram;
  }

  /** KVM_CREATE_IRQCHIP: in-kernel PIC, IOAPIC and LAPICs. Must precede vCPU creation. */
  createIrqchip(): void {
    ioctlVal(this.fd, KVM_CREATE_IRQCHIP, 0);
  }

  /** KVM_CREATE_PIT2 with `flags` (KVM_PIT_SPEAKER_DUMMY = 1). Needs the in-kernel irqchip. */
  createPit2(flags = 0): void {
    const cfg = new KvmStruct(64);
    cfg.view.setUint32(0, flags, true);
    ioctlBuf(this.fd, KVM_CREATE_PIT2, cfg.bytes);
  }

  /** KVM_SET_TSS_ADDR: a 3-page GPA range KVM may use (Intel real-mode emulation), outside RAM; e.g. 0xFFFBD000. */
  setTssAddr(gpa: number): void {
    ioctlVal(this.fd, KVM_SET_TSS_ADDR, gpa);
  }

  /** KVM_SET_IDENTITY_MAP_ADDR: a 1-page GPA for the EPT identity map (Intel), e.g. 0xFFFBC000. */
  setIdentityMapAddr(gpa: number): void {
    const b = new KvmStruct(8);
    b.setU64(0, gpa);
    ioctlBuf(this.fd, KVM_SET_IDENTITY_MAP_ADDR, b.bytes);
  }

  /** KVM_ENABLE_CAP on the VM fd (KVM_CAP_ENABLE_CAP_VM) with up to four u64 args (api.rst §7). */
  enableCap(cap: number, args: readonly number[] = []): void {
    ioctlBuf(this.fd, KVM_ENABLE_CAP, this.#cap.set(cap, args).bytes, `VM capability ${cap}`);
  }

  /**
   * KVM_X86_SET_MSR_FILTER: a prepared {@link KvmMsrFilter}, or `flags` (default action) and up to 16
   * ranges (see `denyMsrRange`). The filter (and its bitmaps) is kept alive by the VM.
   */
  setMsrFilter(filter: KvmMsrFilter): void;
  setMsrFilter(flags: number, ranges: readonly MsrFilterRange[]): void;
  setMsrFilter(a: KvmMsrFilter | number, ranges: readonly MsrFilterRange[] = []): void {
    const f = a instanceof KvmMsrFilter ? a : KvmMsrFilter.of(a, ranges);
    ioctlBuf(this.fd, KVM_X86_SET_MSR_FILTER, f.bytes);
    this.#filter = f;
  }

  /**
   * KVM_SIGNAL_MSI: delivers an MSI (x86: `address` = 0xFEE00000 | dest << 12 | ..., `data` = vector |
   * delivery mode << 8 ...). Returns > 0 delivered, 0 blocked by the guest. Needs the in-kernel LAPIC.
   */
  signalMsi(address: number, data: number): number {
    const hi = Math.floor(address / 0x1_0000_0000);
    return ioctlBuf(this.fd, KVM_SIGNAL_MSI, this.#msi.set(address >>> 0, hi, data).bytes);
  }

  /** KVM_IRQ_LINE: sets GSI `irq` to `level` (1/0) on the in-kernel PIC/IOAPIC. */
  irqLine(irq: number, level: number): void {
    this.#irq.irq = irq;
    this.#irq.level = level;
    ioctlBuf(this.fd, KVM_IRQ_LINE, this.#irq.bytes);
  }

  /**
   * KVM_SET_GSI_ROUTING (api.rst "KVM_SET_GSI_ROUTING"; QEMU `kvm_irqchip_commit_routes`): replaces
   * the VM's whole routing table with `routing` (a prepared {@link KvmIrqRouting}, or entries encoded
   * here, allocating). With KVM_CREATE_IRQCHIP include `defaultIrqchipRoutes()`, or the ISA
   * interrupts stop. Throws KvmIoctlError ("KVM_SET_GSI_ROUTING failed: EINVAL ...: N entries").
   */
  setGsiRouting(routing: KvmIrqRouting | readonly IrqRoute[]): void {
    const r = routing instanceof KvmIrqRouting ? routing : KvmIrqRouting.of(routing);
    ioctlBuf(this.fd, KVM_SET_GSI_ROUTING, r.bytes, `${r.nr} entries`);
  }

  /**
   * KVM_IRQFD (api.rst "KVM_IRQFD"; QEMU `kvm_irqchip_add_irqfd_notifier_gsi`): from now on a signal
   * on eventfd `eventfd` raises `gsi` in-kernel. With `resamplefd` >= 0 (KVM_CAP_IRQFD_RESAMPLE, full
   * in-kernel irqchip) KVM signals it when the guest acks the GSI: an IOAPIC EOI for a level pin, or
   * for a KVM_IRQ_ROUTING_HV_SINT route an EOI of the SINT's vector or a write of HV_X64_MSR_EOM
   * (`kvm_hv_notify_acked_sint`). Throws KvmIoctlError (EBUSY: the eventfd is already bound).
   */
  irqfd(eventfd: number, gsi: number, resamplefd = -1): void {
    const flags = resamplefd >= 0 ? KVM_IRQFD_FLAG_RESAMPLE : 0;
    ioctlBuf(this.fd, KVM_IRQFD, this.#irqfd.set(eventfd, gsi, flags, resamplefd >= 0 ? resamplefd : 0).bytes, `eventfd ${eventfd} to GSI ${gsi}`);
  }

  /** KVM_IRQFD with KVM_IRQFD_FLAG_DEASSIGN: unbinds eventfd `eventfd` from `gsi` (KVM answers 0 even when not bound). */
  irqfdDeassign(eventfd: number, gsi: number): void {
    ioctlBuf(this.fd, KVM_IRQFD, this.#irqfd.set(eventfd, gsi, KVM_IRQFD_FLAG_DEASSIGN).bytes, `eventfd ${eventfd} from GSI ${gsi}`);
  }

  /**
   * KVM_HYPERV_EVENTFD (api.rst "KVM_HYPERV_EVENTFD"; QEMU `hyperv_set_event_flag_handler`): the
   * guest's HvSignalEvent on connection `connId` (0..0xFFFFFF) with flag number 0 signals eventfd
   * `eventfd` in-kernel (no KVM_EXIT_HYPERV). Throws KvmIoctlError (EEXIST: `connId` has one;
   * ENOTTY: a kernel without in-kernel Hyper-V).
   */
  hypervEventfd(connId: number, eventfd: number): void {
    ioctlBuf(this.fd, KVM_HYPERV_EVENTFD, this.#hvEventfd.set(connId, eventfd).bytes, `connection 0x${connId.toString(16)}`);
  }

  /** KVM_HYPERV_EVENTFD with KVM_HYPERV_EVENTFD_DEASSIGN (fd -1, as QEMU): removes `connId`'s eventfd (ENOENT when none). */
  hypervEventfdDeassign(connId: number): void {
    ioctlBuf(
      this.fd,
      KVM_HYPERV_EVENTFD,
      this.#hvEventfd.set(connId, -1, KVM_HYPERV_EVENTFD_DEASSIGN).bytes,
      `connection 0x${connId.toString(16)}`,
    );
  }

  /** KVM_GET_TSC_KHZ on the VM fd: the default guest TSC frequency in kHz (host TSC unless changed). */
  getTscKhz(): number {
    return ioctlVal(this.fd, KVM_GET_TSC_KHZ, 0);
  }

  /** KVM_SET_TSC_KHZ on the VM fd (KVM_CAP_VM_TSC_CONTROL): default for vCPUs created afterwards. */
  setTscKhz(khz: number): void {
    ioctlVal(this.fd, KVM_SET_TSC_KHZ, khz);
  }

  /** KVM_GET_CLOCK: kvmclock in ns, with flags (allocates a codec). */
  getClock(): KvmClockData {
    const c = new KvmClockData();
    ioctlBuf(this.fd, KVM_GET_CLOCK, c.bytes);
    return c;
  }

  /** KVM_CREATE_VCPU with `id` (the initial APIC id) and its `kvm_run` mapping. */
  createVcpu(id: number): Vcpu {
    const fd = ioctlVal(this.fd, KVM_CREATE_VCPU, id, `vCPU ${id}`);
    const v = Vcpu.fromCreated(fd, id, this.vcpuMmapSize, this);
    this.#vcpus.push(v);
    return v;
  }

  /** The MSR filter last set (kept alive for KVM), if any. */
  get msrFilter(): KvmMsrFilter | undefined {
    return this.#filter;
  }

  /** The RAM regions added with {@link addRam}. */
  get ram(): readonly GuestRam[] {
    return this.#ram;
  }

  /**
   * Closes the vCPUs, the VM fd, and unmaps the RAM from {@link addRam}. Views of that RAM (and of
   * the vCPUs' kvm_run) must not be used afterwards: touching them crashes the process. Stop vCPU
   * workers first. Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const v of this.#vcpus) v.close();
    closeFd(this.fd);
    for (const r of this.#ram) unmapHostMemory(r);
  }

  /** Same as {@link close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** {@link Kvm.open} as an Effect failing with {@link KvmUnavailable}. */
export const openKvmEffect = (path = "/dev/kvm"): Effect.Effect<Kvm, KvmUnavailable> =>
  Effect.try({
    try: () => Kvm.open(path),
    catch: (e) => e instanceof KvmUnavailable ? e : KvmUnavailable.noFfi(e instanceof Error ? e.message : String(e)),
  });

/** {@link Kvm.createVm} as an Effect failing with {@link KvmIoctlError}. */
export const createVmEffect = (kvm: Kvm): Effect.Effect<Vm, KvmIoctlError> =>
  Effect.try({
    try: () => kvm.createVm(),
    catch: (e) => e instanceof KvmIoctlError ? e : KvmIoctlError.of("KVM_CREATE_VM", 0, String(e)),
  });
