import {
  HV_X64_MSR_REENLIGHTENMENT_CONTROL,
  HV_X64_MSR_TSC_EMULATION_CONTROL,
  HV_X64_MSR_TSC_EMULATION_STATUS,
  HvPrivilegeEax,
} from "@hv/tlfs";
import { definePlugin } from "@hv/x86";
import { REENLIGHTENMENT, reenlightenmentHandlers, reenlightenmentPartitionState } from "./behaviour.ts";

const gate = HvPrivilegeEax.AccessReenlightenmentControls;

/**
 * `hv-reenlightenment`: 0x40000003.EAX[13] AccessReenlightenmentControls.
 *
 * MSRs (read/write, gate AccessReenlightenmentControls; any access without it -> #GP):
 * - HV_X64_MSR_REENLIGHTENMENT_CONTROL 0x40000106: stored as written (no #GP, as KVM);
 * - HV_X64_MSR_TSC_EMULATION_CONTROL 0x40000107: stored as written (no #GP, as KVM);
 * - HV_X64_MSR_TSC_EMULATION_STATUS 0x40000108: the guest may write only 0 (anything else -> #GP);
 *   writing 0 while InProgress is set acknowledges a held TSC frequency change.
 * State: {@link reenlightenmentPartitionState}, per partition; behaviour: `reenlightenmentHandlers`.
 * On a TSC frequency change the backend announces (`PluginHandlers.tscFrequencyChanging`; in the
 * emulator after a restore onto a host with another TSC rate, in the testkit
 * `TestPartition.changeTscFrequency`), a guest that enabled the notification gets `vector` on the
 * target VP; if it also enabled TSC emulation, STATUS.InProgress is set and the old frequency is
 * emulated (TSC, TIME_REF_COUNT and the reference TSC page unchanged) until it writes STATUS = 0,
 * when the new frequency takes effect (see `reenlightenmentNotify`).
 * Source: TLFS reenlightenment MSRs; Linux `hv_reenlightenment_notify`/`hyperv_stop_tsc_emulation`;
 * KVM `kvm_hv_set_msr_pw` (MSR rules; KVM raises no notification, see behaviour.ts);
 * QEMU `HYPERV_FEAT_REENLIGHTENMENT`.
 */
export const reenlightenment = definePlugin({
  name: REENLIGHTENMENT,
  summary: "Reenlightenment: the guest is told when the TSC frequency changes (migration) and may fix up its clocks",
  requires: [],
  cpuid: { set: [HvPrivilegeEax.AccessReenlightenmentControls] },
  msrs: [
    { index: HV_X64_MSR_REENLIGHTENMENT_CONTROL, name: "HV_X64_MSR_REENLIGHTENMENT_CONTROL", access: "rw", gate },
    { index: HV_X64_MSR_TSC_EMULATION_CONTROL, name: "HV_X64_MSR_TSC_EMULATION_CONTROL", access: "rw", gate },
    { index: HV_X64_MSR_TSC_EMULATION_STATUS, name: "HV_X64_MSR_TSC_EMULATION_STATUS", access: "rw", gate },
  ],
  hypercalls: [],
  state: { partition: reenlightenmentPartitionState },
  emulator: { supported: true },
  passthrough: { capabilities: ["KVM_CAP_HYPERV"] },
  formats: {
    qemu: { property: "hv-reenlightenment" },
    libvirt: { hyperv: "reenlightenment" },
    kubevirt: { hyperv: "reenlightenment" },
  },
  docs: {
    description: "Advertises the reenlightenment MSRs (0x40000003.EAX[13]): the guest registers a vector to be notified of TSC frequency changes and acknowledges through TSC_EMULATION_STATUS, while the host emulates the old TSC meanwhile.",
    guestGains: "A guest that is itself a hypervisor (Hyper-V role, WSL2, VBS; Linux with kvm_intel) keeps its own guests' clocks right across a migration to a host with a different TSC frequency.",
    windows: "Only matters for Windows running a nested hypervisor; neither virt-install nor Nova enables it (QEMU: needs TSC scaling; recommend with hv-frequencies and tsc-frequency=).",
    sources: [
      "TLFS reenlightenment MSRs 0x40000106..0x40000108; §2.4.4 AccessReenlightenmentControls",
      "Linux arch/x86/hyperv/hv_init.c set_hv_tscchange_cb, hv_reenlightenment_notify, hyperv_stop_tsc_emulation",
      "QEMU hv-reenlightenment (HYPERV_FEAT_REENLIGHTENMENT)",
      "KVM arch/x86/kvm/hyperv.c HV_X64_MSR_REENLIGHTENMENT_CONTROL, tsc_page_update_unsafe",
    ],
  },
  create: ({ partition }) => reenlightenmentHandlers(partition),
});
