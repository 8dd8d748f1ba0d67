import assert from "node:assert/strict";
import {
  decodeGuestOsId,
  describeGuestOsId,
  encodeGuestOsId,
  type GuestOsId,
  HV_GUEST_OS_MICROSOFT_WINDOWS_NT,
  HV_GUEST_OS_TYPE_FREEBSD,
  HV_GUEST_OS_TYPE_LINUX,
  HV_GUEST_OS_VENDOR_HPE,
  HV_GUEST_OS_VENDOR_MICROSOFT,
  HV_LINUX_VENDOR_ID,
  HvGuestOsIdOpenSource,
  HvGuestOsIdProprietary,
  linuxGuestOsId,
  linuxVersionCode,
  type OpenSourceGuestOsId,
  type ProprietaryGuestOsId,
} from "./guest_os_id.ts";
import { fieldMask64 } from "./bits.ts";

const win = (
  majorVersion: number,
  minorVersion: number,
  buildNumber: number,
  serviceVersion = 0,
): ProprietaryGuestOsId => ({
  kind: "proprietary",
  vendorId: HV_GUEST_OS_VENDOR_MICROSOFT,
  osId: HV_GUEST_OS_MICROSOFT_WINDOWS_NT,
  majorVersion,
  minorVersion,
  serviceVersion,
  buildNumber,
});
const linux = (a: number, b: number, c: number): OpenSourceGuestOsId => ({
  kind: "open-source",
  osType: HV_GUEST_OS_TYPE_LINUX,
  vendorExtra: 0,
  kernelVersion: linuxVersionCode(a, b, c),
  distributionBuild: 0,
});

/** Every example of profiles.md (d), plus Debian 6.1.192 from linux-guest.md row 10. */
const TABLE: ReadonlyArray<readonly [GuestOsId, bigint, string]> = [
  [win(6, 0, 6001, 1), 0x0001040600011771n, "Windows Vista / Server 2008 (6.0.6001 SP1)"],
  [win(6, 1, 7601, 1), 0x0001040601011db1n, "Windows 7 / Server 2008 R2 (6.1.7601 SP1)"],
  [win(6, 1, 7600), 0x0001040601001db0n, "Windows 7 / Server 2008 R2 (6.1.7600)"],
  [win(6, 2, 9200), 0x00010406020023f0n, "Windows 8 / Server 2012 (6.2.9200)"],
  [win(6, 3, 9600), 0x0001040603002580n, "Windows 8.1 / Server 2012 R2 (6.3.9600)"],
  [win(10, 0, 10240), 0x0001040a00002800n, "Windows 10 1507 (10.0.10240)"],
  [win(10, 0, 14393), 0x0001040a00003839n, "Windows 10 1607 / Server 2016 (10.0.14393)"],
  [win(10, 0, 17763), 0x0001040a00004563n, "Windows 10 1809 / Server 2019 (10.0.17763)"],
  [win(10, 0, 19045), 0x0001040a00004a65n, "Windows 10 22H2 (10.0.19045)"],
  [win(10, 0, 20348), 0x0001040a00004f7cn, "Windows Server 2022 (10.0.20348)"],
  [win(10, 0, 22000), 0x0001040a000055f0n, "Windows 11 21H2 (10.0.22000)"],
  [win(10, 0, 26100), 0x0001040a000065f4n, "Windows 11 24H2 / Server 2025 (10.0.26100)"],
  [linux(6, 8, 0), 0x8100000608000000n, "Linux 6.8.0"],
  [linux(5, 15, 0), 0x810000050f000000n, "Linux 5.15.0"],
  [linux(6, 1, 192), 0x8100000601c00000n, "Linux 6.1.192"],
];

Deno.test("encode / decode / describe pin every profiles.md (d) example", () => {
  for (const [id, value, text] of TABLE) {
    assert.equal(encodeGuestOsId(id), value, text);
    assert.deepEqual(decodeGuestOsId(value), id, text);
    assert.equal(describeGuestOsId(value), text);
  }
});

Deno.test("linuxGuestOsId is hv_generate_guest_id: 0x8100 << 48 | LINUX_VERSION_CODE << 16", () => {
  assert.equal(HV_LINUX_VENDOR_ID, 0x8100);
  assert.equal(linuxGuestOsId(6, 8, 0), 0x8100000608000000n);
  assert.equal(linuxGuestOsId(5, 15, 0), 0x810000050f000000n);
  assert.equal(linuxGuestOsId(6, 1, 192), 0x8100000601c00000n);
  assert.equal(linuxVersionCode(6, 1, 192), 0x0601c0);
  // sublevel is clamped to 255
  assert.equal(linuxGuestOsId(4, 19, 300), linuxGuestOsId(4, 19, 255));
  assert.equal(describeGuestOsId(linuxGuestOsId(4, 19, 300)), "Linux 4.19.255");
});

Deno.test("field layouts tile 64 bits", () => {
  for (const layout of [HvGuestOsIdProprietary, HvGuestOsIdOpenSource]) {
    let seen = 0n;
    for (const f of Object.values(layout)) {
      assert.equal(seen & fieldMask64(f), 0n);
      seen |= fieldMask64(f);
    }
    assert.equal(seen, 0xffffffffffffffffn);
  }
  assert.deepEqual(HvGuestOsIdProprietary.vendorId, { shift: 48, width: 15 });
  assert.deepEqual(HvGuestOsIdOpenSource.kernelVersion, { shift: 16, width: 32 });
  assert.deepEqual(HvGuestOsIdOpenSource.osType, { shift: 56, width: 7 });
});

Deno.test("describe: Windows 10 / 11 by build, other NT versions, FreeBSD", () => {
  assert.equal(describeGuestOsId(encodeGuestOsId(win(10, 0, 19999))), "Windows 10 (10.0.19999)");
  assert.equal(describeGuestOsId(encodeGuestOsId(win(10, 0, 21999))), "Windows 10 (10.0.21999)");
  assert.equal(describeGuestOsId(encodeGuestOsId(win(10, 0, 22999))), "Windows 11 (10.0.22999)");
  assert.equal(describeGuestOsId(encodeGuestOsId(win(10, 0, 22631))), "Windows 11 23H2 (10.0.22631)");
  assert.equal(describeGuestOsId(encodeGuestOsId(win(5, 2, 3790, 2))), "Windows NT 5.2 (5.2.3790 SP2)");
  const freebsd = (1n << 63n) | (BigInt(HV_GUEST_OS_TYPE_FREEBSD) << 56n) | (1400097n << 16n);
  assert.equal(describeGuestOsId(freebsd), "FreeBSD 14.0 (__FreeBSD_version 1400097)");
  assert.equal(
    describeGuestOsId(linuxGuestOsId(3, 10, 0) | 0x2an),
    "Linux 3.10.0 (distribution build 42)",
  );
});

Deno.test("describe: unknown otherwise", () => {
  assert.equal(describeGuestOsId(0n), "unknown");
  assert.equal(
    describeGuestOsId(encodeGuestOsId({ ...win(10, 0, 17763), vendorId: HV_GUEST_OS_VENDOR_HPE })),
    "unknown",
  );
  assert.equal(describeGuestOsId(encodeGuestOsId({ ...win(4, 0, 950), osId: 3 })), "unknown");
  assert.equal(describeGuestOsId(1n << 63n), "unknown");
  assert.equal(describeGuestOsId(0xff00000000000000n), "unknown");
});

Deno.test("decode is total and wraps to 64 bits; bit 63 picks the encoding", () => {
  assert.deepEqual(decodeGuestOsId(-1n), {
    kind: "open-source",
    osType: 0x7f,
    vendorExtra: 0xff,
    kernelVersion: 0xffffffff,
    distributionBuild: 0xffff,
  });
  assert.deepEqual(decodeGuestOsId(0x7fffffffffffffffn), {
    kind: "proprietary",
    vendorId: 0x7fff,
    osId: 0xff,
    majorVersion: 0xff,
    minorVersion: 0xff,
    serviceVersion: 0xff,
    buildNumber: 0xffff,
  });
  assert.equal(decodeGuestOsId((1n << 64n) | 0x0001040a00004f7cn).kind, "proprietary");
});

Deno.test("encode rejects out-of-range fields", () => {
  assert.throws(() => encodeGuestOsId(win(10, 0, 0x10000)), RangeError);
  assert.throws(() => encodeGuestOsId(win(256, 0, 1)), RangeError);
  assert.throws(() => encodeGuestOsId({ ...win(10, 0, 1), vendorId: 0x8000 }), RangeError);
  assert.throws(() => encodeGuestOsId(win(10, -1, 1)), RangeError);
  assert.throws(() => encodeGuestOsId(win(10, 0, 1.5)), RangeError);
  assert.throws(() => encodeGuestOsId({ ...linux(6, 8, 0), kernelVersion: 2 ** 32 }), RangeError);
  assert.throws(() => encodeGuestOsId({ ...linux(6, 8, 0), osType: 0x80 }), RangeError);
});

Deno.test("random round-trips", () => {
  let s = 0x12345678;
  const next = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
  for (let i = 0; i < 2000; i++) {
    const v = (BigInt(next()) << 32n) | BigInt(next());
    const id = decodeGuestOsId(v);
    assert.equal(encodeGuestOsId(id), v);
    assert.deepEqual(decodeGuestOsId(encodeGuestOsId(id)), id);
  }
});
