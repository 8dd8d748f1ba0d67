import assert from "node:assert/strict";
import { Schema } from "effect";
import { CompositionDocument, renderJson } from "./json.ts";
import { fixture, small } from "./testing.ts";

Deno.test("json: the schemaVersion 1 document", () => {
  assert.equal(
    renderJson(small()),
    `{
  "schemaVersion": 1,
  "enlightenments": [
    {
      "name": "relaxed",
      "summary": "Relaxed timing: the guest disables watchdog timeouts that fire when a vCPU is descheduled",
      "reason": "test",
      "params": {},
      "qemu": "hv-relaxed"
    },
    {
      "name": "spinlocks",
      "summary": "Paravirtual spinlocks: the guest tells the hypervisor after N failed spins, so a preempted lock holder can run",
      "reason": "test",
      "params": {
        "retries": 8191
      },
      "qemu": "hv-spinlocks=0x1fff"
    },
    {
      "name": "vpindex",
      "summary": "VP index MSR: each vCPU can read its hypervisor VP index (needed by SynIC, PV TLB flush and PV IPI)",
      "reason": "base: required by every Hv#1 guest (Requirements for Implementing the Microsoft Hypervisor Interface)",
      "params": {},
      "qemu": "hv-vpindex"
    }
  ],
  "cpuid": [
    {
      "function": 1073741824,
      "index": 0,
      "eax": 1073741829,
      "ebx": 1919117645,
      "ecx": 1718580079,
      "edx": 1984438388
    },
    {
      "function": 1073741825,
      "index": 0,
      "eax": 824407624,
      "ebx": 0,
      "ecx": 0,
      "edx": 0
    },
    {
      "function": 1073741826,
      "index": 0,
      "eax": 14393,
      "ebx": 655360,
      "ecx": 0,
      "edx": 0
    },
    {
      "function": 1073741827,
      "index": 0,
      "eax": 96,
      "ebx": 0,
      "ecx": 0,
      "edx": 8
    },
    {
      "function": 1073741828,
      "index": 0,
      "eax": 32,
      "ebx": 8191,
      "ecx": 0,
      "edx": 0
    },
    {
      "function": 1073741829,
      "index": 0,
      "eax": 4294967295,
      "ebx": 64,
      "ecx": 0,
      "edx": 0
    }
  ],
  "version": {
    "build": 14393,
    "major": 10,
    "minor": 0,
    "servicePack": 0,
    "serviceBranch": 0,
    "serviceNumber": 0
  },
  "msrs": [
    {
      "index": 1073741824,
      "name": "HV_X64_MSR_GUEST_OS_ID",
      "owner": "base"
    },
    {
      "index": 1073741825,
      "name": "HV_X64_MSR_HYPERCALL",
      "owner": "base"
    },
    {
      "index": 1073741826,
      "name": "HV_X64_MSR_VP_INDEX",
      "owner": "base"
    }
  ],
  "hypercalls": [
    {
      "code": 8,
      "name": "HvCallNotifyLongSpinWait",
      "owner": "spinlocks"
    }
  ]
}
`,
  );
});

Deno.test("json: the output decodes with CompositionDocument; MSRs and hypercalls sorted", () => {
  const doc = Schema.decodeUnknownSync(Schema.fromJsonString(CompositionDocument))(renderJson(fixture()));
  assert.equal(doc.schemaVersion, 1);
  assert.deepEqual(doc.enlightenments.find((e) => e.name === "vendor-id")?.params, { value: "hv-test" });
  assert.deepEqual(doc.cpuid.map((l) => l.function), [
    0x40000000,
    0x40000001,
    0x40000002,
    0x40000003,
    0x40000004,
    0x40000005,
    0x40000080,
    0x40000081,
    0x40000082,
  ]);
  const msrs = doc.msrs.map((m) => m.index);
  assert.deepEqual(msrs, [...msrs].sort((a, b) => a - b));
  assert.equal(doc.msrs.find((m) => m.name === "HV_X64_MSR_STIMER0_CONFIG")?.owner, "stimer");
  const codes = doc.hypercalls.map((h) => h.code);
  assert.deepEqual(codes, [...codes].sort((a, b) => a - b));
});
