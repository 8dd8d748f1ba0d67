/**
 * `--format json`: a stable, versioned document described by the Effect Schema
 * {@link CompositionDocument}. Consumers should check `schemaVersion`; fields are only ever added
 * within a version.
 * @module
 */
import { Schema } from "effect";
import { type Composition, HvVersion } from "@hv/compose";
import { qemuProperty } from "./util.ts";

const U32 = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 0xffffffff }));

/** A parameter value as composed: numbers, strings and booleans stay themselves. */
export const ParamValue = Schema.Union([Schema.String, Schema.Number, Schema.Boolean]);

/** One composed enlightenment: name, one-line summary, why it is in the set, resolved parameters, its QEMU property. */
export const EnlightenmentEntry = Schema.Struct({
  name: Schema.String,
  summary: Schema.String,
  reason: Schema.String,
  params: Schema.Record(Schema.String, ParamValue),
  qemu: Schema.String,
});

/** One CPUID leaf; every register a 32-bit unsigned number. */
export const CpuidEntry = Schema.Struct({
  function: U32,
  index: U32,
  eax: U32,
  ebx: U32,
  ecx: U32,
  edx: U32,
});

/** An MSR the composition serves and who owns it (`base` or a plugin name). */
export const MsrEntry = Schema.Struct({ index: U32, name: Schema.String, owner: Schema.String });

/** A hypercall the composition serves and who owns it. */
export const HypercallEntry = Schema.Struct({ code: U32, name: Schema.String, owner: Schema.String });

/**
 * The JSON document, `schemaVersion` 1: enlightenments in composition order, the CPUID leaves in
 * (function, index) order, the reported version, MSRs by index, hypercalls by code.
 */
export const CompositionDocument = Schema.Struct({
  schemaVersion: Schema.Literal(1),
  enlightenments: Schema.Array(EnlightenmentEntry),
  cpuid: Schema.Array(CpuidEntry),
  version: HvVersion,
  msrs: Schema.Array(MsrEntry),
  hypercalls: Schema.Array(HypercallEntry),
});
/** See {@link CompositionDocument}. */
export type CompositionDocument = typeof CompositionDocument.Type;

const paramValue = (v: unknown): string | number | boolean =>
  typeof v === "string" || typeof v === "number" || typeof v === "boolean" ? v : String(v);

/** The document for `c` (plain data, not yet encoded). */
export const compositionDocument = (c: Composition): CompositionDocument => ({
  schemaVersion: 1,
  enlightenments: c.enlightenments.map((e) => ({
    name: e.name,
    summary: e.plugin.summary,
    reason: e.reason,
    params: Object.fromEntries(Object.entries(e.params).map(([k, v]) => [k, paramValue(v)])),
    qemu: qemuProperty(e.plugin, e.params),
  })),
  cpuid: c.cpuid.map((l) => ({ function: l.function, index: l.index, eax: l.eax, ebx: l.ebx, ecx: l.ecx, edx: l.edx })),
  version: { ...c.version },
  msrs: [...c.msrs.entries()].sort(([a], [b]) => a - b).map(([index, m]) => ({
    index,
    name: m.claim.name,
    owner: m.owner,
  })),
  hypercalls: [...c.hypercalls.entries()].sort(([a], [b]) => a - b).map(([code, h]) => ({
    code,
    name: h.claim.name,
    owner: h.owner,
  })),
});

/** Encodes the document with {@link CompositionDocument} and pretty-prints it, newline-terminated. */
export const renderJson = (c: Composition): string =>
  JSON.stringify(Schema.encodeSync(CompositionDocument)(compositionDocument(c)), null, 2) + "\n";
