/**
 * HV_X64_MSR_GUEST_OS_ID (0x40000000): the guest's identity, written before the hypercall page is
 * enabled. TLFS §3.6 / hypercall-interface.md "Reporting the Guest OS Identity"; Linux
 * `include/asm-generic/mshyperv.h` `hv_generate_guest_id`; FreeBSD `sys/dev/hyperv/vmbus/hyperv.c`.
 *
 * Two encodings, chosen by bit 63: proprietary (0, Microsoft-style version fields) and open source
 * (1, OS type and a kernel version code). Edge code: works on bigint.
 * @module
 */

import { type BitField, bitField, bitRange, fieldGet64, fieldMax, fieldSet64 } from "./bits.ts";

/**
 * Proprietary encoding (bit 63 = 0), TLFS "Reporting the Guest OS Identity":
 * - `buildNumber` 15:0, `serviceVersion` 23:16 (service pack), `minorVersion` 31:24,
 *   `majorVersion` 39:32, `osId` 47:40 (`HV_GUEST_OS_MICROSOFT_*`), `vendorId` 62:48
 *   (`HV_GUEST_OS_VENDOR_*`), `openSource` 63 (0).
 */
export const HvGuestOsIdProprietary = Object.freeze({
  buildNumber: bitRange(15, 0),
  serviceVersion: bitRange(23, 16),
  minorVersion: bitRange(31, 24),
  majorVersion: bitRange(39, 32),
  osId: bitRange(47, 40),
  vendorId: bitRange(62, 48),
  openSource: bitField(63, 1),
});

/**
 * Open-source encoding (bit 63 = 1), TLFS "Reporting the Guest OS Identity":
 * - `distributionBuild` 15:0, `kernelVersion` 47:16 (Linux: LINUX_VERSION_CODE; FreeBSD:
 *   `__FreeBSD_version`), `vendorExtra` 55:48, `osType` 62:56 (`HV_GUEST_OS_TYPE_*`), `openSource` 63 (1).
 */
export const HvGuestOsIdOpenSource = Object.freeze({
  distributionBuild: bitRange(15, 0),
  kernelVersion: bitRange(47, 16),
  vendorExtra: bitRange(55, 48),
  osType: bitRange(62, 56),
  openSource: bitField(63, 1),
});

/** Proprietary vendor id: Microsoft (0x0001). */
export const HV_GUEST_OS_VENDOR_MICROSOFT = 0x0001;
/** Proprietary vendor id: HPE (0x0002). */
export const HV_GUEST_OS_VENDOR_HPE = 0x0002;
/** Proprietary vendor id: BlackBerry (0x0003). */
export const HV_GUEST_OS_VENDOR_BLACKBERRY = 0x0003;
/** Proprietary vendor id: LANCOM (0x0200). */
export const HV_GUEST_OS_VENDOR_LANCOM = 0x0200;

/** Microsoft OS id: MS-DOS (1). */
export const HV_GUEST_OS_MICROSOFT_MSDOS = 1;
/** Microsoft OS id: Windows 3.x (2). */
export const HV_GUEST_OS_MICROSOFT_WINDOWS_3X = 2;
/** Microsoft OS id: Windows 9x (3). */
export const HV_GUEST_OS_MICROSOFT_WINDOWS_9X = 3;
/** Microsoft OS id: Windows NT and derivatives, i.e. every Windows that runs on Hyper-V (4). */
export const HV_GUEST_OS_MICROSOFT_WINDOWS_NT = 4;
/** Microsoft OS id: Windows CE (5). */
export const HV_GUEST_OS_MICROSOFT_WINDOWS_CE = 5;

/** Open-source OS type: Linux (0x01). */
export const HV_GUEST_OS_TYPE_LINUX = 0x01;
/** Open-source OS type: FreeBSD (0x02). */
export const HV_GUEST_OS_TYPE_FREEBSD = 0x02;
/** Open-source OS type: Xen (0x03). */
export const HV_GUEST_OS_TYPE_XEN = 0x03;
/** Open-source OS type: illumos (0x04). */
export const HV_GUEST_OS_TYPE_ILLUMOS = 0x04;

/** Bits 63:48 of every Linux guest id: open source, OS type Linux, vendor extra 0 (0x8100). Linux `HV_LINUX_VENDOR_ID`. */
export const HV_LINUX_VENDOR_ID = 0x8100;

/** A decoded proprietary guest OS id; every field is the raw unsigned field value. */
export interface ProprietaryGuestOsId {
  readonly kind: "proprietary";
  /** 15-bit vendor id (`HV_GUEST_OS_VENDOR_*`). */
  readonly vendorId: number;
  /** 8-bit OS id (`HV_GUEST_OS_MICROSOFT_*` for Microsoft). */
  readonly osId: number;
  readonly majorVersion: number;
  readonly minorVersion: number;
  /** Service pack / service version (8 bits). */
  readonly serviceVersion: number;
  /** 16-bit build number. */
  readonly buildNumber: number;
}

/** A decoded open-source guest OS id; every field is the raw unsigned field value. */
export interface OpenSourceGuestOsId {
  readonly kind: "open-source";
  /** 7-bit OS type (`HV_GUEST_OS_TYPE_*`). */
  readonly osType: number;
  /** 8-bit vendor-specific value. */
  readonly vendorExtra: number;
  /** 32-bit kernel version (Linux: `(major << 16) | (minor << 8) | min(sublevel, 255)`). */
  readonly kernelVersion: number;
  /** 16-bit distribution build. */
  readonly distributionBuild: number;
}

/** A decoded HV_X64_MSR_GUEST_OS_ID value, discriminated on `kind` (bit 63). */
export type GuestOsId = ProprietaryGuestOsId | OpenSourceGuestOsId;

const put = (v: bigint, f: BitField, value: number, name: string): bigint => {
  if (!Number.isInteger(value) || value < 0 || value > fieldMax(f)) {
    throw new RangeError(`encodeGuestOsId: ${name} ${value} does not fit in ${f.width} bits`);
  }
  return fieldSet64(v, f, value);
};

/** Encodes `id` as the u64 MSR value. Throws `RangeError` if a field does not fit its width. */
export const encodeGuestOsId = (id: GuestOsId): bigint => {
  if (id.kind === "proprietary") {
    const P = HvGuestOsIdProprietary;
    let v = put(0n, P.buildNumber, id.buildNumber, "buildNumber");
    v = put(v, P.serviceVersion, id.serviceVersion, "serviceVersion");
    v = put(v, P.minorVersion, id.minorVersion, "minorVersion");
    v = put(v, P.majorVersion, id.majorVersion, "majorVersion");
    v = put(v, P.osId, id.osId, "osId");
    return put(v, P.vendorId, id.vendorId, "vendorId");
  }
  const O = HvGuestOsIdOpenSource;
  let v = put(0n, O.distributionBuild, id.distributionBuild, "distributionBuild");
  v = put(v, O.kernelVersion, id.kernelVersion, "kernelVersion");
  v = put(v, O.vendorExtra, id.vendorExtra, "vendorExtra");
  v = put(v, O.osType, id.osType, "osType");
  return fieldSet64(v, O.openSource, 1);
};

/** Decodes the u64 MSR value `v` (taken modulo 2^64) by bit 63. Total: every value decodes. */
export const decodeGuestOsId = (v: bigint): GuestOsId => {
  const get = (f: BitField): number => Number(fieldGet64(v, f));
  if (get(HvGuestOsIdOpenSource.openSource) === 1) {
    const O = HvGuestOsIdOpenSource;
    return {
      kind: "open-source",
      osType: get(O.osType),
      vendorExtra: get(O.vendorExtra),
      kernelVersion: get(O.kernelVersion),
      distributionBuild: get(O.distributionBuild),
    };
  }
  const P = HvGuestOsIdProprietary;
  return {
    kind: "proprietary",
    vendorId: get(P.vendorId),
    osId: get(P.osId),
    majorVersion: get(P.majorVersion),
    minorVersion: get(P.minorVersion),
    serviceVersion: get(P.serviceVersion),
    buildNumber: get(P.buildNumber),
  };
};

/** Linux `KERNEL_VERSION(major, minor, sublevel)`: `(major << 16) + (minor << 8) + min(sublevel, 255)`. */
export const linuxVersionCode = (major: number, minor: number, sublevel: number): number =>
  major * 0x10000 + minor * 0x100 + Math.min(sublevel, 255);

/**
 * The value Linux writes for kernel `major.minor.sublevel`: `HV_LINUX_VENDOR_ID << 48 |
 * LINUX_VERSION_CODE << 16` (Linux `hv_generate_guest_id`; sublevel clamped to 255). E.g. 6.1.192 →
 * 0x8100000601C00000.
 */
export const linuxGuestOsId = (major: number, minor: number, sublevel: number): bigint =>
  (BigInt(HV_LINUX_VENDOR_ID) << 48n) | (BigInt(linuxVersionCode(major, minor, sublevel)) << 16n);

/** Windows 10 / 11 feature-update names by build number (Microsoft release information). */
const WIN10_RELEASES: ReadonlyMap<number, string> = new Map([
  [10240, "1507"],
  [10586, "1511"],
  [14393, "1607"],
  [15063, "1703"],
  [16299, "1709"],
  [17134, "1803"],
  [17763, "1809"],
  [18362, "1903"],
  [18363, "1909"],
  [19041, "2004"],
  [19042, "20H2"],
  [19043, "21H1"],
  [19044, "21H2"],
  [19045, "22H2"],
]);
const WIN11_RELEASES: ReadonlyMap<number, string> = new Map([
  [22000, "21H2"],
  [22621, "22H2"],
  [22631, "23H2"],
  [26100, "24H2"],
  [26200, "25H2"],
]);
/** Server releases that share a build with a client release (or have none). */
const SERVER_RELEASES: ReadonlyMap<number, string> = new Map([
  [14393, "Server 2016"],
  [17763, "Server 2019"],
  [26100, "Server 2025"],
]);

const windows10Name = (build: number): string => {
  if (build === 20348) return "Windows Server 2022";
  const client = build >= 22000
    ? `Windows 11${WIN11_RELEASES.has(build) ? ` ${WIN11_RELEASES.get(build)}` : ""}`
    : `Windows 10${WIN10_RELEASES.has(build) ? ` ${WIN10_RELEASES.get(build)}` : ""}`;
  const server = SERVER_RELEASES.get(build);
  return server === undefined ? client : `${client} / ${server}`;
};

const windowsName = (major: number, minor: number, build: number): string => {
  const key = `${major}.${minor}`;
  switch (key) {
    case "6.0":
      return "Windows Vista / Server 2008";
    case "6.1":
      return "Windows 7 / Server 2008 R2";
    case "6.2":
      return "Windows 8 / Server 2012";
    case "6.3":
      return "Windows 8.1 / Server 2012 R2";
    case "10.0":
      return windows10Name(build);
    default:
      return `Windows NT ${key}`;
  }
};

/**
 * A human-readable name for a GUEST_OS_ID value, following profiles.md (d) "Decoding rules":
 * - Proprietary, vendor Microsoft, OS id Windows NT: e.g. `"Windows 8 / Server 2012 (6.2.9200)"`,
 *   `"Windows 7 / Server 2008 R2 (6.1.7601 SP1)"`, `"Windows 10 1607 / Server 2016 (10.0.14393)"`,
 *   `"Windows Server 2022 (10.0.20348)"`, `"Windows 11 24H2 / Server 2025 (10.0.26100)"`. For 10.0
 *   the build decides (< 22000 Windows 10, >= 22000 Windows 11); client and server share builds,
 *   so both are named. Other NT versions: `"Windows NT 5.2 (5.2.3790)"`.
 * - Open source, Linux: `"Linux 6.8.0"` from the version code (plus `" (distribution build N)"` if non-zero).
 * - Open source, FreeBSD: `"FreeBSD 14.0 (__FreeBSD_version 1400097)"`; Xen / illumos: the name and
 *   the raw kernel version.
 * - Anything else (including 0): `"unknown"`.
 */
export const describeGuestOsId = (v: bigint): string => {
  const id = decodeGuestOsId(v);
  if (id.kind === "proprietary") {
    if (id.vendorId !== HV_GUEST_OS_VENDOR_MICROSOFT || id.osId !== HV_GUEST_OS_MICROSOFT_WINDOWS_NT) return "unknown";
    const sp = id.serviceVersion !== 0 ? ` SP${id.serviceVersion}` : "";
    const name = windowsName(id.majorVersion, id.minorVersion, id.buildNumber);
    return `${name} (${id.majorVersion}.${id.minorVersion}.${id.buildNumber}${sp})`;
  }
  const kv = id.kernelVersion;
  switch (id.osType) {
    case HV_GUEST_OS_TYPE_LINUX: {
      const build = id.distributionBuild !== 0 ? ` (distribution build ${id.distributionBuild})` : "";
      return `Linux ${Math.floor(kv / 0x10000)}.${(kv >>> 8) & 0xff}.${kv & 0xff}${build}`;
    }
    case HV_GUEST_OS_TYPE_FREEBSD:
      return `FreeBSD ${Math.floor(kv / 100000)}.${Math.floor(kv / 1000) % 100} (__FreeBSD_version ${kv})`;
    case HV_GUEST_OS_TYPE_XEN:
      return `Xen (version 0x${kv.toString(16)})`;
    case HV_GUEST_OS_TYPE_ILLUMOS:
      return `illumos (version 0x${kv.toString(16)})`;
    default:
      return "unknown";
  }
};
