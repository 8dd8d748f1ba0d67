/**
 * One vCPU's architectural state as KVM holds it, for VM snapshots: captured from a stopped vCPU and
 * applied to a fresh one, like QEMU's `kvm_arch_get_registers` / `kvm_arch_put_registers`. For a VM
 * without KVM's in-kernel irqchip: the LAPIC and its MSRs (IA32_APIC_BASE, IA32_TSC_DEADLINE, the
 * x2APIC range) and the Hyper-V MSRs are the VMM's own state, saved with it, so KVM_GET_LAPIC and
 * KVM_GET_MP_STATE are not used and those MSRs are never in the list.
 *
 * The parts are KVM's structs as raw bytes (`arch/x86/include/uapi/asm/kvm.h`, x86-64 layout): a
 * snapshot is only meant to be restored by this VMM on a host whose KVM gives the same sizes, and
 * {@link applyVcpuState} checks every size (and every MSR) before it writes anything. The guest TSC
 * is the IA32_TSC MSR: restoring it makes the guest's TSC continue from the saved value.
 *
 * KVM_CHECK_EXTENSION and KVM_GET_MSR_INDEX_LIST are not vCPU ioctls: both functions ask a
 * {@link VcpuHost}, by default `vcpu.host` (the `Vm` that created the vCPU); a vCPU attached in a
 * worker (`Vcpu.attach`) has none, so pass its `Vm` or the `Kvm` there.
 * Edge code (allocates).
 * @module
 */
import {
  KVM_CAP_XCRS,
  KVM_DEBUGREGS_SIZE,
  KVM_FPU_SIZE,
  KVM_REGS_SIZE,
  KVM_SREGS_SIZE,
  KVM_VCPU_EVENTS_SIZE,
  KVM_VCPUEVENT_VALID_NMI_PENDING,
  KVM_VCPUEVENT_VALID_PAYLOAD,
  KVM_VCPUEVENT_VALID_SHADOW,
  KVM_VCPUEVENT_VALID_SMM,
  KVM_VCPUEVENT_VALID_TRIPLE_FAULT,
  KVM_XCRS_SIZE,
  KvmIoctlError,
  KvmMsrs,
  type KvmStruct,
  KvmXsave,
  kvmXsaveSize,
  type Vcpu,
  type VcpuHost,
} from "@hv/kvm";

/** One saved MSR: its index and 64-bit value. */
export interface SavedMsr {
  readonly index: number;
  readonly value: bigint;
}

/** A vCPU's state, each part the bytes of the KVM struct its ioctl moves. */
export interface SavedVcpuState {
  /** `struct kvm_regs` (144 bytes): general registers, RIP, RFLAGS. */
  readonly regs: Uint8Array;
  /** `struct kvm_sregs` (312 bytes): segments, descriptor tables, CR0-4, CR8, EFER, APIC base. */
  readonly sregs: Uint8Array;
  /** `struct kvm_fpu` (416 bytes): x87, MXCSR, XMM0-15; always captured (the state when there is no XSAVE). */
  readonly fpu: Uint8Array;
  /** The XSAVE area (KVM_GET_XSAVE, or KVM_GET_XSAVE2 when larger than 4096 bytes); empty when KVM lacks KVM_CAP_XSAVE. */
  readonly xsave: Uint8Array;
  /** `struct kvm_xcrs` (392 bytes, XCR0); empty without KVM_CAP_XCRS. */
  readonly xcrs: Uint8Array;
  /** `struct kvm_vcpu_events` (64 bytes): pending or injected exception, interrupt, NMI, interrupt shadow, SMM. */
  readonly events: Uint8Array;
  /** `struct kvm_debugregs` (128 bytes): DR0-3, DR6, DR7. */
  readonly debugregs: Uint8Array;
  /** The MSRs of {@link SAVED_MSRS} this KVM supports and the vCPU read, in that order (IA32_TSC first). */
  readonly msrs: readonly SavedMsr[];
}

/** A part of {@link SavedVcpuState}. */
export type VcpuStatePart = keyof SavedVcpuState;

/**
 * A part of a vCPU's state that could not be applied (or captured): `part` names it, `reason` says why:
 * a wrong size or MSR found before anything was written, or KVM's refusal (`cause` is the KvmIoctlError).
 * `message` is "part: reason", e.g. "xsave: 4000 bytes; this KVM takes 4096".
 */
export class VcpuStateError extends Error {
  override readonly name = "VcpuStateError";
  constructor(readonly part: VcpuStatePart, readonly reason: string, options?: ErrorOptions) {
    super(`${part}: ${reason}`, options);
  }
}

/** The MTRRs (Intel SDM vol. 3A §12.11): MTRRdefType, the 11 fixed-range MTRRs, 8 variable PHYSBASE/PHYSMASK pairs. */
const MTRR_MSRS: readonly number[] = [
  0x2ff,
  0x250,
  0x258,
  0x259,
  ...Array.from({ length: 8 }, (_, i) => 0x268 + i),
  ...Array.from({ length: 16 }, (_, i) => 0x200 + i), // KVM_NR_VAR_MTRR = 8
];

/**
 * The MSRs a vCPU's state includes (QEMU's `kvm_put_msrs` set for a guest without kvmclock, PMU,
 * MCE or nested virtualization): IA32_TSC 0x10, IA32_TSC_ADJUST 0x3b, IA32_SPEC_CTRL 0x48,
 * SYSENTER_CS/ESP/EIP 0x174-0x176, IA32_MISC_ENABLE 0x1a0, IA32_PAT 0x277, IA32_XSS 0xda0,
 * STAR/LSTAR/CSTAR/SFMASK 0xc0000081-0xc0000084, KERNEL_GS_BASE 0xc0000102, TSC_AUX 0xc0000103,
 * then the MTRRs. A capture keeps those this KVM lists in KVM_GET_MSR_INDEX_LIST (the MTRRs
 * whatever the list says: KVM emulates them on every vCPU without listing them; QEMU saves them when
 * CPUID has MTRR) and the vCPU can read. Never IA32_APIC_BASE, IA32_TSC_DEADLINE, the x2APIC
 * range 0x800-0x8ff or the Hyper-V range 0x40000000-0x400001ff: the VMM owns those.
 */
export const SAVED_MSRS: readonly number[] = [
  0x10,
  0x3b,
  0x48,
  0x174,
  0x175,
  0x176,
  0x1a0,
  0x277,
  0xda0,
  0xc0000081,
  0xc0000082,
  0xc0000083,
  0xc0000084,
  0xc0000102,
  0xc0000103,
  ...MTRR_MSRS,
];

/** The MSRs of {@link SAVED_MSRS} `host`'s KVM saves and restores (listed by KVM_GET_MSR_INDEX_LIST, or an MTRR). */
function supportedMsrs(host: VcpuHost): number[] {
  const listed = new Set([...host.msrIndexList(), ...MTRR_MSRS]);
  return SAVED_MSRS.filter((m) => listed.has(m));
}

/** `host`, or a TypeError for a vCPU attached in a worker (it knows no VM) when none was passed. */
function hostOf(vcpu: Vcpu, host: VcpuHost | undefined): VcpuHost {
  if (host === undefined) {
    throw new TypeError(`vCPU ${vcpu.id} was attached without its VM: pass the Vm (or Kvm) as host`);
  }
  return host;
}

/** Runs `f`, turning KVM's refusal into a {@link VcpuStateError} for `part`. */
function refused<T>(part: VcpuStatePart, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof KvmIoctlError) throw new VcpuStateError(part, `KVM refused it: ${e.message}`, { cause: e });
    throw e;
  }
}

/** A copy of the struct a getter of `part` fills. */
const copyOf = (part: VcpuStatePart, get: () => KvmStruct): Uint8Array => refused(part, () => get().bytes.slice());

/** KVM_GET_MSRS of `indices`, leaving out each MSR KVM cannot read (it stops at the first one). */
function readMsrs(vcpu: Vcpu, indices: readonly number[]): SavedMsr[] {
  const list = [...indices];
  const m = new KvmMsrs(list.length);
  for (;;) {
    m.setIndices(list);
    const n = vcpu.getMsrs(m);
    if (n >= list.length) return list.map((index, i) => ({ index, value: m.dataBig(i) }));
    list.splice(n, 1);
  }
}

/** KVM_SET_MSRS of every entry of `msrs`, or a {@link VcpuStateError} naming the first one KVM refused. */
function writeMsrs(vcpu: Vcpu, msrs: readonly SavedMsr[]): void {
  const m = new KvmMsrs(msrs.length);
  m.nmsrs = msrs.length;
  msrs.forEach(({ index, value }, i) => {
    m.setIndex(i, index);
    m.setDataBig(i, value);
  });
  const n = vcpu.setMsrs(m);
  if (n < msrs.length) {
    throw new VcpuStateError(
      "msrs",
      `KVM refused MSR 0x${msrs[n].index.toString(16)} = 0x${msrs[n].value.toString(16)}`,
    );
  }
}

/**
 * Captures `vcpu`'s state. The vCPU must not be inside KVM_RUN (the caller stops it). Registers and
 * events marked dirty in the sync-regs area are pushed to KVM first, so the capture sees them.
 * `host` (default `vcpu.host`, the VM that created it) answers KVM_CAP_XSAVE/XSAVE2/XCRS and the MSR
 * index list. Throws {@link VcpuStateError} when KVM refuses a read.
 */
export function captureVcpuState(vcpu: Vcpu, host: VcpuHost | undefined = vcpu.host): SavedVcpuState {
  const h = hostOf(vcpu, host);
  const xsaveSize = kvmXsaveSize(h);
  return {
    regs: copyOf("regs", () => vcpu.getRegs()),
    sregs: copyOf("sregs", () => vcpu.getSregs()),
    fpu: copyOf("fpu", () => vcpu.getFpu()),
    xsave: xsaveSize === 0 ? new Uint8Array(0) : refused("xsave", () => vcpu.getXsave(xsaveSize).bytes),
    xcrs: h.checkExtension(KVM_CAP_XCRS) > 0 ? copyOf("xcrs", () => vcpu.getXcrs()) : new Uint8Array(0),
    events: copyOf("events", () => vcpu.getVcpuEvents()),
    debugregs: copyOf("debugregs", () => vcpu.getDebugregs()),
    msrs: refused("msrs", () => readMsrs(vcpu, supportedMsrs(h))),
  };
}

/** Checks every part of `s` (untrusted: read from a file) against what `host`'s KVM takes; throws {@link VcpuStateError}. */
function checkState(s: SavedVcpuState, host: VcpuHost): void {
  const xsaveSize = kvmXsaveSize(host);
  const sizes: Record<Exclude<VcpuStatePart, "msrs">, readonly number[]> = {
    regs: [KVM_REGS_SIZE],
    sregs: [KVM_SREGS_SIZE],
    fpu: [KVM_FPU_SIZE],
    xsave: xsaveSize === 0 ? [0] : [0, xsaveSize],
    xcrs: host.checkExtension(KVM_CAP_XCRS) > 0 ? [0, KVM_XCRS_SIZE] : [0],
    events: [KVM_VCPU_EVENTS_SIZE],
    debugregs: [KVM_DEBUGREGS_SIZE],
  };
  for (const [part, ok] of Object.entries(sizes) as [VcpuStatePart, readonly number[]][]) {
    const b: unknown = s[part];
    if (!(b instanceof Uint8Array)) throw new VcpuStateError(part, "missing (not bytes)");
    if (!ok.includes(b.byteLength)) {
      throw new VcpuStateError(
        part,
        `${b.byteLength} bytes; this KVM takes ${ok.map((n) => n === 0 ? "none (empty)" : n).join(" or ")}`,
      );
    }
  }
  if (!Array.isArray(s.msrs)) throw new VcpuStateError("msrs", "not a list");
  const supported = new Set(supportedMsrs(host));
  const seen = new Set<number>();
  for (const e of s.msrs as readonly Partial<SavedMsr>[]) {
    const { index, value } = e ?? {};
    const name = typeof index === "number" ? `MSR 0x${index.toString(16)}` : "an MSR";
    if (typeof index !== "number" || !SAVED_MSRS.includes(index)) {
      throw new VcpuStateError("msrs", `${name} is not one a vCPU's state holds`);
    }
    if (!supported.has(index)) throw new VcpuStateError("msrs", `${name} is not in this KVM's KVM_GET_MSR_INDEX_LIST`);
    if (seen.has(index)) throw new VcpuStateError("msrs", `${name} appears twice`);
    if (typeof value !== "bigint" || value < 0n || value >= 1n << 64n) {
      throw new VcpuStateError("msrs", `${name} has no u64 value`);
    }
    seen.add(index);
  }
}

/**
 * Writes `s` into `vcpu`, whose CPUID the caller has already set (KVM_SET_CPUID2 decides which XCR0
 * bits, XSAVE features and MSRs KVM accepts) and which is not inside KVM_RUN. Every part's size and
 * every MSR is checked first: a mismatch throws {@link VcpuStateError} before any ioctl. Then, in
 * order: sregs before regs; fpu, then XCR0 before the XSAVE area (which supersedes the fpu part);
 * debug registers; the MSRs (IA32_TSC among them: the guest TSC continues from the saved value, where
 * KVM can offset the guest TSC; a KVM that cannot, as under PVM, accepts the write and ignores it);
 * the events last, with KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SHADOW and the saved
 * SMM / exception-payload / triple-fault validity (as QEMU's `kvm_put_vcpu_events`; no SIPI vector:
 * there is no in-kernel LAPIC). KVM refusing a part throws {@link VcpuStateError} naming it; the
 * parts before it are then written, so the caller discards the vCPU. `host` as in {@link captureVcpuState}.
 */
export function applyVcpuState(vcpu: Vcpu, s: SavedVcpuState, host: VcpuHost | undefined = vcpu.host): void {
  checkState(s, hostOf(vcpu, host));
  const put = <C extends KvmStruct>(part: VcpuStatePart, codec: C, set: (c: C) => void) =>
    refused(part, () => {
      codec.bytes.set(s[part] as Uint8Array);
      set(codec);
    });
  put("sregs", vcpu.sregs, (c) => vcpu.setSregs(c));
  put("regs", vcpu.regs, (c) => vcpu.setRegs(c));
  put("fpu", vcpu.fpu, (c) => vcpu.setFpu(c));
  if (s.xcrs.byteLength > 0) put("xcrs", vcpu.xcrs, (c) => vcpu.setXcrs(c));
  if (s.xsave.byteLength > 0) put("xsave", new KvmXsave(s.xsave.byteLength), (c) => vcpu.setXsave(c));
  put("debugregs", vcpu.debugregs, (c) => vcpu.setDebugregs(c));
  if (s.msrs.length > 0) refused("msrs", () => writeMsrs(vcpu, s.msrs));
  put("events", vcpu.vcpuEvents, (c) => {
    const optional = KVM_VCPUEVENT_VALID_SMM | KVM_VCPUEVENT_VALID_PAYLOAD | KVM_VCPUEVENT_VALID_TRIPLE_FAULT;
    c.flags = KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SHADOW | (c.flags & optional);
    vcpu.setVcpuEvents(c);
  });
}
