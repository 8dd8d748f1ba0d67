/**
 * Test support: a minimal ELF64 executable (one PT_LOAD segment, entry at its start) around raw
 * 64-bit machine code, for guests the machine starts directly in long mode.
 * @module
 */

/** Builds an ELF64 image whose single segment holds `code` at physical/virtual `loadAddr`. */
export function elf64(code: readonly number[], loadAddr = 0x200000): Uint8Array {
  const ehsize = 64, phsize = 56, off = 0x1000;
  const out = new Uint8Array(off + code.length);
  const v = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]); // ELF, 64-bit, little-endian, version 1
  v.setUint16(16, 2, true); // ET_EXEC
  v.setUint16(18, 62, true); // EM_X86_64
  v.setUint32(20, 1, true);
  v.setBigUint64(24, BigInt(loadAddr), true); // e_entry
  v.setBigUint64(32, BigInt(ehsize), true); // e_phoff
  v.setUint16(52, ehsize, true);
  v.setUint16(54, phsize, true);
  v.setUint16(56, 1, true); // e_phnum
  const p = ehsize;
  v.setUint32(p, 1, true); // PT_LOAD
  v.setUint32(p + 4, 5, true); // R+X
  v.setBigUint64(p + 8, BigInt(off), true);
  v.setBigUint64(p + 16, BigInt(loadAddr), true);
  v.setBigUint64(p + 24, BigInt(loadAddr), true);
  v.setBigUint64(p + 32, BigInt(code.length), true);
  v.setBigUint64(p + 40, BigInt(code.length), true);
  v.setBigUint64(p + 48, 0x1000n, true);
  out.set(code, off);
  return out;
}

/** Machine code snippets (64-bit). */
export const X = {
  /** in al, 0xEF (an unclaimed port) */
  inUnclaimed: [0xe4, 0xef],
  /** mov eax, [0x40000000] (1 GiB: identity-mapped, no memory slot, so MMIO; disp32 is sign-extended, keep it < 2 GiB) */
  mmioRead: [0x8b, 0x04, 0x25, 0x00, 0x00, 0x00, 0x40],
  /** and eax, 0x3f */
  and3f: [0x83, 0xe0, 0x3f],
  /** out 0xF4, eax (isa-debug-exit) */
  exitEax: [0xe7, 0xf4],
  /** out 0xF4, al */
  exitAl: [0xe6, 0xf4],
  /** mov dx, 0x3f8; mov al, imm; out dx, al  — use serial(c) */
  serial: (c: number) => [0x66, 0xba, 0xf8, 0x03, 0xb0, c, 0xee],
  /** mov eax, imm32; mov dx, 0x3000; out dx, eax (hyperv-testdev command) */
  testdev: (cmd: number) => [0xb8, cmd & 0xff, (cmd >> 8) & 0xff, (cmd >> 16) & 0xff, (cmd >>> 24) & 0xff, 0x66, 0xba, 0x00, 0x30, 0xef],
  /** ud2 (no IDT: the guest triple-faults) */
  ud2: [0x0f, 0x0b],
  /** jmp $ */
  spin: [0xeb, 0xfe],
  /** mov ecx, imm32; rdmsr */
  rdmsr: (msr: number) => [0xb9, msr & 0xff, (msr >> 8) & 0xff, (msr >> 16) & 0xff, (msr >>> 24) & 0xff, 0x0f, 0x32],
} as const;
