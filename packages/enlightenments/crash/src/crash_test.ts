import assert from "node:assert/strict";
import {
  HV_CRASH_CTL_CRASH_NOTIFY,
  HV_CRASH_CTL_CRASH_NOTIFY_MSG,
  HV_CRASH_MAX_MESSAGE_BYTES,
  HV_X64_MSR_CRASH_CTL,
  hvMsrCrashP,
} from "@hv/tlfs";
import { cpuidOf, GuestMemory, MsrOutcome, newMsrAccess } from "@hv/x86";
import { rdmsr, TestPartition, wrmsr } from "@hv/testkit";
import { crash, CRASH_CTL_CAPABILITIES, crashHandlers, crashPartitionState, type CrashViews, readCrashMessage } from "../mod.ts";

const NOTIFY = HV_CRASH_CTL_CRASH_NOTIFY;
const MSG = HV_CRASH_CTL_CRASH_NOTIFY_MSG;
const CAPS = NOTIFY | MSG;
const make = (o: { vpIndices?: number[]; memoryBytes?: number } = {}) => TestPartition.create({ requested: ["crash"], ...o });
const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("crash sets 0x40000003.EDX[10] and claims CRASH_P0..P4 and CRASH_CTL", () => {
  assert.deepEqual(cpuidOf(crash, {}).set?.map((b) => [b.leaf, b.register, b.bit, b.name]), [
    [0x40000003, "edx", 10, "GuestCrashRegsAvailable"],
  ]);
  assert.deepEqual(crash.msrs.map((m) => [m.index, m.name, m.access]), [
    [0x40000100, "HV_X64_MSR_CRASH_P0", "rw"],
    [0x40000101, "HV_X64_MSR_CRASH_P1", "rw"],
    [0x40000102, "HV_X64_MSR_CRASH_P2", "rw"],
    [0x40000103, "HV_X64_MSR_CRASH_P3", "rw"],
    [0x40000104, "HV_X64_MSR_CRASH_P4", "rw"],
    [0x40000105, "HV_X64_MSR_CRASH_CTL", "rw"],
  ]);
  assert.ok(crash.msrs.every((m) => m.gate?.name === "GuestCrashRegsAvailable"));
  assert.deepEqual(crash.formats.libvirt, { panicModel: "hyperv" });
  assert.ok("unsupported" in crash.formats.kubevirt);
  assert.equal(typeof crash.create, "function");
});

Deno.test("crash state: P0..P4 zero, CTL advertises CrashNotify (bit 63) | CrashMessage (bit 62) at power-on", () => {
  assert.equal(crash.state?.partition, crashPartitionState);
  assert.equal(crash.state?.vp, undefined);
  assert.equal(CRASH_CTL_CAPABILITIES, 0xc000000000000000n);
  const buf = new SharedArrayBuffer(crashPartitionState.byteLength);
  crashPartitionState.reset(buf);
  assert.deepEqual(crashPartitionState.inspect(buf), { p: [0n, 0n, 0n, 0n, 0n], ctl: CAPS });
});

Deno.test("TLFS rows CRASH_P0..P4: any value, read back, shared by every VP of the partition", () => {
  const p = make({ vpIndices: [0, 65] });
  const [a, b] = p.vps;
  for (let n = 0; n < 5; n++) assert.equal(rdmsr(a, hvMsrCrashP(n)), 0n, `P${n} power-on`);
  const values = [0xffffffffffffffffn, 1n << 63n, 0xdeadn, 0x8000000000000001n, 0n];
  values.forEach((v, n) => assert.equal(wrmsr(a, hvMsrCrashP(n), v), "ok"));
  values.forEach((v, n) => assert.equal(rdmsr(b, hvMsrCrashP(n)), v, `P${n} from VP 65`));
  assert.deepEqual(p.crashes, [], "parameters alone raise nothing");
});

Deno.test("TLFS row CRASH_CTL: reads the capabilities; writes without bit 63 are accepted, raise nothing and change nothing", () => {
  const p = make();
  const vp = p.vps[0];
  assert.equal(rdmsr(vp, HV_X64_MSR_CRASH_CTL), CAPS);
  for (const v of [0n, 1n, MSG, 0x7fffffffffffffffn, 0x3fffffffffffffffn]) {
    assert.equal(wrmsr(vp, HV_X64_MSR_CRASH_CTL, v), "ok", `write 0x${v.toString(16)}`);
    assert.equal(rdmsr(vp, HV_X64_MSR_CRASH_CTL), CAPS);
  }
  assert.deepEqual(p.crashes, []);
});

Deno.test("CRASH_CTL bit 63 raises one crash event per write with P0..P4 and the control as written; never #GP", () => {
  const p = make({ vpIndices: [0, 65] });
  const [a, b] = p.vps;
  // Linux notify mode (hv_init.c hyperv_report_panic): P0 err, P1 guest id, P2 RIP, P3 RAX, P4 RSP.
  const params = [0xdeadn, 0x8100000601c00000n, 0xffffffff81000000n, 3n, 0xffffc90000003f00n];
  params.forEach((v, n) => assert.equal(wrmsr(a, hvMsrCrashP(n), v), "ok"));
  assert.equal(wrmsr(b, HV_X64_MSR_CRASH_CTL, NOTIFY), "ok");
  assert.deepEqual(p.crashes, [{ vp: 65, parameters: params, control: NOTIFY }]);
  assert.ok(!("message" in p.crashes[0]), "no CrashMessage bit: no message");
  assert.equal(wrmsr(a, HV_X64_MSR_CRASH_CTL, 0xffffffffffffffffn & ~MSG), "ok", "reserved bits are ignored");
  assert.equal(p.crashes.length, 2);
  assert.equal(p.crashes[1].vp, 0);
  assert.equal(p.crashes[1].control, 0xbfffffffffffffffn);
  assert.equal(rdmsr(a, HV_X64_MSR_CRASH_CTL), CAPS, "still the capabilities");
  assert.equal(rdmsr(a, hvMsrCrashP(2)), params[2], "parameters kept");
});

Deno.test("CrashMessage (Linux hv_kmsg_dump): P3 = GPA, P4 = length; the message is decoded, NULs dropped", () => {
  const p = make();
  const vp = p.vps[0];
  p.memory.write(0x5000, enc("Kernel panic - not syncing: sysrq triggered crash\n\0\0"));
  [0n, 0n, 0n, 0x5000n, 52n].forEach((v, n) => wrmsr(vp, hvMsrCrashP(n), v));
  assert.equal(wrmsr(vp, HV_X64_MSR_CRASH_CTL, CAPS), "ok");
  assert.deepEqual(p.crashes, [{
    vp: 0,
    parameters: [0n, 0n, 0n, 0x5000n, 52n],
    control: CAPS,
    message: "Kernel panic - not syncing: sysrq triggered crash\n",
  }]);
});

Deno.test("CrashMessage, hostile P3/P4: outside RAM gives no message (never a throw), length capped at 4096, 0 gives ''", () => {
  const ram = 1 << 20;
  const p = make({ memoryBytes: ram });
  const vp = p.vps[0];
  p.memory.fill(0x10000, 3 * 4096, 0x41); // 'A' x 12288
  p.memory.write(0x0ffe, enc("pagecrossing")); // crosses 0x1000
  const report = (gpa: bigint, len: bigint) => {
    wrmsr(vp, hvMsrCrashP(3), gpa);
    wrmsr(vp, hvMsrCrashP(4), len);
    assert.equal(wrmsr(vp, HV_X64_MSR_CRASH_CTL, CAPS), "ok");
    return p.crashes.at(-1)!;
  };
  for (const [gpa, len] of [
    [BigInt(ram), 1n], // just past RAM
    [BigInt(ram - 4), 8n], // runs off the end
    [BigInt(ram) - 100n, 0xffffffffffffffffn], // capped to 4096, still off the end
    [1n << 40n, 16n],
    [1n << 63n, 16n],
    [0xffffffffffffffffn, 1n],
    [BigInt(ram + 1), 0n], // zero length beyond RAM
  ] as const) {
    const r = report(gpa, len);
    assert.ok(!("message" in r), `gpa 0x${gpa.toString(16)} len ${len}: no message`);
    assert.equal(r.parameters[3], gpa);
    assert.equal(r.parameters[4], len, "parameters reported as written");
  }
  assert.equal(report(0x10000n, 5000n).message, "A".repeat(HV_CRASH_MAX_MESSAGE_BYTES), "length > 4096 capped");
  assert.equal(report(0x10000n, 1n << 32n).message!.length, HV_CRASH_MAX_MESSAGE_BYTES, "length with high bits capped");
  assert.equal(report(0x10000n, 0n).message, "", "length 0");
  assert.equal(report(BigInt(ram), 0n).message, "", "length 0 at the very end of RAM");
  assert.equal(report(0x0ffen, 12n).message, "pagecrossing", "a page-crossing message is read whole");
  assert.equal(report(BigInt(ram - 3), 3n).message, "", "last bytes of RAM (zero) are in range");
  assert.equal(p.crashes.length, 13);
});

Deno.test("CrashMessage bit without CrashNotify raises nothing; CrashNotify alone ignores P3/P4 as a message", () => {
  const p = make();
  const vp = p.vps[0];
  p.memory.write(0x2000, enc("oops"));
  wrmsr(vp, hvMsrCrashP(3), 0x2000n);
  wrmsr(vp, hvMsrCrashP(4), 4n);
  assert.equal(wrmsr(vp, HV_X64_MSR_CRASH_CTL, MSG), "ok");
  assert.equal(p.crashes.length, 0);
  assert.equal(wrmsr(vp, HV_X64_MSR_CRASH_CTL, NOTIFY), "ok");
  assert.equal(p.crashes[0].message, undefined);
  assert.equal(wrmsr(vp, HV_X64_MSR_CRASH_CTL, CAPS), "ok");
  assert.equal(p.crashes[1].message, "oops");
});

Deno.test("readCrashMessage: invalid UTF-8 becomes U+FFFD; multi-byte UTF-8 is decoded", () => {
  const m = GuestMemory.allocate(8192);
  m.write(0x100, new Uint8Array([0x68, 0xff, 0x69, 0x00, 0xc3, 0xa9]));
  assert.equal(readCrashMessage(m, 0x100, 0, 6, 0), "h\ufffdié");
  assert.equal(readCrashMessage(m, 0x100, 1, 6, 0), undefined, "GPA 2^32 + 0x100");
  assert.equal(readCrashMessage(m, 0x1000, 0, 0, 1), "", "length 2^32 is capped to 4096 (fits: all NUL here, dropped)");
  assert.equal(readCrashMessage(m, 0x1001, 0, 0, 1), undefined, "capped to 4096, one byte past RAM");
});

Deno.test("without hv-crash composed every crash MSR #GPs and nothing is reported", () => {
  const p = TestPartition.create({ requested: ["reset"] });
  for (let n = 0; n < 5; n++) {
    assert.equal(rdmsr(p.vps[0], hvMsrCrashP(n)), "gp");
    assert.equal(wrmsr(p.vps[0], hvMsrCrashP(n), 1n), "gp");
  }
  assert.equal(rdmsr(p.vps[0], HV_X64_MSR_CRASH_CTL), "gp");
  assert.equal(wrmsr(p.vps[0], HV_X64_MSR_CRASH_CTL, NOTIFY), "gp");
  assert.deepEqual(p.crashes, []);
});

Deno.test("handlers: MSRs around the crash range are NotMine", () => {
  const buf = new SharedArrayBuffer(crashPartitionState.byteLength);
  crashPartitionState.reset(buf);
  const h = crashHandlers(crashPartitionState.views(buf) as CrashViews);
  const p = make();
  const msr = newMsrAccess();
  for (const index of [hvMsrCrashP(0) - 1, HV_X64_MSR_CRASH_CTL + 1]) {
    msr.index = index;
    assert.equal(h.rdmsr!(p.vps[0], msr), MsrOutcome.NotMine);
    assert.equal(h.wrmsr!(p.vps[0], msr), MsrOutcome.NotMine);
  }
});

Deno.test("save/restore and reset of the per-partition crash state through the arena", () => {
  const p = make();
  const vp = p.vps[0];
  [1n, 2n, 3n, 4n, 0xffffffffffffffffn].forEach((v, n) => wrmsr(vp, hvMsrCrashP(n), v));
  const saved = p.arena.save();
  p.arena.reset();
  for (let n = 0; n < 5; n++) assert.equal(rdmsr(vp, hvMsrCrashP(n)), 0n, `P${n} reset`);
  assert.equal(rdmsr(vp, HV_X64_MSR_CRASH_CTL), CAPS, "CTL back to the capabilities");
  const q = make();
  q.arena.restore(saved);
  [1n, 2n, 3n, 4n, 0xffffffffffffffffn].forEach((v, n) => assert.equal(rdmsr(q.vps[0], hvMsrCrashP(n)), v, `P${n} restored`));
  assert.equal(rdmsr(q.vps[0], HV_X64_MSR_CRASH_CTL), CAPS);
  assert.deepEqual(q.arena.inspect().crash, { p: [1n, 2n, 3n, 4n, 0xffffffffffffffffn], ctl: CAPS });
  assert.equal(wrmsr(q.vps[0], HV_X64_MSR_CRASH_CTL, NOTIFY), "ok");
  assert.deepEqual(q.crashes[0].parameters, [1n, 2n, 3n, 4n, 0xffffffffffffffffn], "the restored parameters are reported");
});
