/**
 * `@hv/formats`: renders an `@hv/compose` composition. One pure module per output format, each a
 * `render<X>(composition): string`: `table` (people), `qemu` (`-cpu` value), `libvirt` (domain XML
 * fragments, schema-valid), `kubevirt` (VirtualMachine YAML fragment), `json` (the versioned
 * {@link CompositionDocument}), `cpuid` (the exact leaves), and `explain` (one plugin, for `hv explain`).
 * @module
 */
export * from "./src/util.ts";
export * from "./src/table.ts";
export * from "./src/qemu.ts";
export * from "./src/libvirt.ts";
export * from "./src/kubevirt.ts";
export * from "./src/json.ts";
export * from "./src/cpuid.ts";
export * from "./src/explain.ts";

import type { Composition } from "@hv/compose";
import { renderCpuid } from "./src/cpuid.ts";
import { renderJson } from "./src/json.ts";
import { renderKubevirt } from "./src/kubevirt.ts";
import { renderLibvirt } from "./src/libvirt.ts";
import { renderQemu } from "./src/qemu.ts";
import { renderTable } from "./src/table.ts";
import type { Format } from "./src/util.ts";

/** The renderer for each `--format`. */
export const renderers: { readonly [F in Format]: (c: Composition) => string } = {
  table: renderTable,
  qemu: renderQemu,
  libvirt: renderLibvirt,
  kubevirt: renderKubevirt,
  json: renderJson,
  cpuid: renderCpuid,
};
