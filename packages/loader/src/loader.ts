/**
 * Loading a guest kernel into {@link GuestMemory} and describing how to start the boot vCPU.
 *
 * The file is untrusted: every offset, size and address in it is checked (with exact bigint
 * arithmetic for 64-bit fields) before use, every loop is bounded by the file size, and nothing is
 * written to guest RAM until the whole image, its placement and the Multiboot information have
 * been validated. RAM is written only through GuestMemory's checked methods.
 * @module
 */
import { Effect } from "effect";
import type { GuestMemory } from "@hv/x86";
import { LoadError } from "./errors.ts";
import { type ElfInfo, isElf, parseElf } from "./elf.ts";
import { fail, formatSize, hex, Image } from "./image.ts";
import {
  buildMbi,
  findMultibootHeader,
  HIGH_MEMORY,
  layoutMbi,
  MULTIBOOT_BOOTLOADER_MAGIC,
  type MultibootHeader,
  type PlacedModule,
} from "./multiboot.ts";

/** A Multiboot module (`--initrd`): its bytes and the string the kernel sees for it (default ""). */
export interface KernelModule {
  readonly data: Uint8Array;
  readonly string?: string;
}

/** What to pass to the kernel besides its image. */
export interface LoadOptions {
  /**
   * The command line (`--append`). For Multiboot it becomes the NUL-terminated MBI `cmdline`. A plain
   * ELF64 kernel has no way to receive one, so a non-empty value is refused for it (`config`).
   */
  readonly cmdline?: string;
  /**
   * When set, the MBI command line is `${kernelName} ${cmdline}`, as QEMU builds it
   * (hw/i386/multiboot.c: `"%s %s", kernel_filename, kernel_cmdline`), which kvm-unit-tests
   * relies on: it takes the first word as argv[0]. When unset, the command line is `cmdline` alone.
   */
  readonly kernelName?: string;
  /** Multiboot modules (`--initrd`), loaded in this order, page-aligned, above both the kernel and 1 MiB. Refused for plain ELF64. */
  readonly modules?: readonly KernelModule[];
  /** MBI `boot_loader_name`; default "hv". */
  readonly bootLoaderName?: string;
}

/** One range the loader filled: `fileBytes` copied from the image at `gpa`, then zeroes up to `memBytes`. */
export interface LoadedSegment {
  readonly gpa: number;
  readonly fileBytes: number;
  readonly memBytes: number;
}

/**
 * A Multiboot kernel, loaded with its MBI. The machine must start the boot vCPU as the spec's
 * "Machine state" section requires: 32-bit protected mode, paging off, CS a flat 4 GiB read/execute
 * code segment, DS/ES/FS/GS/SS flat 4 GiB read/write data segments, A20 enabled, EFLAGS.VM and IF
 * clear, EIP = `entry`, EAX = `eax` (0x2BADB002), EBX = `ebx` (the MBI's GPA). ESP is undefined
 * (the kernel sets its own stack).
 */
export interface MultibootBoot {
  readonly kind: "multiboot";
  /** How the image was loaded: ELF32 or ELF64 program headers, or the a.out kludge. */
  readonly format: "elf32" | "elf64" | "aout-kludge";
  /** Entry GPA (the a.out `entry_addr`, or `e_entry` translated to its physical address). */
  readonly entry: number;
  /** {@link MULTIBOOT_BOOTLOADER_MAGIC}. */
  readonly eax: typeof MULTIBOOT_BOOTLOADER_MAGIC;
  /** GPA of the MBI (`MBI_ADDRESS`, 0x9000). */
  readonly ebx: number;
  /** One past the highest GPA written for the kernel (segments and bss) and the modules. */
  readonly highestAddress: number;
  readonly segments: readonly LoadedSegment[];
  readonly modules: readonly PlacedModule[];
  /** The command line as given to the kernel. */
  readonly cmdline: string;
}

/**
 * A plain ELF64 kernel (no Multiboot header), loaded by its program headers' `p_paddr`. The machine
 * starts it in 64-bit long mode with identity paging covering its segments, RIP = `entry`. Nothing
 * is passed in registers.
 */
export interface Elf64Boot {
  readonly kind: "elf64";
  /** Entry GPA (`e_entry`, translated to its physical address when it lies in a segment's p_vaddr range only). */
  readonly entry: number;
  /** One past the highest GPA written (segments and bss): the machine can put its page tables above it. */
  readonly highestAddress: number;
  readonly segments: readonly LoadedSegment[];
}

/** How to start the loaded kernel. */
export type BootPlan = MultibootBoot | Elf64Boot;

const PAGE = 4096;
const FOUR_GIB = 2n ** 32n;

interface Piece {
  readonly gpa: number;
  readonly data: Uint8Array;
  readonly memBytes: number;
  readonly what: string;
}

const alignUp = (n: number, a: number) => Math.ceil(n / a) * a;

/**
 * Checks [gpa, gpa+len) against RAM (and 4 GiB for Multiboot) with exact arithmetic. Messages read
 * "`what` at 0x... (+N bytes, `detail`) is outside the 64 MiB of guest RAM".
 */
const checkPlace = (
  memory: GuestMemory,
  gpa: bigint,
  len: bigint,
  what: string,
  detail: string,
  below4g: boolean,
): void => {
  const where = `${what} at ${hex(gpa)} (+${len} bytes, ${detail})`;
  if (gpa + len > BigInt(memory.size)) {
    fail("outside-ram", `${where} is outside the ${formatSize(memory.size)} of guest RAM`);
  }
  if (below4g && gpa + len > FOUR_GIB) {
    fail("outside-ram", `${where} is above the 4 GiB a multiboot kernel can address`);
  }
};

/** ELF PT_LOADs → pieces, after the RAM checks; refuses overlapping segments. */
const elfPieces = (memory: GuestMemory, img: Image, elf: ElfInfo, below4g: boolean): Piece[] => {
  const pieces: Piece[] = [];
  for (const l of elf.loads) {
    checkPlace(memory, l.paddr, l.memsz, "segment", `ELF program header ${l.index}`, below4g);
    pieces.push({
      gpa: Number(l.paddr),
      data: img.sub(Number(l.offset), Number(l.filesz)),
      memBytes: Number(l.memsz),
      what: `segment at ${hex(l.paddr)} (ELF program header ${l.index})`,
    });
  }
  const sorted = [...pieces].sort((a, b) => a.gpa - b.gpa);
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1];
    const b = sorted[i];
    if (a.gpa + a.memBytes > b.gpa) {
      fail("bad-header", `ELF ${a.what} (+${a.memBytes} bytes) overlaps ${b.what}`);
    }
  }
  return pieces;
};

/** The entry point as a GPA: e_entry if inside a segment's p_paddr range, else translated from a p_vaddr range. */
const elfEntry = (elf: ElfInfo): number => {
  const e = elf.entry;
  for (const l of elf.loads) if (e >= l.paddr && e < l.paddr + l.memsz) return Number(e);
  for (const l of elf.loads) if (e >= l.vaddr && e < l.vaddr + l.memsz) return Number(e - l.vaddr + l.paddr);
  return fail("bad-header", `ELF entry point ${hex(e)} is not inside any loadable segment`);
};

/** The a.out kludge image (spec 3.1.3) → one piece and its entry. */
const aoutPiece = (memory: GuestMemory, img: Image, header: MultibootHeader): { piece: Piece; entry: number } => {
  const { headerAddr, loadAddr, loadEndAddr, bssEndAddr, entryAddr } = header.aout!;
  if (loadAddr > headerAddr) {
    fail("bad-header", `multiboot a.out kludge: load_addr ${hex(loadAddr)} is above header_addr ${hex(headerAddr)}`);
  }
  const textOffset = header.offset - (headerAddr - loadAddr);
  if (textOffset < 0) {
    fail(
      "bad-header",
      `multiboot a.out kludge: header_addr - load_addr (${
        hex(headerAddr - loadAddr)
      }) is larger than the header's file offset (${hex(header.offset)})`,
    );
  }
  if (loadEndAddr !== 0 && loadEndAddr < loadAddr) {
    fail("bad-header", `multiboot a.out kludge: load_end_addr ${hex(loadEndAddr)} is below load_addr ${hex(loadAddr)}`);
  }
  const loadSize = loadEndAddr !== 0 ? loadEndAddr - loadAddr : img.length - textOffset;
  if (!img.has(textOffset, loadSize)) {
    fail(
      "truncated",
      `multiboot a.out kludge: load_addr..load_end_addr needs ${loadSize} bytes from file offset ${
        hex(textOffset)
      }, past the end of the file (${img.length} bytes)`,
    );
  }
  if (bssEndAddr !== 0 && bssEndAddr < loadAddr + loadSize) {
    fail(
      "bad-header",
      `multiboot a.out kludge: bss_end_addr ${hex(bssEndAddr)} is below load_end_addr ${hex(loadAddr + loadSize)}`,
    );
  }
  const memSize = bssEndAddr !== 0 ? bssEndAddr - loadAddr : loadSize;
  if (memSize === 0) fail("bad-header", "multiboot a.out kludge: load_addr..bss_end_addr is empty, nothing to load");
  if (entryAddr < loadAddr || entryAddr >= loadAddr + memSize) {
    fail(
      "bad-header",
      `multiboot a.out kludge: entry_addr ${hex(entryAddr)} is outside the loaded image ${hex(loadAddr)}..${
        hex(loadAddr + memSize)
      }`,
    );
  }
  checkPlace(memory, BigInt(loadAddr), BigInt(memSize), "segment", "a.out kludge load_addr..bss_end_addr", true);
  return {
    piece: {
      gpa: loadAddr,
      data: img.sub(textOffset, loadSize),
      memBytes: memSize,
      what: `segment at ${hex(loadAddr)} (a.out kludge)`,
    },
    entry: entryAddr,
  };
};

/** Copies each piece and zeroes its tail (bss). Only after every check has passed. */
const writePieces = (memory: GuestMemory, pieces: readonly Piece[]): void => {
  for (const p of pieces) {
    if (!memory.write(p.gpa, p.data) || !memory.fill(p.gpa + p.data.length, p.memBytes - p.data.length, 0)) {
      fail("outside-ram", `${p.what} could not be written to guest RAM`); // unreachable after checkPlace
    }
  }
};

const segmentsOf = (pieces: readonly Piece[]): LoadedSegment[] =>
  pieces.map((p) => ({ gpa: p.gpa, fileBytes: p.data.length, memBytes: p.memBytes }));

const highest = (pieces: readonly Piece[]) => pieces.reduce((m, p) => Math.max(m, p.gpa + p.memBytes), 0);

const loadMultiboot = (
  memory: GuestMemory,
  img: Image,
  header: MultibootHeader,
  options: LoadOptions,
): MultibootBoot => {
  let pieces: Piece[];
  let entry: number;
  let format: MultibootBoot["format"];
  if (header.aout) {
    const a = aoutPiece(memory, img, header);
    pieces = [a.piece];
    entry = a.entry;
    format = "aout-kludge";
  } else {
    if (!isElf(img)) {
      fail(
        "not-a-kernel",
        `multiboot header at file offset ${
          hex(header.offset)
        } without the a.out kludge (flags bit 16) needs an ELF image, and this is not an ELF file`,
      );
    }
    const elf = parseElf(img);
    pieces = elfPieces(memory, img, elf, true);
    entry = elfEntry(elf);
    if (entry >= 2 ** 32) fail("outside-ram", `multiboot entry point ${hex(entry)} is above 4 GiB`);
    format = elf.class === 64 ? "elf64" : "elf32";
  }
  if (memory.size < HIGH_MEMORY) {
    fail("config", `a multiboot kernel needs at least 1 MiB of guest RAM (have ${formatSize(memory.size)})`);
  }
  const cmdline = options.kernelName !== undefined
    ? `${options.kernelName} ${options.cmdline ?? ""}`
    : options.cmdline ?? "";
  const modules = options.modules ?? [];
  const layout = layoutMbi(memory.size, cmdline, options.bootLoaderName ?? "hv", modules.map((m) => m.string ?? ""));
  for (const p of pieces) {
    if (p.gpa < layout.end && layout.address < p.gpa + p.memBytes) {
      fail(
        "overlap",
        `${p.what} (+${p.memBytes} bytes) overlaps the multiboot information at ${hex(layout.address)}..${
          hex(layout.end)
        }`,
      );
    }
  }
  const kernelEnd = highest(pieces);
  // Above the kernel, and never below 1 MiB (the MBI and the reserved low-memory hole are there).
  let next = alignUp(Math.max(kernelEnd, HIGH_MEMORY), PAGE);
  const placed: PlacedModule[] = [];
  modules.forEach((m, i) => {
    const start = next;
    checkPlace(
      memory,
      BigInt(start),
      BigInt(m.data.length),
      `module ${i}`,
      "placed page-aligned above the kernel",
      true,
    );
    placed.push({ start, end: start + m.data.length, string: m.string ?? "" });
    next = alignUp(start + m.data.length, PAGE);
  });
  const mbi = buildMbi(layout, memory.size, placed);
  // Every check has passed: write.
  writePieces(memory, pieces);
  modules.forEach((m, i) => {
    if (!memory.write(placed[i].start, m.data)) fail("outside-ram", `module ${i} could not be written to guest RAM`);
  });
  if (!memory.write(layout.address, mbi)) {
    fail("outside-ram", "the multiboot information could not be written to guest RAM");
  }
  return {
    kind: "multiboot",
    format,
    entry,
    eax: MULTIBOOT_BOOTLOADER_MAGIC,
    ebx: layout.address,
    highestAddress: placed.reduce((m, p) => Math.max(m, p.end), kernelEnd),
    segments: segmentsOf(pieces),
    modules: placed,
    cmdline,
  };
};

const loadElf64 = (memory: GuestMemory, img: Image, options: LoadOptions): Elf64Boot => {
  const elf = parseElf(img);
  if (elf.class !== 64) {
    fail(
      "unsupported",
      "a 32-bit ELF without a multiboot header cannot be booted: hv starts ELF32 kernels only through Multiboot, and plain ELF kernels in 64-bit mode",
    );
  }
  if ((options.modules?.length ?? 0) > 0) {
    fail("config", "modules (--initrd) need a multiboot kernel; this is a plain ELF64 kernel");
  }
  if ((options.cmdline ?? "") !== "") {
    fail("config", "a command line (--append) needs a multiboot kernel; this is a plain ELF64 kernel");
  }
  const pieces = elfPieces(memory, img, elf, false);
  const entry = elfEntry(elf);
  writePieces(memory, pieces);
  return { kind: "elf64", entry, highestAddress: highest(pieces), segments: segmentsOf(pieces) };
};

/**
 * Loads `image` into `memory` and returns how to start it, or the {@link LoadError} explaining why
 * it cannot be loaded (in which case RAM is untouched). Never throws for any input bytes.
 *
 * - A Multiboot v1 header (magic 0x1BADB002 in the first 8192 bytes, 4-byte aligned, valid
 *   checksum) makes it a Multiboot kernel: loaded by the a.out kludge when flags bit 16 is set,
 *   else by its ELF32 or ELF64 PT_LOAD headers at `p_paddr` (bss = p_memsz - p_filesz zeroed).
 *   The MBI goes at 0x9000 with its memory map, module table and strings after it (all below
 *   0x9FC00; the kernel must not overlap them); modules follow the kernel (and 1 MiB), page-aligned.
 * - Otherwise an ELF64 x86-64 executable is loaded the same way by `p_paddr` as a plain ELF64 kernel.
 * - Anything else: `not-a-kernel` ("not an ELF or multiboot image").
 */
export const tryLoadKernel = (
  memory: GuestMemory,
  image: Uint8Array,
  options: LoadOptions = {},
): BootPlan | LoadError => {
  try {
    const img = new Image(image);
    const header = findMultibootHeader(img);
    if (header) return loadMultiboot(memory, img, header, options);
    if (isElf(img)) return loadElf64(memory, img, options);
    const head = Array.from(image.subarray(0, 4), (b) => b.toString(16).padStart(2, "0")).join(" ");
    return fail(
      "not-a-kernel",
      `not an ELF or multiboot image (${image.length === 0 ? "the file is empty" : `the file starts with ${head}`})`,
    );
  } catch (e) {
    if (e instanceof LoadError) return e;
    throw e;
  }
};

/** {@link tryLoadKernel} as an Effect failing with {@link LoadError}. */
export const loadKernel = (
  memory: GuestMemory,
  image: Uint8Array,
  options: LoadOptions = {},
): Effect.Effect<BootPlan, LoadError> =>
  Effect.suspend(() => {
    const r = tryLoadKernel(memory, image, options);
    return r instanceof LoadError ? Effect.fail(r) : Effect.succeed(r);
  });
