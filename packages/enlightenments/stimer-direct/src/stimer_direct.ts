import { HvFeatureEdx } from "@hv/tlfs";
import { definePlugin } from "@hv/x86";
import { allowDirectStimers } from "@hv/stimer";

/**
 * `hv-stimer-direct`: 0x40000003.EDX[19] DirectSyntheticTimers. Requires `stimer`. Claims nothing:
 * it changes what `stimer` accepts. With the bit, STIMERn_CONFIG bit 12 (direct mode) is allowed
 * and an expiring timer raises the APIC vector in CONFIG[11:4] directly instead of posting a SynIC
 * message; without it, writing CONFIG with bit 12 set -> #GP (KVM `stimer_set_config`, selftest
 * hyperv_features.c). Source: TLFS §12.4 Synthetic Timers (direct mode); QEMU
 * `HYPERV_FEAT_STIMER_DIRECT`; Linux `hv_stimer_setup_percpu_clockev` (CONFIG = 0x1ED9).
 *
 * Its `create` tells `stimer` that the partition advertises the bit (`allowDirectStimers`): a
 * plugin cannot see the composition's CPUID (`PartitionView` has no `advertised(bit)` yet). It
 * returns no handlers; the behaviour is `stimer`'s.
 */
export const stimerDirect = definePlugin({
  name: "stimer-direct",
  summary: "Direct-mode synthetic timers: expiry raises an APIC vector instead of a SynIC message (no VMBus needed)",
  requires: ["stimer"],
  cpuid: { set: [HvFeatureEdx.DirectSyntheticTimers] },
  msrs: [],
  hypercalls: [],
  emulator: { supported: true },
  passthrough: { capabilities: ["KVM_CAP_SYS_HYPERV_CPUID"], hvCpuid: [HvFeatureEdx.DirectSyntheticTimers] },
  formats: {
    qemu: { property: "hv-stimer-direct" },
    libvirt: { hyperv: "stimer", child: "direct" },
    kubevirt: { hyperv: "synictimer", child: "direct" },
  },
  docs: {
    description: "Allows direct-mode synthetic timers (0x40000003.EDX[19]): STIMERn_CONFIG bit 12 makes an expiring timer raise its own APIC vector rather than post a message to a SINT.",
    guestGains: "Synthetic timers without the SynIC message path: Linux gets its 'Hyper-V clockevent' (vector 0xED) without VMBus, and expiry needs no message slot or EOM.",
    windows: "No per-version source; virt-install enables it whenever stimer is on and libvirt reports it. Linux 6.1 uses it (the only way it uses stimer without hv_vmbus).",
    sources: [
      "TLFS §12.4 Synthetic Timers, direct mode; §2.4.4 DirectSyntheticTimers",
      "QEMU hv-stimer-direct (HYPERV_FEAT_STIMER_DIRECT, requires hv-stimer)",
      "KVM arch/x86/kvm/hyperv.c stimer_set_config; Linux drivers/clocksource/hyperv_timer.c",
    ],
  },
  create: ({ partition }) => {
    allowDirectStimers(partition);
    return {};
  },
});
