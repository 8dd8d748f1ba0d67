/**
 * Behaviour of `hv-ipi`: HvCallSendSyntheticClusterIpi (0x000B) and HvCallSendSyntheticClusterIpiEx
 * (0x0015) deliver one fixed interrupt to a set of VPs with one exit. No state.
 * @module
 */
import {
  HV_IPI_HIGH_VECTOR,
  HV_IPI_LOW_VECTOR,
  HV_STATUS_INVALID_HYPERCALL_INPUT,
  HV_STATUS_SUCCESS,
  HvCallSendSyntheticClusterIpi,
  HvCallSendSyntheticClusterIpiEx,
  HvSendSyntheticClusterIpiExInput,
  HvSendSyntheticClusterIpiInput,
} from "@hv/tlfs";
import { HYPERCALL_NOT_MINE, type HypercallInput, type PartitionView, type PluginHandlers, type VpView } from "@hv/x86";
import {
  allVpIndices,
  appendBankVps,
  HV_VP_SET_MAX_VPS,
  inputU32,
  readInputVpSet,
  VP_SET_ALL,
  VP_SET_INVALID,
  VP_SET_UNKNOWN_FORMAT,
} from "./vp_set.ts";

const validVector = (v: number): boolean => v >= HV_IPI_LOW_VECTOR && v <= HV_IPI_HIGH_VECTOR;

/**
 * The handlers of `hv-ipi`; built once per partition (per vCPU worker) by `create`. Preallocates a
 * 4096-entry VP index buffer and, on first use of "all VPs", the list of every VP index.
 *
 * HvCallSendSyntheticClusterIpi 0x000B (the dispatcher already refused a rep count or variable
 * header with HV_STATUS_INVALID_HYPERCALL_INPUT, and validated a slow input GPA):
 * - slow: input {u32 vector, u32 reserved, u64 processor_mask} (reserved ignored, as KVM does);
 * - fast: RDX = vector, R8 = processor_mask; RDX[63:32] != 0 -> HV_STATUS_INVALID_HYPERCALL_INPUT;
 * - vector < 0x10 or > 0xFF -> HV_STATUS_INVALID_HYPERCALL_INPUT (checked even for an empty mask);
 * - otherwise every existing VP whose index bit is set (VP indices 0..63) gets a fixed interrupt
 *   (`requestInterrupt(vector, false)`), the sender too if named; HV_STATUS_SUCCESS.
 *
 * HvCallSendSyntheticClusterIpiEx 0x0015 (no rep: the dispatcher's check):
 * - slow: input {u32 vector, u32 reserved, HV_VP_SET}; XMM-fast (needs `xmm-input`, else the
 *   dispatcher raises #UD): RDX = vector, R8 = format, XMM0.lo = valid_bank_mask, then the banks;
 * - variable header != popcount(valid_bank_mask) (so also > 64) -> HV_STATUS_INVALID_HYPERCALL_INPUT;
 * - format HV_GENERIC_SET_ALL -> every VP, sender included (vector checked);
 * - format neither SPARSE_4K nor ALL -> HV_STATUS_INVALID_HYPERCALL_INPUT (the TLFS defines no other;
 *   KVM would treat it as sparse);
 * - sparse with valid_bank_mask 0 (variable header 0) -> HV_STATUS_SUCCESS, nothing delivered, the
 *   vector not checked (KVM `goto ret_success`); otherwise the vector is checked, then delivered to
 *   every named VP that exists (indices of absent VPs are ignored).
 * Any other code: HYPERCALL_NOT_MINE. Exit path: no allocation, no BigInt.
 * Source: TLFS HvCallSendSyntheticClusterIpi[Ex]; KVM `kvm_hv_send_ipi`; selftest hyperv_ipi.c.
 */
export function ipiHandlers(): PluginHandlers {
  const targets = new Uint32Array(HV_VP_SET_MAX_VPS);
  const all = new Uint32Array(HV_VP_SET_MAX_VPS);
  let allCount = -1;

  const deliver = (partition: PartitionView, list: Uint32Array, n: number, vector: number): void => {
    for (let i = 0; i < n; i++) partition.vp(list[i])?.requestInterrupt(vector, false);
  };
  const deliverAll = (partition: PartitionView, vector: number): void => {
    if (allCount < 0) allCount = allVpIndices(partition, all);
    deliver(partition, all, allCount, vector);
  };

  const sendIpi = (vp: VpView, call: HypercallInput): number => {
    const partition = vp.partition;
    let vector: number, maskLo: number, maskHi: number;
    if (call.fast) {
      const fi = call.fastInput;
      if (fi[1] !== 0) return HV_STATUS_INVALID_HYPERCALL_INPUT;
      vector = fi[0];
      maskLo = fi[2];
      maskHi = fi[3];
    } else {
      const mem = partition.memory;
      vector = mem.readU32(call.inputGpa + HvSendSyntheticClusterIpiInput.vector.offset);
      maskLo = mem.readU32(call.inputGpa + HvSendSyntheticClusterIpiInput.processor_mask.offset);
      maskHi = mem.readU32(call.inputGpa + HvSendSyntheticClusterIpiInput.processor_mask.offset + 4);
      if (maskLo < 0 || maskHi < 0) return HV_STATUS_INVALID_HYPERCALL_INPUT; // unreadable (KVM: 3)
    }
    if (!validVector(vector)) return HV_STATUS_INVALID_HYPERCALL_INPUT;
    deliver(partition, targets, appendBankVps(maskLo, maskHi, 0, targets, 0), vector);
    return HV_STATUS_SUCCESS;
  };

  const sendIpiEx = (vp: VpView, call: HypercallInput): number => {
    const partition = vp.partition;
    const vector = inputU32(partition.memory, call, HvSendSyntheticClusterIpiExInput.vector.offset);
    const n = readInputVpSet(partition.memory, call, HvSendSyntheticClusterIpiExInput.vp_set.offset, targets);
    if (n === VP_SET_INVALID || n === VP_SET_UNKNOWN_FORMAT) return HV_STATUS_INVALID_HYPERCALL_INPUT;
    if (n !== VP_SET_ALL && call.varHeaderQwords === 0) return HV_STATUS_SUCCESS;
    if (!validVector(vector)) return HV_STATUS_INVALID_HYPERCALL_INPUT;
    if (n === VP_SET_ALL) deliverAll(partition, vector);
    else deliver(partition, targets, n, vector);
    return HV_STATUS_SUCCESS;
  };

  return {
    hypercall(vp, call) {
      if (call.code === HvCallSendSyntheticClusterIpi) return sendIpi(vp, call);
      if (call.code === HvCallSendSyntheticClusterIpiEx) return sendIpiEx(vp, call);
      return HYPERCALL_NOT_MINE;
    },
  };
}
