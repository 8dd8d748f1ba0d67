import {
  HV_CPUID_SIGNATURE_VS1,
  HV_CPUID_SYNDBG_INTERFACE,
  HV_CPUID_SYNDBG_PLATFORM_CAPABILITIES,
  HV_CPUID_SYNDBG_VENDOR_AND_MAX_FUNCTIONS,
  HV_VENDOR_SYNDBG,
  HV_X64_MSR_SYNDBG_CONTROL,
  HV_X64_MSR_SYNDBG_OPTIONS,
  HV_X64_MSR_SYNDBG_PENDING_BUFFER,
  HV_X64_MSR_SYNDBG_RECV_BUFFER,
  HV_X64_MSR_SYNDBG_SEND_BUFFER,
  HV_X64_MSR_SYNDBG_STATUS,
  HvCallPostDebugData,
  HvCallResetDebugSession,
  HvCallRetrieveDebugData,
  HvFeatureEdx,
  HvPrivilegeEbx,
  HvSyndbgEax,
} from "@hv/tlfs";
import { definePlugin, encodeVendor, type MsrClaim } from "@hv/x86";

const gate = HvFeatureEdx.DebugRegsAvailable;
const vendor = encodeVendor(HV_VENDOR_SYNDBG);

/** The six synthetic debugger MSRs, 0x400000F1..F5 and 0x400000FF. */
const msrs: MsrClaim[] = [
  { index: HV_X64_MSR_SYNDBG_CONTROL, name: "HV_X64_MSR_SYNDBG_CONTROL", access: "rw", gate },
  { index: HV_X64_MSR_SYNDBG_STATUS, name: "HV_X64_MSR_SYNDBG_STATUS", access: "rw", gate },
  { index: HV_X64_MSR_SYNDBG_SEND_BUFFER, name: "HV_X64_MSR_SYNDBG_SEND_BUFFER", access: "rw", gate },
  { index: HV_X64_MSR_SYNDBG_RECV_BUFFER, name: "HV_X64_MSR_SYNDBG_RECV_BUFFER", access: "rw", gate },
  { index: HV_X64_MSR_SYNDBG_PENDING_BUFFER, name: "HV_X64_MSR_SYNDBG_PENDING_BUFFER", access: "rw", gate },
  { index: HV_X64_MSR_SYNDBG_OPTIONS, name: "HV_X64_MSR_SYNDBG_OPTIONS", access: "rw", gate },
];

/**
 * `hv-syndbg`: the synthetic kernel debugger. 0x40000003.EDX[11] DebugRegsAvailable, plus three
 * whole leaves exactly as QEMU `hyperv_fill_cpuids` and KVM `kvm_get_hv_cpuid` fill them:
 * 0x40000080 EAX = 0, EBX..EDX = "Microsoft VS"; 0x40000081 EAX = "VS#1" (0x31235356);
 * 0x40000082 EAX[1] SyndbgCapAllowKernelDebugging. (QEMU also raises 0x40000000.EAX to 0x40000082.)
 * Requires `synic` and `relaxed` (QEMU; its docs also list time, vapic, vpindex, runtime, stimer).
 *
 * MSRs (read/write, gate DebugRegsAvailable; KVM also wants 0x40000082.EAX[1]; without them -> #GP):
 * HV_X64_MSR_SYNDBG_CONTROL/STATUS/SEND_BUFFER/RECV_BUFFER/PENDING_BUFFER 0x400000F1..F5 and
 * HV_X64_MSR_SYNDBG_OPTIONS 0x400000FF.
 * Hypercalls (gate 0x40000003.EBX[11] Debugging, as KVM `hv_check_hypercall_access`; QEMU's
 * hv-syndbg does not set that bit, so with enforced CPUID they answer HV_STATUS_ACCESS_DENIED):
 * HvCallPostDebugData 0x0069 and HvCallRetrieveDebugData 0x006A (simple, slow only: fast ->
 * HV_STATUS_INVALID_PARAMETER in KVM), HvCallResetDebugSession 0x006B (simple); options without
 * USE_HCALLS -> HV_STATUS_OPERATION_DENIED; no debugger attached -> HV_STATUS_INVALID_HYPERCALL_CODE.
 * The transport is a VMBus bridge device, so only the passthrough backend (KVM exits to a VMM that
 * has one) can serve it. Source: QEMU `HYPERV_FEAT_SYNDBG`, hw/hyperv/syndbg.c; KVM `syndbg_set_msr`.
 */
export const syndbg = definePlugin({
  name: "syndbg",
  summary: "Synthetic kernel debugger: the Windows kernel debugger talks over hypercalls/MSRs instead of serial or network",
  requires: ["synic", "relaxed"],
  cpuid: {
    set: [HvFeatureEdx.DebugRegsAvailable],
    leaves: [
      { function: HV_CPUID_SYNDBG_VENDOR_AND_MAX_FUNCTIONS, eax: 0, ebx: vendor.ebx, ecx: vendor.ecx, edx: vendor.edx },
      { function: HV_CPUID_SYNDBG_INTERFACE, eax: HV_CPUID_SIGNATURE_VS1, ebx: 0, ecx: 0, edx: 0 },
      { function: HV_CPUID_SYNDBG_PLATFORM_CAPABILITIES, eax: 1 << HvSyndbgEax.SyndbgCapAllowKernelDebugging.bit, ebx: 0, ecx: 0, edx: 0 },
    ],
  },
  msrs,
  hypercalls: [
    { code: HvCallPostDebugData, name: "HvCallPostDebugData", kind: "simple", fast: "never", inputBytes: 8, outputBytes: 8, gate: HvPrivilegeEbx.Debugging },
    { code: HvCallRetrieveDebugData, name: "HvCallRetrieveDebugData", kind: "simple", fast: "never", inputBytes: 16, outputBytes: 8, gate: HvPrivilegeEbx.Debugging },
    { code: HvCallResetDebugSession, name: "HvCallResetDebugSession", kind: "simple", fast: "allowed", inputBytes: 0, outputBytes: 24, gate: HvPrivilegeEbx.Debugging },
  ],
  emulator: {
    supported: false,
    reason: "needs a VMBus bridge (QEMU -device vmbus-bridge) to carry the debugger transport, which hv's userspace emulator does not provide; use the passthrough backend with a VMM that has one",
  },
  passthrough: { capabilities: ["KVM_CAP_HYPERV"] },
  formats: {
    qemu: { property: "hv-syndbg" },
    libvirt: { unsupported: "libvirt has no <hyperv> element for hv-syndbg (it also needs -device vmbus-bridge); pass both through <qemu:commandline>" },
    kubevirt: { unsupported: "KubeVirt's spec.domain.features.hyperv has no key for the synthetic debugger" },
  },
  docs: {
    description: "The synthetic debugger interface (0x40000003.EDX[11], leaves 0x40000080..0x40000082 'Microsoft VS' / 'VS#1'): MSRs and hypercalls through which the Windows kernel debugger sends and receives its packets.",
    guestGains: "Kernel debugging (KDNET) much faster than over an emulated serial port or NIC.",
    windows: "Windows guests configured for kernel debugging over the synthetic debugger; never enabled by hv-passthrough or any distribution (QEMU: builds with CONFIG_SYNDBG only, needs -device vmbus-bridge).",
    sources: [
      "QEMU docs/system/i386/hyperv.rst hv-syndbg; target/i386/kvm/kvm.c hyperv_fill_cpuids (HYPERV_FEAT_SYNDBG)",
      "KVM arch/x86/kvm/hyperv.c syndbg_set_msr, kvm_get_hv_cpuid",
      "TLFS Appendix A HvCallPostDebugData/RetrieveDebugData/ResetDebugSession 0x0069..0x006B",
    ],
  },
});
