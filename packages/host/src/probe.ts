/**
 * Probes the live host for the {@link HostReport} (Deno only: KVM through FFI). Never throws for an
 * unusable host: a missing /dev/kvm or a refused permission becomes `kvm.available: false` with the
 * reason, and every verdict says so.
 * @module
 */
import { Kvm, KvmUnavailable, probeCapabilities } from "@hv/kvm";
import type { AnyPlugin, CpuidLeaf } from "@hv/x86";
import type { HostReport } from "./report.ts";
import { backendVerdicts, pluginVerdicts } from "./verdicts.ts";

const attempt = (f: () => string): string | undefined => {
  try {
    return f();
  } catch {
    return undefined; // --allow-sys not granted
  }
};

/** Builds the report for this host and the plugins in `registry`. */
export function probeHost(registry: readonly AnyPlugin[]): HostReport {
  const host = { kernel: attempt(() => Deno.osRelease()), hostname: attempt(() => Deno.hostname()) };
  let kvm: Kvm | undefined;
  let reason: string | undefined;
  try {
    kvm = Kvm.open();
  } catch (e) {
    reason = e instanceof KvmUnavailable ? e.message : e instanceof Error ? e.message : String(e);
  }
  let caps: Record<string, number> = {};
  let apiVersion: number | undefined, hv: CpuidLeaf[] | undefined, invariantTsc: boolean | undefined, tscKhz: number | undefined;
  if (kvm) {
    try {
      const c = probeCapabilities(kvm);
      caps = { ...c.caps };
      apiVersion = c.apiVersion;
      hv = kvm.supportedHvCpuid();
      const ext = kvm.supportedCpuid().find((l) => l.function === 0x80000007);
      invariantTsc = ext ? ((ext.edx >>> 8) & 1) === 1 : false;
      const vm = kvm.createVm();
      try {
        tscKhz = vm.getTscKhz();
      } catch {
        tscKhz = undefined;
      } finally {
        vm.close();
      }
    } finally {
      kvm.close();
    }
  }
  const backends = backendVerdicts(kvm !== undefined, reason, caps);
  return {
    schemaVersion: 1,
    host,
    kvm: { available: kvm !== undefined, ...(reason ? { reason } : {}), ...(apiVersion !== undefined ? { apiVersion } : {}), caps },
    ...(hv ? { supportedHvCpuid: hv } : {}),
    ...(invariantTsc !== undefined ? { invariantTsc } : {}),
    ...(tscKhz !== undefined ? { tscKhz } : {}),
    backends,
    enlightenments: registry.map((p) => ({ name: p.name, ...pluginVerdicts(p, backends, caps, hv) })),
  };
}
