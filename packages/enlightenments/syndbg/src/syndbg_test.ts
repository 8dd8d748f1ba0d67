import assert from "node:assert/strict";
import { cpuidOf, decodeVendor } from "@hv/x86";
import { syndbg } from "../mod.ts";

Deno.test("syndbg sets 0x40000003.EDX[11] and adds leaves 0x40000080..82 as QEMU does", () => {
  const c = cpuidOf(syndbg, {});
  assert.deepEqual(c.set?.map((b) => [b.leaf, b.register, b.bit, b.name]), [[0x40000003, "edx", 11, "DebugRegsAvailable"]]);
  const [vendor, iface, caps] = c.leaves ?? [];
  assert.equal(vendor.function, 0x40000080);
  assert.equal(vendor.eax, 0);
  assert.equal(decodeVendor(vendor.ebx, vendor.ecx, vendor.edx), "Microsoft VS");
  assert.deepEqual(iface, { function: 0x40000081, eax: 0x31235356, ebx: 0, ecx: 0, edx: 0 });
  assert.deepEqual(caps, { function: 0x40000082, eax: 0b10, ebx: 0, ecx: 0, edx: 0 });
  assert.deepEqual(syndbg.requires, ["synic", "relaxed"]);
});

Deno.test("syndbg claims the SYNDBG MSRs and debug hypercalls 0x69..0x6B; emulator unsupported", () => {
  assert.deepEqual(syndbg.msrs.map((m) => [m.index, m.name]), [
    [0x400000f1, "HV_X64_MSR_SYNDBG_CONTROL"],
    [0x400000f2, "HV_X64_MSR_SYNDBG_STATUS"],
    [0x400000f3, "HV_X64_MSR_SYNDBG_SEND_BUFFER"],
    [0x400000f4, "HV_X64_MSR_SYNDBG_RECV_BUFFER"],
    [0x400000f5, "HV_X64_MSR_SYNDBG_PENDING_BUFFER"],
    [0x400000ff, "HV_X64_MSR_SYNDBG_OPTIONS"],
  ]);
  assert.ok(syndbg.msrs.every((m) => m.gate?.name === "DebugRegsAvailable"));
  assert.deepEqual(syndbg.hypercalls.map((h) => [h.code, h.name, h.fast]), [
    [0x69, "HvCallPostDebugData", "never"],
    [0x6a, "HvCallRetrieveDebugData", "never"],
    [0x6b, "HvCallResetDebugSession", "allowed"],
  ]);
  assert.equal(syndbg.emulator.supported, false);
  assert.match(syndbg.emulator.supported ? "" : syndbg.emulator.reason, /VMBus bridge/);
  assert.ok("unsupported" in syndbg.formats.libvirt);
});
