/**
 * Hypercall status codes (`HV_STATUS`, a u16 returned in bits 15:0 of the hypercall result value,
 * TLFS §3.8 "Hypercall Result Value" and Appendix "Hypercall Status Codes"; Linux
 * `include/hyperv/hvgdk_mini.h` and `asm-generic/hyperv-tlfs.h`). Values not listed are reserved.
 * @module
 */

/** 0x0000: the hypercall succeeded. */
export const HV_STATUS_SUCCESS = 0x0000;
/** 0x0002: the call code is not supported (also the answer for any unimplemented call). */
export const HV_STATUS_INVALID_HYPERCALL_CODE = 0x0002;
/** 0x0003: the input value is malformed (reserved bits set, bad rep/var counts, unreadable input). */
export const HV_STATUS_INVALID_HYPERCALL_INPUT = 0x0003;
/** 0x0004: an input or output GPA is not 8-byte aligned or crosses a page. */
export const HV_STATUS_INVALID_ALIGNMENT = 0x0004;
/** 0x0005: a parameter is invalid (e.g. a fast extended call). */
export const HV_STATUS_INVALID_PARAMETER = 0x0005;
/** 0x0006: the caller lacks the privilege (CPUID 0x40000003) for the call. */
export const HV_STATUS_ACCESS_DENIED = 0x0006;
/** 0x0007: the partition is in an invalid state for the call. */
export const HV_STATUS_INVALID_PARTITION_STATE = 0x0007;
/** 0x0008: the operation is not allowed in the current configuration. */
export const HV_STATUS_OPERATION_DENIED = 0x0008;
/** 0x0009: the property is unknown. */
export const HV_STATUS_UNKNOWN_PROPERTY = 0x0009;
/** 0x000A: the property value is out of range. */
export const HV_STATUS_PROPERTY_VALUE_OUT_OF_RANGE = 0x000a;
/** 0x000B: not enough memory (deposit more pages). */
export const HV_STATUS_INSUFFICIENT_MEMORY = 0x000b;
/** 0x000C: the partition nesting is too deep. */
export const HV_STATUS_PARTITION_TOO_DEEP = 0x000c;
/** 0x000D: the partition id is invalid. */
export const HV_STATUS_INVALID_PARTITION_ID = 0x000d;
/** 0x000E: the VP index is invalid. */
export const HV_STATUS_INVALID_VP_INDEX = 0x000e;
/** 0x0010: the object was not found. */
export const HV_STATUS_NOT_FOUND = 0x0010;
/** 0x0011: the port id is invalid (SignalEvent: non-zero flag number, no event connection). */
export const HV_STATUS_INVALID_PORT_ID = 0x0011;
/** 0x0012: the connection id is invalid (PostMessage/SignalEvent to an unknown connection). */
export const HV_STATUS_INVALID_CONNECTION_ID = 0x0012;
/** 0x0013: no message buffer is available (PostMessage while the target slot is busy). */
export const HV_STATUS_INSUFFICIENT_BUFFERS = 0x0013;
/** 0x0014: the interrupt was not acknowledged. */
export const HV_STATUS_NOT_ACKNOWLEDGED = 0x0014;
/** 0x0015: the VP is in an invalid state for the call. */
export const HV_STATUS_INVALID_VP_STATE = 0x0015;
/** 0x0016: the interrupt was acknowledged. */
export const HV_STATUS_ACKNOWLEDGED = 0x0016;
/** 0x0017: the save/restore state is invalid. */
export const HV_STATUS_INVALID_SAVE_RESTORE_STATE = 0x0017;
/** 0x0018: the SynIC is in an invalid state for the call. */
export const HV_STATUS_INVALID_SYNIC_STATE = 0x0018;
/** 0x0019: the object is in use. */
export const HV_STATUS_OBJECT_IN_USE = 0x0019;
/** 0x001A: the proximity domain information is invalid. */
export const HV_STATUS_INVALID_PROXIMITY_DOMAIN_INFO = 0x001a;
/** 0x001B: no data is available. */
export const HV_STATUS_NO_DATA = 0x001b;
/** 0x001C: the object is inactive. */
export const HV_STATUS_INACTIVE = 0x001c;
/** 0x001D: not enough resources. */
export const HV_STATUS_NO_RESOURCES = 0x001d;
/** 0x001E: the feature is unavailable. */
export const HV_STATUS_FEATURE_UNAVAILABLE = 0x001e;
/** 0x001F: only part of a packet was returned. */
export const HV_STATUS_PARTIAL_PACKET = 0x001f;
/** 0x0020: a processor feature is not supported (Linux `hvgdk_mini.h`). */
export const HV_STATUS_PROCESSOR_FEATURE_NOT_SUPPORTED = 0x0020;
/** 0x0041: the logical processor index is invalid (Linux `hvgdk_mini.h`). */
export const HV_STATUS_INVALID_LP_INDEX = 0x0041;
/** 0x0050: a register value is invalid (Linux `hvgdk_mini.h`). */
export const HV_STATUS_INVALID_REGISTER_VALUE = 0x0050;
/** 0x0071: the operation failed (Linux `hvgdk_mini.h`). */
export const HV_STATUS_OPERATION_FAILED = 0x0071;
/** 0x0078: the operation timed out. */
export const HV_STATUS_TIME_OUT = 0x0078;
/** 0x0079: the call is pending (Linux `hvgdk_mini.h`). */
export const HV_STATUS_CALL_PENDING = 0x0079;
/** 0x0086: the VTL is already enabled (Linux `hyperv-tlfs.h`). */
export const HV_STATUS_VTL_ALREADY_ENABLED = 0x0086;

/** Name of every status above, by value (for diagnostics and `json` output). */
export const HV_STATUS_NAMES: ReadonlyMap<number, string> = new Map<number, string>([
  [HV_STATUS_SUCCESS, "HV_STATUS_SUCCESS"],
  [HV_STATUS_INVALID_HYPERCALL_CODE, "HV_STATUS_INVALID_HYPERCALL_CODE"],
  [HV_STATUS_INVALID_HYPERCALL_INPUT, "HV_STATUS_INVALID_HYPERCALL_INPUT"],
  [HV_STATUS_INVALID_ALIGNMENT, "HV_STATUS_INVALID_ALIGNMENT"],
  [HV_STATUS_INVALID_PARAMETER, "HV_STATUS_INVALID_PARAMETER"],
  [HV_STATUS_ACCESS_DENIED, "HV_STATUS_ACCESS_DENIED"],
  [HV_STATUS_INVALID_PARTITION_STATE, "HV_STATUS_INVALID_PARTITION_STATE"],
  [HV_STATUS_OPERATION_DENIED, "HV_STATUS_OPERATION_DENIED"],
  [HV_STATUS_UNKNOWN_PROPERTY, "HV_STATUS_UNKNOWN_PROPERTY"],
  [HV_STATUS_PROPERTY_VALUE_OUT_OF_RANGE, "HV_STATUS_PROPERTY_VALUE_OUT_OF_RANGE"],
  [HV_STATUS_INSUFFICIENT_MEMORY, "HV_STATUS_INSUFFICIENT_MEMORY"],
  [HV_STATUS_PARTITION_TOO_DEEP, "HV_STATUS_PARTITION_TOO_DEEP"],
  [HV_STATUS_INVALID_PARTITION_ID, "HV_STATUS_INVALID_PARTITION_ID"],
  [HV_STATUS_INVALID_VP_INDEX, "HV_STATUS_INVALID_VP_INDEX"],
  [HV_STATUS_NOT_FOUND, "HV_STATUS_NOT_FOUND"],
  [HV_STATUS_INVALID_PORT_ID, "HV_STATUS_INVALID_PORT_ID"],
  [HV_STATUS_INVALID_CONNECTION_ID, "HV_STATUS_INVALID_CONNECTION_ID"],
  [HV_STATUS_INSUFFICIENT_BUFFERS, "HV_STATUS_INSUFFICIENT_BUFFERS"],
  [HV_STATUS_NOT_ACKNOWLEDGED, "HV_STATUS_NOT_ACKNOWLEDGED"],
  [HV_STATUS_INVALID_VP_STATE, "HV_STATUS_INVALID_VP_STATE"],
  [HV_STATUS_ACKNOWLEDGED, "HV_STATUS_ACKNOWLEDGED"],
  [HV_STATUS_INVALID_SAVE_RESTORE_STATE, "HV_STATUS_INVALID_SAVE_RESTORE_STATE"],
  [HV_STATUS_INVALID_SYNIC_STATE, "HV_STATUS_INVALID_SYNIC_STATE"],
  [HV_STATUS_OBJECT_IN_USE, "HV_STATUS_OBJECT_IN_USE"],
  [HV_STATUS_INVALID_PROXIMITY_DOMAIN_INFO, "HV_STATUS_INVALID_PROXIMITY_DOMAIN_INFO"],
  [HV_STATUS_NO_DATA, "HV_STATUS_NO_DATA"],
  [HV_STATUS_INACTIVE, "HV_STATUS_INACTIVE"],
  [HV_STATUS_NO_RESOURCES, "HV_STATUS_NO_RESOURCES"],
  [HV_STATUS_FEATURE_UNAVAILABLE, "HV_STATUS_FEATURE_UNAVAILABLE"],
  [HV_STATUS_PARTIAL_PACKET, "HV_STATUS_PARTIAL_PACKET"],
  [HV_STATUS_PROCESSOR_FEATURE_NOT_SUPPORTED, "HV_STATUS_PROCESSOR_FEATURE_NOT_SUPPORTED"],
  [HV_STATUS_INVALID_LP_INDEX, "HV_STATUS_INVALID_LP_INDEX"],
  [HV_STATUS_INVALID_REGISTER_VALUE, "HV_STATUS_INVALID_REGISTER_VALUE"],
  [HV_STATUS_OPERATION_FAILED, "HV_STATUS_OPERATION_FAILED"],
  [HV_STATUS_TIME_OUT, "HV_STATUS_TIME_OUT"],
  [HV_STATUS_CALL_PENDING, "HV_STATUS_CALL_PENDING"],
  [HV_STATUS_VTL_ALREADY_ENABLED, "HV_STATUS_VTL_ALREADY_ENABLED"],
]);
