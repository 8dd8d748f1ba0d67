/**
 * `--format kubevirt`: a KubeVirt VirtualMachine fragment, `spec.template.spec.domain` with
 * `features.hyperv` (`relaxed: {}`, `spinlocks: {spinlocks: 8191}`, `synictimer: {direct: {}}`,
 * `vendorid: {vendorid: "..."}`) and `clock.timer.hyperv: {}`; what KubeVirt cannot express becomes
 * a YAML comment. Hand-written YAML: mappings, scalars and `{}` only.
 * @module
 */
import type { Composition } from "@hv/compose";
import type { AnyPlugin } from "@hv/x86";
import { isDefaultVersion, qemuProperty, versionText } from "./util.ts";

/** A YAML mapping node: ordered entries, plus comments emitted after the entries. */
interface YamlMap {
  readonly entries: Map<string, YamlValue>;
  readonly comments: string[];
}
type YamlValue = YamlMap | string | number | boolean;

const map = (): YamlMap => ({ entries: new Map(), comments: [] });
const isMap = (v: YamlValue): v is YamlMap => typeof v === "object";

const child = (m: YamlMap, key: string): YamlMap => {
  const cur = m.entries.get(key);
  if (cur !== undefined && isMap(cur)) return cur;
  const next = map();
  m.entries.set(key, next);
  return next;
};

const toYaml = (v: unknown): YamlValue => {
  if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") return v;
  if (typeof v === "bigint") return Number(v);
  if (v !== null && typeof v === "object") {
    const m = map();
    for (const [k, x] of Object.entries(v)) m.entries.set(k, toYaml(x));
    return m;
  }
  return String(v);
};

const merge = (into: YamlMap, values: Readonly<Record<string, unknown>>) => {
  for (const [k, v] of Object.entries(values)) into.entries.set(k, toYaml(v));
};

const key = (k: string) => (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(k) ? k : JSON.stringify(k));
const scalar = (v: string | number | boolean) => (typeof v === "string" ? JSON.stringify(v) : String(v));

const emit = (m: YamlMap, indent: number, out: string[]) => {
  const pad = "  ".repeat(indent);
  for (const [k, v] of m.entries) {
    if (!isMap(v)) out.push(`${pad}${key(k)}: ${scalar(v)}`);
    else if (v.entries.size === 0 && v.comments.length === 0) out.push(`${pad}${key(k)}: {}`);
    else {
      out.push(`${pad}${key(k)}:`);
      emit(v, indent + 1, out);
    }
  }
  for (const c of m.comments) out.push(`${pad}# ${c}`);
};

/** How KubeVirt spells the plugin on its own (for `hv explain`). */
export const kubevirtSpelling = (plugin: AnyPlugin, params: Readonly<Record<string, unknown>>): string => {
  const k = plugin.formats.kubevirt;
  if ("unsupported" in k) return `none (${k.unsupported})`;
  if ("clockTimer" in k) return `spec.domain.clock.timer.${k.clockTimer}: {}`;
  const value = k.value
    ? JSON.stringify(k.value(params)).replace(/"([A-Za-z_][A-Za-z0-9_]*)":/g, "$1: ").replace(/,/g, ", ")
    : "{}";
  return k.child
    ? `spec.domain.features.hyperv.${k.hyperv}: {${k.child}: ${value}}`
    : `spec.domain.features.hyperv.${k.hyperv}: ${value}`;
};

/** The YAML document, newline-terminated. */
export const renderKubevirt = (c: Composition): string => {
  const root = map();
  const domain = child(child(child(child(root, "spec"), "template"), "spec"), "domain");
  const hyperv = map();
  const timers = map();
  // Parents present on their own vs. keys only created for a child (KubeVirt, like libvirt, enables
  // the child only under an enabled parent).
  const parents = new Set<string>();
  const childOwners = new Map<string, string[]>();
  for (const e of c.enlightenments) {
    const k = e.plugin.formats.kubevirt;
    if ("unsupported" in k) {
      hyperv.comments.push(
        `${e.name} (${qemuProperty(e.plugin, e.params)}) is not supported by KubeVirt: ${k.unsupported}`,
      );
      continue;
    }
    if ("clockTimer" in k) {
      timers.entries.set(k.clockTimer, map());
      continue;
    }
    const node = child(hyperv, k.hyperv);
    if (k.child) {
      const ch = child(node, k.child);
      if (k.value) merge(ch, k.value(e.params));
      childOwners.set(k.hyperv, [...(childOwners.get(k.hyperv) ?? []), `${e.name}:${k.child}`]);
    } else {
      parents.add(k.hyperv);
      if (k.value) merge(node, k.value(e.params));
    }
  }
  for (const [parent, owners] of childOwners) {
    if (parents.has(parent)) continue;
    hyperv.entries.delete(parent);
    for (const o of owners) {
      const [name, ch] = o.split(":");
      hyperv.comments.push(
        `${name} cannot be expressed alone: KubeVirt spells it ${parent}: {${ch}: {}}, which also enables ${parent}`,
      );
    }
  }
  if (!isDefaultVersion(c.version)) {
    hyperv.comments.push(`hypervisor version ${versionText(c.version)}: KubeVirt has no field for it`);
  }
  if (timers.entries.size > 0) child(domain, "clock").entries.set("timer", timers);
  if (hyperv.entries.size > 0 || hyperv.comments.length > 0) child(domain, "features").entries.set("hyperv", hyperv);
  const out: string[] = [];
  emit(root, 0, out);
  return out.join("\n") + "\n";
};
