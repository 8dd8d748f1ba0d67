/**
 * The hypervisor version a composition reports in CPUID 0x40000002 (TLFS §2.4.3; QEMU's
 * `hv-version-id-*` properties).
 * @module
 */
import { Schema } from "effect";

/**
 * Hypervisor identity: build number, major.minor version, service pack, service branch (8 bits)
 * and service number (24 bits). CPUID 0x40000002: EAX = build, EBX = major << 16 | minor,
 * ECX = service pack, EDX = branch << 24 | number.
 */
export const HvVersion = Schema.Struct({
  build: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 0xffffffff })),
  major: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 0xffff })),
  minor: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 0xffff })),
  servicePack: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 0xffffffff })),
  serviceBranch: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 0xff })),
  serviceNumber: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 0xffffff })),
});
/** See {@link HvVersion}. */
export type HvVersion = typeof HvVersion.Type;

/** QEMU's default (`hv-version-id-*`, machine types >= 6.2): Windows Server 2016, 10.0.14393. */
export const QEMU_DEFAULT_VERSION: HvVersion = { build: 14393, major: 10, minor: 0, servicePack: 0, serviceBranch: 0, serviceNumber: 0 };

/** The four registers of leaf 0x40000002 for `v`. */
export const versionLeaf = (v: HvVersion) => ({
  eax: v.build >>> 0,
  ebx: ((v.major << 16) | v.minor) >>> 0,
  ecx: v.servicePack >>> 0,
  edx: ((v.serviceBranch << 24) | v.serviceNumber) >>> 0,
});
