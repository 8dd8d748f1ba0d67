/*
 * hv_tlfs.h: the Hyper-V TLFS numbers the C guests use.
 *
 * C cannot import the TypeScript modules in packages/tlfs/src, so this header repeats the values under the SAME names:
 *  - plain constants keep their TypeScript name (HV_X64_MSR_GUEST_OS_ID, HV_STATUS_SUCCESS, ...);
 *  - CPUID bits from the TS objects `HvPrivilegeEax.AccessVpIndex` are spelled
 *    `HvPrivilegeEax_AccessVpIndex` and hold the MASK within the 32-bit register;
 *  - hypercall codes keep their TLFS names (HvCallNotifyLongSpinWait, ...).
 * Every definition is one line `#define NAME 0xVALUE[u|ull]` so a test can parse it and compare
 * it with the TS module of the same name.
 */
#ifndef HV_TLFS_H
#define HV_TLFS_H

/* ---- CPUID leaves (packages/tlfs/src/cpuid.ts) ---- */
#define HV_CPUID_VENDOR_AND_MAX_FUNCTIONS 0x40000000u
#define HV_CPUID_INTERFACE 0x40000001u
#define HV_CPUID_VERSION 0x40000002u
#define HV_CPUID_FEATURES 0x40000003u
#define HV_CPUID_ENLIGHTMENT_INFO 0x40000004u
#define HV_CPUID_IMPLEMENT_LIMITS 0x40000005u
#define HV_CPUID_NESTED_FEATURES 0x4000000au
#define HV_CPUID_MIN_MAX_LEAF 0x40000005u
#define HV_CPUID_SIGNATURE_HV1 0x31237648u
#define HV_SPINLOCK_RETRIES_NEVER_NOTIFY 0xffffffffu
/* CPUID.1:ECX[31] */
#define CPUID_1_ECX_HYPERVISOR 0x80000000u

/* 0x40000003.EAX: HvPrivilegeEax */
#define HvPrivilegeEax_AccessVpRunTimeReg 0x00000001u
#define HvPrivilegeEax_AccessPartitionReferenceCounter 0x00000002u
#define HvPrivilegeEax_AccessSynicRegs 0x00000004u
#define HvPrivilegeEax_AccessSyntheticTimerRegs 0x00000008u
#define HvPrivilegeEax_AccessIntrCtrlRegs 0x00000010u
#define HvPrivilegeEax_AccessHypercallMsrs 0x00000020u
#define HvPrivilegeEax_AccessVpIndex 0x00000040u
#define HvPrivilegeEax_AccessResetReg 0x00000080u
#define HvPrivilegeEax_AccessStatsReg 0x00000100u
#define HvPrivilegeEax_AccessPartitionReferenceTsc 0x00000200u
#define HvPrivilegeEax_AccessGuestIdleReg 0x00000400u
#define HvPrivilegeEax_AccessFrequencyRegs 0x00000800u
#define HvPrivilegeEax_AccessDebugRegs 0x00001000u
#define HvPrivilegeEax_AccessReenlightenmentControls 0x00002000u
#define HvPrivilegeEax_AccessRootSchedulerReg 0x00004000u
#define HvPrivilegeEax_AccessTscInvariantControls 0x00008000u

/* 0x40000003.EBX: HvPrivilegeEbx */
#define HvPrivilegeEbx_CreatePartitions 0x00000001u
#define HvPrivilegeEbx_AccessPartitionId 0x00000002u
#define HvPrivilegeEbx_AccessMemoryPool 0x00000004u
#define HvPrivilegeEbx_AdjustMessageBuffers 0x00000008u
#define HvPrivilegeEbx_PostMessages 0x00000010u
#define HvPrivilegeEbx_SignalEvents 0x00000020u
#define HvPrivilegeEbx_CreatePort 0x00000040u
#define HvPrivilegeEbx_ConnectPort 0x00000080u
#define HvPrivilegeEbx_AccessStats 0x00000100u
#define HvPrivilegeEbx_Debugging 0x00000800u
#define HvPrivilegeEbx_CpuManagement 0x00001000u
#define HvPrivilegeEbx_ConfigureProfiler 0x00002000u
#define HvPrivilegeEbx_AccessVsm 0x00010000u
#define HvPrivilegeEbx_AccessVpRegisters 0x00020000u
#define HvPrivilegeEbx_EnableExtendedHypercalls 0x00100000u
#define HvPrivilegeEbx_StartVirtualProcessor 0x00200000u
#define HvPrivilegeEbx_Isolation 0x00400000u
/* HV_FORBIDDEN_PRIVILEGES as one EBX mask */
#define HV_FORBIDDEN_PRIVILEGES_EBX 0x0040314fu

/* 0x40000003.EDX: HvFeatureEdx */
#define HvFeatureEdx_MwaitAvailable 0x00000001u
#define HvFeatureEdx_GuestDebuggingAvailable 0x00000002u
#define HvFeatureEdx_PerformanceMonitorsAvailable 0x00000004u
#define HvFeatureEdx_CpuDynamicPartitioningAvailable 0x00000008u
#define HvFeatureEdx_XmmRegistersForFastHypercallAvailable 0x00000010u
#define HvFeatureEdx_GuestIdleAvailable 0x00000020u
#define HvFeatureEdx_HypervisorSleepStateSupportAvailable 0x00000040u
#define HvFeatureEdx_NumaDistanceQueryAvailable 0x00000080u
#define HvFeatureEdx_FrequencyRegsAvailable 0x00000100u
#define HvFeatureEdx_SyntheticMachineCheckAvailable 0x00000200u
#define HvFeatureEdx_GuestCrashRegsAvailable 0x00000400u
#define HvFeatureEdx_DebugRegsAvailable 0x00000800u
#define HvFeatureEdx_Npiep1Available 0x00001000u
#define HvFeatureEdx_DisableHypervisorAvailable 0x00002000u
#define HvFeatureEdx_ExtendedGvaRangesForFlushVirtualAddressListAvailable 0x00004000u
#define HvFeatureEdx_FastHypercallOutputAvailable 0x00008000u
#define HvFeatureEdx_SvmFeaturesAvailable 0x00010000u
#define HvFeatureEdx_SintPollingModeAvailable 0x00020000u
#define HvFeatureEdx_HypercallMsrLockAvailable 0x00040000u
#define HvFeatureEdx_DirectSyntheticTimers 0x00080000u

/* 0x40000004.EAX: HvRecommendationEax */
#define HvRecommendationEax_UseHypercallForAddressSpaceSwitch 0x00000001u
#define HvRecommendationEax_UseHypercallForLocalFlush 0x00000002u
#define HvRecommendationEax_UseHypercallForRemoteFlush 0x00000004u
#define HvRecommendationEax_UseApicMsrs 0x00000008u
#define HvRecommendationEax_UseMsrForReset 0x00000010u
#define HvRecommendationEax_UseRelaxedTiming 0x00000020u
#define HvRecommendationEax_UseDmaRemapping 0x00000040u
#define HvRecommendationEax_UseInterruptRemapping 0x00000080u
#define HvRecommendationEax_UseX2ApicMsrs 0x00000100u
#define HvRecommendationEax_DeprecateAutoEoi 0x00000200u
#define HvRecommendationEax_UseSyntheticClusterIpi 0x00000400u
#define HvRecommendationEax_UseExProcessorMasks 0x00000800u
#define HvRecommendationEax_Nested 0x00001000u
#define HvRecommendationEax_UseIntForMbecSystemCalls 0x00002000u
#define HvRecommendationEax_UseVmcsEnlightenments 0x00004000u
#define HvRecommendationEax_UseSyncedTimeline 0x00008000u
#define HvRecommendationEax_UseDirectLocalFlushEntire 0x00020000u
#define HvRecommendationEax_NoNonArchitecturalCoreSharing 0x00040000u

/* 0x4000000A.EAX: HvNestedEax */
#define HvNestedEax_DirectVirtualFlush 0x00020000u
#define HvNestedEax_FlushGuestPhysicalHypercall 0x00040000u
#define HvNestedEax_EnlightenedMsrBitmap 0x00080000u

/* ---- Synthetic MSRs (packages/tlfs/src/msr.ts) ---- */
#define HV_X64_MSR_GUEST_OS_ID 0x40000000u
#define HV_X64_MSR_HYPERCALL 0x40000001u
#define HV_X64_MSR_VP_INDEX 0x40000002u
#define HV_X64_MSR_RESET 0x40000003u
#define HV_X64_MSR_VP_RUNTIME 0x40000010u
#define HV_X64_MSR_TIME_REF_COUNT 0x40000020u
#define HV_X64_MSR_REFERENCE_TSC 0x40000021u
#define HV_X64_MSR_TSC_FREQUENCY 0x40000022u
#define HV_X64_MSR_APIC_FREQUENCY 0x40000023u
#define HV_X64_MSR_EOI 0x40000070u
#define HV_X64_MSR_ICR 0x40000071u
#define HV_X64_MSR_TPR 0x40000072u
#define HV_X64_MSR_VP_ASSIST_PAGE 0x40000073u
#define HV_X64_MSR_SCONTROL 0x40000080u
#define HV_X64_MSR_SVERSION 0x40000081u
#define HV_X64_MSR_SIEFP 0x40000082u
#define HV_X64_MSR_SIMP 0x40000083u
#define HV_X64_MSR_EOM 0x40000084u
#define HV_X64_MSR_SINT0 0x40000090u
#define HV_X64_MSR_SINT15 0x4000009fu
#define HV_SYNIC_SINT_COUNT 0x10u
#define HV_X64_MSR_STIMER0_CONFIG 0x400000b0u
#define HV_X64_MSR_STIMER0_COUNT 0x400000b1u
#define HV_SYNIC_STIMER_COUNT 0x4u
#define HV_X64_MSR_GUEST_IDLE 0x400000f0u
#define HV_X64_MSR_CRASH_P0 0x40000100u
#define HV_X64_MSR_CRASH_P4 0x40000104u
#define HV_X64_MSR_CRASH_CTL 0x40000105u
#define HV_X64_MSR_REENLIGHTENMENT_CONTROL 0x40000106u
#define HV_X64_MSR_TSC_EMULATION_CONTROL 0x40000107u
#define HV_X64_MSR_TSC_EMULATION_STATUS 0x40000108u
#define HV_X64_MSR_TSC_INVARIANT_CONTROL 0x40000118u
#define hvMsrSint(n) (HV_X64_MSR_SINT0 + (n))
#define hvMsrStimerConfig(n) (HV_X64_MSR_STIMER0_CONFIG + 2 * (n))
#define hvMsrStimerCount(n) (HV_X64_MSR_STIMER0_COUNT + 2 * (n))
#define hvMsrCrashP(n) (HV_X64_MSR_CRASH_P0 + (n))

/* HV_X64_MSR_HYPERCALL / REFERENCE_TSC / VP_ASSIST_PAGE / SIMP / SIEFP: bit 0 enable, 63:12 GPA */
#define HV_X64_MSR_PAGE_ENABLE 0x1ull
#define HV_X64_MSR_PAGE_GPA_MASK 0xfffffffffffff000ull

/* SynIC (synic.ts) */
#define HV_SYNIC_SINT_RESET 0x10000ull
#define HV_SYNIC_SINT_MASKED 0x10000ull
#define HV_SYNIC_FIRST_VALID_VECTOR 0x10u
#define HV_SYNIC_VERSION_1 0x1u

/* STIMER config (stimer.ts HvStimerConfig) */
#define HvStimerConfig_enable 0x1ull
#define HvStimerConfig_periodic 0x2ull
#define HvStimerConfig_lazy 0x4ull
#define HvStimerConfig_auto_enable 0x8ull
#define HvStimerConfig_apic_vector_shift 0x4u
#define HvStimerConfig_direct_mode 0x1000ull
#define HvStimerConfig_sintx_shift 0x10u

/* Crash (crash.ts) */
#define HV_CRASH_CTL_CRASH_NOTIFY 0x8000000000000000ull
#define HV_CRASH_CTL_CRASH_NOTIFY_MSG 0x4000000000000000ull
#define HV_CRASH_PARAMETER_COUNT 0x5u

/* Reference TSC page (tsc_page.ts): u32 tsc_sequence@0, u32 reserved@4, u64 tsc_scale@8, s64 tsc_offset@16 */
#define HV_TSC_PAGE_SEQUENCE_INVALID 0x0u
#define HV_TSC_PAGE_SEQUENCE_SKIP 0xffffffffu
#define HV_CLOCK_HZ 0x989680u

/* ---- Hypercall ABI (hypercall_abi.ts) ---- */
#define HV_HYPERCALL_FAST_BIT 0x10000ull
#define HV_HYPERCALL_VARHEAD_SHIFT 0x11u
#define HV_HYPERCALL_REP_COUNT_SHIFT 0x20u
#define HV_HYPERCALL_REP_START_SHIFT 0x30u
#define HV_HYPERCALL_INPUT_RSVD_MASK 0xf000f000f8000000ull
#define HV_HYPERCALL_REP_COMP_SHIFT 0x20u
#define HV_HYPERCALL_MAX_REP_COUNT 0xfffu
#define HV_HYPERCALL_CODE_EXTENDED 0x8000u

/* Hypercall codes (hypercall_codes.ts) */
#define HvCallFlushVirtualAddressSpace 0x0002u
#define HvCallFlushVirtualAddressList 0x0003u
#define HvCallNotifyLongSpinWait 0x0008u
#define HvCallSendSyntheticClusterIpi 0x000bu
#define HvCallFlushVirtualAddressSpaceEx 0x0013u
#define HvCallFlushVirtualAddressListEx 0x0014u
#define HvCallSendSyntheticClusterIpiEx 0x0015u
#define HvCallGetPartitionId 0x0046u
#define HvCallPostMessage 0x005cu
#define HvCallSignalEvent 0x005du
#define HvExtCallQueryCapabilities 0x8001u

/* Flush flags (flush.ts), VP sets (vp_set.ts), IPI vectors (ipi.ts) */
#define HV_FLUSH_ALL_PROCESSORS 0x1u
#define HV_FLUSH_ALL_VIRTUAL_ADDRESS_SPACES 0x2u
#define HV_FLUSH_NON_GLOBAL_MAPPINGS_ONLY 0x4u
#define HV_GENERIC_SET_SPARSE_4K 0x0u
#define HV_GENERIC_SET_ALL 0x1u
#define HV_IPI_LOW_VECTOR 0x10u
#define HV_IPI_HIGH_VECTOR 0xffu

/* Status codes (status.ts) */
#define HV_STATUS_SUCCESS 0x0000u
#define HV_STATUS_INVALID_HYPERCALL_CODE 0x0002u
#define HV_STATUS_INVALID_HYPERCALL_INPUT 0x0003u
#define HV_STATUS_INVALID_ALIGNMENT 0x0004u
#define HV_STATUS_INVALID_PARAMETER 0x0005u
#define HV_STATUS_ACCESS_DENIED 0x0006u
#define HV_STATUS_OPERATION_DENIED 0x0008u

#endif /* HV_TLFS_H */
