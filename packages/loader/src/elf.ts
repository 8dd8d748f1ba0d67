/**
 * ELF32/ELF64 program-header parsing for x86 kernels (System V gABI, "Program Header"): only what a
 * boot loader needs, with every field checked against the file size before use.
 * @module
 */
import { fail, hex, Image } from "./image.ts";

/** `\x7fELF`. */
export const ELF_MAGIC = 0x464c457f;
/** `e_machine` for i386. */
export const EM_386 = 3;
/** `e_machine` for x86-64. */
export const EM_X86_64 = 62;
/** `p_type` of a loadable segment. */
export const PT_LOAD = 1;

/** One PT_LOAD program header (fields widened to bigint so 64-bit values are exact). */
export interface ElfLoad {
  /** Index in the program header table (for messages). */
  readonly index: number;
  readonly offset: bigint;
  readonly vaddr: bigint;
  readonly paddr: bigint;
  readonly filesz: bigint;
  readonly memsz: bigint;
}

/** What {@link parseElf} extracts. */
export interface ElfInfo {
  readonly class: 32 | 64;
  readonly machine: number;
  readonly entry: bigint;
  /** PT_LOAD headers with p_memsz > 0, in table order, each with its file data inside the file and p_filesz <= p_memsz. */
  readonly loads: readonly ElfLoad[];
}

/** Whether the file starts with the ELF magic. */
export const isElf = (img: Image): boolean => img.length >= 4 && img.u32(0, "ELF magic") === ELF_MAGIC;

/**
 * Parses the ELF header and program headers of a little-endian x86 executable. Fails (LoadError)
 * on a truncated header, a program header table past the end of the file, an entry size too
 * small, extended numbering (PN_XNUM), a PT_LOAD with p_filesz > p_memsz or file data past the end,
 * or no loadable segment. The loop over headers is bounded by the file size (the table is checked
 * to lie in the file first).
 */
export const parseElf = (img: Image): ElfInfo => {
  if (img.length < 16) fail("truncated", `ELF identification is truncated (${img.length} bytes, need 16)`);
  const cls = img.u8(4, "EI_CLASS");
  if (cls !== 1 && cls !== 2) fail("unsupported", `ELF class ${cls} is neither ELFCLASS32 (1) nor ELFCLASS64 (2)`);
  const data = img.u8(5, "EI_DATA");
  if (data !== 1) {
    fail("unsupported", `ELF data encoding ${data} is not little-endian (ELFDATA2LSB); x86 kernels are little-endian`);
  }
  const is64 = cls === 2;
  const ehsize = is64 ? 64 : 52;
  if (img.length < ehsize) {
    fail("truncated", `ELF header is truncated (${img.length} bytes, an ELF${is64 ? 64 : 32} header needs ${ehsize})`);
  }
  const type = img.u16(16, "e_type");
  if (type !== 2 && type !== 3) fail("unsupported", `ELF type ${type} is not an executable (ET_EXEC 2 or ET_DYN 3)`);
  const machine = img.u16(18, "e_machine");
  if (is64 ? machine !== EM_X86_64 : machine !== EM_386 && machine !== EM_X86_64) {
    fail(
      "unsupported",
      `ELF machine ${machine} is not x86 (ELF${
        is64 ? "64 needs EM_X86_64 (62)" : "32 needs EM_386 (3) or EM_X86_64 (62)"
      })`,
    );
  }
  const entry = is64 ? img.u64(24, "e_entry") : BigInt(img.u32(24, "e_entry"));
  const phoff = is64 ? img.u64(32, "e_phoff") : BigInt(img.u32(28, "e_phoff"));
  const phentsize = img.u16(is64 ? 54 : 42, "e_phentsize");
  const phnum = img.u16(is64 ? 56 : 44, "e_phnum");
  const minEnt = is64 ? 56 : 32;
  if (phnum === 0) fail("bad-header", "ELF has no program headers (e_phnum is 0)");
  if (phnum === 0xffff) fail("unsupported", "ELF uses extended program header numbering (e_phnum = PN_XNUM)");
  if (phentsize < minEnt) {
    fail("bad-header", `ELF e_phentsize ${phentsize} is smaller than a program header (${minEnt} bytes)`);
  }
  const tableBytes = BigInt(phnum) * BigInt(phentsize);
  if (!img.has(phoff, tableBytes)) {
    fail(
      "truncated",
      `ELF program header table at file offset ${
        hex(phoff)
      } (${phnum} entries of ${phentsize} bytes) runs past the end of the file (${img.length} bytes)`,
    );
  }
  const base = Number(phoff);
  const loads: ElfLoad[] = [];
  for (let i = 0; i < phnum; i++) {
    const p = base + i * phentsize;
    if (img.u32(p, "p_type") !== PT_LOAD) continue;
    const h: ElfLoad = is64
      ? {
        index: i,
        offset: img.u64(p + 8, "p_offset"),
        vaddr: img.u64(p + 16, "p_vaddr"),
        paddr: img.u64(p + 24, "p_paddr"),
        filesz: img.u64(p + 32, "p_filesz"),
        memsz: img.u64(p + 40, "p_memsz"),
      }
      : {
        index: i,
        offset: BigInt(img.u32(p + 4, "p_offset")),
        vaddr: BigInt(img.u32(p + 8, "p_vaddr")),
        paddr: BigInt(img.u32(p + 12, "p_paddr")),
        filesz: BigInt(img.u32(p + 16, "p_filesz")),
        memsz: BigInt(img.u32(p + 20, "p_memsz")),
      };
    if (h.filesz > h.memsz) {
      fail("bad-header", `ELF segment ${i}: p_filesz (${h.filesz} bytes) is larger than p_memsz (${h.memsz} bytes)`);
    }
    if (!img.has(h.offset, h.filesz)) {
      fail(
        "truncated",
        `ELF segment ${i}: file data at offset ${
          hex(h.offset)
        } (+${h.filesz} bytes) runs past the end of the file (${img.length} bytes)`,
      );
    }
    if (h.memsz > 0n) loads.push(h);
  }
  if (loads.length === 0) fail("bad-header", "ELF has no loadable segment (no PT_LOAD with p_memsz > 0)");
  return { class: is64 ? 64 : 32, machine, entry, loads };
};
