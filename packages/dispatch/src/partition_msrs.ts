/**
 * The partition-level MSRs every Hyper-V guest needs, served by the core rather than a plugin
 * (TLFS §3.6 "Reporting the Guest OS Identity", §3.13 "Establishing the Hypercall Interface",
 * §7.8.1 VP index): HV_X64_MSR_GUEST_OS_ID, HV_X64_MSR_HYPERCALL and HV_X64_MSR_VP_INDEX.
 * Rules as KVM implements them (`kvm_hv_set_msr_pw`), see `tlfs-conformance.md` (a).
 * @module
 */
import {
  HV_PAGE_SIZE,
  HV_X64_MSR_GUEST_OS_ID,
  HV_X64_MSR_HYPERCALL,
  HV_X64_MSR_VP_INDEX,
  overlayPageGpa,
} from "@hv/tlfs";
import { defineState, type MsrAccess, MsrOutcome, type PluginHandlers, type VpView } from "@hv/x86";

/** Owner name of the core's own state in the partition arena (same as composition's base owner). */
export const CORE_OWNER = "base";

/**
 * Partition state of the core: GUEST_OS_ID and HYPERCALL as the guest last wrote them (u64 each,
 * lo/hi words). Both 0 at power-on.
 */
export const corePartitionState = defineState({
  version: 1,
  fields: {
    guestOsId: { type: "u64", doc: "HV_X64_MSR_GUEST_OS_ID" },
    hypercall: { type: "u64", doc: "HV_X64_MSR_HYPERCALL (bit 0 enable, bits 63:12 GPA page number)" },
  },
});

/**
 * The hypercall page contents a backend wants written when the guest enables the page: hv's
 * emulator uses `OUT imm8, EAX; RET` to its hypercall port (KVM forwards no VMCALL to userspace
 * without in-kernel Hyper-V); the passthrough backend leaves it to KVM. The rest of the page is
 * filled with INT3 (0xCC), as OpenVMM does.
 */
export const hypercallStub = (port: number): Uint8Array => {
  if (!Number.isInteger(port) || port < 0 || port > 0xff) throw new RangeError(`hypercall port must be an 8-bit I/O port, got ${port}`);
  return Uint8Array.of(0xe7, port, 0xc3);
};

/** Whether the guest has written a non-zero GUEST_OS_ID (hypercalls are live only then: KVM `kvm_hv_hypercall_enabled`). */
export const guestOsIdSet = (state: Record<string, ArrayBufferView>): boolean => {
  const w = state.guestOsId as Uint32Array;
  return (w[0] | w[1]) !== 0;
};

/**
 * Handlers for the three partition MSRs; `stub` is written at the hypercall page GPA on enable.
 * - GUEST_OS_ID (rw): stored as written; writing 0 also clears HYPERCALL's enable bit.
 * - HYPERCALL (rw): a write while GUEST_OS_ID is 0 is dropped silently (no #GP, not stored);
 *   with bit 0 set the stub is written into the page at GPA[63:12], #GP if that page is not in RAM.
 * - VP_INDEX (ro): the VP's index; a write takes #GP.
 */
export function corePartitionMsrs(stub: Uint8Array): PluginHandlers {
  return {
    rdmsr(vp: VpView, msr: MsrAccess) {
      const s = vp.partition.state(CORE_OWNER);
      switch (msr.index) {
        case HV_X64_MSR_GUEST_OS_ID: {
          const w = s.guestOsId as Uint32Array;
          msr.lo = w[0];
          msr.hi = w[1];
          return MsrOutcome.Ok;
        }
        case HV_X64_MSR_HYPERCALL: {
          const w = s.hypercall as Uint32Array;
          msr.lo = w[0];
          msr.hi = w[1];
          return MsrOutcome.Ok;
        }
        case HV_X64_MSR_VP_INDEX:
          msr.lo = vp.index >>> 0;
          msr.hi = 0;
          return MsrOutcome.Ok;
      }
      return MsrOutcome.NotMine;
    },
    wrmsr(vp: VpView, msr: MsrAccess) {
      const s = vp.partition.state(CORE_OWNER);
      switch (msr.index) {
        case HV_X64_MSR_GUEST_OS_ID: {
          const w = s.guestOsId as Uint32Array;
          w[0] = msr.lo;
          w[1] = msr.hi;
          if ((msr.lo | msr.hi) === 0) (s.hypercall as Uint32Array)[0] &= ~1;
          return MsrOutcome.Ok;
        }
        case HV_X64_MSR_HYPERCALL: {
          if (!guestOsIdSet(s)) return MsrOutcome.Ok;
          if (msr.lo & 1) {
            const mem = vp.partition.memory;
            const gpa = overlayPageGpa(msr.lo, msr.hi);
            if (!mem.contains(gpa, HV_PAGE_SIZE)) return MsrOutcome.Gp;
            mem.fill(gpa, HV_PAGE_SIZE, 0xcc);
            mem.write(gpa, stub);
          }
          const w = s.hypercall as Uint32Array;
          w[0] = msr.lo;
          w[1] = msr.hi;
          return MsrOutcome.Ok;
        }
        case HV_X64_MSR_VP_INDEX:
          return MsrOutcome.Gp;
      }
      return MsrOutcome.NotMine;
    },
  };
}
