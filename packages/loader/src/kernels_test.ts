// Real kernels built with the machine's gcc and ld into a temp dir: a Multiboot ELF32, a Multiboot
// ELF64 (header in a .multiboot section), an a.out-kludge flat binary, and a plain higher-half ELF64.
import assert from "node:assert/strict";
import { Effect, Exit } from "effect";
import { GuestMemory } from "@hv/x86";
import {
  type BootPlan,
  loadKernel,
  MbiOffset,
  MULTIBOOT_BOOTLOADER_MAGIC,
  MultibootInfoFlags,
  tryLoadKernel,
} from "../mod.ts";

const MiB = 1 << 20;
const PATTERN = 0xa5;

const run = async (cmd: string, args: string[], cwd: string) => {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed:\n${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
};

const gccMissing = await (async () => {
  try {
    for (const tool of ["gcc", "ld", "nm", "objcopy"]) await run(tool, ["--version"], ".");
    return undefined;
  } catch (e) {
    return e instanceof Deno.errors.NotFound
      ? "gcc/ld/nm/objcopy not installed"
      : `toolchain unusable: ${(e as Error).message}`;
  }
})();
if (gccMissing) console.log(`skipping the gcc-built kernel tests: ${gccMissing}`);

const HEADER = (flags: string) => `
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS ${flags}
.section .note.GNU-stack,"",@progbits
`;

const SOURCES: Record<string, string> = {
  "mb32.S": `${HEADER("0x00000003")}
.section .multiboot, "a"
.align 4
.long MB_MAGIC
.long MB_FLAGS
.long -(MB_MAGIC + MB_FLAGS)
.text
.globl _start
_start:
  mov $stack_top, %esp
  mov $0xf4, %dx
  xor %eax, %eax
  out %eax, %dx
1: hlt
  jmp 1b
.data
.globl marker
marker: .ascii "HV-MB32-DATA-MARKER\\0"
.bss
.align 16
stack: .skip 16384
stack_top:
`,
  "mb32.ld": `ENTRY(_start)
SECTIONS {
  . = 0x100000;
  .text : { *(.multiboot) *(.text*) }
  .data : { *(.data*) *(.rodata*) }
  __bss_start = .;
  .bss : { *(.bss*) *(COMMON) }
  _end = .;
  /DISCARD/ : { *(.note*) *(.comment) *(.eh_frame) }
}
`,
  "mb64.S": `${HEADER("0x00000002")}
.section .multiboot, "a"
.align 4
.long MB_MAGIC
.long MB_FLAGS
.long -(MB_MAGIC + MB_FLAGS)
.text
.code32
.globl _start
_start:
  mov $0xf4, %dx
  out %al, %dx
1: hlt
  jmp 1b
.data
.globl marker
marker: .ascii "HV-MB64-DATA-MARKER\\0"
.bss
.skip 12345
`,
  "mb64.ld": `ENTRY(_start)
SECTIONS {
  . = 0x200000;
  .text : { *(.multiboot) *(.text*) }
  . = ALIGN(0x1000);
  .data : { *(.data*) *(.rodata*) }
  __bss_start = .;
  .bss : { *(.bss*) *(COMMON) }
  _end = .;
  /DISCARD/ : { *(.note*) *(.comment) *(.eh_frame) }
}
`,
  "aout.S": `${HEADER("0x00010002")}
.text
.globl _start
mb_header:
.long MB_MAGIC
.long MB_FLAGS
.long -(MB_MAGIC + MB_FLAGS)
.long mb_header
.long _load_start
.long _load_end
.long _bss_end
.long _start
.byte 0x90, 0x90, 0x90, 0x90
_start:
  mov $0xf4, %dx
  out %al, %dx
1: hlt
  jmp 1b
.data
.globl marker
marker: .ascii "HV-AOUT-DATA-MARKER\\0"
.bss
.skip 8192
`,
  "aout.ld": `ENTRY(_start)
SECTIONS {
  . = 0x180000;
  _load_start = .;
  .text : { *(.text*) }
  .data : { *(.data*) *(.rodata*) }
  _load_end = .;
  .bss : { *(.bss*) *(COMMON) }
  _bss_end = .;
  /DISCARD/ : { *(.note*) *(.comment) *(.eh_frame) }
}
`,
  "plain64.S": `
.section .note.GNU-stack,"",@progbits
.text
.code64
.globl _start
_start:
  mov $0xf4, %dx
  out %al, %dx
1: hlt
  jmp 1b
.data
.globl marker
marker: .ascii "HV-ELF64-DATA-MARKER\\0"
.bss
.skip 4096
`,
  "plain64.ld": `ENTRY(_start)
KERNEL_VMA = 0xffffffff80000000;
SECTIONS {
  . = KERNEL_VMA + 0x300000;
  .text : AT(ADDR(.text) - KERNEL_VMA) { *(.text*) }
  . = ALIGN(0x1000);
  .data : AT(ADDR(.data) - KERNEL_VMA) { *(.data*) *(.rodata*) }
  __bss_start = .;
  .bss : AT(ADDR(.bss) - KERNEL_VMA) { *(.bss*) *(COMMON) }
  _end = .;
  /DISCARD/ : { *(.note*) *(.comment) *(.eh_frame) }
}
`,
};

interface Built {
  readonly file: Uint8Array;
  /** `objcopy -O binary` of the ELF: the loadable bytes from the lowest LMA. */
  readonly flat: Uint8Array;
  readonly sym: Record<string, bigint>;
}

const built = gccMissing ? undefined : await (async () => {
  const dir = await Deno.makeTempDir({ prefix: "hv-loader-test-" });
  for (const [name, text] of Object.entries(SOURCES)) await Deno.writeTextFile(`${dir}/${name}`, text);
  const ldFlags = ["-z", "max-page-size=0x1000", "--no-warn-rwx-segments", "-nostdlib"];
  const build = async (name: string, bits: 32 | 64, emulation: string): Promise<Built> => {
    await run("gcc", [`-m${bits}`, "-c", `${name}.S`, "-o", `${name}.o`], dir);
    await run("ld", ["-m", emulation, ...ldFlags, "-T", `${name}.ld`, "-o", `${name}.elf`, `${name}.o`], dir);
    await run("objcopy", ["-O", "binary", `${name}.elf`, `${name}.flat`], dir);
    const sym: Record<string, bigint> = {};
    for (const line of (await run("nm", [`${name}.elf`], dir)).split("\n")) {
      const [addr, , s] = line.trim().split(/\s+/);
      if (s) sym[s] = BigInt(`0x${addr}`);
    }
    return { file: await Deno.readFile(`${dir}/${name}.elf`), flat: await Deno.readFile(`${dir}/${name}.flat`), sym };
  };
  const kernels = {
    mb32: await build("mb32", 32, "elf_i386"),
    mb64: await build("mb64", 64, "elf_x86_64"),
    aout: await build("aout", 32, "elf_i386"),
    plain64: await build("plain64", 64, "elf_x86_64"),
  };
  // The a.out-kludge kernel proper is the flat binary.
  await run(
    "ld",
    ["-m", "elf_i386", ...ldFlags, "--oformat", "binary", "-T", "aout.ld", "-o", "aout.bin", "aout.o"],
    dir,
  );
  const aoutBin = await Deno.readFile(`${dir}/aout.bin`);
  await Deno.remove(dir, { recursive: true });
  return { ...kernels, aoutBin };
})();

const ram = (size = 64 * MiB) => {
  const m = GuestMemory.allocate(size);
  m.bytes.fill(PATTERN);
  return m;
};

const ok = (memory: GuestMemory, image: Uint8Array, options = {}): BootPlan => {
  const r = tryLoadKernel(memory, image, options);
  if (!("kind" in r)) assert.fail(`expected a boot plan, got ${r._tag}: ${r.message}`);
  return r;
};

const cString = (m: GuestMemory, gpa: number) => {
  const end = m.bytes.indexOf(0, gpa);
  return new TextDecoder().decode(m.bytes.subarray(gpa, end));
};

const text = (m: GuestMemory, gpa: bigint | number, s: string) =>
  new TextDecoder().decode(m.slice(Number(gpa), s.length)!);

const every = (m: GuestMemory, from: number, to: number, value: number) => {
  const b = m.bytes;
  for (let i = from; i < to; i++) if (b[i] !== value) return false;
  return true;
};
const allZero = (m: GuestMemory, from: number, to: number) => every(m, from, to, 0);
const untouched = (m: GuestMemory, from: number, to: number) => every(m, from, to, PATTERN);

/**
 * Each loaded segment holds the matching bytes of `objcopy -O binary` (whose offset 0 is GPA
 * `base`), and the gaps between segments, which objcopy pads with zeroes, were not written.
 */
const assertLoaded = (m: GuestMemory, plan: BootPlan, flat: Uint8Array, base: number) => {
  let prev = base;
  for (const s of [...plan.segments].sort((a, b) => a.gpa - b.gpa)) {
    assert.ok(untouched(m, prev, s.gpa), `gap ${prev.toString(16)}..${s.gpa.toString(16)} untouched`);
    assert.deepEqual(
      m.slice(s.gpa, s.fileBytes),
      flat.subarray(s.gpa - base, s.gpa - base + s.fileBytes),
      `segment at ${s.gpa.toString(16)}`,
    );
    assert.ok(allZero(m, s.gpa + s.fileBytes, s.gpa + s.memBytes), `bss of the segment at ${s.gpa.toString(16)}`);
    prev = s.gpa + s.memBytes;
  }
  assert.ok(prev >= base + flat.length, "the segments cover the whole flat image");
};

const test = (name: string, fn: () => void | Promise<void>) =>
  Deno.test({ name, ignore: gccMissing !== undefined, fn });

test("multiboot ELF32: segments land at p_paddr, bss zeroed, entry and registers", () => {
  const k = built!.mb32;
  const m = ram();
  const plan = ok(m, k.file);
  assert.equal(plan.kind, "multiboot");
  if (plan.kind !== "multiboot") return;
  assert.equal(plan.format, "elf32");
  assert.equal(plan.entry, Number(k.sym._start));
  assert.equal(plan.eax, 0x2badb002);
  assert.equal(plan.eax, MULTIBOOT_BOOTLOADER_MAGIC);
  assert.equal(plan.ebx, 0x9000);
  assertLoaded(m, plan, k.flat, 0x100000);
  assert.equal(m.readU32(0x100000), 0x1badb002, "the header is the first thing in .text");
  assert.equal(text(m, k.sym.marker, "HV-MB32-DATA-MARKER"), "HV-MB32-DATA-MARKER");
  assert.ok(allZero(m, Number(k.sym.__bss_start), Number(k.sym._end)), "bss zeroed");
  assert.equal(plan.highestAddress, Number(k.sym._end));
  assert.ok(untouched(m, Number(k.sym._end), 64 * MiB), "nothing written above the kernel");
  assert.ok(untouched(m, 0, 0x9000), "nothing written below the MBI");
});

test("multiboot ELF32: the MBI decodes (flags, mem_lower/upper, cmdline, mods, mmap, boot loader name)", () => {
  const k = built!.mb32;
  const m = ram();
  const env = new TextEncoder().encode("NR_CPUS=1\nMEMSIZE=64\n");
  const second = new Uint8Array(5000).map((_, i) => i * 7);
  const plan = ok(m, k.file, {
    kernelName: "mb32.elf",
    cmdline: "console=ttyS0 -v",
    modules: [{ data: env, string: "env" }, { data: second, string: "second arg" }, { data: new Uint8Array(0) }],
  });
  if (plan.kind !== "multiboot") return assert.fail("multiboot expected");
  const mbi = plan.ebx;
  const u32 = (o: number) => m.readU32(mbi + o);
  const flags = u32(MbiOffset.flags);
  for (const bit of Object.values(MultibootInfoFlags)) assert.ok(flags & bit, `flag ${bit}`);
  assert.equal(flags, 0x24d);
  assert.equal(u32(MbiOffset.memLower), 640);
  assert.equal(u32(MbiOffset.memUpper), (64 * MiB - MiB) / 1024);
  assert.equal(cString(m, u32(MbiOffset.cmdline)), "mb32.elf console=ttyS0 -v");
  assert.equal(plan.cmdline, "mb32.elf console=ttyS0 -v");
  assert.equal(cString(m, u32(MbiOffset.bootLoaderName)), "hv");
  // modules
  assert.equal(u32(MbiOffset.modsCount), 3);
  const mods = u32(MbiOffset.modsAddr);
  const kernelEnd = Number(k.sym._end);
  let prevEnd = kernelEnd;
  const expect = [[env, "env"], [second, "second arg"], [new Uint8Array(0), ""]] as const;
  expect.forEach(([data, string], i) => {
    const start = m.readU32(mods + 16 * i);
    const end = m.readU32(mods + 16 * i + 4);
    assert.equal(start % 4096, 0, `module ${i} page-aligned`);
    assert.ok(start >= prevEnd, `module ${i} above the kernel and the previous module`);
    assert.equal(end - start, data.length);
    assert.deepEqual(m.slice(start, data.length), data);
    assert.equal(cString(m, m.readU32(mods + 16 * i + 8)), string);
    assert.deepEqual(plan.modules[i], { start, end, string });
    prevEnd = end;
  });
  assert.equal(plan.highestAddress, prevEnd);
  // mmap, walked as the spec says: next = entry + size + 4
  const mmapLen = u32(MbiOffset.mmapLength);
  const mmapAddr = u32(MbiOffset.mmapAddr);
  const entries: [number, number, number][] = [];
  const q = new Uint32Array(2);
  for (let at = mmapAddr; at < mmapAddr + mmapLen; at += m.readU32(at) + 4) {
    m.readU64(at + 4, q);
    const base = q[0] + q[1] * 2 ** 32;
    m.readU64(at + 12, q);
    entries.push([base, q[0] + q[1] * 2 ** 32, m.readU32(at + 20)]);
  }
  assert.deepEqual(entries, [
    [0, 0x9fc00, 1],
    [0x9fc00, 0x100000 - 0x9fc00, 2],
    [0x100000, 63 * MiB, 1],
  ]);
  assert.ok(untouched(m, 0, 0x9000));
});

test("multiboot ELF64 (header in .multiboot): loaded by p_paddr with a 32-bit entry", () => {
  const k = built!.mb64;
  assert.equal(k.file[4], 2, "ELFCLASS64");
  const m = ram(16 * MiB);
  const plan = ok(m, k.file, { cmdline: "x" });
  if (plan.kind !== "multiboot") return assert.fail("multiboot expected");
  assert.equal(plan.format, "elf64");
  assert.equal(plan.entry, Number(k.sym._start));
  assertLoaded(m, plan, k.flat, 0x200000);
  assert.ok(plan.segments.length >= 2, "text and data are separate segments");
  assert.equal(text(m, k.sym.marker, "HV-MB64-DATA-MARKER"), "HV-MB64-DATA-MARKER");
  assert.ok(allZero(m, Number(k.sym.__bss_start), Number(k.sym._end)));
  assert.equal(cString(m, m.readU32(plan.ebx + MbiOffset.cmdline)), "x");
  assert.equal(m.readU32(plan.ebx + MbiOffset.memUpper), 15 * 1024);
});

test("multiboot a.out kludge (flat binary from ld --oformat binary): load_addr..load_end_addr, bss to bss_end_addr", () => {
  const k = built!.aout;
  const bin = built!.aoutBin;
  assert.equal(new DataView(bin.buffer).getUint32(0, true), 0x1badb002, "a flat image, header first");
  const m = ram();
  const plan = ok(m, bin);
  if (plan.kind !== "multiboot") return assert.fail("multiboot expected");
  assert.equal(plan.format, "aout-kludge");
  assert.equal(plan.entry, Number(k.sym._start));
  assert.equal(Number(k.sym._load_end - k.sym._load_start), bin.length);
  assertLoaded(m, plan, bin, 0x180000);
  assert.equal(text(m, k.sym.marker, "HV-AOUT-DATA-MARKER"), "HV-AOUT-DATA-MARKER");
  assert.ok(allZero(m, Number(k.sym._load_end), Number(k.sym._bss_end)));
  assert.ok(untouched(m, Number(k.sym._bss_end), 64 * MiB));
  assert.deepEqual(plan.segments, [{
    gpa: 0x180000,
    fileBytes: bin.length,
    memBytes: Number(k.sym._bss_end - k.sym._load_start),
  }]);
  // The ELF version sets bit 16 too, so it also loads through the kludge, from the header's file offset.
  const m2 = ram();
  const plan2 = ok(m2, k.file);
  assert.equal(plan2.kind === "multiboot" && plan2.format, "aout-kludge");
  assert.deepEqual(m2.slice(0x180000, bin.length), bin);
});

test("plain ELF64 (higher-half p_vaddr, AT() p_paddr): loaded by p_paddr, entry translated to its GPA", async () => {
  const k = built!.plain64;
  const VMA = 0xffffffff80000000n;
  assert.equal(k.sym._start, VMA + 0x300000n);
  const m = ram();
  const plan = ok(m, k.file);
  assert.deepEqual({ kind: plan.kind, entry: plan.entry }, { kind: "elf64", entry: 0x300000 });
  assertLoaded(m, plan, k.flat, 0x300000);
  assert.equal(text(m, k.sym.marker - VMA, "HV-ELF64-DATA-MARKER"), "HV-ELF64-DATA-MARKER");
  assert.ok(allZero(m, Number(k.sym.__bss_start - VMA), Number(k.sym._end - VMA)));
  assert.equal(plan.highestAddress, Number(k.sym._end - VMA));
  assert.ok(untouched(m, 0, 0x300000), "no MBI for plain ELF64");
  // Effect API
  const viaEffect = await Effect.runPromise(loadKernel(ram(), k.file));
  assert.deepEqual(viaEffect, plan);
  const refused = await Effect.runPromiseExit(loadKernel(ram(), k.file, { cmdline: "x" }));
  assert.ok(Exit.isFailure(refused));
});

test("every truncation of a real kernel gives a LoadError or a plan, never a throw, and errors leave RAM untouched", () => {
  for (const k of [built!.mb32.file, built!.mb64.file, built!.aoutBin, built!.plain64.file]) {
    const m = ram(4 * MiB);
    const words = new Uint32Array(m.bytes.buffer);
    for (let len = 0; len < k.length; len += len < 256 ? 1 : 61) {
      const r = tryLoadKernel(m, k.subarray(0, len));
      if ("kind" in r) {
        m.bytes.fill(PATTERN);
        continue;
      }
      assert.equal(r._tag, "LoadError");
      for (let i = 0; i < words.length; i++) {
        if (words[i] !== 0xa5a5a5a5) assert.fail(`RAM written at ${i * 4} for a ${len}-byte prefix`);
      }
    }
  }
});
