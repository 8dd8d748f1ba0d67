/**
 * A printable snapshot of a vCPU's registers for failure reports (edge code: allocates).
 * @module
 */
import type { Vcpu } from "@hv/kvm";

const NAMES = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags"];
const hex = (hi: number, lo: number) => `0x${hi.toString(16).padStart(8, "0")}${lo.toString(16).padStart(8, "0")}`;

/** General-purpose registers, RIP, RFLAGS, CR0/CR3/CR4/EFER and CS, as 64-bit hex strings. Never throws. */
export function registerSnapshot(vcpu: Vcpu): Record<string, string> {
  const out: Record<string, string> = {};
  try {
    const w = vcpu.getRegs().words;
    NAMES.forEach((n, i) => (out[n] = hex(w[2 * i + 1], w[2 * i])));
    const s = vcpu.getSregs();
    out.cr0 = `0x${s.cr0.toString(16)}`;
    out.cr2 = `0x${s.cr2.toString(16)}`;
    out.cr3 = `0x${s.cr3.toString(16)}`;
    out.cr4 = `0x${s.cr4.toString(16)}`;
    out.efer = `0x${s.efer.toString(16)}`;
    out.cs = `selector 0x${s.segment(0).selector.toString(16)} ${s.longMode ? "64-bit" : "legacy"} cpl ${s.cpl}`;
  } catch (e) {
    out.error = `registers unavailable: ${e instanceof Error ? e.message : String(e)}`;
  }
  return out;
}
