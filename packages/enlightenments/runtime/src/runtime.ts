import { HV_X64_MSR_VP_RUNTIME, HvPrivilegeEax } from "@hv/tlfs";
import { definePlugin } from "@hv/x86";
import { RUNTIME, runtimeHandlers, runtimeVpState } from "./behaviour.ts";

/**
 * `hv-runtime`: 0x40000003.EAX[0] AccessVpRunTimeReg. Claims HV_X64_MSR_VP_RUNTIME (0x40000010,
 * read-only, gate AccessVpRunTimeReg): the time this vCPU has run, in 100 ns units. WRMSR -> #GP;
 * any access without the gate bit -> #GP. The value comes from the vCPU's run-time accounting
 * (`VpView.runTime()`), kept monotonic per VP with the declared {@link runtimeVpState} (see
 * `runtimeHandlers`). Source: TLFS §7.7.1; QEMU `HYPERV_FEAT_RUNTIME`; KVM `kvm_hv_get_msr`
 * (HV_X64_MSR_VP_RUNTIME = current->se.sum_exec_runtime / 100 + offset).
 */
export const runtime = definePlugin({
  name: RUNTIME,
  summary: "VP run time MSR: each vCPU can read how long it has actually run (100 ns units)",
  requires: [],
  cpuid: { set: [HvPrivilegeEax.AccessVpRunTimeReg] },
  msrs: [{ index: HV_X64_MSR_VP_RUNTIME, name: "HV_X64_MSR_VP_RUNTIME", access: "ro", gate: HvPrivilegeEax.AccessVpRunTimeReg }],
  hypercalls: [],
  state: { vp: runtimeVpState },
  emulator: { supported: true },
  passthrough: { capabilities: ["KVM_CAP_HYPERV"] },
  formats: {
    qemu: { property: "hv-runtime" },
    libvirt: { hyperv: "runtime" },
    kubevirt: { hyperv: "runtime" },
  },
  docs: {
    description: "Advertises HV_X64_MSR_VP_RUNTIME (0x40000003.EAX[0]), the read-only run time of the vCPU in 100 ns units.",
    guestGains: "The guest scheduler can tell time it actually ran from time the host stole, improving its accounting under overcommit.",
    windows: "Vista / 2008 and later (Proxmox enables it from machine 2.6; virt-install and Nova always). Linux 6.1 guests do not use it.",
    sources: ["TLFS §7.7.1 Virtual Processor Run Time Register", "QEMU hv-runtime (HYPERV_FEAT_RUNTIME)", "KVM arch/x86/kvm/hyperv.c HV_X64_MSR_VP_RUNTIME"],
  },
  create: () => runtimeHandlers(),
});
