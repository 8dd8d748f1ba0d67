import { HV_X64_MSR_APIC_FREQUENCY, HV_X64_MSR_TSC_FREQUENCY, HvFeatureEdx, HvPrivilegeEax } from "@hv/tlfs";
import { definePlugin } from "@hv/x86";
import { frequenciesHandlers } from "./behaviour.ts";

const gate = HvPrivilegeEax.AccessFrequencyRegs;

/**
 * `hv-frequencies`: 0x40000003.EAX[11] AccessFrequencyRegs and EDX[8] FrequencyRegsAvailable
 * (Linux reads the MSRs only when both are set).
 *
 * MSRs (read-only, gate AccessFrequencyRegs; WRMSR -> #GP, any access without the gate -> #GP):
 * - HV_X64_MSR_TSC_FREQUENCY 0x40000022: guest TSC frequency in Hz (KVM: tsc_khz * 1000), the same
 *   value the reference TSC page scale is derived from;
 * - HV_X64_MSR_APIC_FREQUENCY 0x40000023: local APIC timer frequency in Hz (KVM: 1 000 000 000).
 * No state: both come from the partition clock (`PartitionView.tscHz`/`apicHz`, see
 * `frequenciesHandlers`); after a TSC frequency change TSC_FREQUENCY reports the new frequency at
 * once, also while hv-reenlightenment still has the old one emulated. Source: TLFS synthetic MSRs 0x40000022/23; KVM
 * `kvm_hv_get_msr` (HV_X64_MSR_TSC_FREQUENCY/APIC_FREQUENCY); QEMU `HYPERV_FEAT_FREQUENCIES`.
 */
export const frequencies = definePlugin({
  name: "frequencies",
  summary: "Frequency MSRs: the guest reads the TSC and APIC timer frequencies instead of calibrating them",
  requires: [],
  cpuid: { set: [HvPrivilegeEax.AccessFrequencyRegs, HvFeatureEdx.FrequencyRegsAvailable] },
  msrs: [
    { index: HV_X64_MSR_TSC_FREQUENCY, name: "HV_X64_MSR_TSC_FREQUENCY", access: "ro", gate },
    { index: HV_X64_MSR_APIC_FREQUENCY, name: "HV_X64_MSR_APIC_FREQUENCY", access: "ro", gate },
  ],
  hypercalls: [],
  emulator: { supported: true },
  passthrough: { capabilities: ["KVM_CAP_HYPERV"] },
  formats: {
    qemu: { property: "hv-frequencies" },
    libvirt: { hyperv: "frequencies" },
    kubevirt: { hyperv: "frequencies" },
  },
  docs: {
    description: "Advertises HV_X64_MSR_TSC_FREQUENCY and HV_X64_MSR_APIC_FREQUENCY (0x40000003.EAX[11], EDX[8]): the TSC and local APIC timer frequencies in Hz.",
    guestGains: "Exact TSC and APIC timer frequencies without calibration loops, which are unreliable in a VM (Linux: TSC_KNOWN_FREQ and 'LAPIC Timer Frequency').",
    windows: "No per-version source; virt-install and Nova enable it for all Windows, Proxmox does not. QEMU recommends it with hv-reenlightenment and tsc-frequency=.",
    sources: ["TLFS synthetic MSRs HV_X64_MSR_TSC_FREQUENCY/APIC_FREQUENCY; §2.4.4 AccessFrequencyRegs, FrequencyRegsAvailable", "QEMU hv-frequencies (HYPERV_FEAT_FREQUENCIES)", "KVM arch/x86/kvm/hyperv.c kvm_hv_get_msr"],
  },
  create: () => frequenciesHandlers(),
});
