/**
 * Hypercall call codes (TLFS Appendix A "Hypercall Code Reference"). A code is bits 15:0 of the
 * hypercall input value; codes with bit 15 set are extended hypercalls (TLFS §3.9).
 * @module
 */

/** Switches the current address space (CR3). */
export const HvCallSwitchVirtualAddressSpace = 0x0001;
/** Flushes all TLB entries of an address space on a processor set. Simple call, no rep. TLFS §10.2.1 (as KVM implements it). */
export const HvCallFlushVirtualAddressSpace = 0x0002;
/** Flushes a list of GVA ranges on a processor set. Rep call (one GVA range per rep). */
export const HvCallFlushVirtualAddressList = 0x0003;
/** Returns logical processor run time. */
export const HvCallGetLogicalProcessorRunTime = 0x0004;
/** Notifies the hypervisor of a long spin wait (HvNotifyLongSpinWait). */
export const HvCallNotifyLongSpinWait = 0x0008;
/** Reports parked virtual processors. */
export const HvCallParkedVirtualProcessors = 0x0009;
/** Invokes the hypervisor debugger. */
export const HvCallInvokeHypervisorDebugger = 0x000a;
/** Sends a fixed IPI to a cluster of VPs (64-bit mask). */
export const HvCallSendSyntheticClusterIpi = 0x000b;
/** Modifies VTL protection. */
export const HvCallModifyVtlProtectionMask = 0x000c;
/** Enables a VTL for the partition. */
export const HvCallEnablePartitionVtl = 0x000d;
/** Enables a VTL on a VP. */
export const HvCallEnableVpVtl = 0x000f;
/** VTL call. */
export const HvCallVtlCall = 0x0011;
/** VTL return. */
export const HvCallVtlReturn = 0x0012;
/** FlushVirtualAddressSpace with a sparse VP set (variable header). */
export const HvCallFlushVirtualAddressSpaceEx = 0x0013;
/** FlushVirtualAddressList with a sparse VP set (variable header + rep). */
export const HvCallFlushVirtualAddressListEx = 0x0014;
/** SendSyntheticClusterIpi with a sparse VP set (variable header). */
export const HvCallSendSyntheticClusterIpiEx = 0x0015;
/** Returns the partition id (root only; never advertised to a guest). */
export const HvCallGetPartitionId = 0x0046;
/** Posts a message to a SynIC connection. TLFS §11.10.1. */
export const HvCallPostMessage = 0x005c;
/** Signals a SynIC event connection. TLFS §11.10.2. */
export const HvCallSignalEvent = 0x005d;
/** Sends data to the synthetic debugger. */
export const HvCallPostDebugData = 0x0069;
/** Receives data from the synthetic debugger. */
export const HvCallRetrieveDebugData = 0x006a;
/** Resets the synthetic debugger session. */
export const HvCallResetDebugSession = 0x006b;
/** Extended hypercall: query extended capabilities (u64 mask at the output GPA). */
export const HvExtCallQueryCapabilities = 0x8001;

/** Name of every hypercall code hv knows, by code. */
export const HV_HYPERCALL_NAMES: ReadonlyMap<number, string> = new Map<number, string>([
  [HvCallSwitchVirtualAddressSpace, "HvCallSwitchVirtualAddressSpace"],
  [HvCallFlushVirtualAddressSpace, "HvCallFlushVirtualAddressSpace"],
  [HvCallFlushVirtualAddressList, "HvCallFlushVirtualAddressList"],
  [HvCallGetLogicalProcessorRunTime, "HvCallGetLogicalProcessorRunTime"],
  [HvCallNotifyLongSpinWait, "HvCallNotifyLongSpinWait"],
  [HvCallParkedVirtualProcessors, "HvCallParkedVirtualProcessors"],
  [HvCallInvokeHypervisorDebugger, "HvCallInvokeHypervisorDebugger"],
  [HvCallSendSyntheticClusterIpi, "HvCallSendSyntheticClusterIpi"],
  [HvCallModifyVtlProtectionMask, "HvCallModifyVtlProtectionMask"],
  [HvCallEnablePartitionVtl, "HvCallEnablePartitionVtl"],
  [HvCallEnableVpVtl, "HvCallEnableVpVtl"],
  [HvCallVtlCall, "HvCallVtlCall"],
  [HvCallVtlReturn, "HvCallVtlReturn"],
  [HvCallFlushVirtualAddressSpaceEx, "HvCallFlushVirtualAddressSpaceEx"],
  [HvCallFlushVirtualAddressListEx, "HvCallFlushVirtualAddressListEx"],
  [HvCallSendSyntheticClusterIpiEx, "HvCallSendSyntheticClusterIpiEx"],
  [HvCallGetPartitionId, "HvCallGetPartitionId"],
  [HvCallPostMessage, "HvCallPostMessage"],
  [HvCallSignalEvent, "HvCallSignalEvent"],
  [HvCallPostDebugData, "HvCallPostDebugData"],
  [HvCallRetrieveDebugData, "HvCallRetrieveDebugData"],
  [HvCallResetDebugSession, "HvCallResetDebugSession"],
  [HvExtCallQueryCapabilities, "HvExtCallQueryCapabilities"],
]);
