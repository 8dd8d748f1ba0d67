/**
 * `--format table`: for people. One row per enlightenment (name, parameters, the CPUID bits it
 * sets, its summary), the base's row, then the Hyper-V CPUID leaves the guest sees.
 * @module
 */
import { BASE_CPUID, type Composition } from "@hv/compose";
import { renderCpuidLeaves } from "./cpuid.ts";
import { columns, cpuidLines, describeContribution, paramsText, versionText } from "./util.ts";

/** Renders the composition as a table followed by its CPUID leaves. */
export const renderTable = (c: Composition): string => {
  const rows: (string | string[])[][] = [["ENLIGHTENMENT", "PARAMETERS", "CPUID", "SUMMARY"]];
  for (const e of c.enlightenments) {
    const bits = cpuidLines(e.plugin, e.params);
    rows.push([e.name, paramsText(e.plugin, e.params), bits.length ? bits : ["-"], e.plugin.summary]);
  }
  rows.push([
    "(base)",
    "",
    describeContribution(BASE_CPUID),
    "Always present: hypercall MSRs, VP index access, dynamic partitioning",
  ]);
  return `${columns(rows)}\n\nHyper-V CPUID leaves (hypervisor version ${versionText(c.version)}):\n${
    renderCpuidLeaves(c.cpuid)
  }`;
};
