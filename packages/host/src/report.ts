/**
 * The host report (`hv doctor --json`): a stable, Schema-defined document of what this host's KVM
 * offers and what each backend can serve here. `hv compose --host report.json` reads it back.
 * @module
 */
import { Schema } from "effect";

/** One CPUID leaf as `{function, index, eax, ebx, ecx, edx}` (unsigned 32-bit registers). */
export const CpuidLeafDocument = Schema.Struct({
  function: Schema.Number,
  index: Schema.Number,
  eax: Schema.Number,
  ebx: Schema.Number,
  ecx: Schema.Number,
  edx: Schema.Number,
});

/** A verdict: whether a backend can serve something here, and why not. */
export const Verdict = Schema.Struct({ ok: Schema.Boolean, reason: Schema.optional(Schema.String) });
/** See {@link Verdict}. */
export type Verdict = typeof Verdict.Type;

/**
 * The host report, schemaVersion 1:
 * - `host`: kernel release and machine name, for people comparing reports;
 * - `kvm`: whether /dev/kvm opened (and why not), the API version, `KVM_CHECK_EXTENSION` of every
 *   capability hv knows (by KVM's name; 0 = absent);
 * - `supportedHvCpuid`: `KVM_GET_SUPPORTED_HV_CPUID`'s leaves, absent where KVM cannot report them;
 * - `invariantTsc`: CPUID.80000007H:EDX[8] as KVM reports it; `tscKhz`: `KVM_GET_TSC_KHZ` of a fresh VM;
 * - `backends`: whether each backend can run at all here;
 * - `enlightenments`: per enlightenment, whether each backend can serve it here and why not.
 */
export const HostReport = Schema.Struct({
  schemaVersion: Schema.Literal(1),
  host: Schema.Struct({ kernel: Schema.optional(Schema.String), hostname: Schema.optional(Schema.String) }),
  kvm: Schema.Struct({
    available: Schema.Boolean,
    reason: Schema.optional(Schema.String),
    apiVersion: Schema.optional(Schema.Number),
    caps: Schema.Record(Schema.String, Schema.Number),
  }),
  supportedHvCpuid: Schema.optional(Schema.Array(CpuidLeafDocument)),
  invariantTsc: Schema.optional(Schema.Boolean),
  tscKhz: Schema.optional(Schema.Number),
  backends: Schema.Struct({ emulator: Verdict, passthrough: Verdict }),
  enlightenments: Schema.Array(Schema.Struct({ name: Schema.String, emulator: Verdict, passthrough: Verdict })),
});
/** See {@link HostReport}. */
export type HostReport = typeof HostReport.Type;

/** Decodes a report from JSON text (e.g. a `--host` file); fails with the Schema's message. */
export const decodeHostReport = Schema.decodeUnknownExit(Schema.fromJsonString(HostReport));
/** Encodes a report as pretty JSON. */
export const encodeHostReport = (r: HostReport): string => JSON.stringify(Schema.encodeSync(HostReport)(r), null, 2) + "\n";
