import assert from "node:assert/strict";
import { renderQemu } from "./qemu.ts";
import { composeNames, fixture, small } from "./testing.ts";

Deno.test("qemu: -cpu value in composition order, parameters formatted", () => {
  assert.equal(
    renderQemu(fixture()),
    "host,hv-relaxed,hv-spinlocks=0x2000,hv-vpindex,hv-crash,hv-time,hv-synic,hv-stimer,hv-stimer-direct,hv-tlbflush,hv-tlbflush-ext,hv-xmm-input,hv-syndbg,hv-vendor-id=hv-test\n",
  );
  assert.equal(
    renderQemu(small(), { model: "Skylake-Server" }),
    "Skylake-Server,hv-relaxed,hv-spinlocks=0x1fff,hv-vpindex\n",
  );
});

Deno.test("qemu: a non-default version adds hv-version-id-*", () => {
  const c = composeNames(["relaxed"], {}, {
    build: 7601,
    major: 6,
    minor: 1,
    servicePack: 1,
    serviceBranch: 2,
    serviceNumber: 3,
  });
  assert.equal(
    renderQemu(c),
    "host,hv-relaxed,hv-vpindex,hv-version-id-build=7601,hv-version-id-major=6,hv-version-id-minor=1,hv-version-id-spack=1,hv-version-id-sbranch=2,hv-version-id-snumber=3\n",
  );
});

Deno.test("qemu: a comma in a value is doubled", () => {
  assert.equal(renderQemu(composeNames(["vendor-id"], { "vendor-id": "a,b" })), "host,hv-vpindex,hv-vendor-id=a,,b\n");
});
