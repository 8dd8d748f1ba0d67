/**
 * The ioctl sequence that gives a VM KVM's in-kernel Hyper-V, following a {@link PassthroughPlan}:
 *
 * ```
 * KVM_CREATE_VM; KVM_CREATE_IRQCHIP; KVM_GET_SUPPORTED_CPUID
 * for each vCPU i:
 *   KVM_CREATE_VCPU i
 *   KVM_ENABLE_CAP KVM_CAP_HYPERV_SYNIC2             (synic composed)
 *   KVM_ENABLE_CAP KVM_CAP_HYPERV_ENLIGHTENED_VMCS   (evmcs composed; version range checked)
 *   KVM_ENABLE_CAP KVM_CAP_HYPERV_ENFORCE_CPUID 1
 *   KVM_SET_CPUID2 (KVM's CPUID minus 0x40000000-0x4FFFFFFF, plus the composed Hyper-V leaves)
 *   KVM_SET_MSRS   VP_INDEX = i (and CRASH_CTL = CrashNotify with crash composed)
 * with synic composed, once every vCPU's SynIC is active (`sint_routes.ts`):
 *   eventfd x17 per VP; KVM_SET_GSI_ROUTING (default irqchip + HV_SINT routes);
 *   KVM_IRQFD per VP per SINT (resamplefd = the VP's ack eventfd)
 * ```
 *
 * This is QEMU's order (`kvm_arch_init_vcpu` -> `hyperv_init_vcpu`: SynIC2, eVMCS, enforce-cpuid,
 * then KVM_SET_CPUID2; VP_INDEX and CRASH_CTL from `kvm_put_msrs` at full-state level). The guest's
 * CPUID is `@hv/machine`'s `guestCpuid`, the same table the emulator's vCPUs get.
 * @module
 */
import { HV_CRASH_CTL_CRASH_NOTIFY, HV_X64_MSR_CRASH_CTL, HV_X64_MSR_VP_INDEX } from "@hv/tlfs";
import { guestCpuid } from "@hv/machine";
import type { CpuidLeaf } from "@hv/x86";
import type { KvmService, MsrEntry, VcpuRef, VmRef } from "./kvm_service.ts";
import { PassthroughSetupError } from "./errors.ts";
import type { PassthroughPlan } from "./preflight.ts";
import { SintRouteTable } from "./sint_routes.ts";

export { PassthroughSetupError } from "./errors.ts";

/** The MSRs KVM_SET_MSRS writes (host-initiated) for vCPU `index` under `plan`: VP_INDEX, and CRASH_CTL when crash is composed. */
export function vcpuMsrs(plan: PassthroughPlan, index: number): MsrEntry[] {
  const msrs: MsrEntry[] = [{ index: HV_X64_MSR_VP_INDEX, value: BigInt(index) }];
  // KVM reads CRASH_CTL back as whatever the host set (kvm_hv_msr_set_crash_ctl keeps bit 63 only):
  // without this write Windows sees no CrashNotify capability and never reports (QEMU kvm_put_msrs).
  if (plan.crash) msrs.push({ index: HV_X64_MSR_CRASH_CTL, value: HV_CRASH_CTL_CRASH_NOTIFY });
  return msrs;
}

/** Whether eVMCS version range `supported` (low byte lowest, high byte highest; 0 none) contains every version of `wanted` (QEMU `evmcs_version_supported`). */
export const evmcsVersionSupported = (wanted: number, supported: number): boolean =>
  supported !== 0 && (supported & 0xff) <= (wanted & 0xff) && (wanted >>> 8) <= (supported >>> 8);

/**
 * Configures vCPU `vcpu` (already created with id `index`) as the plan says: the per-vCPU
 * KVM_ENABLE_CAPs in `plan.vcpuCapabilities` order (KVM_CAP_HYPERV_ENFORCE_CPUID with args[0] = 1;
 * KVM_CAP_HYPERV_ENLIGHTENED_VMCS through `enableEnlightenedVmcs`, whose answer must contain the
 * composed version range, api.rst §7.17), KVM_SET_CPUID2 with `guestCpuid(supportedCpuid,
 * composition.cpuid, index)`, then KVM_SET_MSRS ({@link vcpuMsrs}). VP index = vCPU index = APIC id.
 * Throws KvmIoctlError when KVM refuses an ioctl, {@link PassthroughSetupError} when the eVMCS
 * version range does not fit.
 */
export function configureVcpu(
  service: KvmService,
  plan: PassthroughPlan,
  vcpu: VcpuRef,
  index: number,
  supportedCpuid: readonly CpuidLeaf[],
): void {
  for (const cap of plan.vcpuCapabilities) {
    if (cap === "KVM_CAP_HYPERV_ENLIGHTENED_VMCS") {
      const supported = service.enableEnlightenedVmcs(vcpu);
      if (!evmcsVersionSupported(plan.evmcsVersion, supported)) {
        const v = (x: number) => `${x & 0xff}..${x >>> 8}`;
        throw new PassthroughSetupError({
          vcpu: index,
          step: "KVM_ENABLE_CAP KVM_CAP_HYPERV_ENLIGHTENED_VMCS",
          message: `vCPU ${index}: Hyper-V enlightened VMCS versions ${v(plan.evmcsVersion)} are unsupported, KVM supports ${supported === 0 ? "none" : v(supported)}; remove evmcs (--without evmcs)`,
        });
      }
    } else if (cap === "KVM_CAP_HYPERV_ENFORCE_CPUID") {
      service.enableVcpuCap(vcpu, cap, [1]);
    } else {
      service.enableVcpuCap(vcpu, cap);
    }
  }
  service.setCpuid2(vcpu, guestCpuid(supportedCpuid, plan.composition.cpuid, index));
  service.setMsrs(vcpu, vcpuMsrs(plan, index));
}

/**
 * The VM {@link setupPassthroughVm} built: its ref, the vCPUs (index = VP index), and with synic
 * composed the SINT route table (owned by the caller: `routes.close()`, or `service.close()`).
 */
export interface PassthroughVm {
  readonly vm: VmRef;
  readonly vcpus: readonly VcpuRef[];
  readonly routes?: SintRouteTable;
}

/**
 * Creates the VM and `vcpuCount` vCPUs, configures each, then (synic composed) the SINT routes
 * (the sequence in the module doc). Guest RAM, the PIT, boot registers and the run loop are the
 * machine's (see `run.ts`); this is the part that differs from the emulator. On failure the VM is
 * left to `service.close()`; a route failure is a {@link PassthroughSetupError} naming the ioctl.
 */
export function setupPassthroughVm(service: KvmService, plan: PassthroughPlan, vcpuCount: number): PassthroughVm {
  if (!Number.isInteger(vcpuCount) || vcpuCount < 1) throw new RangeError(`vCPU count must be a positive integer, got ${vcpuCount}`);
  const vm = service.createVm();
  service.createIrqchip(vm);
  const supported = service.supportedCpuid();
  const vcpus: VcpuRef[] = [];
  for (let i = 0; i < vcpuCount; i++) {
    const v = service.createVcpu(vm, i);
    configureVcpu(service, plan, v, i, supported);
    vcpus.push(v);
  }
  if (!plan.sintRoutes) return { vm, vcpus };
  const routes = SintRouteTable.create(service, vm, vcpuCount, plan.maxRoutes > 0 ? { maxRoutes: plan.maxRoutes } : {});
  return { vm, vcpus, routes };
}
