import {
  HV_SYNIC_STIMER_COUNT,
  HvPrivilegeEax,
  hvMsrStimerConfig,
  hvMsrStimerCount,
} from "@hv/tlfs";
import { defineState, definePlugin, type MsrClaim } from "@hv/x86";
import { stimerHandlers } from "./behaviour.ts";

const gate = HvPrivilegeEax.AccessSyntheticTimerRegs;

/** The eight timer MSRs: STIMERn_CONFIG and STIMERn_COUNT for n in 0..3 (TLFS §12.4). */
const msrs: MsrClaim[] = Array.from({ length: HV_SYNIC_STIMER_COUNT }, (_, n) => [
  { index: hvMsrStimerConfig(n), name: `HV_X64_MSR_STIMER${n}_CONFIG`, access: "rw" as const, gate },
  { index: hvMsrStimerCount(n), name: `HV_X64_MSR_STIMER${n}_COUNT`, access: "rw" as const, gate },
]).flat();

/**
 * Per-VP timer state (all 0 at power-on, as KVM), n = 0..3, written under `lock` by the VP's vCPU
 * thread (MSRs, EOM) and the timer thread (expiry):
 * - `config[n]`: STIMERn_CONFIG as written (u64: enable, periodic, lazy, auto_enable, apic_vector,
 *   direct_mode, sintx); `enable` clears when a one-shot timer expires.
 * - `count[n]`: STIMERn_COUNT (u64, 100 ns reference time: absolute expiry for one-shot, period for
 *   periodic).
 * - `expiry[n]`: reference time (100 ns) of the armed or undelivered expiry (KVM `exp_time`); 0 when
 *   the timer is stopped. Saved state: the host deadline is recomputed from it after a restore.
 * - `deadline[n]`: the host time (ns, `PartitionView.timers` clock) at which `expiry` falls due, the
 *   anchor periodic re-arms count from (only meaningful while `expiry` != 0). A non-lazy direct-mode
 *   timer catching up arms its host timer later than this (paced); the anchor stays on the grid.
 *   Meaningless in another process: `StimerHandlers.restored` rebuilds it.
 * - `pending[n]`: 0, or why the expiry waits for an EOM (one-shot and non-lazy periodic timers; a
 *   lazy periodic timer waits only while the SynIC is disabled): 1 its message is queued by the SynIC, 2 it was
 *   not taken and is posted again at the next EOM (`StimerPending`). No host timer runs meanwhile.
 * - `lock`: 0 free / 1 held, spinlock over this VP's timers (taken before the SynIC's own lock).
 */
export const stimerVpState = defineState({
  version: 2,
  fields: {
    config: { type: "u64", count: HV_SYNIC_STIMER_COUNT, doc: "STIMERn_CONFIG" },
    count: { type: "u64", count: HV_SYNIC_STIMER_COUNT, doc: "STIMERn_COUNT, 100 ns units" },
    expiry: { type: "u64", count: HV_SYNIC_STIMER_COUNT, doc: "reference time (100 ns) of the armed expiry; 0 stopped" },
    deadline: { type: "f64", count: HV_SYNIC_STIMER_COUNT, doc: "host ns at which expiry falls due (valid while expiry != 0)" },
    pending: { type: "u8", count: HV_SYNIC_STIMER_COUNT, doc: "0, 1 message queued by the SynIC, 2 re-post at EOM" },
    lock: { type: "u32", doc: "spinlock over this VP's timers (0 free, 1 held)" },
  },
});

/**
 * `hv-stimer`: synthetic timers, 0x40000003.EAX[3] AccessSyntheticTimerRegs. Four per VP; each
 * expiry posts an HVMSG_TIMER_EXPIRED message into the SIMP slot of its SINT (message mode) or,
 * with `stimer-direct`, raises its APIC vector directly. Requires `synic` (messages) and `time`
 * (the reference counter the COUNT values are measured in). Owns four host timers per VP
 * (`timers.perVp`); behaviour: `stimerHandlers` (behaviour.ts, whose module doc lists every rule).
 * Source: TLFS §12.4 "Synthetic Timers"; QEMU `HYPERV_FEAT_STIMER` deps; KVM
 * `stimer_set_config`/`stimer_set_count`/`stimer_start`/`stimer_expiration`.
 */
export const stimer = definePlugin({
  name: "stimer",
  summary: "Synthetic timers: per-VP one-shot/periodic timers in 100 ns reference time, replacing the emulated APIC timer/HPET",
  requires: ["synic", "time"],
  cpuid: { set: [HvPrivilegeEax.AccessSyntheticTimerRegs] },
  msrs,
  hypercalls: [],
  state: { vp: stimerVpState },
  timers: { perVp: HV_SYNIC_STIMER_COUNT },
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
  create: ({ partition }) => stimerHandlers(partition),
});
