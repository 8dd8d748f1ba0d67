import { Schema } from "effect";
import { HV_CPUID_ENLIGHTMENT_INFO, HvCallNotifyLongSpinWait, HV_SPINLOCK_RETRIES_NEVER_NOTIFY } from "@hv/tlfs";
import { definePlugin } from "@hv/x86";
import { spinlocksHandlers } from "./behaviour.ts";

/**
 * Spinlock retry count as written on a command line: decimal or `0x` hex, 0xFFF (4095) to
 * 0xFFFFFFFF. libvirt's schema rejects fewer than 4095 retries; 0xFFFFFFFF means "never notify".
 */
export const SpinlockRetries = Schema.NumberFromString.pipe(
  Schema.check(Schema.isInt(), Schema.isBetween({ minimum: 0xfff, maximum: HV_SPINLOCK_RETRIES_NEVER_NOTIFY })),
);

/**
 * `hv-spinlocks=N`: 0x40000004.EBX = N, the number of spin iterations after which the guest should
 * call HvCallNotifyLongSpinWait (0x0008) so the hypervisor can run another vCPU. The hypercall is a
 * simple call (no rep, no variable header; HV_STATUS_INVALID_HYPERCALL_INPUT otherwise), gated on
 * 0x40000004.EBX not being 0 or 0xFFFFFFFF (HV_STATUS_ACCESS_DENIED otherwise); it yields the calling
 * VP (`VpView.yieldCpu`) and returns HV_STATUS_SUCCESS (see `spinlocksHandlers`). No state. Source: TLFS §2.4.5 and §3 (HvCallNotifyLongSpinWait);
 * QEMU `hv-spinlocks` (default 0xFFFFFFFF); KVM `kvm_hv_hypercall` (yields).
 */
export const spinlocks = definePlugin<{ retries: number }>({
  name: "spinlocks",
  summary: "Paravirtual spinlocks: the guest tells the hypervisor after N failed spins, so a preempted lock holder can run",
  requires: [],
  params: {
    retries: {
      schema: SpinlockRetries,
      default: 0x1fff,
      doc: "spin iterations before HvCallNotifyLongSpinWait, 0xfff..0xffffffff",
      format: (n) => `0x${n.toString(16)}`,
    },
  },
  primaryParam: "retries",
  cpuid: ({ retries }) => ({ registers: [{ leaf: HV_CPUID_ENLIGHTMENT_INFO, register: "ebx", value: retries, mode: "set" }] }),
  msrs: [],
  hypercalls: [{
    code: HvCallNotifyLongSpinWait,
    name: "HvCallNotifyLongSpinWait",
    kind: "simple",
    fast: "allowed",
    inputBytes: 8,
    outputBytes: 0,
  }],
  emulator: { supported: true },
  passthrough: { capabilities: ["KVM_CAP_HYPERV"], hvCpuid: [] },
  formats: {
    qemu: { property: "hv-spinlocks", value: (p) => `0x${(p.retries as number).toString(16)}` },
    libvirt: { hyperv: "spinlocks", attrs: (p) => ({ retries: String(p.retries) }) },
    kubevirt: { hyperv: "spinlocks", value: (p) => ({ spinlocks: p.retries }) },
  },
  docs: {
    description: "Reports the spinlock retry count in 0x40000004.EBX; after that many spins the guest calls HvCallNotifyLongSpinWait and the hypervisor yields the spinning vCPU.",
    guestGains: "Less CPU burnt spinning on a lock whose holder vCPU is preempted by the host (lock-holder preemption).",
    windows: "All Windows versions since Vista / 2008 (Proxmox, virt-install and Nova all set 0x1fff = 8191).",
    sources: ["TLFS §2.4.5 (0x40000004.EBX)", "TLFS Appendix A HvCallNotifyLongSpinWait 0x0008", "QEMU hv-spinlocks", "libvirt <spinlocks retries>"],
  },
  create: ({ params }) => spinlocksHandlers(params.retries),
});
