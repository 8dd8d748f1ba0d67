import { HV_X64_MSR_RESET, HvPrivilegeEax } from "@hv/tlfs";
import { definePlugin } from "@hv/x86";
import { RESET, resetHandlers } from "./behaviour.ts";

/**
 * `hv-reset`: 0x40000003.EAX[7] AccessResetReg. Claims HV_X64_MSR_RESET (0x40000003, read/write,
 * gate AccessResetReg): reads return 0; writing 1 (bit 0) resets the whole partition
 * (`PartitionEvents.reset("reset")`, see `resetHandlers`); other values are ignored; no #GP on value.
 * Without the gate bit every access -> #GP. No state.
 * Source: TLFS synthetic MSR HV_X64_MSR_RESET; KVM `kvm_hv_set_msr_pw` (HV_X64_MSR_RESET raises
 * KVM_REQ_HV_RESET); QEMU `HYPERV_FEAT_RESET`.
 */
export const reset = definePlugin({
  name: RESET,
  summary: "Reset MSR: the guest resets the VM by writing 1 to HV_X64_MSR_RESET",
  requires: [],
  cpuid: { set: [HvPrivilegeEax.AccessResetReg] },
  msrs: [{ index: HV_X64_MSR_RESET, name: "HV_X64_MSR_RESET", access: "rw", gate: HvPrivilegeEax.AccessResetReg }],
  hypercalls: [],
  emulator: { supported: true },
  passthrough: { capabilities: ["KVM_CAP_HYPERV"] },
  formats: {
    qemu: { property: "hv-reset" },
    libvirt: { hyperv: "reset" },
    kubevirt: { hyperv: "reset" },
  },
  docs: {
    description: "Advertises HV_X64_MSR_RESET (0x40000003.EAX[7]): writing 1 resets the partition; reads return 0.",
    guestGains: "A reset path that needs no emulated chipset reset register. Optional: modern Hyper-V does not export it.",
    windows: "Proxmox enables it for Vista / 2008 and later from machine 2.6, and Nova always; virt-install leaves it out ('modern Hyper-V versions don't export it'). Linux 6.1 does not use it.",
    sources: ["TLFS synthetic MSR HV_X64_MSR_RESET (0x40000003); §2.4.4 AccessResetReg", "QEMU hv-reset (HYPERV_FEAT_RESET)", "KVM arch/x86/kvm/hyperv.c HV_X64_MSR_RESET"],
  },
  create: () => resetHandlers(),
});
