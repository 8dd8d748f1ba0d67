import assert from "node:assert/strict";
import { Exit, Schema } from "effect";
import { cpuidOf } from "@hv/x86";
import { VendorIdString, vendorId } from "../mod.ts";

Deno.test("vendor-id sets 0x40000000.EBX/ECX/EDX (mode set) from its value", () => {
  assert.equal(vendorId.params?.value.default, "Microsoft Hv");
  assert.deepEqual(cpuidOf(vendorId, { value: "Microsoft Hv" }).registers, [
    { leaf: 0x40000000, register: "ebx", value: 0x7263694d, mode: "set" },
    { leaf: 0x40000000, register: "ecx", value: 0x666f736f, mode: "set" },
    { leaf: 0x40000000, register: "edx", value: 0x76482074, mode: "set" },
  ]);
  // "proxmox" NUL-padded: "prox" "mox\0" "\0\0\0\0"
  assert.deepEqual(cpuidOf(vendorId, { value: "proxmox" }).registers?.map((r) => r.value), [0x786f7270, 0x00786f6d, 0]);
  assert.equal(vendorId.primaryParam, "value");
});

Deno.test("vendor-id accepts 1..12 printable ASCII characters only", () => {
  const ok = (s: string) => Exit.isSuccess(Schema.decodeUnknownExit(VendorIdString)(s));
  assert.ok(ok("Microsoft Hv"));
  assert.ok(ok("1234567890ab"));
  assert.ok(ok("x"));
  assert.ok(!ok(""));
  assert.ok(!ok("this is way too long"));
  assert.ok(!ok("tab\there"));
  assert.ok(!ok("café"));
});

Deno.test("vendor-id formats carry the value", () => {
  const p = { value: "proxmox" };
  assert.equal(vendorId.formats.qemu.property, "hv-vendor-id");
  assert.equal(vendorId.formats.qemu.value?.(p), "proxmox");
  const lv = vendorId.formats.libvirt;
  assert.ok("hyperv" in lv && lv.hyperv === "vendor_id");
  assert.deepEqual("attrs" in lv ? lv.attrs?.(p) : undefined, { value: "proxmox" });
  const kv = vendorId.formats.kubevirt;
  assert.ok("hyperv" in kv && kv.hyperv === "vendorid");
  assert.deepEqual("value" in kv ? kv.value?.(p) : undefined, { vendorid: "proxmox" });
});
