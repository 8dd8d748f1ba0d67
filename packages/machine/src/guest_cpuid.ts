/**
 * The CPUID table a vCPU gets: KVM's supported leaves (`KVM_GET_SUPPORTED_CPUID`), with every leaf
 * in the hypervisor range 0x40000000..0x4FFFFFFF removed (KVM's own "KVMKVMKVM" signature would
 * make Linux pick KVM over Hyper-V: `detect_hypervisor_vendor()` keeps the highest base), the
 * hypervisor-present bit CPUID.1:ECX[31] set, the vCPU's APIC id patched in, and the composed
 * Hyper-V leaves added. Edge code (once per vCPU).
 * @module
 */
import { CPUID_1_ECX_HYPERVISOR } from "@hv/tlfs";
import { type CpuidLeaf, CpuidTable } from "@hv/x86";

/** First and last CPUID function of the range reserved for hypervisors (Intel SDM: 0x40000000-0x4FFFFFFF). */
export const HYPERVISOR_CPUID_FIRST = 0x40000000;
/** See {@link HYPERVISOR_CPUID_FIRST}. */
export const HYPERVISOR_CPUID_LAST = 0x4fffffff;

/**
 * Builds vCPU `apicId`'s CPUID: `supported` from KVM minus the hypervisor range, plus `hyperv`
 * (the composition's leaves). CPUID.1.EBX[31:24] = initial APIC id; leaves 0xB and 0x1F (every
 * subleaf) report the x2APIC id in EDX. `hyperv` may be empty (no Hyper-V interface at all).
 */
export function guestCpuid(supported: readonly CpuidLeaf[], hyperv: readonly CpuidLeaf[], apicId: number): CpuidLeaf[] {
  const t = new CpuidTable(supported.filter((l) => l.function < HYPERVISOR_CPUID_FIRST || l.function > HYPERVISOR_CPUID_LAST));
  if (hyperv.length > 0) t.setBit(CPUID_1_ECX_HYPERVISOR);
  else t.clearBit(CPUID_1_ECX_HYPERVISOR);
  const l1 = t.get(1);
  t.setRegister(1, "ebx", ((l1.ebx & 0x00ffffff) | ((apicId & 0xff) << 24)) >>> 0);
  const out = t.leaves().map((l) => (l.function === 0xb || l.function === 0x1f ? { ...l, edx: apicId >>> 0 } : l));
  return [...out, ...hyperv].sort((a, b) => a.function - b.function || a.index - b.index);
}
