import {
  HV_CONNECTION_ID_MASK,
  HV_MESSAGE_PAYLOAD_BYTE_COUNT,
  HV_MESSAGE_TYPE_HYPERVISOR_BIT,
  HV_STATUS_INSUFFICIENT_BUFFERS,
  HV_STATUS_INVALID_CONNECTION_ID,
  HV_STATUS_INVALID_HYPERCALL_CODE,
  HV_STATUS_INVALID_HYPERCALL_INPUT,
  HV_STATUS_INVALID_PARAMETER,
  HV_STATUS_INVALID_PORT_ID,
  HV_STATUS_SUCCESS,
  HV_SYNIC_FIRST_VALID_VECTOR,
  HV_SYNIC_SINT_COUNT,
  HV_SYNIC_VERSION_1,
  HV_X64_MSR_EOM,
  HV_X64_MSR_SCONTROL,
  HV_X64_MSR_SIEFP,
  HV_X64_MSR_SIMP,
  HV_X64_MSR_SINT0,
  HV_X64_MSR_SINT15,
  HV_X64_MSR_SVERSION,
  HvCallPostMessage,
  HvCallSignalEvent,
  hvMsrSint,
  HvPostMessageInput,
  HvPrivilegeEax,
  HvPrivilegeEbx,
} from "@hv/tlfs";
import {
  definePlugin,
  type HypercallInput,
  type MsrAccess,
  type MsrClaim,
  MsrOutcome,
  type PluginHandlers,
  type VpView,
} from "@hv/x86";
import { findConnection } from "./connections.ts";
import {
  enabledPage,
  postSynicMessageAt,
  ramWords,
  signalSynicEvent,
  synicEndOfMessage,
  synicPartition,
  synicVp,
} from "./delivery.ts";
import { ConnectionKind, synicPartitionState, synicVpState } from "./state.ts";

export { synicPartitionState, synicVpState } from "./state.ts";

const gate = HvPrivilegeEax.AccessSynicRegs;

/** SCONTROL, SVERSION, SIEFP, SIMP, EOM and the sixteen SINTs (TLFS §11.8). */
const msrs: MsrClaim[] = [
  { index: HV_X64_MSR_SCONTROL, name: "HV_X64_MSR_SCONTROL", access: "rw", gate },
  { index: HV_X64_MSR_SVERSION, name: "HV_X64_MSR_SVERSION", access: "ro", gate },
  { index: HV_X64_MSR_SIEFP, name: "HV_X64_MSR_SIEFP", access: "rw", gate },
  { index: HV_X64_MSR_SIMP, name: "HV_X64_MSR_SIMP", access: "rw", gate },
  { index: HV_X64_MSR_EOM, name: "HV_X64_MSR_EOM", access: "rw", gate },
  ...Array.from(
    { length: HV_SYNIC_SINT_COUNT },
    (_, n) => ({ index: hvMsrSint(n), name: `HV_X64_MSR_SINT${n}`, access: "rw" as const, gate }),
  ),
];

const SINT_MASKED_BIT = 0x10000;
/** Queue tags of HvPostMessage messages: bit 31 | the connection's table index (one staged message per connection, as QEMU). */
const POST_MESSAGE_TAG = 0x80000000;

/** RDMSR: the stored value; SVERSION reads 1 and EOM 0. */
function rdmsr(vp: VpView, msr: MsrAccess): MsrOutcome {
  const i = msr.index;
  let w: Uint32Array, at = 0;
  switch (i) {
    case HV_X64_MSR_SCONTROL:
      w = synicVp(vp).scontrol;
      break;
    case HV_X64_MSR_SVERSION:
      msr.lo = HV_SYNIC_VERSION_1;
      msr.hi = 0;
      return MsrOutcome.Ok;
    case HV_X64_MSR_SIEFP:
      w = synicVp(vp).siefp;
      break;
    case HV_X64_MSR_SIMP:
      w = synicVp(vp).simp;
      break;
    case HV_X64_MSR_EOM:
      msr.lo = 0;
      msr.hi = 0;
      return MsrOutcome.Ok;
    default:
      if (i < HV_X64_MSR_SINT0 || i > HV_X64_MSR_SINT15) return MsrOutcome.NotMine;
      w = synicVp(vp).sint;
      at = 2 * (i - HV_X64_MSR_SINT0);
  }
  msr.lo = w[at];
  msr.hi = w[at + 1];
  return MsrOutcome.Ok;
}

/** WRMSR: the rules of the plugin's docstring. */
function wrmsr(vp: VpView, msr: MsrAccess): MsrOutcome {
  const i = msr.index, lo = msr.lo >>> 0, hi = msr.hi >>> 0;
  let w: Uint32Array, at = 0;
  switch (i) {
    case HV_X64_MSR_SCONTROL:
      w = synicVp(vp).scontrol;
      break;
    case HV_X64_MSR_SVERSION:
      return MsrOutcome.Gp;
    case HV_X64_MSR_SIEFP:
    case HV_X64_MSR_SIMP:
      // Enabling needs the whole page in RAM: the SynIC writes it (KVM SynIC v1 #GPs when it
      // cannot clear it; an unbacked overlay page cannot be served here).
      if ((lo & 1) !== 0 && enabledPage(vp.partition.memory, lo, hi) < 0) return MsrOutcome.Gp;
      w = i === HV_X64_MSR_SIMP ? synicVp(vp).simp : synicVp(vp).siefp;
      break;
    case HV_X64_MSR_EOM:
      synicEndOfMessage(vp);
      return MsrOutcome.Ok;
    default: {
      if (i < HV_X64_MSR_SINT0 || i > HV_X64_MSR_SINT15) return MsrOutcome.NotMine;
      if ((lo & SINT_MASKED_BIT) === 0 && (lo & 0xff) < HV_SYNIC_FIRST_VALID_VECTOR) return MsrOutcome.Gp;
      w = synicVp(vp).sint;
      at = 2 * (i - HV_X64_MSR_SINT0);
    }
  }
  w[at] = lo;
  w[at + 1] = hi;
  return MsrOutcome.Ok;
}

/** HvCallPostMessage (slow; the dispatcher validated 256 input bytes in RAM, 8-aligned, one page). */
function postMessage(vp: VpView, call: HypercallInput): number {
  if (call.fast) return HV_STATUS_INVALID_HYPERCALL_CODE; // QEMU; the dispatcher answers 3 first
  const mem = vp.partition.memory, g = call.inputGpa;
  const connectionId = mem.readU32(g + HvPostMessageInput.connection_id.offset);
  const messageType = mem.readU32(g + HvPostMessageInput.message_type.offset);
  const payloadSize = mem.readU32(g + HvPostMessageInput.payload_size.offset);
  if (connectionId < 0 || messageType < 0 || payloadSize < 0) return HV_STATUS_INVALID_HYPERCALL_INPUT;
  if (payloadSize > HV_MESSAGE_PAYLOAD_BYTE_COUNT) return HV_STATUS_INVALID_HYPERCALL_INPUT;
  if ((messageType & HV_MESSAGE_TYPE_HYPERVISOR_BIT) !== 0) return HV_STATUS_INVALID_PARAMETER;
  const t = synicPartition(vp.partition);
  const c = findConnection(t, ConnectionKind.Message, (connectionId & HV_CONNECTION_ID_MASK) >>> 0);
  if (c < 0) return HV_STATUS_INVALID_CONNECTION_ID;
  const target = vp.partition.vp(t.connVp[c]);
  if (target === undefined) return HV_STATUS_INVALID_CONNECTION_ID;
  const r = postSynicMessageAt(
    target,
    t.connSint[c],
    messageType,
    ramWords(mem),
    (g + HvPostMessageInput.payload.offset) / 4,
    payloadSize,
    (POST_MESSAGE_TAG | c) >>> 0,
  );
  return r === "busy" ? HV_STATUS_INSUFFICIENT_BUFFERS : HV_STATUS_SUCCESS;
}

/** HvCallSignalEvent: fast (RDX) or slow (the u64 at the validated input GPA). */
function signalEvent(vp: VpView, call: HypercallInput): number {
  let lo: number, hi: number;
  if (call.fast) {
    lo = call.fastInput[0];
    hi = call.fastInput[1];
  } else {
    const mem = vp.partition.memory;
    lo = mem.readU32(call.inputGpa);
    hi = mem.readU32(call.inputGpa + 4);
    if (lo < 0 || hi < 0) return HV_STATUS_INVALID_HYPERCALL_INPUT;
  }
  if ((hi & 0xffff) !== 0) return HV_STATUS_INVALID_PORT_ID; // flag number 47:32
  if ((lo & ~HV_CONNECTION_ID_MASK) !== 0 || (hi & 0xffff0000) !== 0) return HV_STATUS_INVALID_HYPERCALL_INPUT;
  const t = synicPartition(vp.partition);
  const c = findConnection(t, ConnectionKind.Event, lo >>> 0);
  if (c < 0) return HV_STATUS_INVALID_CONNECTION_ID;
  const target = vp.partition.vp(t.connVp[c]);
  if (target === undefined) return HV_STATUS_INVALID_CONNECTION_ID;
  signalSynicEvent(target, t.connSint[c], t.connFlag[c]);
  return HV_STATUS_SUCCESS;
}

function hypercall(vp: VpView, call: HypercallInput): number {
  return call.code === HvCallPostMessage ? postMessage(vp, call) : signalEvent(vp, call);
}

/** The handlers (stateless: every mutable word is declared state). */
const handlers: PluginHandlers = Object.freeze({ rdmsr, wrmsr, hypercall });

/**
 * `hv-synic`: the synthetic interrupt controller. 0x40000003.EAX[2] AccessSynicRegs, and (as QEMU
 * without x-hv-synic-kvm-only) 0x40000003.EBX[4] PostMessages and EBX[5] SignalEvents. Requires
 * `vpindex`. Rules from tlfs-conformance.md (a)/(b), KVM `synic_set_msr`/`synic_set_sint`, QEMU
 * `hw/hyperv/hyperv.c`.
 *
 * MSRs (gate AccessSynicRegs; unclaimed/ro rules applied by the dispatcher):
 * - HV_X64_MSR_SCONTROL 0x40000080 rw, any value accepted; 1 at power-on (KVM sets it at activation).
 *   With bit 0 clear the SynIC takes no message or event and raises no SINT (TLFS; QEMU's
 *   sctl_enabled gate; KVM ignores SCONTROL).
 * - HV_X64_MSR_SVERSION 0x40000081 ro, reads 1; WRMSR -> #GP.
 * - HV_X64_MSR_SIEFP 0x40000082 / HV_X64_MSR_SIMP 0x40000083 rw, any value with bit 0 clear; with
 *   bit 0 set the 4 KiB page at bits 63:12 must lie in guest RAM, else #GP and the MSR keeps its
 *   value (KVM SynIC v1 #GPs when it cannot clear the page; KVM SynIC2 accepts and later fails to
 *   deliver: a page the VMM cannot write is refused up front). Not zeroed on enable (SynIC2).
 * - HV_X64_MSR_EOM 0x40000084 rw, reads 0; any write redelivers the queued messages of every SINT
 *   whose slot is free (KVM `kvm_hv_notify_acked_sint`).
 * - HV_X64_MSR_SINT0..15 0x40000090..0x4000009F rw, stored as written: an unmasked vector < 16 ->
 *   #GP (masked values such as 0x10000 are accepted); 0x10000 at power-on.
 *
 * Hypercalls:
 * - HvCallPostMessage 0x005C (simple, slow only: fast -> 3 from the dispatcher; QEMU answers 2):
 *   payload_size > 240 -> HV_STATUS_INVALID_HYPERCALL_INPUT (3, QEMU and tlfs-conformance (b));
 *   message_type with bit 31 (hypervisor-reserved) -> HV_STATUS_INVALID_PARAMETER (5, TLFS; QEMU does
 *   not check); connection id (bits 23:0; 31:24 ignored, as QEMU masks them) without a message
 *   connection -> HV_STATUS_INVALID_CONNECTION_ID (0x12); target slot busy while this connection
 *   already has a message queued, or the queue full -> HV_STATUS_INSUFFICIENT_BUFFERS (0x13, QEMU's
 *   staging area); otherwise HV_STATUS_SUCCESS: delivered, or queued with msg_pending set. A target
 *   whose SCONTROL or SIMP is disabled drops the message and the call still succeeds (QEMU stages
 *   it and drops it with -ENXIO).
 * - HvCallSignalEvent 0x005D (simple, fast or slow, 8-byte input): flag number (47:32) != 0 ->
 *   HV_STATUS_INVALID_PORT_ID (0x11); bits 31:24 or 63:48 set -> HV_STATUS_INVALID_HYPERCALL_INPUT
 *   (3); no event connection -> HV_STATUS_INVALID_CONNECTION_ID (0x12; KVM 0x11 then QEMU 0x12);
 *   otherwise HV_STATUS_SUCCESS after setting the connection's flag (a disabled target drops it).
 *
 * Auto-EOI: SINT bit 17 is passed to `VpView.requestInterrupt(vector, autoEoi)`; the emulator's
 * userspace APIC (`@hv/apic`) acknowledges such a vector without setting ISR, so the guest writes
 * no EOI. KVM's in-kernel LAPIC cannot honour it for a userspace SynIC (an MSI is always a normal
 * fixed interrupt the guest must EOI), so the emulator refuses synic with `--kernel-irqchip on`
 * (`emulator.userspaceApic`).
 *
 * For other plugins: `postSynicMessage`, `signalSynicEvent`, `synicMessageQueued`,
 * `addSynicEomListener`, the connection table and `synicTestDevBackend` (src/delivery.ts,
 * src/connections.ts).
 */
export const synic = definePlugin({
  name: "synic",
  summary: "Synthetic interrupt controller: per-VP message and event pages and 16 SINTs, used by stimer and VMBus",
  requires: ["vpindex"],
  cpuid: { set: [HvPrivilegeEax.AccessSynicRegs, HvPrivilegeEbx.PostMessages, HvPrivilegeEbx.SignalEvents] },
  msrs,
  hypercalls: [
    {
      code: HvCallPostMessage,
      name: "HvCallPostMessage",
      kind: "simple",
      fast: "never",
      inputBytes: 256,
      outputBytes: 0,
      gate: HvPrivilegeEbx.PostMessages,
    },
    {
      code: HvCallSignalEvent,
      name: "HvCallSignalEvent",
      kind: "simple",
      fast: "allowed",
      inputBytes: 8,
      outputBytes: 0,
      gate: HvPrivilegeEbx.SignalEvents,
    },
  ],
  state: { vp: synicVpState, partition: synicPartitionState },
  emulator: { supported: true, userspaceApic: true },
  create: () => handlers,
  passthrough: { capabilities: ["KVM_CAP_HYPERV_SYNIC2"], enableCapabilities: ["KVM_CAP_HYPERV_SYNIC2"] },
  formats: {
    qemu: { property: "hv-synic" },
    libvirt: { hyperv: "synic" },
    kubevirt: { hyperv: "synic" },
  },
  docs: {
    description:
      "The synthetic interrupt controller (0x40000003.EAX[2], EBX[4,5]): per-VP SIMP message and SIEFP event-flag pages, 16 synthetic interrupt sources, and the PostMessage/SignalEvent hypercalls.",
    guestGains:
      "The transport for synthetic timers (stimer) and VMBus devices: messages and events delivered as interrupts without emulated hardware.",
    windows:
      "Windows 7 / 2008 R2 and later (Proxmox from machine 2.12 for win7+; virt-install and Nova always). Linux uses it only through hv_vmbus.",
    sources: [
      "TLFS §11 Synthetic Interrupt Controller (SynIC): §11.8 MSRs, §11.10 HvPostMessage/HvSignalEvent",
      "QEMU hv-synic (HYPERV_FEAT_SYNIC, requires hv-vpindex; KVM_CAP_HYPERV_SYNIC2)",
      "KVM arch/x86/kvm/hyperv.c synic_set_msr; QEMU hw/hyperv/hyperv.c",
    ],
  },
});
