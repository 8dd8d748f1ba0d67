/**
 * Per-enlightenment verdicts for each backend, from a host's capabilities (pure; the same function
 * serves `hv doctor` on this host and `hv compose --host` on a report from another host).
 * @module
 */
import { type CpuidBit, HV_CPUID_FEATURES } from "@hv/tlfs";
import { type AnyPlugin, cpuidOf, type CpuidLeaf, CpuidTable } from "@hv/x86";
import type { Verdict } from "./report.ts";

/** KVM capabilities the emulator backend needs: userspace MSR exits for the synthetic MSR range. */
export const EMULATOR_CAPS = ["KVM_CAP_X86_USER_SPACE_MSR", "KVM_CAP_X86_MSR_FILTER"] as const;
/**
 * KVM capabilities the passthrough backend needs at all: in-kernel Hyper-V, KVM_GET_SUPPORTED_HV_CPUID
 * without creating a vCPU (KVM_CAP_SYS_HYPERV_CPUID), and KVM_CAP_HYPERV_ENFORCE_CPUID so the guest
 * gets only what it was shown (what `apps/kvm-passthrough`'s preflight requires).
 */
export const PASSTHROUGH_CAPS = ["KVM_CAP_HYPERV", "KVM_CAP_SYS_HYPERV_CPUID", "KVM_CAP_HYPERV_ENFORCE_CPUID"] as const;

/**
 * Whether hv's emulator has everything it needs to serve `p` (its own behaviour, not its
 * dependencies): CPUID-only plugins (no MSRs, no hypercalls) and plugins with behaviour (`create`),
 * unless the plugin says the emulator can never serve it.
 */
export const emulatorServes = (p: AnyPlugin): boolean =>
  p.emulator.supported && (p.create !== undefined || (p.msrs.length === 0 && p.hypercalls.length === 0));

const missing = (caps: Readonly<Record<string, number>>, names: readonly string[]) => names.filter((n) => !(caps[n] > 0));

/** Whether a backend can run at all on a host with `caps` (and KVM available). */
export function backendVerdicts(kvmAvailable: boolean, kvmReason: string | undefined, caps: Readonly<Record<string, number>>) {
  if (!kvmAvailable) {
    const v = { ok: false, reason: kvmReason ?? "/dev/kvm cannot be opened" };
    return { emulator: v, passthrough: v };
  }
  const e = missing(caps, EMULATOR_CAPS);
  const p = missing(caps, PASSTHROUGH_CAPS);
  return {
    emulator: e.length ? { ok: false, reason: `KVM lacks ${e.join(", ")}` } : { ok: true },
    passthrough: p.length ? { ok: false, reason: `KVM lacks ${p.join(", ")} (a kernel built without CONFIG_KVM_HYPERV)` } : { ok: true },
  };
}

const bitName = (b: CpuidBit) => `0x${b.leaf.toString(16)}.${b.register.toUpperCase()}[${b.bit}] ${b.name}`;

/**
 * Verdicts for one plugin: the emulator (backend usable, plugin servable) and the passthrough backend
 * (backend usable, every `passthrough.capabilities` present, every required bit — `passthrough.hvCpuid`
 * or else the plugin's own CPUID bits — in `KVM_GET_SUPPORTED_HV_CPUID`).
 */
export function pluginVerdicts(
  p: AnyPlugin,
  backends: { readonly emulator: Verdict; readonly passthrough: Verdict },
  caps: Readonly<Record<string, number>>,
  hvCpuid: readonly CpuidLeaf[] | undefined,
): { emulator: Verdict; passthrough: Verdict } {
  const emulator: Verdict = !backends.emulator.ok
    ? backends.emulator
    : !p.emulator.supported
    ? { ok: false, reason: p.emulator.reason }
    : !emulatorServes(p)
    ? { ok: false, reason: "its package has no emulator behaviour yet" }
    : { ok: true };
  let passthrough: Verdict = backends.passthrough;
  if (passthrough.ok) {
    const m = missing(caps, p.passthrough.capabilities);
    if (m.length) passthrough = { ok: false, reason: `KVM lacks ${m.join(", ")}` };
  }
  if (passthrough.ok) {
    const defaults = Object.fromEntries(Object.entries(p.params ?? {}).map(([k, s]) => [k, s.default]));
    const need = p.passthrough.hvCpuid ?? (cpuidOf(p, defaults).set ?? []).filter((b) => b.leaf >= HV_CPUID_FEATURES);
    if (need.length > 0) {
      if (!hvCpuid) passthrough = { ok: false, reason: "KVM_GET_SUPPORTED_HV_CPUID is unavailable (needs KVM_CAP_SYS_HYPERV_CPUID or KVM_CAP_HYPERV_CPUID)" };
      else {
        const t = new CpuidTable(hvCpuid);
        const absent = need.filter((b) => !t.hasBit(b));
        if (absent.length) passthrough = { ok: false, reason: `KVM_GET_SUPPORTED_HV_CPUID lacks ${absent.map(bitName).join(", ")}` };
      }
    }
  }
  return { emulator, passthrough };
}
