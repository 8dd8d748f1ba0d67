import assert from "node:assert/strict";
import type { MachineState } from "@hv/machine";
import { checkSaveTarget, MANIFEST, MEMORY, readSnapshot, SnapshotError, writeSnapshot } from "./snapshot_file.ts";

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);

/** A small machine state with every kind of part (contents are arbitrary: the file layer does not interpret them). */
const state = (ramBytes: number): MachineState => ({
  tscKhz: 2_596_144,
  ramBytes,
  vcpus: [{
    regs: bytes(144, 1),
    sregs: bytes(312, 2),
    fpu: bytes(416, 3),
    xsave: bytes(4096, 4),
    xcrs: bytes(392, 5),
    events: bytes(64, 6),
    debugregs: bytes(128, 7),
    msrs: [{ index: 0x10, value: 123456789012345678n }, { index: 0xc0000082, value: 0xffffffff81000000n }],
    halted: true,
  }],
  partition: { core: { version: 1, bytes: bytes(24, 9) } },
  vps: [{ synic: { version: 2, bytes: bytes(40, 10) } }],
  apics: [{ version: 1, bytes: bytes(200, 11) }],
  cmos: bytes(128, 12),
});

const guest = { kernel: bytes(1000, 0x7f), kernelName: "probe.elf", append: "profile=win2012 tsc_change_wait=5", initrd: [{ data: bytes(10, 1), string: "mod arg" }], probe: true, profile: "win2012" };

Deno.test("snapshot: write then read gives back the manifest, the guest files and the RAM; zero blocks are holes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const ram = new Uint8Array(2 * 1048576);
    ram.set([1, 2, 3], 0x1000);
    ram[ram.length - 1] = 0xee;
    const target = `${dir}/vm1`;
    await checkSaveTarget(target);
    await writeSnapshot(target, { guest, memoryMiB: 2, smp: 1, hyperv: { requested: [{ name: "time", reason: "test" }], set: {}, version: { build: 14393, major: 10, minor: 0, servicePack: 0, serviceBranch: 0, serviceNumber: 0 } }, state: state(ram.length), ram });
    const names = [...Deno.readDirSync(dir)].map((e) => e.name);
    assert.deepEqual(names, ["vm1"], "no partial directory is left behind");
    const st = await Deno.stat(`${target}/${MEMORY}`);
    assert.equal(st.size, ram.length);
    if (st.blocks !== null) assert.ok(st.blocks * 512 < ram.length / 4, `memory.bin is sparse (${st.blocks} blocks)`);

    const s = await readSnapshot(target);
    assert.deepEqual(s.manifest.state, state(ram.length));
    assert.equal(s.manifest.guest.profile, "win2012");
    assert.deepEqual(s.guest.kernel, guest.kernel);
    assert.deepEqual(s.guest.initrd, guest.initrd);
    assert.equal(s.guest.append, guest.append);
    const back = new Uint8Array(ram.length).fill(0x55);
    await s.loadRam(back);
    assert.deepEqual(back, ram);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("snapshot: --save refuses an existing target and a missing parent; nothing is touched", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/precious`, "keep me");
    await assert.rejects(checkSaveTarget(`${dir}/precious`), (e: Error) => e instanceof SnapshotError && /exists; hv never overwrites it/.test(e.message));
    await assert.rejects(checkSaveTarget(`${dir}/no/such/vm`), SnapshotError);
    assert.equal(await Deno.readTextFile(`${dir}/precious`), "keep me");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("snapshot: a missing, malformed or inconsistent snapshot is one SnapshotError", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(readSnapshot(`${dir}/none`), (e: Error) => e instanceof SnapshotError && /not a snapshot/.test(e.message));
    const ram = new Uint8Array(2 * 1048576);
    const vm = `${dir}/vm`;
    await writeSnapshot(vm, { guest, memoryMiB: 2, smp: 1, hyperv: undefined, state: state(ram.length), ram });
    const good = JSON.parse(await Deno.readTextFile(`${vm}/${MANIFEST}`));
    // deno-lint-ignore no-explicit-any
    const cases: [string, (m: any) => void, RegExp][] = [
      ["wrong format", (m) => (m.format = "qemu"), /not a valid hv snapshot/],
      ["bad base64", (m) => (m.state.cmos = "!!!"), /not a valid hv snapshot/],
      ["path in a module name", (m) => (m.guest.initrd[0].file = "../../etc/passwd"), /not a valid hv snapshot/],
      ["RAM size disagrees", (m) => (m.state.ramBytes = 4096), /RAM size/],
      ["vCPU count out of range", (m) => (m.machine.smp = 99), /not a valid hv snapshot/],
    ];
    for (const [what, patch, why] of cases) {
      const m = structuredClone(good);
      patch(m);
      await Deno.writeTextFile(`${vm}/${MANIFEST}`, JSON.stringify(m));
      await assert.rejects(readSnapshot(vm), (e: Error) => e instanceof SnapshotError && why.test(e.message), what);
    }
    await Deno.writeTextFile(`${vm}/${MANIFEST}`, JSON.stringify(good));
    await Deno.truncate(`${vm}/${MEMORY}`, 4096);
    await assert.rejects(readSnapshot(vm), (e: Error) => e instanceof SnapshotError && /memory.bin has 4096 bytes/.test(e.message));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
