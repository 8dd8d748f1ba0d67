import assert from "node:assert/strict";
import { type BitField, fieldGet, fieldGetWide, fieldMask64, joinU64 } from "./bits.ts";
import {
  decodeHypercallInput,
  encodeHypercallInput,
  encodeHypercallResult,
  HV_HYPERCALL_CODE_EXTENDED,
  HV_HYPERCALL_FAST_GPR_INPUT_BYTES,
  HV_HYPERCALL_FAST_XMM_REGISTERS,
  HV_HYPERCALL_INPUT_RSVD_MASK,
  HV_HYPERCALL_INPUT_RSVD_MASK_HI,
  HV_HYPERCALL_INPUT_RSVD_MASK_LO,
  HV_HYPERCALL_MAX_FAST_INPUT_BYTES,
  HV_HYPERCALL_MAX_REP_COUNT,
  HV_HYPERCALL_MAX_VARIABLE_HEADER_QWORDS,
  HV_HYPERCALL_PARAM_ALIGNMENT,
  HvHypercallInput,
  HvHypercallResult,
  HvX64MsrHypercall,
  hypercallCode,
  hypercallInputHasReservedBits,
  hypercallResultHi,
  hypercallResultLo,
  isExtendedHypercall,
} from "./hypercall_abi.ts";
import { HvCallFlushVirtualAddressListEx, HvCallPostMessage, HvExtCallQueryCapabilities } from "./hypercall_codes.ts";
import { HV_STATUS_INVALID_HYPERCALL_INPUT } from "./status.ts";
import { overlayPageGpa } from "./overlay_page.ts";

/** Asserts the fields are pairwise disjoint and together cover bits [bits-1:0]. */
const assertTiles = (layout: Record<string, BitField>, bits = 64): void => {
  let seen = 0n;
  for (const [name, f] of Object.entries(layout)) {
    const m = fieldMask64(f);
    assert.equal(seen & m, 0n, `${name} overlaps`);
    seen |= m;
  }
  assert.equal(seen, (1n << BigInt(bits)) - 1n);
};

Deno.test("input value fields tile 64 bits at the TLFS §3.7 positions", () => {
  assertTiles(HvHypercallInput);
  assert.deepEqual(HvHypercallInput.callCode, { shift: 0, width: 16 });
  assert.deepEqual(HvHypercallInput.fast, { shift: 16, width: 1 });
  assert.deepEqual(HvHypercallInput.variableHeaderSize, { shift: 17, width: 10 });
  assert.deepEqual(HvHypercallInput.repCount, { shift: 32, width: 12 });
  assert.deepEqual(HvHypercallInput.repStartIndex, { shift: 48, width: 12 });
});

Deno.test("reserved masks: lo 0xF8000000, hi 0xF000F000, u64 0xF000F000F8000000", () => {
  assert.equal(HV_HYPERCALL_INPUT_RSVD_MASK_LO, 0xf8000000);
  assert.equal(HV_HYPERCALL_INPUT_RSVD_MASK_HI, 0xf000f000);
  assert.equal(joinU64(HV_HYPERCALL_INPUT_RSVD_MASK_LO, HV_HYPERCALL_INPUT_RSVD_MASK_HI), HV_HYPERCALL_INPUT_RSVD_MASK);
  assert.equal(
    fieldMask64(HvHypercallInput.rsvdZ0) | fieldMask64(HvHypercallInput.rsvdZ1) | fieldMask64(HvHypercallInput.rsvdZ2),
    HV_HYPERCALL_INPUT_RSVD_MASK,
  );
  assert.equal(HV_STATUS_INVALID_HYPERCALL_INPUT, 3);
});

Deno.test("hypercallInputHasReservedBits flags exactly the RsvdZ bits", () => {
  for (let bit = 0; bit < 64; bit++) {
    const lo = bit < 32 ? (1 << bit) >>> 0 : 0;
    const hi = bit >= 32 ? (1 << (bit - 32)) >>> 0 : 0;
    const reserved = (bit >= 27 && bit <= 31) || (bit >= 44 && bit <= 47) || bit >= 60;
    assert.equal(hypercallInputHasReservedBits(lo, hi), reserved, `bit ${bit}`);
  }
  assert.equal(hypercallInputHasReservedBits(0x07ffffff, 0x0fff0fff), false);
});

Deno.test("encode / decode the input value", () => {
  const input = {
    callCode: HvCallFlushVirtualAddressListEx,
    fast: true,
    variableHeaderSize: 2,
    repCount: 5,
    repStartIndex: 1,
  };
  const v = encodeHypercallInput(input);
  assert.equal(v, 0x0001000500050014n);
  assert.deepEqual(decodeHypercallInput(v), input);
  assert.deepEqual(decodeHypercallInput(v | HV_HYPERCALL_INPUT_RSVD_MASK), input);
  const lo = Number(v & 0xffffffffn);
  const hi = Number(v >> 32n);
  assert.equal(hypercallCode(lo), 0x14);
  assert.equal(fieldGet(lo, hi, HvHypercallInput.fast), 1);
  assert.equal(fieldGet(lo, hi, HvHypercallInput.variableHeaderSize), 2);
  assert.equal(fieldGet(lo, hi, HvHypercallInput.repCount), 5);
  assert.equal(fieldGet(lo, hi, HvHypercallInput.repStartIndex), 1);
  const max = {
    callCode: 0xffff,
    fast: true,
    variableHeaderSize: HV_HYPERCALL_MAX_VARIABLE_HEADER_QWORDS,
    repCount: HV_HYPERCALL_MAX_REP_COUNT,
    repStartIndex: HV_HYPERCALL_MAX_REP_COUNT,
  };
  assert.equal(encodeHypercallInput(max), ~HV_HYPERCALL_INPUT_RSVD_MASK & 0xffffffffffffffffn);
  assert.deepEqual(decodeHypercallInput(encodeHypercallInput(max)), max);
  // Linux's PostMessage: slow, simple
  assert.equal(
    encodeHypercallInput({
      callCode: HvCallPostMessage,
      fast: false,
      variableHeaderSize: 0,
      repCount: 0,
      repStartIndex: 0,
    }),
    0x5cn,
  );
});

Deno.test("extended call bit is call-code bit 15", () => {
  assert.equal(HV_HYPERCALL_CODE_EXTENDED, 0x8000);
  assert.equal(isExtendedHypercall(HvExtCallQueryCapabilities), true);
  assert.equal(isExtendedHypercall(HvCallPostMessage), false);
  assert.equal(isExtendedHypercall(0x7fff), false);
});

Deno.test("result value: status 15:0, reps completed 43:32", () => {
  assertTiles(HvHypercallResult);
  assert.equal(encodeHypercallResult(3), 3n);
  assert.equal(encodeHypercallResult(0, 0xfff), 0x00000fff00000000n);
  assert.equal(encodeHypercallResult(0x13, 7), 0x0000000700000013n);
  assert.equal(joinU64(hypercallResultLo(0x13), hypercallResultHi(7)), 0x0000000700000013n);
  assert.equal(hypercallResultLo(0x1_0005), 5);
  assert.equal(hypercallResultHi(0x1001), 1);
});

Deno.test("fast-call limits", () => {
  assert.equal(HV_HYPERCALL_FAST_XMM_REGISTERS, 6);
  assert.equal(
    HV_HYPERCALL_MAX_FAST_INPUT_BYTES,
    HV_HYPERCALL_FAST_GPR_INPUT_BYTES + HV_HYPERCALL_FAST_XMM_REGISTERS * 16,
  );
  assert.equal(HV_HYPERCALL_MAX_FAST_INPUT_BYTES, 112);
  assert.equal(HV_HYPERCALL_MAX_REP_COUNT, 0xfff);
  assert.equal(HV_HYPERCALL_PARAM_ALIGNMENT, 8);
});

Deno.test("HV_X64_MSR_HYPERCALL layout: enable 0, locked 1, page number 63:12", () => {
  assertTiles(HvX64MsrHypercall);
  // Linux: old & 0xFFE | GPA | 1, with the page at GPA 0x1_2345_6000 and bit 5 kept from the old value
  const lo = (0x23456000 | 0x20 | 1) >>> 0;
  const hi = 0x1;
  assert.equal(fieldGet(lo, hi, HvX64MsrHypercall.enable), 1);
  assert.equal(fieldGet(lo, hi, HvX64MsrHypercall.locked), 0);
  assert.equal(fieldGet(lo, hi, HvX64MsrHypercall.reserved), 0x20 >> 2);
  assert.equal(fieldGetWide(lo, hi, HvX64MsrHypercall.page_number), 0x123456);
  assert.equal(overlayPageGpa(lo, hi), 0x123456000);
  assert.equal(fieldGet(0x2, 0, HvX64MsrHypercall.locked), 1);
});
