import {
  HV_SYNIC_SINT_COUNT,
  HV_X64_MSR_EOM,
  HV_X64_MSR_SCONTROL,
  HV_X64_MSR_SIEFP,
  HV_X64_MSR_SIMP,
  HV_X64_MSR_SVERSION,
  HvCallPostMessage,
  HvCallSignalEvent,
  HvPrivilegeEax,
  HvPrivilegeEbx,
  hvMsrSint,
} from "@hv/tlfs";
import { defineState, definePlugin, type MsrClaim } from "@hv/x86";

const gate = HvPrivilegeEax.AccessSynicRegs;

/** SINTn power-on value: masked (bit 16), vector 0. */
const SINT_MASKED = 0x10000;

/** SCONTROL, SVERSION, SIEFP, SIMP, EOM and the sixteen SINTs (TLFS §11.8). */
const msrs: MsrClaim[] = [
  { index: HV_X64_MSR_SCONTROL, name: "HV_X64_MSR_SCONTROL", access: "rw", gate },
  { index: HV_X64_MSR_SVERSION, name: "HV_X64_MSR_SVERSION", access: "ro", gate },
  { index: HV_X64_MSR_SIEFP, name: "HV_X64_MSR_SIEFP", access: "rw", gate },
  { index: HV_X64_MSR_SIMP, name: "HV_X64_MSR_SIMP", access: "rw", gate },
  { index: HV_X64_MSR_EOM, name: "HV_X64_MSR_EOM", access: "rw", gate },
  ...Array.from({ length: HV_SYNIC_SINT_COUNT }, (_, n) => ({ index: hvMsrSint(n), name: `HV_X64_MSR_SINT${n}`, access: "rw" as const, gate })),
];

/**
 * Per-VP SynIC state, every field as the guest wrote it (u64):
 * - `scontrol`: SCONTROL, bit 0 enable; 1 at power-on (KVM sets it when SynIC is activated);
 * - `siefp`/`simp`: event flags / message page, bit 0 enable, bits 63:12 GPA page number; 0;
 * - `sint[n]`: SINTn, [7:0] vector, bit 16 masked, bit 17 auto-EOI, bit 18 polling; 0x10000 (masked).
 * SVERSION is a constant (1) and EOM reads 0, so neither is stored.
 */
export const synicVpState = defineState({
  version: 1,
  fields: {
    scontrol: { type: "u64", reset: 1, doc: "HV_X64_MSR_SCONTROL: bit 0 enable" },
    siefp: { type: "u64", doc: "HV_X64_MSR_SIEFP: bit 0 enable, bits 63:12 GPA page number" },
    simp: { type: "u64", doc: "HV_X64_MSR_SIMP: bit 0 enable, bits 63:12 GPA page number" },
    sint: { type: "u64", count: HV_SYNIC_SINT_COUNT, reset: SINT_MASKED, doc: "HV_X64_MSR_SINTn: [7:0] vector, bit 16 masked, bit 17 auto-EOI" },
  },
});

/**
 * `hv-synic`: the synthetic interrupt controller. 0x40000003.EAX[2] AccessSynicRegs, and (as QEMU
 * without x-hv-synic-kvm-only) 0x40000003.EBX[4] PostMessages and EBX[5] SignalEvents. Requires
 * `vpindex`.
 *
 * MSRs (gate AccessSynicRegs; every access without it -> #GP):
 * - HV_X64_MSR_SCONTROL 0x40000080 rw, any value accepted;
 * - HV_X64_MSR_SVERSION 0x40000081 ro, reads 1; WRMSR -> #GP;
 * - HV_X64_MSR_SIEFP 0x40000082 / HV_X64_MSR_SIMP 0x40000083 rw, bit 0 enable, 63:12 GPA (enabling
 *   a GPA outside guest RAM -> #GP; not zeroed on enable, as KVM's SynIC2);
 * - HV_X64_MSR_EOM 0x40000084 rw, reads 0; any write redelivers pending messages on every SINT;
 * - HV_X64_MSR_SINT0..15 0x40000090..0x4000009F rw: an unmasked vector < 16 -> #GP (masked values
 *   such as 0x10000 are accepted).
 * Hypercalls: HvCallPostMessage 0x005C (simple, slow only, 256-byte input, gate PostMessages:
 * payload_size > 240 -> HV_STATUS_INVALID_HYPERCALL_INPUT, unknown connection ->
 * HV_STATUS_INVALID_CONNECTION_ID, slot busy -> HV_STATUS_INSUFFICIENT_BUFFERS) and
 * HvCallSignalEvent 0x005D (simple, fast allowed, 8-byte input, gate SignalEvents: flag number
 * != 0 -> HV_STATUS_INVALID_PORT_ID, unknown connection -> HV_STATUS_INVALID_CONNECTION_ID).
 * Source: TLFS §11 Synthetic Interrupt Controller (§11.8 MSRs, §11.10 hypercalls); KVM
 * `synic_set_msr`; QEMU `hw/hyperv/hyperv.c` hyperv_hcall_post_message / hyperv_hcall_signal_event.
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
  state: { vp: synicVpState },
  emulator: { supported: true },
  passthrough: { capabilities: ["KVM_CAP_HYPERV_SYNIC2"], enableCapabilities: ["KVM_CAP_HYPERV_SYNIC2"] },
  formats: {
    qemu: { property: "hv-synic" },
    libvirt: { hyperv: "synic" },
    kubevirt: { hyperv: "synic" },
  },
  docs: {
    description: "The synthetic interrupt controller (0x40000003.EAX[2], EBX[4,5]): per-VP SIMP message and SIEFP event-flag pages, 16 synthetic interrupt sources, and the PostMessage/SignalEvent hypercalls.",
    guestGains: "The transport for synthetic timers (stimer) and VMBus devices: messages and events delivered as interrupts without emulated hardware.",
    windows: "Windows 7 / 2008 R2 and later (Proxmox from machine 2.12 for win7+; virt-install and Nova always). Linux uses it only through hv_vmbus.",
    sources: [
      "TLFS §11 Synthetic Interrupt Controller (SynIC): §11.8 MSRs, §11.10 HvPostMessage/HvSignalEvent",
      "QEMU hv-synic (HYPERV_FEAT_SYNIC, requires hv-vpindex; KVM_CAP_HYPERV_SYNIC2)",
      "KVM arch/x86/kvm/hyperv.c synic_set_msr; QEMU hw/hyperv/hyperv.c",
    ],
  },
});
