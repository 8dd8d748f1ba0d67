import assert from "node:assert/strict";
import { cpuidOf } from "@hv/x86";
import { noNonarchCoresharing } from "../mod.ts";

Deno.test("no-nonarch-coresharing sets 0x40000004.EAX[18]", () => {
  assert.deepEqual(cpuidOf(noNonarchCoresharing, {}).set?.map((b) => [b.leaf, b.register, b.bit, b.name]), [
    [0x40000004, "eax", 18, "NoNonArchitecturalCoreSharing"],
  ]);
  assert.deepEqual(noNonarchCoresharing.requires, []);
  assert.equal(noNonarchCoresharing.formats.qemu.value?.({}), "on");
  assert.ok("unsupported" in noNonarchCoresharing.formats.libvirt);
});
