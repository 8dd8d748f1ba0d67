/**
 * Behaviour of `hv-tlbflush`: the four remote TLB flush hypercalls, each answered by one
 * `PartitionView.flushTlb` of the named VPs. No state.
 * @module
 */
import { allVpIndices, appendBankVps, HV_VP_SET_MAX_VPS, inputU32, readInputVpSet, VP_SET_INVALID } from "@hv/ipi";
import {
  HV_FLUSH_ALL_PROCESSORS,
  HV_STATUS_INVALID_HYPERCALL_INPUT,
  HV_STATUS_SUCCESS,
  HvCallFlushVirtualAddressList,
  HvCallFlushVirtualAddressListEx,
  HvCallFlushVirtualAddressSpace,
  HvCallFlushVirtualAddressSpaceEx,
  HvFlushVirtualAddressSpaceExInput,
  HvFlushVirtualAddressSpaceInput,
} from "@hv/tlfs";
import { HYPERCALL_NOT_MINE, type HypercallInput, type PartitionView, type PluginHandlers, type VpView } from "@hv/x86";

/**
 * The handlers of `hv-tlbflush`; built once per partition (per vCPU worker) by `create`.
 * Preallocates a 4096-entry VP index buffer and, on first use of "all VPs", the list of every VP index.
 *
 * Every call flushes **all** cached translations of the named VPs (`PartitionView.flushTlb`, which
 * returns only when each of them will drop them before it next runs guest code, so the flush is
 * complete when the hypercall returns, as the TLFS and selftest hyperv_tlb_flush.c require). The
 * address space, the flags other than HV_FLUSH_ALL_PROCESSORS and the GVA list are therefore
 * ignored: the TLFS allows the hypervisor to flush more than asked, and KVM does exactly this
 * ("We always do full TLB flush, set 'Reps completed' = 'Rep Count'"). That also covers
 * `hv-tlbflush-ext` (HV_FLUSH_USE_EXTENDED_RANGE_FORMAT only changes how list entries are encoded).
 *
 * What the dispatcher checked first (HV_STATUS_INVALID_HYPERCALL_INPUT): a rep count or variable
 * header on 0x0002, a variable header on 0x0003, a rep count on 0x0013, rep count 0 or rep start >=
 * rep count on 0x0003/0x0014; slow input GPAs (in RAM, aligned, header + banks + reps within one
 * page, else 4 or 3); XMM-fast calls without `xmm-input` (#UD) or with more than 112 input bytes.
 *
 * - HvCallFlushVirtualAddressSpace 0x0002, HvCallFlushVirtualAddressList 0x0003: input {address_space,
 *   flags, processor_mask} (fast: RDX, R8, XMM0.lo). flags & HV_FLUSH_ALL_PROCESSORS, or
 *   processor_mask 0 (the WS2012 workaround of KVM), flushes every VP; otherwise the VPs whose bits
 *   are set (indices 0..63).
 * - HvCallFlushVirtualAddressSpaceEx 0x0013, HvCallFlushVirtualAddressListEx 0x0014: input
 *   {address_space, flags, HV_VP_SET} (fast: RDX, R8, XMM0 = format, valid_bank_mask, then the
 *   banks). Variable header != popcount(valid_bank_mask) (so also > 64) -> INVALID_HYPERCALL_INPUT;
 *   format other than SPARSE_4K (ALL, or unknown, as KVM does) or HV_FLUSH_ALL_PROCESSORS -> every VP;
 *   an empty sparse set -> HV_STATUS_SUCCESS without flushing; otherwise the named VPs.
 * - List forms: rep start != 0 -> HV_STATUS_INVALID_HYPERCALL_INPUT (KVM); otherwise reps completed
 *   = rep count (every rep, or Linux's `hv_do_rep_hypercall` loops).
 * Any other code: HYPERCALL_NOT_MINE. Exit path: no allocation, no BigInt.
 * Source: TLFS HvFlushVirtualAddressSpace/List[Ex]; KVM `kvm_hv_flush_tlb`, `kvm_hv_hypercall`.
 */
export function tlbflushHandlers(): PluginHandlers {
  const targets = new Uint32Array(HV_VP_SET_MAX_VPS);
  const all = new Uint32Array(HV_VP_SET_MAX_VPS);
  let allCount = -1;

  const flushAll = (partition: PartitionView): void => {
    if (allCount < 0) allCount = allVpIndices(partition, all);
    partition.flushTlb(all, allCount);
  };

  /** 0x0002 / 0x0003. */
  const flush = (vp: VpView, call: HypercallInput): number => {
    const partition = vp.partition;
    let flags: number, maskLo: number, maskHi: number;
    if (call.fast) {
      const fi = call.fastInput;
      flags = fi[2];
      maskLo = fi[4];
      maskHi = fi[5];
    } else {
      const mem = partition.memory;
      flags = mem.readU32(call.inputGpa + HvFlushVirtualAddressSpaceInput.flags.offset);
      maskLo = mem.readU32(call.inputGpa + HvFlushVirtualAddressSpaceInput.processor_mask.offset);
      maskHi = mem.readU32(call.inputGpa + HvFlushVirtualAddressSpaceInput.processor_mask.offset + 4);
      if (flags < 0 || maskLo < 0 || maskHi < 0) return HV_STATUS_INVALID_HYPERCALL_INPUT; // unreadable (KVM: 3)
    }
    if ((flags & HV_FLUSH_ALL_PROCESSORS) !== 0 || (maskLo | maskHi) === 0) flushAll(partition);
    else partition.flushTlb(targets, appendBankVps(maskLo, maskHi, 0, targets, 0));
    return HV_STATUS_SUCCESS;
  };

  /** 0x0013 / 0x0014. */
  const flushEx = (vp: VpView, call: HypercallInput): number => {
    const partition = vp.partition;
    const flags = inputU32(partition.memory, call, HvFlushVirtualAddressSpaceExInput.flags.offset);
    const n = readInputVpSet(partition.memory, call, HvFlushVirtualAddressSpaceExInput.hv_vp_set.offset, targets);
    if (n === VP_SET_INVALID || flags < 0) return HV_STATUS_INVALID_HYPERCALL_INPUT;
    // VP_SET_ALL, VP_SET_UNKNOWN_FORMAT (KVM: format != SPARSE_4K means all) or the flag: every VP.
    if (n < 0 || (flags & HV_FLUSH_ALL_PROCESSORS) !== 0) flushAll(partition);
    else if (n > 0) partition.flushTlb(targets, n);
    return HV_STATUS_SUCCESS;
  };

  return {
    hypercall(vp, call) {
      switch (call.code) {
        case HvCallFlushVirtualAddressSpace:
          return flush(vp, call);
        case HvCallFlushVirtualAddressSpaceEx:
          return flushEx(vp, call);
        case HvCallFlushVirtualAddressList:
        case HvCallFlushVirtualAddressListEx: {
          if (call.repStart !== 0) return HV_STATUS_INVALID_HYPERCALL_INPUT;
          const status = call.code === HvCallFlushVirtualAddressList ? flush(vp, call) : flushEx(vp, call);
          if (status === HV_STATUS_SUCCESS) call.repsCompleted = call.repCount;
          return status;
        }
        default:
          return HYPERCALL_NOT_MINE;
      }
    },
  };
}
