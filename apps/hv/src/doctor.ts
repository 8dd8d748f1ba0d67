/**
 * `hv doctor [--json]`: a true report of this host (KVM API version, the capabilities that matter,
 * `KVM_GET_SUPPORTED_HV_CPUID`, invariant TSC, TSC rate) and, for each enlightenment, whether the
 * emulator and the passthrough backend can serve it here, with the reason when not.
 * @module
 */
import { Effect } from "effect";
import { builtins } from "@hv/builtins";
import { encodeHostReport, type HostReport } from "@hv/host";
import { UsageError } from "./usage.ts";

/** The capabilities `hv doctor` lists (the issue's list), in this order. */
export const DOCTOR_CAPS = [
  "KVM_CAP_HYPERV",
  "KVM_CAP_HYPERV_SYNIC2",
  "KVM_CAP_HYPERV_TIME",
  "KVM_CAP_HYPERV_VP_INDEX",
  "KVM_CAP_HYPERV_TLBFLUSH",
  "KVM_CAP_HYPERV_SEND_IPI",
  "KVM_CAP_HYPERV_ENFORCE_CPUID",
  "KVM_CAP_HYPERV_ENLIGHTENED_VMCS",
  "KVM_CAP_SYS_HYPERV_CPUID",
  "KVM_CAP_X86_USER_SPACE_MSR",
  "KVM_CAP_X86_MSR_FILTER",
  "KVM_CAP_IRQCHIP",
  "KVM_CAP_SPLIT_IRQCHIP",
  "KVM_CAP_GET_TSC_KHZ",
  "KVM_CAP_TSC_CONTROL",
] as const;

const yes = (v: { ok: boolean; reason?: string }) => (v.ok ? "yes" : `no: ${v.reason}`);

/** The human report. */
export function renderDoctor(r: HostReport): string {
  const lines: string[] = [];
  lines.push(`host: ${r.host.hostname ?? "?"}, Linux ${r.host.kernel ?? "?"}`);
  if (!r.kvm.available) lines.push(`KVM: unavailable: ${r.kvm.reason}`);
  else {
    lines.push(`KVM: API version ${r.kvm.apiVersion}`);
    for (const c of DOCTOR_CAPS) lines.push(`  ${c.padEnd(34)} ${r.kvm.caps[c] ?? 0}`);
    lines.push(`  KVM_GET_SUPPORTED_HV_CPUID         ${r.supportedHvCpuid ? `${r.supportedHvCpuid.length} leaves` : "unavailable"}`);
    lines.push(`  invariant TSC                      ${r.invariantTsc ? "yes" : "no"}`);
    lines.push(`  TSC                                ${r.tscKhz !== undefined ? `${r.tscKhz} kHz` : "unknown"}`);
  }
  lines.push("", `emulator backend:    ${yes(r.backends.emulator)}`, `passthrough backend: ${yes(r.backends.passthrough)}`, "");
  const w = Math.max(12, ...r.enlightenments.map((e) => e.name.length));
  lines.push(`${"ENLIGHTENMENT".padEnd(w)}  EMULATOR  PASSTHROUGH`);
  for (const e of r.enlightenments) {
    lines.push(`${e.name.padEnd(w)}  ${(e.emulator.ok ? "yes" : "no").padEnd(8)}  ${e.passthrough.ok ? "yes" : "no"}`);
  }
  const why = r.enlightenments.flatMap((e) => [
    ...(!e.emulator.ok && e.emulator.reason !== r.backends.emulator.reason ? [`  ${e.name} (emulator): ${e.emulator.reason}`] : []),
    ...(!e.passthrough.ok && e.passthrough.reason !== r.backends.passthrough.reason ? [`  ${e.name} (passthrough): ${e.passthrough.reason}`] : []),
  ]);
  if (why.length) lines.push("", "why not:", ...why);
  return lines.join("\n");
}

// Kept out of tsc's sight (the Node build): probing needs KVM through Deno FFI.
const PROBE = "@hv/host/probe";

/** Probes this host and renders the report (`json`: the Schema'd document). */
export const doctorText = (json: boolean): Effect.Effect<string, UsageError> =>
  Effect.gen(function* () {
    // deno-lint-ignore no-explicit-any
    if (typeof (globalThis as any).Deno?.dlopen !== "function") {
      return yield* Effect.fail(new UsageError({ message: "hv doctor needs Deno (KVM through FFI): run it as 'npx hv doctor'" }));
    }
    const { probeHost } = yield* Effect.promise(() => import(PROBE) as Promise<{ probeHost: (r: typeof builtins) => HostReport }>);
    const report = probeHost(builtins);
    return json ? encodeHostReport(report) : renderDoctor(report);
  });
