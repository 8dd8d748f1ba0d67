import assert from "node:assert/strict";
import { type BitField, fieldGet, fieldGet64, fieldGetWide, fieldMask64, fieldMaskLo, joinU64 } from "./bits.ts";
import { type ByteField, byteFieldEnd, HV_PAGE_SHIFT, HV_PAGE_SIZE } from "./struct.ts";
import {
  HV_OVERLAY_PAGE_GPA_MASK_LO,
  HvOverlayPageMsr,
  HvX64MsrReferenceTsc,
  HvX64MsrSiefp,
  HvX64MsrSimp,
  HvX64MsrVpAssistPage,
  overlayPageGpa,
} from "./overlay_page.ts";
import {
  HV_CLOCK_HZ,
  HV_REFERENCE_TSC_PAGE_USED_BYTES,
  HV_TSC_PAGE_SEQUENCE_INVALID,
  HV_TSC_PAGE_SEQUENCE_SKIP,
  HvReferenceTscPage,
} from "./tsc_page.ts";
import { HvApicAssist, HvVpAssistPage } from "./vp_assist.ts";
import {
  HV_EVENT_FLAGS_BYTE_COUNT,
  HV_EVENT_FLAGS_COUNT,
  HV_MESSAGE_HEADER_SIZE,
  HV_MESSAGE_PAYLOAD_BYTE_COUNT,
  HV_MESSAGE_PAYLOAD_QWORD_COUNT,
  HV_MESSAGE_SIZE,
  HV_MESSAGE_TYPE_HYPERVISOR_BIT,
  HV_SYNIC_EVENT_FLAGS_PAGE_SIZE,
  HV_SYNIC_FIRST_VALID_VECTOR,
  HV_SYNIC_MESSAGE_PAGE_SIZE,
  HV_SYNIC_SINT_RESET,
  HV_SYNIC_VERSION_1,
  hvEventFlagsOffset,
  HvMessage,
  HvMessageFlags,
  HvMessageHeader,
  hvMessageSlotOffset,
  HVMSG_EVENTLOG_BUFFERCOMPLETE,
  HVMSG_GPA_INTERCEPT,
  HVMSG_NAMES,
  HVMSG_NONE,
  HVMSG_TIMER_EXPIRED,
  HVMSG_UNMAPPED_GPA,
  HVMSG_X64_IOPORT_INTERCEPT,
  HVMSG_X64_LEGACY_FP_ERROR,
  HvSynicScontrol,
  HvSynicSint,
} from "./synic.ts";
import { HV_TIMER_MESSAGE_PAYLOAD_SIZE, HvStimerConfig, HvTimerMessagePayload } from "./stimer.ts";
import {
  HV_CRASH_CTL_CRASH_NOTIFY,
  HV_CRASH_CTL_CRASH_NOTIFY_MSG,
  HV_CRASH_MAX_MESSAGE_BYTES,
  HV_CRASH_PARAMETER_COUNT,
  HvCrashCtl,
} from "./crash.ts";
import {
  HvReenlightenmentControl,
  HvTscEmulationControl,
  HvTscEmulationStatus,
  HvTscInvariantControl,
} from "./reenlightenment.ts";
import {
  HV_GENERIC_SET_ALL,
  HV_GENERIC_SET_SPARSE_4K,
  HV_VP_SET_BANK_SIZE,
  HV_VP_SET_HEADER_SIZE,
  HV_VP_SET_MAX_BANKS,
  HV_VP_SET_VPS_PER_BANK,
  HvVpSet,
  hvVpSetBankCount,
  hvVpSetSize,
} from "./vp_set.ts";
import {
  HV_FLUSH_ALL_PROCESSORS,
  HV_FLUSH_ALL_VIRTUAL_ADDRESS_SPACES,
  HV_FLUSH_NON_GLOBAL_MAPPINGS_ONLY,
  HV_FLUSH_USE_EXTENDED_RANGE_FORMAT,
  HvFlushVirtualAddressSpaceExInput,
  HvFlushVirtualAddressSpaceInput,
  HvGvaRange,
} from "./flush.ts";
import {
  HV_IPI_HIGH_VECTOR,
  HV_IPI_LOW_VECTOR,
  HvSendSyntheticClusterIpiExInput,
  HvSendSyntheticClusterIpiInput,
} from "./ipi.ts";
import {
  HV_CONNECTION_ID_MASK,
  HV_POST_MESSAGE_INPUT_SIZE,
  HvConnectionId,
  HvPostMessageInput,
  HvSignalEventInput,
  HvSignalEventParam,
} from "./synic_hypercalls.ts";
import { HV_SYNIC_SINT_COUNT } from "./msr.ts";

/** Asserts the bit fields are pairwise disjoint and together cover bits [bits-1:0]. */
const assertTiles = (layout: Record<string, BitField>, bits = 64): void => {
  let seen = 0n;
  for (const [name, f] of Object.entries(layout)) {
    const m = fieldMask64(f);
    assert.equal(seen & m, 0n, `${name} overlaps`);
    seen |= m;
  }
  assert.equal(seen, (1n << BigInt(bits)) - 1n);
};

/** Asserts the byte fields are disjoint, lie within [0,size) and (if `packed`) leave no gaps. */
const assertBytes = (layout: Record<string, ByteField>, size: number, packed = true): void => {
  const fields = Object.entries(layout).sort(([, a], [, b]) => a.offset - b.offset);
  let end = 0;
  for (const [name, f] of fields) {
    assert.ok(f.size > 0, `${name} has a size`);
    if (packed) assert.equal(f.offset, end, `${name} starts where the previous field ends`);
    else assert.ok(f.offset >= end, `${name} overlaps`);
    assert.equal(f.offset % Math.min(f.size, 8), 0, `${name} is naturally aligned`);
    end = byteFieldEnd(f);
  }
  if (packed) assert.equal(end, size);
  else assert.ok(end <= size);
};

Deno.test("page size", () => {
  assert.equal(HV_PAGE_SIZE, 4096);
  assert.equal(1 << HV_PAGE_SHIFT, HV_PAGE_SIZE);
});

Deno.test("overlay-page MSRs: enable bit 0, page number 63:12", () => {
  assertTiles(HvOverlayPageMsr);
  for (const l of [HvX64MsrReferenceTsc, HvX64MsrVpAssistPage, HvX64MsrSimp, HvX64MsrSiefp]) {
    assert.equal(l, HvOverlayPageMsr);
  }
  assert.equal(HV_OVERLAY_PAGE_GPA_MASK_LO, fieldMaskLo(HvOverlayPageMsr.page_number));
  // Linux VP assist: pfn << 12 | 1, pfn 0xabcde1
  const lo = (0xbcde1000 | 1) >>> 0;
  const hi = 0xa;
  assert.equal(fieldGet(lo, hi, HvOverlayPageMsr.enable), 1);
  assert.equal(fieldGetWide(lo, hi, HvOverlayPageMsr.page_number), 0xabcde1);
  assert.equal(overlayPageGpa(lo, hi), 0xabcde1000);
  assert.equal(overlayPageGpa(0xfff, 0), 0);
});

Deno.test("reference TSC page {u32 seq, u32 rsvd, u64 scale, s64 offset}", () => {
  assertBytes(HvReferenceTscPage, HV_REFERENCE_TSC_PAGE_USED_BYTES);
  assert.equal(HvReferenceTscPage.tsc_sequence.offset, 0);
  assert.equal(HvReferenceTscPage.tsc_scale.offset, 8);
  assert.equal(HvReferenceTscPage.tsc_offset.offset, 16);
  assert.equal(HV_REFERENCE_TSC_PAGE_USED_BYTES, 24);
  assert.equal(HV_TSC_PAGE_SEQUENCE_INVALID, 0);
  assert.equal(HV_TSC_PAGE_SEQUENCE_SKIP, 0xffffffff);
  assert.equal(HV_CLOCK_HZ, 1e9 / 100);
});

Deno.test("VP assist page: apic_assist u32 @0, bit 0 = no EOI required", () => {
  assertBytes(HvVpAssistPage, HV_PAGE_SIZE, false);
  assert.deepEqual(HvVpAssistPage.apic_assist, { offset: 0, size: 4 });
  assert.equal(HvVpAssistPage.enlighten_vmentry.offset, 40);
  assert.equal(HvVpAssistPage.current_nested_vmcs.offset, 48);
  assert.equal(fieldGet(1, 0, HvApicAssist.no_eoi_required), 1);
  assert.equal(fieldGet(2, 0, HvApicAssist.no_eoi_required), 0);
});

Deno.test("SynIC message slot: 16-byte header + 240-byte payload, 16 slots per page", () => {
  assertBytes(HvMessage, HV_MESSAGE_SIZE);
  assertBytes(HvMessageHeader, HV_MESSAGE_HEADER_SIZE);
  assert.equal(HV_MESSAGE_SIZE, 256);
  assert.equal(HvMessage.payload.offset, HV_MESSAGE_HEADER_SIZE);
  assert.equal(HvMessage.payload.size, HV_MESSAGE_PAYLOAD_BYTE_COUNT);
  assert.equal(HV_MESSAGE_PAYLOAD_QWORD_COUNT * 8, HV_MESSAGE_PAYLOAD_BYTE_COUNT);
  assert.deepEqual(HvMessageHeader.message_type, { offset: 0, size: 4 });
  assert.deepEqual(HvMessageHeader.payload_size, { offset: 4, size: 1 });
  assert.deepEqual(HvMessageHeader.message_flags, { offset: 5, size: 1 });
  assert.deepEqual(HvMessageHeader.sender, { offset: 8, size: 8 });
  assert.deepEqual(HvMessageFlags.msg_pending, { shift: 0, width: 1 });
  assert.equal(HV_SYNIC_SINT_COUNT, 16);
  assert.equal(HV_SYNIC_MESSAGE_PAGE_SIZE, HV_PAGE_SIZE);
  assert.equal(hvMessageSlotOffset(0), 0);
  assert.equal(hvMessageSlotOffset(2), 512);
  assert.equal(hvMessageSlotOffset(15) + HV_MESSAGE_SIZE, HV_PAGE_SIZE);
});

Deno.test("SynIC event flags: 2048 flags (256 bytes) per SINT, 16 SINTs per page", () => {
  assert.equal(HV_EVENT_FLAGS_COUNT, HV_EVENT_FLAGS_BYTE_COUNT * 8);
  assert.equal(HV_EVENT_FLAGS_COUNT, 2048);
  assert.equal(HV_SYNIC_EVENT_FLAGS_PAGE_SIZE, HV_PAGE_SIZE);
  assert.equal(hvEventFlagsOffset(3), 768);
  assert.equal(hvEventFlagsOffset(15) + HV_EVENT_FLAGS_BYTE_COUNT, HV_PAGE_SIZE);
});

Deno.test("message types", () => {
  assert.equal(HVMSG_NONE, 0);
  assert.equal(HVMSG_UNMAPPED_GPA, 0x80000000);
  assert.equal(HVMSG_GPA_INTERCEPT, 0x80000001);
  assert.equal(HVMSG_TIMER_EXPIRED, 0x80000010);
  assert.equal(HVMSG_EVENTLOG_BUFFERCOMPLETE, 0x80000040);
  assert.equal(HVMSG_X64_IOPORT_INTERCEPT, 0x80010000);
  assert.equal(HVMSG_X64_LEGACY_FP_ERROR, 0x80010005);
  assert.equal(HVMSG_NAMES.size, 14);
  assert.equal(HVMSG_NAMES.get(0x80000010), "HVMSG_TIMER_EXPIRED");
  for (const v of HVMSG_NAMES.keys()) {
    if (v !== HVMSG_NONE) {
      assert.ok((v & HV_MESSAGE_TYPE_HYPERVISOR_BIT) !== 0, `0x${v.toString(16)} is a hypervisor type`);
    }
  }
});

Deno.test("SINTx, SCONTROL, SVERSION", () => {
  assertTiles(HvSynicSint);
  assert.equal(fieldGet(HV_SYNIC_SINT_RESET, 0, HvSynicSint.masked), 1);
  assert.equal(fieldGet(HV_SYNIC_SINT_RESET, 0, HvSynicSint.vector), 0);
  const v = 0x000600f3; // vector 0xF3, auto_eoi (bit 17), polling (bit 18), unmasked
  assert.equal(fieldGet(v, 0, HvSynicSint.vector), 0xf3);
  assert.equal(fieldGet(v, 0, HvSynicSint.masked), 0);
  assert.equal(fieldGet(v, 0, HvSynicSint.auto_eoi), 1);
  assert.equal(fieldGet(v, 0, HvSynicSint.polling), 1);
  assert.equal(HV_SYNIC_FIRST_VALID_VECTOR, 16);
  assert.deepEqual(HvSynicScontrol.enable, { shift: 0, width: 1 });
  assert.equal(HV_SYNIC_VERSION_1, 1);
});

Deno.test("STIMER config: Linux's 0x1ED9 is enable + auto_enable + vector 0xED + direct", () => {
  assertTiles(HvStimerConfig);
  const c = 0x1ed9;
  assert.equal(fieldGet(c, 0, HvStimerConfig.enable), 1);
  assert.equal(fieldGet(c, 0, HvStimerConfig.periodic), 0);
  assert.equal(fieldGet(c, 0, HvStimerConfig.lazy), 0);
  assert.equal(fieldGet(c, 0, HvStimerConfig.auto_enable), 1);
  assert.equal(fieldGet(c, 0, HvStimerConfig.apic_vector), 0xed);
  assert.equal(fieldGet(c, 0, HvStimerConfig.direct_mode), 1);
  assert.equal(fieldGet(c, 0, HvStimerConfig.sintx), 0);
  assert.equal(fieldGet(0x30003, 0, HvStimerConfig.sintx), 3);
  assert.equal(fieldGet(0x30003, 0, HvStimerConfig.periodic), 1);
});

Deno.test("timer message payload {u32 index, u32 rsvd, u64 expiration, u64 delivery}", () => {
  assertBytes(HvTimerMessagePayload, HV_TIMER_MESSAGE_PAYLOAD_SIZE);
  assert.equal(HvTimerMessagePayload.expiration_time.offset, 8);
  assert.equal(HvTimerMessagePayload.delivery_time.offset, 16);
  assert.ok(HV_TIMER_MESSAGE_PAYLOAD_SIZE <= HV_MESSAGE_PAYLOAD_BYTE_COUNT);
});

Deno.test("CRASH_CTL: CrashNotify 63, CrashMessage 62", () => {
  assertTiles(HvCrashCtl);
  assert.equal(fieldMask64(HvCrashCtl.crash_notify), HV_CRASH_CTL_CRASH_NOTIFY);
  assert.equal(fieldMask64(HvCrashCtl.crash_message), HV_CRASH_CTL_CRASH_NOTIFY_MSG);
  // Linux message mode writes 0xC000000000000000
  const ctl = HV_CRASH_CTL_CRASH_NOTIFY | HV_CRASH_CTL_CRASH_NOTIFY_MSG;
  assert.equal(ctl, 0xc000000000000000n);
  assert.equal(fieldGet(0, 0xc0000000, HvCrashCtl.crash_notify), 1);
  assert.equal(fieldGet(0, 0x40000000, HvCrashCtl.crash_notify), 0);
  assert.equal(fieldGet(0, 0x40000000, HvCrashCtl.crash_message), 1);
  assert.equal(HV_CRASH_MAX_MESSAGE_BYTES, 4096);
  assert.equal(HV_CRASH_PARAMETER_COUNT, 5);
});

Deno.test("REENLIGHTENMENT_CONTROL: 0xEE | 1<<16 | vp<<32 (Linux kvm_intel in the guest)", () => {
  assertTiles(HvReenlightenmentControl);
  const v = 0xeen | (1n << 16n) | (3n << 32n);
  assert.equal(fieldGet64(v, HvReenlightenmentControl.vector), 0xeen);
  assert.equal(fieldGet64(v, HvReenlightenmentControl.enabled), 1n);
  assert.equal(fieldGet64(v, HvReenlightenmentControl.target_vp), 3n);
  assert.equal(fieldGet(0x100ff, 0xffffffff, HvReenlightenmentControl.target_vp), 0xffffffff);
  assertTiles(HvTscEmulationControl);
  assertTiles(HvTscEmulationStatus);
  assertTiles(HvTscInvariantControl);
  assert.equal(fieldGet(1, 0, HvTscEmulationControl.enabled), 1);
  assert.equal(fieldGet(1, 0, HvTscEmulationStatus.inprogress), 1);
  assert.equal(fieldGet(1, 0, HvTscInvariantControl.expose_invariant_tsc), 1);
});

Deno.test("HV_VP_SET {u64 format, u64 valid_bank_mask, u64 bank_contents[]}", () => {
  assertBytes(HvVpSet, hvVpSetSize(1));
  assert.equal(HV_VP_SET_HEADER_SIZE, 16);
  assert.equal(HV_VP_SET_BANK_SIZE, 8);
  assert.equal(hvVpSetSize(0), 16);
  assert.equal(hvVpSetSize(2), 32);
  assert.equal(HV_GENERIC_SET_SPARSE_4K, 0);
  assert.equal(HV_GENERIC_SET_ALL, 1);
  assert.equal(HV_VP_SET_VPS_PER_BANK * HV_VP_SET_MAX_BANKS, 4096);
  // VPs 2 and 65 (hyperv_ipi.c): banks 0 and 1
  assert.equal(hvVpSetBankCount(0b11, 0), 2);
  assert.equal(hvVpSetBankCount(0, 0), 0);
  assert.equal(hvVpSetBankCount(0x80000001, 0x80000000), 3);
  assert.equal(hvVpSetBankCount(0xffffffff, 0xffffffff), 64);
  assert.equal(hvVpSetBankCount(-1, 0x0f0f0f0f), 48);
});

Deno.test("flush inputs", () => {
  assertBytes(HvFlushVirtualAddressSpaceInput, 32);
  assert.equal(HvFlushVirtualAddressSpaceInput.processor_mask.offset, 16);
  assert.equal(HvFlushVirtualAddressSpaceInput.gva_list.offset, 24);
  assertBytes(HvFlushVirtualAddressSpaceExInput, 32);
  assert.equal(HvFlushVirtualAddressSpaceExInput.hv_vp_set.offset, 16);
  assert.equal(HvFlushVirtualAddressSpaceExInput.hv_vp_set.size, HV_VP_SET_HEADER_SIZE);
  assert.deepEqual(
    [
      HV_FLUSH_ALL_PROCESSORS,
      HV_FLUSH_ALL_VIRTUAL_ADDRESS_SPACES,
      HV_FLUSH_NON_GLOBAL_MAPPINGS_ONLY,
      HV_FLUSH_USE_EXTENDED_RANGE_FORMAT,
    ],
    [1, 2, 4, 8],
  );
  assertTiles(HvGvaRange);
  // GVA 0x7f00_1234_5000 plus 3 more pages
  const e = 0x7f0012345000n | 3n;
  assert.equal(fieldGet64(e, HvGvaRange.additional_pages), 3n);
  assert.equal(fieldGet64(e, HvGvaRange.page_number) << 12n, 0x7f0012345000n);
});

Deno.test("SendSyntheticClusterIpi inputs", () => {
  assertBytes(HvSendSyntheticClusterIpiInput, 16);
  assert.equal(HvSendSyntheticClusterIpiInput.processor_mask.offset, 8);
  assertBytes(HvSendSyntheticClusterIpiExInput, 24);
  assert.equal(HvSendSyntheticClusterIpiExInput.vp_set.offset, 8);
  assert.equal(HV_IPI_LOW_VECTOR, 0x10);
  assert.equal(HV_IPI_HIGH_VECTOR, 0xff);
});

Deno.test("PostMessage / SignalEvent inputs", () => {
  assertBytes(HvPostMessageInput, HV_POST_MESSAGE_INPUT_SIZE);
  assert.equal(HV_POST_MESSAGE_INPUT_SIZE, 256);
  assert.equal(HvPostMessageInput.payload.offset, 16);
  assert.equal(HvPostMessageInput.payload.size, HV_MESSAGE_PAYLOAD_BYTE_COUNT);
  assert.equal(HvPostMessageInput.message_type.offset, 8);
  assert.equal(HvPostMessageInput.payload_size.offset, 12);
  assertBytes(HvSignalEventInput, 8);
  assertTiles(HvSignalEventParam);
  // The u64 view agrees with the byte view (little-endian).
  assert.equal(HvSignalEventParam.flag_number.shift, HvSignalEventInput.flag_number.offset * 8);
  assert.equal(HvSignalEventParam.flag_number.width, HvSignalEventInput.flag_number.size * 8);
  assert.equal(HvSignalEventParam.rsvdz.shift, HvSignalEventInput.rsvdz.offset * 8);
  const lo = 0x01000005; // connection 5 with a reserved bit 24 set
  const hi = 0x00000002; // flag number 2
  assert.equal(fieldGet(lo, hi, HvSignalEventParam.connection_id), 5);
  assert.equal(fieldGet(lo, hi, HvSignalEventParam.reserved), 1);
  assert.equal(fieldGet(lo, hi, HvSignalEventParam.flag_number), 2);
  assertTiles(HvConnectionId, 32);
  assert.equal(fieldMaskLo(HvConnectionId.id), HV_CONNECTION_ID_MASK);
  assert.equal(joinU64(HV_CONNECTION_ID_MASK, 0), 0xffffffn);
});
