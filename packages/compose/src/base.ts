/**
 * The base every composition carries, whatever was requested: the partition-level MSRs the core
 * serves (GUEST_OS_ID, HYPERCALL, VP_INDEX), the privileges the "Requirements for Implementing the
 * Microsoft Hypervisor Interface" demand (AccessHypercallMsrs, AccessVpIndex), QEMU's always-on
 * CpuDynamicPartitioningAvailable, and the vpindex plugin (so QEMU flags and CPUID agree).
 * @module
 */
import {
  HV_X64_MSR_GUEST_OS_ID,
  HV_X64_MSR_HYPERCALL,
  HV_X64_MSR_VP_INDEX,
  HvFeatureEdx,
  HvPrivilegeEax,
} from "@hv/tlfs";
import type { CpuidContribution, MsrClaim } from "@hv/x86";

/** Owner name under which the base's claims appear in conflicts and tables. */
export const BASE_OWNER = "base";

/** The base's CPUID bits (0x40000003.EAX[5], [6]; 0x40000003.EDX[3]). */
export const BASE_CPUID: CpuidContribution = {
  set: [HvPrivilegeEax.AccessHypercallMsrs, HvPrivilegeEax.AccessVpIndex, HvFeatureEdx.CpuDynamicPartitioningAvailable],
};

/** The partition-level MSRs the core (not a plugin) serves. */
export const BASE_MSRS: readonly MsrClaim[] = [
  { index: HV_X64_MSR_GUEST_OS_ID, name: "HV_X64_MSR_GUEST_OS_ID", access: "rw", gate: HvPrivilegeEax.AccessHypercallMsrs },
  { index: HV_X64_MSR_HYPERCALL, name: "HV_X64_MSR_HYPERCALL", access: "rw", gate: HvPrivilegeEax.AccessHypercallMsrs },
  { index: HV_X64_MSR_VP_INDEX, name: "HV_X64_MSR_VP_INDEX", access: "ro", gate: HvPrivilegeEax.AccessVpIndex },
];

/** Plugins that are part of the base: always composed, and `--without` cannot remove them. */
export const BASE_PLUGINS: readonly string[] = ["vpindex"];
