import assert from "node:assert/strict";
import * as S from "./status.ts";

Deno.test("HV_STATUS values match the TLFS / Linux tables", () => {
  const expected: Record<string, number> = {
    HV_STATUS_SUCCESS: 0,
    HV_STATUS_INVALID_HYPERCALL_CODE: 2,
    HV_STATUS_INVALID_HYPERCALL_INPUT: 3,
    HV_STATUS_INVALID_ALIGNMENT: 4,
    HV_STATUS_INVALID_PARAMETER: 5,
    HV_STATUS_ACCESS_DENIED: 6,
    HV_STATUS_INVALID_PARTITION_STATE: 7,
    HV_STATUS_OPERATION_DENIED: 8,
    HV_STATUS_UNKNOWN_PROPERTY: 9,
    HV_STATUS_PROPERTY_VALUE_OUT_OF_RANGE: 0xa,
    HV_STATUS_INSUFFICIENT_MEMORY: 0xb,
    HV_STATUS_PARTITION_TOO_DEEP: 0xc,
    HV_STATUS_INVALID_PARTITION_ID: 0xd,
    HV_STATUS_INVALID_VP_INDEX: 0xe,
    HV_STATUS_NOT_FOUND: 0x10,
    HV_STATUS_INVALID_PORT_ID: 0x11,
    HV_STATUS_INVALID_CONNECTION_ID: 0x12,
    HV_STATUS_INSUFFICIENT_BUFFERS: 0x13,
    HV_STATUS_NOT_ACKNOWLEDGED: 0x14,
    HV_STATUS_INVALID_VP_STATE: 0x15,
    HV_STATUS_ACKNOWLEDGED: 0x16,
    HV_STATUS_INVALID_SAVE_RESTORE_STATE: 0x17,
    HV_STATUS_INVALID_SYNIC_STATE: 0x18,
    HV_STATUS_OBJECT_IN_USE: 0x19,
    HV_STATUS_INVALID_PROXIMITY_DOMAIN_INFO: 0x1a,
    HV_STATUS_NO_DATA: 0x1b,
    HV_STATUS_INACTIVE: 0x1c,
    HV_STATUS_NO_RESOURCES: 0x1d,
    HV_STATUS_FEATURE_UNAVAILABLE: 0x1e,
    HV_STATUS_PARTIAL_PACKET: 0x1f,
    HV_STATUS_PROCESSOR_FEATURE_NOT_SUPPORTED: 0x20,
    HV_STATUS_INVALID_LP_INDEX: 0x41,
    HV_STATUS_INVALID_REGISTER_VALUE: 0x50,
    HV_STATUS_OPERATION_FAILED: 0x71,
    HV_STATUS_TIME_OUT: 0x78,
    HV_STATUS_CALL_PENDING: 0x79,
    HV_STATUS_VTL_ALREADY_ENABLED: 0x86,
  };
  const exported = Object.fromEntries(
    Object.entries(S).filter(([k]) => k.startsWith("HV_STATUS_") && k !== "HV_STATUS_NAMES"),
  );
  assert.deepEqual(exported, expected);
});

Deno.test("HV_STATUS_NAMES names every status exactly once", () => {
  const table = S as unknown as Record<string, unknown>;
  const consts = Object.keys(S).filter((k) => k.startsWith("HV_STATUS_") && k !== "HV_STATUS_NAMES");
  assert.equal(S.HV_STATUS_NAMES.size, consts.length);
  for (const [value, name] of S.HV_STATUS_NAMES) assert.equal(table[name], value, name);
  assert.equal(S.HV_STATUS_NAMES.get(0x12), "HV_STATUS_INVALID_CONNECTION_ID");
  assert.equal(S.HV_STATUS_NAMES.get(0x78), "HV_STATUS_TIME_OUT");
  assert.equal(S.HV_STATUS_NAMES.get(1), undefined);
  assert.equal(S.HV_STATUS_NAMES.get(0xf), undefined);
  for (const v of S.HV_STATUS_NAMES.keys()) assert.ok(v >= 0 && v <= 0xffff);
});
