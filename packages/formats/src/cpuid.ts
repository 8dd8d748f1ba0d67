/**
 * `--format cpuid`: the exact Hyper-V CPUID leaves of a composition as a fixed-width table, every
 * value as `0x%08x`.
 * @module
 */
import type { Composition } from "@hv/compose";
import type { CpuidLeaf } from "@hv/x86";
import { hex8 } from "./util.ts";

const HEADER = ["function", "index", "eax", "ebx", "ecx", "edx"] as const;

/** The leaves as rows `function  index  eax  ebx  ecx  edx` (each column 10 wide, two spaces apart). */
export const renderCpuidLeaves = (leaves: readonly CpuidLeaf[]): string =>
  [
    HEADER.map((h) => h.padEnd(10)).join("  ").trimEnd(),
    ...leaves.map((l) => [l.function, l.index, l.eax, l.ebx, l.ecx, l.edx].map(hex8).join("  ")),
  ].join("\n") + "\n";

/** Renders `c.cpuid` (see {@link renderCpuidLeaves}). */
export const renderCpuid = (c: Composition): string => renderCpuidLeaves(c.cpuid);
