import {
  HV_X64_MSR_REENLIGHTENMENT_CONTROL,
  HV_X64_MSR_TSC_EMULATION_CONTROL,
  HV_X64_MSR_TSC_EMULATION_STATUS,
  HvPrivilegeEax,
} from "@hv/tlfs";
import { definePlugin } from "@hv/x86";
import { REENLIGHTENMENT, reenlightenmentHandlers, reenlightenmentPartitionState, type ReenlightenmentViews } from "./behaviour.ts";

const gate = HvPrivilegeEax.AccessReenlightenmentControls;

/**
 * `hv-reenlightenment`: 0x40000003.EAX[13] AccessReenlightenmentControls.
 *
 * MSRs (read/write, gate AccessReenlightenmentControls; any access without it -> #GP):
 * - HV_X64_MSR_REENLIGHTENMENT_CONTROL 0x40000106: stored as written;
 * - HV_X64_MSR_TSC_EMULATION_CONTROL 0x40000107: stored; while non-zero the reference TSC page is frozen;
 * - HV_X64_MSR_TSC_EMULATION_STATUS 0x40000108: the guest may write only 0 (anything else -> #GP).
 * State: {@link reenlightenmentPartitionState}, per partition; behaviour: `reenlightenmentHandlers`.
 * After a TSC frequency change (migration) the hypervisor emulates the old TSC, sets status and
 * raises `vector` on the target VP so the guest (a nested hypervisor) can update its own guests:
 * that path is the `reenlightenmentNotify` hook, not yet called by a backend.
 * Source: TLFS reenlightenment MSRs; KVM `kvm_hv_set_msr_pw`; QEMU `HYPERV_FEAT_REENLIGHTENMENT`.
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
    sources: ["TLFS reenlightenment MSRs 0x40000106..0x40000108; §2.4.4 AccessReenlightenmentControls", "QEMU hv-reenlightenment (HYPERV_FEAT_REENLIGHTENMENT)", "KVM arch/x86/kvm/hyperv.c HV_X64_MSR_REENLIGHTENMENT_CONTROL"],
  },
  create: ({ partition }) => reenlightenmentHandlers(partition.state(REENLIGHTENMENT) as unknown as ReenlightenmentViews),
});
