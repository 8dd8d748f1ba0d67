/**
 * `hv run --save DIR` / `--restore DIR`: a saved VM as a directory.
 * - `hv-snapshot.json`: the {@link SnapshotManifest} (Schema-defined JSON, `schemaVersion` 1): the
 *   guest (kernel name, command line, modules, probe or not, profile), the machine shape (RAM MiB,
 *   vCPUs, irqchip), the Hyper-V composition request (re-composed on restore: plugins are code) and
 *   the machine state (`@hv/machine` `MachineState`: vCPU registers, plugin state, APICs, CMOS,
 *   the guest TSC frequency), binary parts in base64.
 * - `memory.bin`: guest RAM from GPA 0, exactly `memoryMiB` MiB, written sparse (all-zero 64 KiB
 *   blocks are holes).
 * - `kernel.bin`, `initrd-<n>.bin`: what a guest reset after the restore boots again.
 * Saving writes `DIR.partial-<pid>` and renames it to DIR at the end, and refuses a DIR that exists:
 * nothing the user had is overwritten, and a half-written snapshot never has the final name. A
 * snapshot is untrusted input: the manifest is decoded through its Schema (one message naming
 * what is wrong), every size is checked before use (`applyMachineState` checks the state against
 * the machine). Edge code.
 * @module
 */
import { Schema } from "effect";
import { HvVersion } from "@hv/compose";
import type { MachineState } from "@hv/machine";

/** The manifest's file name inside a snapshot directory. */
export const MANIFEST = "hv-snapshot.json";
/** The RAM image's file name inside a snapshot directory. */
export const MEMORY = "memory.bin";

const Bytes = Schema.Uint8ArrayFromBase64;
const U32 = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 0xffffffff }));
const Slot = Schema.Struct({ version: U32, bytes: Bytes });
const Slots = Schema.Record(Schema.String, Slot);
/** A file name inside the snapshot directory (no path separators, no dot files). */
const FileName = Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/));

/** One vCPU in the manifest (`@hv/machine` `SavedVcpu`; MSR values as decimal strings). */
const SavedVcpu = Schema.Struct({
  regs: Bytes,
  sregs: Bytes,
  fpu: Bytes,
  xsave: Bytes,
  xcrs: Bytes,
  events: Bytes,
  debugregs: Bytes,
  msrs: Schema.Array(Schema.Struct({ index: U32, value: Schema.BigIntFromString })),
  halted: Schema.Boolean,
});

/** The manifest of a snapshot directory (see the module documentation). */
export const SnapshotManifest = Schema.Struct({
  format: Schema.Literal("hv-snapshot"),
  schemaVersion: Schema.Literal(1),
  /** When it was saved (ISO 8601). */
  savedAt: Schema.String,
  guest: Schema.Struct({
    kernelName: Schema.String,
    append: Schema.String,
    initrd: Schema.Array(Schema.Struct({ file: FileName, string: Schema.String })),
    /** The built-in probe guest (its table is printed after the restored run). */
    probe: Schema.Boolean,
    profile: Schema.optional(Schema.String),
  }),
  machine: Schema.Struct({
    memoryMiB: Schema.Int.check(Schema.isBetween({ minimum: 2, maximum: 3072 })),
    smp: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 8 })),
    irqchip: Schema.Literal("userspace"),
  }),
  hyperv: Schema.optional(Schema.Struct({
    requested: Schema.Array(Schema.Struct({ name: Schema.String, reason: Schema.String })),
    set: Schema.Record(Schema.String, Schema.String),
    version: HvVersion,
  })),
  state: Schema.Struct({
    tscKhz: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 100_000_000 })),
    ramBytes: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 3072 * 1048576 })),
    vcpus: Schema.Array(SavedVcpu),
    partition: Slots,
    vps: Schema.Array(Slots),
    apics: Schema.Array(Slot),
    cmos: Bytes,
  }),
});
/** A decoded {@link SnapshotManifest}. */
export type SnapshotManifest = typeof SnapshotManifest.Type;

/** What a snapshot holds besides the machine state: the guest to boot again on a reset. */
export interface SnapshotGuest {
  readonly kernel: Uint8Array;
  readonly kernelName: string;
  readonly append: string;
  readonly initrd: readonly { readonly data: Uint8Array; readonly string: string }[];
  readonly probe: boolean;
  readonly profile?: string;
}

/** A snapshot directory that cannot be used (one message for the user; `hv run` exits with 2). */
export class SnapshotError extends Error {
  override readonly name = "SnapshotError";
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/**
 * Refuses a `--save` target that exists (hv never overwrites a snapshot or anything else) or whose
 * parent directory does not; call before the VM starts, so a bad target costs nothing.
 */
export async function checkSaveTarget(dir: string): Promise<void> {
  try {
    await Deno.lstat(dir);
    throw new SnapshotError(`--save ${dir}: it exists; hv never overwrites it: name a new directory`);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e instanceof SnapshotError ? e : new SnapshotError(`--save ${dir}: ${message(e)}`);
  }
  const parent = dir.includes("/") ? dir.slice(0, dir.lastIndexOf("/")) || "/" : ".";
  try {
    if (!(await Deno.stat(parent)).isDirectory) throw new SnapshotError(`--save ${dir}: ${parent} is not a directory`);
  } catch (e) {
    throw e instanceof SnapshotError ? e : new SnapshotError(`--save ${dir}: ${message(e)}`);
  }
}

/** Size of the blocks {@link writeSparse} skips when they are all zero. */
const BLOCK = 64 * 1024;

/** Writes `bytes` to `path` leaving all-zero {@link BLOCK}s as holes (the file is `bytes.length` long). */
async function writeSparse(path: string, bytes: Uint8Array): Promise<void> {
  using f = await Deno.open(path, { write: true, createNew: true });
  for (let off = 0; off < bytes.length; off += BLOCK) {
    const block = bytes.subarray(off, Math.min(off + BLOCK, bytes.length));
    if (isZero(block)) continue;
    await f.seek(off, Deno.SeekMode.Start);
    for (let done = 0; done < block.length;) done += await f.write(block.subarray(done));
  }
  await f.truncate(bytes.length);
}

/** Whether every byte of `b` is 0 (word-wise when aligned). */
function isZero(b: Uint8Array): boolean {
  if (b.byteOffset % 4 === 0 && b.length % 4 === 0) {
    const w = new Uint32Array(b.buffer, b.byteOffset, b.length / 4);
    for (let i = 0; i < w.length; i++) if (w[i] !== 0) return false;
    return true;
  }
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/** The manifest's `hyperv` part: the composition request a restore composes again. */
export type SnapshotHyperv = SnapshotManifest["hyperv"];

/**
 * Writes a snapshot directory `dir` (see the module documentation): into `dir.partial-<pid>`, then
 * renamed to `dir`. On failure the partial directory is removed and the error rethrown.
 */
export async function writeSnapshot(
  dir: string,
  o: { guest: SnapshotGuest; memoryMiB: number; smp: number; hyperv: SnapshotHyperv; state: MachineState; ram: Uint8Array },
): Promise<void> {
  const tmp = `${dir}.partial-${Deno.pid}`;
  await Deno.mkdir(tmp);
  try {
    await writeSparse(`${tmp}/${MEMORY}`, o.ram);
    await Deno.writeFile(`${tmp}/kernel.bin`, o.guest.kernel, { createNew: true });
    const initrd = o.guest.initrd.map((m, i) => ({ file: `initrd-${i}.bin`, string: m.string, data: m.data }));
    for (const m of initrd) await Deno.writeFile(`${tmp}/${m.file}`, m.data, { createNew: true });
    const manifest: SnapshotManifest = {
      format: "hv-snapshot",
      schemaVersion: 1,
      savedAt: new Date().toISOString(),
      guest: {
        kernelName: o.guest.kernelName,
        append: o.guest.append,
        initrd: initrd.map(({ file, string }) => ({ file, string })),
        probe: o.guest.probe,
        ...(o.guest.profile ? { profile: o.guest.profile } : {}),
      },
      machine: { memoryMiB: o.memoryMiB, smp: o.smp, irqchip: "userspace" },
      ...(o.hyperv ? { hyperv: o.hyperv } : {}),
      state: o.state,
    };
    const json = JSON.stringify(Schema.encodeSync(SnapshotManifest)(manifest), null, 1) + "\n";
    await Deno.writeTextFile(`${tmp}/${MANIFEST}`, json, { createNew: true });
    await Deno.rename(tmp, dir);
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw e;
  }
}

/** A snapshot read back: its manifest, the guest files, and the RAM loader for `MachineRestore`. */
export interface LoadedSnapshot {
  readonly manifest: SnapshotManifest;
  readonly guest: SnapshotGuest;
  /** Fills `into` (exactly the snapshot's RAM size) from `memory.bin`. */
  loadRam(into: Uint8Array): Promise<void>;
}

/**
 * Reads and checks snapshot directory `dir`: the manifest through its Schema, the RAM image's size
 * against it, the kernel and modules. Throws {@link SnapshotError} with one message for anything
 * missing, unreadable or malformed.
 */
export async function readSnapshot(dir: string): Promise<LoadedSnapshot> {
  const where = `--restore ${dir}`;
  let text: string;
  try {
    text = await Deno.readTextFile(`${dir}/${MANIFEST}`);
  } catch (e) {
    throw new SnapshotError(`${where}: not a snapshot (${MANIFEST}: ${message(e)})`);
  }
  let manifest: SnapshotManifest;
  try {
    manifest = Schema.decodeUnknownSync(SnapshotManifest)(JSON.parse(text));
  } catch (e) {
    throw new SnapshotError(`${where}: ${MANIFEST} is not a valid hv snapshot: ${message(e).split("\n").slice(0, 4).join(" ")}`);
  }
  const ramBytes = manifest.machine.memoryMiB * 1048576;
  if (manifest.state.ramBytes !== ramBytes) throw new SnapshotError(`${where}: the state's RAM size (${manifest.state.ramBytes} bytes) is not the machine's ${manifest.machine.memoryMiB} MiB`);
  const read = async (file: string) => {
    try {
      return await Deno.readFile(`${dir}/${file}`);
    } catch (e) {
      throw new SnapshotError(`${where}: ${file}: ${message(e)}`);
    }
  };
  try {
    const size = (await Deno.stat(`${dir}/${MEMORY}`)).size;
    if (size !== ramBytes) throw new SnapshotError(`${where}: ${MEMORY} has ${size} bytes, the snapshot's RAM ${ramBytes}`);
  } catch (e) {
    throw e instanceof SnapshotError ? e : new SnapshotError(`${where}: ${MEMORY}: ${message(e)}`);
  }
  const g = manifest.guest;
  const guest: SnapshotGuest = {
    kernel: await read("kernel.bin"),
    kernelName: g.kernelName,
    append: g.append,
    initrd: await Promise.all(g.initrd.map(async (m) => ({ data: await read(m.file), string: m.string }))),
    probe: g.probe,
    ...(g.profile !== undefined ? { profile: g.profile } : {}),
  };
  return {
    manifest,
    guest,
    async loadRam(into) {
      using f = await Deno.open(`${dir}/${MEMORY}`, { read: true });
      let off = 0;
      while (off < into.length) {
        const n = await f.read(into.subarray(off));
        if (n === null) throw new SnapshotError(`${where}: ${MEMORY} ended at ${off} bytes, expected ${into.length}`);
        off += n;
      }
    },
  };
}
