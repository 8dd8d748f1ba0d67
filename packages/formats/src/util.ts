/**
 * Small helpers shared by the renderers: hex spelling, CPUID bit descriptions, column layout,
 * parameter spelling, and comment syntax per output format.
 * @module
 */
import type { CpuidBit } from "@hv/tlfs";
import { type AnyPlugin, type CpuidContribution, cpuidOf } from "@hv/x86";
import { type HvVersion, QEMU_DEFAULT_VERSION } from "@hv/compose";

/** `0x%08x`. */
export const hex8 = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, "0")}`;

/** `0x%x`. */
export const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;

/** A CPUID bit as `0x40000003.EAX[3] AccessSyntheticTimerRegs`. */
export const describeBit = (b: CpuidBit): string => `${hex8(b.leaf)}.${b.register.toUpperCase()}[${b.bit}] ${b.name}`;

/**
 * Every CPUID effect of a contribution, one line each: bits set, whole registers
 * (`0x40000004.EBX = 0x00001fff`, `|=` for OR), extra leaves (`+ leaf 0x40000080`), bits cleared (`- ...`).
 */
export const describeContribution = (c: CpuidContribution): string[] => [
  ...(c.set ?? []).map(describeBit),
  ...(c.registers ?? []).map((r) =>
    `${hex8(r.leaf)}.${r.register.toUpperCase()} ${r.mode === "or" ? "|=" : "="} ${hex8(r.value)}`
  ),
  ...(c.leaves ?? []).map((l) => `+ leaf ${hex8(l.function)}`),
  ...(c.clear ?? []).map((b) => `- ${describeBit(b)} (cleared)`),
];

/** The plugin's parameters at their defaults. */
export const defaultParams = (plugin: AnyPlugin): Record<string, unknown> =>
  Object.fromEntries(Object.entries(plugin.params ?? {}).map(([k, spec]) => [k, spec.default]));

/** The CPUID lines of `plugin` with `params` (defaults when omitted). */
export const cpuidLines = (
  plugin: AnyPlugin,
  params: Readonly<Record<string, unknown>> = defaultParams(plugin),
): string[] => describeContribution(cpuidOf(plugin, params as Record<string, unknown>));

/** A parameter value spelled as on the command line: the spec's `format`, else `String(value)`. */
export const formatParam = (plugin: AnyPlugin, key: string, value: unknown): string => {
  const spec = plugin.params?.[key];
  return spec?.format ? spec.format(value) : String(value);
};

/** `retries=0x1fff, ...` for the resolved parameters, or "" for none. */
export const paramsText = (plugin: AnyPlugin, params: Readonly<Record<string, unknown>>): string =>
  Object.entries(params).map(([k, v]) => `${k}=${formatParam(plugin, k, v)}`).join(", ");

/**
 * The QEMU `-cpu` property for the plugin: `hv-relaxed` or `hv-spinlocks=0x1fff`. A comma in a
 * value is doubled, as QEMU's option syntax requires (`hv-vendor-id=a,,b`).
 */
export const qemuProperty = (plugin: AnyPlugin, params: Readonly<Record<string, unknown>>): string => {
  const q = plugin.formats.qemu;
  return q.value ? `${q.property}=${q.value(params).replace(/,/g, ",,")}` : q.property;
};

/** True when `v` equals QEMU's default hypervisor version (10.0.14393). */
export const isDefaultVersion = (v: HvVersion): boolean =>
  (Object.keys(QEMU_DEFAULT_VERSION) as (keyof HvVersion)[]).every((k) => v[k] === QEMU_DEFAULT_VERSION[k]);

/** `10.0.14393`, with `SP n` and `branch.number` when set. */
export const versionText = (v: HvVersion): string =>
  `${v.major}.${v.minor}.${v.build}` + (v.servicePack ? ` SP${v.servicePack}` : "") +
  (v.serviceBranch || v.serviceNumber ? ` (service ${v.serviceBranch}.${v.serviceNumber})` : "");

/**
 * Lays out rows as left-aligned columns separated by two spaces, trailing spaces trimmed. A cell
 * may hold several lines (the row then spans that many lines).
 */
export const columns = (rows: readonly (readonly (string | readonly string[])[])[]): string => {
  const cells = rows.map((r) => r.map((c) => (typeof c === "string" ? [c] : c.length === 0 ? [""] : [...c])));
  const n = Math.max(0, ...cells.map((r) => r.length));
  const widths = Array.from(
    { length: n },
    (_, i) => Math.max(0, ...cells.map((r) => Math.max(...(r[i] ?? [""]).map((s) => s.length)))),
  );
  const out: string[] = [];
  for (const r of cells) {
    const height = Math.max(...r.map((c) => c.length));
    for (let line = 0; line < height; line++) {
      out.push(r.map((c, i) => (c[line] ?? "").padEnd(i === r.length - 1 ? 0 : widths[i])).join("  ").trimEnd());
    }
  }
  return out.join("\n");
};

/** The output formats `hv compose --format` offers. */
export const FORMATS = ["table", "qemu", "libvirt", "kubevirt", "json", "cpuid"] as const;
/** See {@link FORMATS}. */
export type Format = (typeof FORMATS)[number];

/**
 * `lines` as comments in `format`'s syntax: `<!-- -->` for libvirt, `#` for qemu (shell), kubevirt
 * (YAML), cpuid and table. JSON has no comments: returns "" (the document carries `reason` already).
 */
export const commentLines = (format: Format, lines: readonly string[]): string => {
  if (lines.length === 0 || format === "json") return "";
  if (format === "libvirt") return lines.map((l) => `<!-- ${xmlCommentText(l)} -->`).join("\n");
  return lines.map((l) => `# ${l}`).join("\n");
};

/** Text safe inside an XML comment (no `--`, no trailing `-`). */
export const xmlCommentText = (s: string): string => s.replace(/--/g, "- -").replace(/-$/, "- ");

/** Escapes a string for a single-quoted XML attribute. */
export const xmlAttr = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/'/g, "&apos;").replace(/"/g, "&quot;");
