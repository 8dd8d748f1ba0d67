import assert from "node:assert/strict";
import { cpuidOf } from "@hv/x86";
import { vapic, vapicVpState } from "../mod.ts";

Deno.test("vapic sets 0x40000003.EAX[4] and 0x40000004.EAX[3], needs nothing", () => {
  const c = cpuidOf(vapic, {});
  assert.deepEqual(c.set?.map((b) => [b.leaf, b.register, b.bit, b.name]), [
    [0x40000003, "eax", 4, "AccessIntrCtrlRegs"],
    [0x40000004, "eax", 3, "UseApicMsrs"],
  ]);
  assert.equal(c.clear, undefined);
  assert.deepEqual(vapic.requires, []);
});

Deno.test("vapic claims EOI (wo), ICR, TPR, VP_ASSIST_PAGE gated on AccessIntrCtrlRegs", () => {
  assert.deepEqual(vapic.msrs.map((m) => [m.index, m.name, m.access, m.gate?.name]), [
    [0x40000070, "HV_X64_MSR_EOI", "wo", "AccessIntrCtrlRegs"],
    [0x40000071, "HV_X64_MSR_ICR", "rw", "AccessIntrCtrlRegs"],
    [0x40000072, "HV_X64_MSR_TPR", "rw", "AccessIntrCtrlRegs"],
    [0x40000073, "HV_X64_MSR_VP_ASSIST_PAGE", "rw", "AccessIntrCtrlRegs"],
  ]);
  assert.deepEqual(vapic.hypercalls, []);
});

Deno.test("vapic keeps the VP assist page per VP, 0 at power-on", () => {
  assert.equal(vapic.state?.vp, vapicVpState);
  const buf = new SharedArrayBuffer(vapicVpState.byteLength);
  new Uint32Array(buf).fill(0xffffffff);
  vapicVpState.reset(buf);
  assert.deepEqual(vapicVpState.inspect(buf), { vp_assist_page: 0n });
  assert.equal(vapic.formats.qemu.property, "hv-vapic");
  assert.deepEqual(vapic.formats.libvirt, { hyperv: "vapic" });
});
