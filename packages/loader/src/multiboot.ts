/**
 * Multiboot Specification version 0.6.96 (GNU GRUB), "OS image format" and "Boot information
 * format": the header search, and the Multiboot information structure (MBI) with its command
 * line, modules, memory map and boot loader name.
 * @module
 */
import { fail, hex, Image } from "./image.ts";

/** `magic` of the Multiboot header (spec 3.1.2). */
export const MULTIBOOT_HEADER_MAGIC = 0x1badb002;
/** EAX at kernel entry: tells the kernel a Multiboot loader started it (spec 3.2). */
export const MULTIBOOT_BOOTLOADER_MAGIC = 0x2badb002;
/** The header must lie entirely within the first 8192 bytes of the image, 4-byte aligned. */
export const MULTIBOOT_SEARCH_BYTES = 8192;

/** Multiboot header `flags` bits (spec 3.1.2). Bits 0-15 are requirements; 16-31 optional features. */
export const MultibootHeaderFlags = {
  /** Bit 0: modules must be page (4 KiB) aligned. hv always aligns them. */
  PageAlign: 1 << 0,
  /** Bit 1: mem_* (and the memory map) must be provided. hv always provides them. */
  MemoryInfo: 1 << 1,
  /** Bit 2: video mode table wanted. hv, like QEMU, ignores it and provides none. */
  VideoMode: 1 << 2,
  /** Bit 16: the a.out kludge address fields at offsets 12-28 are valid and take precedence over ELF headers. */
  AoutKludge: 1 << 16,
} as const;

/** Requirement bits (0-15) hv can honour; a header requiring any other is refused, as the spec demands. */
export const MULTIBOOT_SUPPORTED_REQUIREMENTS = 0x0007;

/** MBI `flags` bits hv sets (spec 3.3). */
export const MultibootInfoFlags = {
  /** mem_lower/mem_upper valid. */
  Memory: 1 << 0,
  /** cmdline valid. */
  Cmdline: 1 << 2,
  /** mods_count/mods_addr valid. */
  Modules: 1 << 3,
  /** mmap_length/mmap_addr valid. */
  Mmap: 1 << 6,
  /** boot_loader_name valid. */
  BootLoaderName: 1 << 9,
} as const;

/** Byte offsets of the MBI fields hv fills (spec 3.3; all u32 little-endian). */
export const MbiOffset = {
  flags: 0,
  memLower: 4,
  memUpper: 8,
  bootDevice: 12,
  cmdline: 16,
  modsCount: 20,
  modsAddr: 24,
  mmapLength: 44,
  mmapAddr: 48,
  bootLoaderName: 64,
} as const;

/** Size of the MBI up to and including the VBE fields. */
export const MBI_SIZE = 88;
/** Size of one module entry: mod_start, mod_end, string, reserved (u32 each). */
export const MBI_MODULE_SIZE = 16;
/** Size of one memory map entry including its `size` field (size = 20, base u64, length u64, type u32). */
export const MBI_MMAP_ENTRY_SIZE = 24;
/** GPA of the MBI (QEMU's `MULTIBOOT_STRUCT_ADDR`): low memory, below everything a kernel links at. */
export const MBI_ADDRESS = 0x9000;
/** The MBI with its tables and strings must end at or below this GPA (start of the EBDA, where low RAM ends). */
export const MBI_LIMIT = 0x9fc00;
/** mem_lower, in KiB (QEMU's value; conventional memory). */
export const MEM_LOWER_KIB = 640;
/** Start of upper memory (1 MiB). */
export const HIGH_MEMORY = 0x100000;
/** Memory map `type` for usable RAM. */
export const MMAP_AVAILABLE = 1;
/** Memory map `type` for reserved ranges. */
export const MMAP_RESERVED = 2;

/** The a.out kludge fields (offsets 12-28 of the header), valid when flags bit 16 is set. */
export interface AoutKludge {
  readonly headerAddr: number;
  readonly loadAddr: number;
  readonly loadEndAddr: number;
  readonly bssEndAddr: number;
  readonly entryAddr: number;
}

/** A Multiboot header found in the image. */
export interface MultibootHeader {
  /** File offset of `magic`. */
  readonly offset: number;
  readonly flags: number;
  /** Present when flags bit 16 is set. */
  readonly aout?: AoutKludge;
}

/**
 * Finds the first Multiboot header: `magic` at a 4-byte-aligned offset within the first 8192
 * bytes with `magic + flags + checksum == 0 (mod 2^32)`. Returns undefined when no offset holds the
 * magic. Fails (LoadError) when the magic appears but no candidate has a valid checksum
 * ("multiboot header checksum mismatch"), when the header is cut off by the end of the file, or
 * when it requires features (flags bits 3-15) hv does not provide. At most 2046 offsets are looked at.
 */
export const findMultibootHeader = (img: Image): MultibootHeader | undefined => {
  const limit = Math.min(img.length, MULTIBOOT_SEARCH_BYTES);
  let firstProblem: (() => never) | undefined;
  // The whole 12-byte header must lie in the first 8192 bytes (QEMU stops even earlier, at 8192 - 48).
  for (let off = 0; off + 4 <= limit && off + 12 <= MULTIBOOT_SEARCH_BYTES; off += 4) {
    if (img.u32(off, "multiboot magic") !== MULTIBOOT_HEADER_MAGIC) continue;
    if (off + 12 > img.length) {
      firstProblem ??= () =>
        fail(
          "truncated",
          `multiboot header at file offset ${hex(off)} is truncated by the end of the file (${img.length} bytes)`,
        );
      continue;
    }
    const flags = img.u32(off + 4, "multiboot flags");
    const checksum = img.u32(off + 8, "multiboot checksum");
    const sum = (MULTIBOOT_HEADER_MAGIC + flags + checksum) >>> 0;
    if (sum !== 0) {
      firstProblem ??= () =>
        fail(
          "bad-header",
          `multiboot header checksum mismatch at file offset ${hex(off)}: magic + flags (${hex(flags)}) + checksum (${
            hex(checksum)
          }) = ${hex(sum)} mod 2^32, must be 0`,
        );
      continue;
    }
    const required = flags & 0xffff & ~MULTIBOOT_SUPPORTED_REQUIREMENTS;
    if (required !== 0) {
      fail(
        "unsupported",
        `multiboot header requires features hv does not provide (flags ${hex(flags)}, unknown requirement bits ${
          hex(required)
        })`,
      );
    }
    if (!(flags & MultibootHeaderFlags.AoutKludge)) return { offset: off, flags };
    if (off + 32 > img.length) {
      fail(
        "truncated",
        `multiboot header at file offset ${
          hex(off)
        } sets the a.out kludge (flags bit 16) but its address fields run past the end of the file (${img.length} bytes)`,
      );
    }
    const aout: AoutKludge = {
      headerAddr: img.u32(off + 12, "header_addr"),
      loadAddr: img.u32(off + 16, "load_addr"),
      loadEndAddr: img.u32(off + 20, "load_end_addr"),
      bssEndAddr: img.u32(off + 24, "bss_end_addr"),
      entryAddr: img.u32(off + 28, "entry_addr"),
    };
    return { offset: off, flags, aout };
  }
  return firstProblem?.();
};

/** One module as placed in guest RAM. */
export interface PlacedModule {
  /** GPA of the first byte (page-aligned). */
  readonly start: number;
  /** GPA one past the last byte (`start + length`), as the spec's mod_end. */
  readonly end: number;
  /** The module's string (e.g. its file name and arguments). */
  readonly string: string;
}

/** Where each part of the MBI goes, computed from the string sizes and module count alone. */
export interface MbiLayout {
  /** GPA of the MBI ({@link MBI_ADDRESS}). */
  readonly address: number;
  /** GPA one past the last byte used (MBI, memory map, module table and strings). */
  readonly end: number;
  readonly mmapAddr: number;
  readonly mmapEntries: readonly (readonly [base: number, length: number, type: number])[];
  readonly modsAddr: number;
  readonly cmdlineAddr: number;
  readonly loaderNameAddr: number;
  /** GPA of each module's string. */
  readonly moduleStringAddrs: readonly number[];
  readonly encoded: {
    readonly cmdline: Uint8Array;
    readonly loaderName: Uint8Array;
    readonly modules: readonly Uint8Array[];
  };
}

const utf8 = new TextEncoder();

/**
 * Lays out the MBI at {@link MBI_ADDRESS}: the 88-byte structure, the memory map (RAM [0, 0x9FC00),
 * reserved [0x9FC00, 1 MiB), RAM [1 MiB, ramSize) when ramSize > 1 MiB), the module table, then the
 * NUL-terminated strings (command line, boot loader name, module strings). Fails with `config`
 * when it would pass {@link MBI_LIMIT}.
 */
export const layoutMbi = (
  ramSize: number,
  cmdline: string,
  loaderName: string,
  moduleStrings: readonly string[],
): MbiLayout => {
  const mmapEntries: [number, number, number][] = [
    [0, MBI_LIMIT, MMAP_AVAILABLE],
    [MBI_LIMIT, HIGH_MEMORY - MBI_LIMIT, MMAP_RESERVED],
  ];
  if (ramSize > HIGH_MEMORY) mmapEntries.push([HIGH_MEMORY, ramSize - HIGH_MEMORY, MMAP_AVAILABLE]);
  const mmapAddr = MBI_ADDRESS + MBI_SIZE;
  const modsAddr = mmapAddr + mmapEntries.length * MBI_MMAP_ENTRY_SIZE;
  const encoded = {
    cmdline: utf8.encode(cmdline),
    loaderName: utf8.encode(loaderName),
    modules: moduleStrings.map((s) => utf8.encode(s)),
  };
  let at = modsAddr + moduleStrings.length * MBI_MODULE_SIZE;
  const cmdlineAddr = at;
  at += encoded.cmdline.length + 1;
  const loaderNameAddr = at;
  at += encoded.loaderName.length + 1;
  const moduleStringAddrs: number[] = [];
  for (const m of encoded.modules) {
    moduleStringAddrs.push(at);
    at += m.length + 1;
  }
  if (at > MBI_LIMIT) {
    fail(
      "config",
      `the multiboot information (${
        at - MBI_ADDRESS
      } bytes with the command line and module strings) does not fit between ${hex(MBI_ADDRESS)} and ${
        hex(MBI_LIMIT)
      }; shorten --append or the module strings`,
    );
  }
  return {
    address: MBI_ADDRESS,
    end: at,
    mmapAddr,
    mmapEntries,
    modsAddr,
    cmdlineAddr,
    loaderNameAddr,
    moduleStringAddrs,
    encoded,
  };
};

/**
 * The bytes of [layout.address, layout.end): the MBI filled per {@link MultibootInfoFlags} (memory,
 * command line, modules, memory map, boot loader name), mem_lower 640 KiB and mem_upper the KiB of
 * RAM above 1 MiB (at most 0xFFFFFFFF), everything else zero.
 */
export const buildMbi = (layout: MbiLayout, ramSize: number, modules: readonly PlacedModule[]): Uint8Array => {
  const bytes = new Uint8Array(layout.end - layout.address);
  const v = new DataView(bytes.buffer);
  const at = (gpa: number) => gpa - layout.address;
  const memUpperKib = Math.min(0xffffffff, Math.floor(Math.max(0, ramSize - HIGH_MEMORY) / 1024));
  v.setUint32(
    MbiOffset.flags,
    MultibootInfoFlags.Memory | MultibootInfoFlags.Cmdline | MultibootInfoFlags.Modules | MultibootInfoFlags.Mmap |
      MultibootInfoFlags.BootLoaderName,
    true,
  );
  v.setUint32(MbiOffset.memLower, MEM_LOWER_KIB, true);
  v.setUint32(MbiOffset.memUpper, memUpperKib, true);
  v.setUint32(MbiOffset.cmdline, layout.cmdlineAddr, true);
  v.setUint32(MbiOffset.modsCount, modules.length, true);
  v.setUint32(MbiOffset.modsAddr, layout.modsAddr, true);
  v.setUint32(MbiOffset.mmapLength, layout.mmapEntries.length * MBI_MMAP_ENTRY_SIZE, true);
  v.setUint32(MbiOffset.mmapAddr, layout.mmapAddr, true);
  v.setUint32(MbiOffset.bootLoaderName, layout.loaderNameAddr, true);
  layout.mmapEntries.forEach(([base, length, type], i) => {
    const o = at(layout.mmapAddr) + i * MBI_MMAP_ENTRY_SIZE;
    v.setUint32(o, MBI_MMAP_ENTRY_SIZE - 4, true);
    v.setUint32(o + 4, base % 2 ** 32, true);
    v.setUint32(o + 8, Math.floor(base / 2 ** 32), true);
    v.setUint32(o + 12, length % 2 ** 32, true);
    v.setUint32(o + 16, Math.floor(length / 2 ** 32), true);
    v.setUint32(o + 20, type, true);
  });
  modules.forEach((m, i) => {
    const o = at(layout.modsAddr) + i * MBI_MODULE_SIZE;
    v.setUint32(o, m.start, true);
    v.setUint32(o + 4, m.end, true);
    v.setUint32(o + 8, layout.moduleStringAddrs[i], true);
  });
  bytes.set(layout.encoded.cmdline, at(layout.cmdlineAddr));
  bytes.set(layout.encoded.loaderName, at(layout.loaderNameAddr));
  layout.encoded.modules.forEach((s, i) => bytes.set(s, at(layout.moduleStringAddrs[i])));
  return bytes;
};
