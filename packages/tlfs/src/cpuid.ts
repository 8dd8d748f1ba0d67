/**
 * CPUID leaves and bits of the Hyper-V interface (TLFS §2 "Feature and Interface Discovery",
 * and "Requirements for Implementing the Microsoft Hypervisor Interface").
 *
 * Pure data: every bit is a {@link CpuidBit} naming its leaf, register and bit number with the
 * TLFS name, so that composition, explanation and the JSON output can all speak of the same value.
 * @module
 */

/** One of the four CPUID output registers. */
export type CpuidRegister = "eax" | "ebx" | "ecx" | "edx";

/**
 * One bit of one CPUID leaf.
 * - `leaf`: the CPUID function (EAX input), e.g. `0x40000003`.
 * - `register`: output register holding the bit.
 * - `bit`: bit number within that 32-bit register, 0..31.
 * - `name`: the TLFS name (e.g. `AccessHypercallMsrs`).
 */
export interface CpuidBit {
  readonly leaf: number;
  readonly register: CpuidRegister;
  readonly bit: number;
  readonly name: string;
}

const bit = (leaf: number, register: CpuidRegister, n: number, name: string): CpuidBit =>
  Object.freeze({ leaf, register, bit: n, name });

/** 0x40000000: EAX = highest hypervisor leaf; EBX:ECX:EDX = vendor id ("Microsoft Hv"). TLFS §2.4.1. */
export const HV_CPUID_VENDOR_AND_MAX_FUNCTIONS = 0x40000000;
/** 0x40000001: EAX = interface signature, `Hv#1` (0x31237648). TLFS §2.4.2. */
export const HV_CPUID_INTERFACE = 0x40000001;
/** 0x40000002: hypervisor system identity (build, major.minor, service pack/branch/number). TLFS §2.4.3. */
export const HV_CPUID_VERSION = 0x40000002;
/** 0x40000003: partition privileges (EAX:EBX, the 64-bit HV_PARTITION_PRIVILEGE_MASK) and features (EDX). TLFS §2.4.4. */
export const HV_CPUID_FEATURES = 0x40000003;
/** 0x40000004: implementation recommendations (EAX) and spinlock retry count (EBX). TLFS §2.4.5. */
export const HV_CPUID_ENLIGHTMENT_INFO = 0x40000004;
/** 0x40000005: implementation limits: EAX max virtual processors, EBX max logical processors. TLFS §2.4.6. */
export const HV_CPUID_IMPLEMENT_LIMITS = 0x40000005;
/** 0x40000006: hardware features in use by the hypervisor. TLFS §2.4.7. */
export const HV_CPUID_HARDWARE_FEATURES = 0x40000006;
/** 0x40000007: CPU management features (root partition only). TLFS §2.4.8. */
export const HV_CPUID_CPU_MANAGEMENT_FEATURES = 0x40000007;
/** 0x40000008: shared virtual memory features. TLFS §2.4.9. */
export const HV_CPUID_SVM_FEATURES = 0x40000008;
/** 0x40000009: nested hypervisor feature identification. TLFS §2.4.10. */
export const HV_CPUID_NESTED_HYPERVISOR_FEATURES = 0x40000009;
/** 0x4000000A: nested virtualization features (EAX[7:0]/[15:8] eVMCS version range, bit 17, bit 19). TLFS §2.4.11. */
export const HV_CPUID_NESTED_FEATURES = 0x4000000a;
/** 0x40000080: synthetic debugger vendor ("Microsoft VS"); QEMU `hv-syndbg`. */
export const HV_CPUID_SYNDBG_VENDOR_AND_MAX_FUNCTIONS = 0x40000080;
/** 0x40000081: synthetic debugger interface signature ("VS#1"). */
export const HV_CPUID_SYNDBG_INTERFACE = 0x40000081;
/** 0x40000082: synthetic debugger platform capabilities (EAX[1] = debugger available over synthetic MSRs). */
export const HV_CPUID_SYNDBG_PLATFORM_CAPABILITIES = 0x40000082;

/** The smallest max leaf a Hv#1 hypervisor may report in 0x40000000.EAX (Requirements §2). */
export const HV_CPUID_MIN_MAX_LEAF = HV_CPUID_IMPLEMENT_LIMITS;
/** `Hv#1` as the little-endian u32 reported in 0x40000001.EAX. */
export const HV_CPUID_SIGNATURE_HV1 = 0x31237648;
/** `VS#1`, the synthetic debugger interface signature in 0x40000081.EAX. */
export const HV_CPUID_SIGNATURE_VS1 = 0x31235356;
/** Default vendor string of 0x40000000.EBX..EDX, as Hyper-V and QEMU report it (12 ASCII bytes). */
export const HV_VENDOR_MICROSOFT = "Microsoft Hv";
/** Vendor string of the syndbg leaf 0x40000080 (QEMU `hv-syndbg`). */
export const HV_VENDOR_SYNDBG = "Microsoft VS";
/** CPUID.1:ECX bit 31, "hypervisor present" (Intel SDM; TLFS §2.4). */
export const CPUID_1_ECX_HYPERVISOR: CpuidBit = bit(1, "ecx", 31, "HypervisorPresent");

const F = HV_CPUID_FEATURES;
/**
 * HV_PARTITION_PRIVILEGE_MASK, low half (0x40000003.EAX): access to synthetic MSRs. TLFS §2.4.4.
 * Bit numbers are within EAX.
 */
export const HvPrivilegeEax = {
  AccessVpRunTimeReg: bit(F, "eax", 0, "AccessVpRunTimeReg"),
  AccessPartitionReferenceCounter: bit(F, "eax", 1, "AccessPartitionReferenceCounter"),
  AccessSynicRegs: bit(F, "eax", 2, "AccessSynicRegs"),
  AccessSyntheticTimerRegs: bit(F, "eax", 3, "AccessSyntheticTimerRegs"),
  AccessIntrCtrlRegs: bit(F, "eax", 4, "AccessIntrCtrlRegs"),
  AccessHypercallMsrs: bit(F, "eax", 5, "AccessHypercallMsrs"),
  AccessVpIndex: bit(F, "eax", 6, "AccessVpIndex"),
  AccessResetReg: bit(F, "eax", 7, "AccessResetReg"),
  AccessStatsReg: bit(F, "eax", 8, "AccessStatsReg"),
  AccessPartitionReferenceTsc: bit(F, "eax", 9, "AccessPartitionReferenceTsc"),
  AccessGuestIdleReg: bit(F, "eax", 10, "AccessGuestIdleReg"),
  AccessFrequencyRegs: bit(F, "eax", 11, "AccessFrequencyRegs"),
  AccessDebugRegs: bit(F, "eax", 12, "AccessDebugRegs"),
  AccessReenlightenmentControls: bit(F, "eax", 13, "AccessReenlightenmentControls"),
  AccessRootSchedulerReg: bit(F, "eax", 14, "AccessRootSchedulerReg"),
  AccessTscInvariantControls: bit(F, "eax", 15, "AccessTscInvariantControls"),
} as const;

/**
 * HV_PARTITION_PRIVILEGE_MASK, high half (0x40000003.EBX): access to hypercalls. TLFS §2.4.4.
 * Bit numbers are within EBX (mask bit 32 + n).
 */
export const HvPrivilegeEbx = {
  CreatePartitions: bit(F, "ebx", 0, "CreatePartitions"),
  AccessPartitionId: bit(F, "ebx", 1, "AccessPartitionId"),
  AccessMemoryPool: bit(F, "ebx", 2, "AccessMemoryPool"),
  AdjustMessageBuffers: bit(F, "ebx", 3, "AdjustMessageBuffers"),
  PostMessages: bit(F, "ebx", 4, "PostMessages"),
  SignalEvents: bit(F, "ebx", 5, "SignalEvents"),
  CreatePort: bit(F, "ebx", 6, "CreatePort"),
  ConnectPort: bit(F, "ebx", 7, "ConnectPort"),
  AccessStats: bit(F, "ebx", 8, "AccessStats"),
  Debugging: bit(F, "ebx", 11, "Debugging"),
  CpuManagement: bit(F, "ebx", 12, "CpuManagement"),
  ConfigureProfiler: bit(F, "ebx", 13, "ConfigureProfiler"),
  AccessVsm: bit(F, "ebx", 16, "AccessVsm"),
  AccessVpRegisters: bit(F, "ebx", 17, "AccessVpRegisters"),
  EnableExtendedHypercalls: bit(F, "ebx", 20, "EnableExtendedHypercalls"),
  StartVirtualProcessor: bit(F, "ebx", 21, "StartVirtualProcessor"),
  Isolation: bit(F, "ebx", 22, "Isolation"),
} as const;

/**
 * Privileges a guest partition must never be shown: they select root-partition or isolated code paths
 * (Linux `BUG()`s on AccessPartitionId and CpuManagement), per the Requirements document and `linux-guest.md`.
 */
export const HV_FORBIDDEN_PRIVILEGES: readonly CpuidBit[] = [
  HvPrivilegeEbx.CreatePartitions,
  HvPrivilegeEbx.AccessPartitionId,
  HvPrivilegeEbx.AccessMemoryPool,
  HvPrivilegeEbx.AdjustMessageBuffers,
  HvPrivilegeEbx.CreatePort,
  HvPrivilegeEbx.AccessStats,
  HvPrivilegeEbx.CpuManagement,
  HvPrivilegeEbx.ConfigureProfiler,
  HvPrivilegeEbx.Isolation,
];

/** Feature identification (0x40000003.EDX). TLFS §2.4.4. */
export const HvFeatureEdx = {
  MwaitAvailable: bit(F, "edx", 0, "MwaitAvailable"),
  GuestDebuggingAvailable: bit(F, "edx", 1, "GuestDebuggingAvailable"),
  PerformanceMonitorsAvailable: bit(F, "edx", 2, "PerformanceMonitorsAvailable"),
  CpuDynamicPartitioningAvailable: bit(F, "edx", 3, "CpuDynamicPartitioningAvailable"),
  XmmRegistersForFastHypercallAvailable: bit(F, "edx", 4, "XmmRegistersForFastHypercallAvailable"),
  GuestIdleAvailable: bit(F, "edx", 5, "GuestIdleAvailable"),
  HypervisorSleepStateSupportAvailable: bit(F, "edx", 6, "HypervisorSleepStateSupportAvailable"),
  NumaDistanceQueryAvailable: bit(F, "edx", 7, "NumaDistanceQueryAvailable"),
  FrequencyRegsAvailable: bit(F, "edx", 8, "FrequencyRegsAvailable"),
  SyntheticMachineCheckAvailable: bit(F, "edx", 9, "SyntheticMachineCheckAvailable"),
  GuestCrashRegsAvailable: bit(F, "edx", 10, "GuestCrashRegsAvailable"),
  DebugRegsAvailable: bit(F, "edx", 11, "DebugRegsAvailable"),
  Npiep1Available: bit(F, "edx", 12, "Npiep1Available"),
  DisableHypervisorAvailable: bit(F, "edx", 13, "DisableHypervisorAvailable"),
  ExtendedGvaRangesForFlushVirtualAddressListAvailable: bit(
    F,
    "edx",
    14,
    "ExtendedGvaRangesForFlushVirtualAddressListAvailable",
  ),
  FastHypercallOutputAvailable: bit(F, "edx", 15, "FastHypercallOutputAvailable"),
  SvmFeaturesAvailable: bit(F, "edx", 16, "SvmFeaturesAvailable"),
  SintPollingModeAvailable: bit(F, "edx", 17, "SintPollingModeAvailable"),
  HypercallMsrLockAvailable: bit(F, "edx", 18, "HypercallMsrLockAvailable"),
  DirectSyntheticTimers: bit(F, "edx", 19, "DirectSyntheticTimers"),
  RegisterPatAvailable: bit(F, "edx", 20, "RegisterPatAvailable"),
  RegisterBndcfgsAvailable: bit(F, "edx", 21, "RegisterBndcfgsAvailable"),
  WatchdogTimerAvailable: bit(F, "edx", 22, "WatchdogTimerAvailable"),
  SyntheticTimeUnhaltedTimerAvailable: bit(F, "edx", 23, "SyntheticTimeUnhaltedTimerAvailable"),
} as const;

const R = HV_CPUID_ENLIGHTMENT_INFO;
/** Implementation recommendations (0x40000004.EAX). TLFS §2.4.5. */
export const HvRecommendationEax = {
  UseHypercallForAddressSpaceSwitch: bit(R, "eax", 0, "UseHypercallForAddressSpaceSwitch"),
  UseHypercallForLocalFlush: bit(R, "eax", 1, "UseHypercallForLocalFlush"),
  UseHypercallForRemoteFlush: bit(R, "eax", 2, "UseHypercallForRemoteFlush"),
  UseApicMsrs: bit(R, "eax", 3, "UseApicMsrs"),
  UseMsrForReset: bit(R, "eax", 4, "UseMsrForReset"),
  UseRelaxedTiming: bit(R, "eax", 5, "UseRelaxedTiming"),
  UseDmaRemapping: bit(R, "eax", 6, "UseDmaRemapping"),
  UseInterruptRemapping: bit(R, "eax", 7, "UseInterruptRemapping"),
  UseX2ApicMsrs: bit(R, "eax", 8, "UseX2ApicMsrs"),
  DeprecateAutoEoi: bit(R, "eax", 9, "DeprecateAutoEoi"),
  UseSyntheticClusterIpi: bit(R, "eax", 10, "UseSyntheticClusterIpi"),
  UseExProcessorMasks: bit(R, "eax", 11, "UseExProcessorMasks"),
  Nested: bit(R, "eax", 12, "Nested"),
  UseIntForMbecSystemCalls: bit(R, "eax", 13, "UseIntForMbecSystemCalls"),
  UseVmcsEnlightenments: bit(R, "eax", 14, "UseVmcsEnlightenments"),
  UseSyncedTimeline: bit(R, "eax", 15, "UseSyncedTimeline"),
  UseDirectLocalFlushEntire: bit(R, "eax", 17, "UseDirectLocalFlushEntire"),
  NoNonArchitecturalCoreSharing: bit(R, "eax", 18, "NoNonArchitecturalCoreSharing"),
} as const;

/** 0x40000004.EBX: spinlock retry count before HvNotifyLongSpinWait; 0xFFFFFFFF = never notify. TLFS §2.4.5. */
export const HV_SPINLOCK_RETRIES_NEVER_NOTIFY = 0xffffffff;

const N = HV_CPUID_NESTED_FEATURES;
/** Nested virtualization features (0x4000000A.EAX). TLFS §2.4.11; QEMU `hyperv-proto.h`. */
export const HvNestedEax = {
  /** EAX[7:0] low and [15:8] high supported eVMCS version; hv-evmcs sets 0x0101 (version 1..1). */
  EnlightenedVmcsVersionLow: bit(N, "eax", 0, "EnlightenedVmcsVersionLow"),
  EnlightenedVmcsVersionHigh: bit(N, "eax", 8, "EnlightenedVmcsVersionHigh"),
  DirectVirtualFlush: bit(N, "eax", 17, "DirectVirtualFlush"),
  FlushGuestPhysicalHypercall: bit(N, "eax", 18, "FlushGuestPhysicalHypercall"),
  EnlightenedMsrBitmap: bit(N, "eax", 19, "EnlightenedMsrBitmap"),
  CombineVirtualizeTlbFlush: bit(N, "eax", 20, "CombineVirtualizeTlbFlush"),
} as const;

/** Synthetic debugger platform capabilities (0x40000082.EAX). QEMU `hyperv-proto.h`. */
export const HvSyndbgEax = {
  SyndbgCapAllowKernelDebugging: bit(HV_CPUID_SYNDBG_PLATFORM_CAPABILITIES, "eax", 1, "SyndbgCapAllowKernelDebugging"),
} as const;

/** Default implementation limits (0x40000005) as QEMU reports them: EAX max VPs (-1: no limit), EBX max LPs. */
export const HV_DEFAULT_MAX_VPS = 0xffffffff;
/** 0x40000005.EBX: maximum logical processors, QEMU's fixed 64. */
export const HV_DEFAULT_MAX_LPS = 0x40;
