/**
 * `hv explain <enlightenment>`: everything a plugin declares, for people: summary, description,
 * what the guest gains, dependencies, parameters, CPUID bits, MSRs (name, index, access, gate),
 * hypercalls, Windows versions, emulator/passthrough support, its QEMU/libvirt/KubeVirt spelling
 * and the sources.
 * @module
 */
import type { AnyPlugin } from "@hv/x86";
import { kubevirtSpelling } from "./kubevirt.ts";
import { libvirtSpelling } from "./libvirt.ts";
import { columns, cpuidLines, defaultParams, describeBit, formatParam, hex, qemuProperty } from "./util.ts";

/** Options: `registry` lets the text list the plugins that require this one. */
export interface ExplainOptions {
  readonly registry?: readonly AnyPlugin[];
}

const LABEL = 13;
const field = (label: string, value: string) => `${`${label}:`.padEnd(LABEL)}${value}`;
const indent = (text: string) => text.split("\n").map((l) => `  ${l}`).join("\n");

/** The explanation text, newline-terminated. */
export const renderExplain = (plugin: AnyPlugin, options: ExplainOptions = {}): string => {
  const params = defaultParams(plugin);
  const out: string[] = [`${plugin.name}: ${plugin.summary}`, "", indent(plugin.docs.description), ""];
  out.push(field("Guest gains", plugin.docs.guestGains));
  out.push(field("Windows", plugin.docs.windows));
  out.push(field("Requires", plugin.requires.length ? plugin.requires.join(", ") : "nothing"));
  if (options.registry) {
    const dependents = options.registry.filter((p) => p.requires.includes(plugin.name)).map((p) => p.name);
    out.push(field("Required by", dependents.length ? dependents.join(", ") : "nothing"));
  }

  const specs = Object.entries(plugin.params ?? {});
  if (specs.length === 0) out.push(field("Parameters", "none"));
  else {
    out.push(
      field(
        "Parameters",
        `--set ${plugin.name}${plugin.primaryParam ? "" : ".<param>"}=<value>${
          plugin.primaryParam ? ` (sets ${plugin.primaryParam})` : ""
        }`,
      ),
    );
    out.push(indent(columns(specs.map(([k, s]) => [k, `default ${formatParam(plugin, k, s.default)}`, s.doc]))));
  }

  const bits = cpuidLines(plugin, params);
  out.push(field("CPUID", bits.length ? bits[0] : "none"));
  for (const b of bits.slice(1)) out.push(`${" ".repeat(LABEL)}${b}`);

  out.push(field("MSRs", plugin.msrs.length ? String(plugin.msrs.length) : "none"));
  if (plugin.msrs.length) {
    out.push(
      indent(
        columns(
          plugin.msrs.map((m) => [m.name, hex(m.index), m.access, m.gate ? `gate ${describeBit(m.gate)}` : "ungated"]),
        ),
      ),
    );
  }
  out.push(field("Hypercalls", plugin.hypercalls.length ? String(plugin.hypercalls.length) : "none"));
  if (plugin.hypercalls.length) {
    out.push(indent(columns(plugin.hypercalls.map((h) => [
      h.name,
      `0x${h.code.toString(16).padStart(4, "0")}`,
      h.kind,
      `fast ${h.fast}`,
      h.gate ? `gate ${describeBit(h.gate)}` : "ungated",
    ]))));
  }

  out.push(field("Emulator", plugin.emulator.supported ? "supported" : `not supported: ${plugin.emulator.reason}`));
  const pt = plugin.passthrough;
  out.push(field(
    "Passthrough",
    [
      pt.capabilities.length ? `needs ${pt.capabilities.join(", ")}` : "needs no KVM capability",
      ...(pt.enableCapabilities?.length ? [`enables ${pt.enableCapabilities.join(", ")} per vCPU`] : []),
    ].join("; "),
  ));

  const cpu = `host,${qemuProperty(plugin, params)}`;
  out.push(field("QEMU", `-cpu ${/^[A-Za-z0-9_,=.:+-]*$/.test(cpu) ? cpu : `'${cpu.replace(/'/g, `'\\''`)}'`}`));
  out.push(field("libvirt", libvirtSpelling(plugin, params)));
  out.push(field("KubeVirt", kubevirtSpelling(plugin, params)));
  out.push("Sources:");
  for (const s of plugin.docs.sources) out.push(`  - ${s}`);
  return out.join("\n") + "\n";
};
