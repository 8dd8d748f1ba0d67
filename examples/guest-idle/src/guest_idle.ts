import { HV_X64_MSR_GUEST_IDLE, HvFeatureEdx, HvPrivilegeEax } from "@hv/tlfs";
import { defineState, definePlugin, MsrOutcome } from "@hv/x86";

/**
 * Per-VP state: how many times this VP entered guest idle through the MSR (u32, wraps).
 * Declared, so save/restore, reset and `inspect` come for free.
 */
export const guestIdleVpState = defineState({
  version: 1,
  fields: { idleEntries: { type: "u32", doc: "RDMSRs of HV_X64_MSR_GUEST_IDLE by this VP" } },
});

/**
 * `guest-idle`: advertises HV_X64_MSR_GUEST_IDLE (0x400000F0) through 0x40000003.EAX[10]
 * AccessGuestIdleReg and 0x40000003.EDX[5] GuestIdleAvailable. A guest RDMSR of it means "idle this
 * VP until an interrupt arrives"; returning at once is allowed (the guest re-checks, as Linux's
 * `pv_wait` does), so this example only counts entries and reads 0. The MSR is read-only: WRMSR
 * takes #GP. Source: TLFS §2.4.4 and "Guest Idle" MSR; Linux `hv_qlock_wait`.
 */
export const guestIdle = definePlugin({
  name: "guest-idle",
  summary: "Guest idle MSR: the guest idles a VP by reading HV_X64_MSR_GUEST_IDLE (example third-party plugin)",
  requires: ["vpindex"],
  cpuid: { set: [HvPrivilegeEax.AccessGuestIdleReg, HvFeatureEdx.GuestIdleAvailable] },
  msrs: [{ index: HV_X64_MSR_GUEST_IDLE, name: "HV_X64_MSR_GUEST_IDLE", access: "ro", gate: HvPrivilegeEax.AccessGuestIdleReg }],
  hypercalls: [],
  state: { vp: guestIdleVpState },
  emulator: { supported: true },
  passthrough: { capabilities: [], hvCpuid: [HvFeatureEdx.GuestIdleAvailable] },
  formats: {
    qemu: { property: "hv-guest-idle" },
    libvirt: { unsupported: "libvirt has no element for the guest idle MSR" },
    kubevirt: { unsupported: "KubeVirt has no field for the guest idle MSR" },
  },
  docs: {
    description: "Lets the guest idle a VP with one RDMSR instead of HLT; the hypervisor may return at once.",
    guestGains: "A cheap way for paravirtual spinlock waits (Linux pv_wait) to give up the CPU.",
    windows: "Used by Linux's Hyper-V PV spinlocks; Windows guests do not depend on it.",
    sources: ["TLFS §2.4.4 (0x40000003.EAX[10], EDX[5])", "Linux arch/x86/hyperv/hv_spinlock.c"],
  },
  create: () => ({
    rdmsr(vp, msr) {
      if (msr.index !== HV_X64_MSR_GUEST_IDLE) return MsrOutcome.NotMine;
      const s = vp.state("guest-idle").idleEntries as Uint32Array;
      s[0] = (s[0] + 1) >>> 0;
      msr.lo = 0;
      msr.hi = 0;
      return MsrOutcome.Ok;
    },
    wrmsr(_vp, msr) {
      return msr.index === HV_X64_MSR_GUEST_IDLE ? MsrOutcome.Gp : MsrOutcome.NotMine;
    },
  }),
});
