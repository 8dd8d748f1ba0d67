/**
 * `--format qemu`: the `-cpu` value QEMU 7.2+ accepts, `host,hv-relaxed,hv-spinlocks=0x1fff,...`,
 * from each plugin's `formats.qemu`, plus `hv-version-id-*` when the version is not QEMU's default.
 * @module
 */
import type { Composition } from "@hv/compose";
import { isDefaultVersion, qemuProperty } from "./util.ts";

/** Options: `model` is the CPU model that starts the list (default `host`). */
export interface QemuOptions {
  readonly model?: string;
}

/** The `hv-*` properties alone, in composition order (version properties last). */
export const qemuProperties = (c: Composition): string[] => {
  const props = c.enlightenments.map((e) => qemuProperty(e.plugin, e.params));
  if (!isDefaultVersion(c.version)) {
    const v = c.version;
    props.push(
      `hv-version-id-build=${v.build}`,
      `hv-version-id-major=${v.major}`,
      `hv-version-id-minor=${v.minor}`,
      `hv-version-id-spack=${v.servicePack}`,
      `hv-version-id-sbranch=${v.serviceBranch}`,
      `hv-version-id-snumber=${v.serviceNumber}`,
    );
  }
  return props;
};

/** `host,hv-...` followed by a newline. */
export const renderQemu = (c: Composition, options: QemuOptions = {}): string =>
  [options.model ?? "host", ...qemuProperties(c)].join(",") + "\n";
