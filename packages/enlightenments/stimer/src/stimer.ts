import {
  HV_SYNIC_STIMER_COUNT,
  HvPrivilegeEax,
  hvMsrStimerConfig,
  hvMsrStimerCount,
} from "@hv/tlfs";
import { defineState, definePlugin, type MsrClaim } from "@hv/x86";

const gate = HvPrivilegeEax.AccessSyntheticTimerRegs;

/** The eight timer MSRs: STIMERn_CONFIG and STIMERn_COUNT for n in 0..3 (TLFS §12.4). */
const msrs: MsrClaim[] = Array.from({ length: HV_SYNIC_STIMER_COUNT }, (_, n) => [
  { index: hvMsrStimerConfig(n), name: `HV_X64_MSR_STIMER${n}_CONFIG`, access: "rw" as const, gate },
  { index: hvMsrStimerCount(n), name: `HV_X64_MSR_STIMER${n}_COUNT`, access: "rw" as const, gate },
]).flat();

/**
 * Per-VP timer state: `config[n]` is STIMERn_CONFIG as written (u64: enable, periodic, lazy,
 * auto_enable, apic_vector, direct_mode, sintx), `count[n]` STIMERn_COUNT (u64, 100 ns reference
 * time: absolute expiry for one-shot, period for periodic), `pending[n]` 1 when an expiry message
 * awaits a free SIMP slot. All 0 at power-on (KVM).
 */
export const stimerVpState = defineState({
  version: 1,
  fields: {
    config: { type: "u64", count: HV_SYNIC_STIMER_COUNT, doc: "STIMERn_CONFIG" },
    count: { type: "u64", count: HV_SYNIC_STIMER_COUNT, doc: "STIMERn_COUNT, 100 ns units" },
    pending: { type: "u8", count: HV_SYNIC_STIMER_COUNT, doc: "expiry message waiting for EOM" },
  },
});

/**
 * `hv-stimer`: synthetic timers, 0x40000003.EAX[3] AccessSyntheticTimerRegs. Four per VP; each
 * expiry posts an HVMSG_TIMER_EXPIRED message into the SIMP slot of its SINT (message mode) or,
 * with `stimer-direct`, raises its APIC vector directly. Requires `synic` (messages) and `time`
 * (the reference counter the COUNT values are measured in). Source: TLFS §12.4 "Synthetic Timers";
 * QEMU `HYPERV_FEAT_STIMER` deps; KVM `stimer_set_config`/`stimer_set_count`.
 */
export const stimer = definePlugin({
  name: "stimer",
  summary: "Synthetic timers: per-VP one-shot/periodic timers in 100 ns reference time, replacing the emulated APIC timer/HPET",
  requires: ["synic", "time"],
  cpuid: { set: [HvPrivilegeEax.AccessSyntheticTimerRegs] },
  msrs,
  hypercalls: [],
  state: { vp: stimerVpState },
  emulator: { supported: true },
  passthrough: { capabilities: ["KVM_CAP_HYPERV_SYNIC2", "KVM_CAP_HYPERV_TIME"] },
  formats: {
    qemu: { property: "hv-stimer" },
    libvirt: { hyperv: "stimer" },
    kubevirt: { hyperv: "synictimer" },
  },
  docs: {
    description: "Four synthetic timers per VP (STIMER0..3 CONFIG/COUNT MSRs) that expire against the partition reference time and notify the guest through SynIC messages.",
    guestGains: "Cheap, precise timers: Windows stops using the emulated HPET/RTC/LAPIC timer, cutting idle CPU load sharply (reports of 30-40% down to 1-3%).",
    windows: "Windows 7 / 2008 R2 and later (Proxmox enables it from Windows 7 with machine >= 2.12); Windows 10+ relies on it for low idle load.",
    sources: ["TLFS §12.4 Synthetic Timers", "QEMU hv-stimer (requires hv-synic, hv-time)", "KVM arch/x86/kvm/hyperv.c stimer_*"],
  },
});
