/**
 * x86 boot state, as data: identity-mapping page tables, a flat GDT with a TSS, and the segment and
 * control-register values of 64-bit long mode and 32-bit protected mode. Pure and KVM-free: the
 * machine writes the tables into {@link GuestMemory} and hands the register values to KVM_SET_SREGS
 * (the {@link SegmentState} fields are `struct kvm_segment`'s).
 *
 * Sources: Intel SDM vol. 3A §2.5 (CR0/CR4), §3.4.5 (segment descriptors), §4.5 (4-level paging),
 * §7.2.3 (TSS descriptor in 64-bit mode), §9.8.5 (initializing IA-32e mode); AMD APM vol. 2 §3.1.7 (EFER).
 * @module
 */
import type { GuestMemory } from "./guest_memory.ts";

/** CR0.PE (bit 0): protection enable. */
export const CR0_PE = 1 << 0;
/** CR0.MP (bit 1): monitor coprocessor (set with NE for SSE/x87 exceptions). */
export const CR0_MP = 1 << 1;
/** CR0.EM (bit 2): x87 emulation; must be clear for SSE. */
export const CR0_EM = 1 << 2;
/** CR0.TS (bit 3): task switched. */
export const CR0_TS = 1 << 3;
/** CR0.ET (bit 4): extension type, hard-wired to 1 on modern CPUs. */
export const CR0_ET = 1 << 4;
/** CR0.NE (bit 5): native x87 error reporting. */
export const CR0_NE = 1 << 5;
/** CR0.WP (bit 16): supervisor write protect. */
export const CR0_WP = 1 << 16;
/** CR0.PG (bit 31): paging (unsigned number 0x80000000). */
export const CR0_PG = 0x8000_0000;

/** CR4.PSE (bit 4): 4 MiB pages in 32-bit paging. */
export const CR4_PSE = 1 << 4;
/** CR4.PAE (bit 5): physical address extension; required for long mode. */
export const CR4_PAE = 1 << 5;
/** CR4.PGE (bit 7): global pages. */
export const CR4_PGE = 1 << 7;
/** CR4.OSFXSR (bit 9): FXSAVE/FXRSTOR and SSE instructions enabled. */
export const CR4_OSFXSR = 1 << 9;
/** CR4.OSXMMEXCPT (bit 10): unmasked SIMD FP exceptions raise #XM. */
export const CR4_OSXMMEXCPT = 1 << 10;

/** EFER (MSR 0xC0000080) .SCE (bit 0): SYSCALL enable. */
export const EFER_SCE = 1 << 0;
/** EFER.LME (bit 8): long mode enable. */
export const EFER_LME = 1 << 8;
/** EFER.LMA (bit 10): long mode active (set by the CPU when PG is enabled with LME; KVM_SET_SREGS takes it as given). */
export const EFER_LMA = 1 << 10;
/** EFER.NXE (bit 11): no-execute enable. */
export const EFER_NXE = 1 << 11;

/** Page-table entry bit 0: present. */
export const PTE_P = 1 << 0;
/** Page-table entry bit 1: writable. */
export const PTE_RW = 1 << 1;
/** Page-table entry bit 2: user accessible. */
export const PTE_US = 1 << 2;
/** Page-directory(-pointer) entry bit 7: large page (2 MiB in a PDE, 1 GiB in a PDPTE). */
export const PTE_PS = 1 << 7;

const PAGE = 0x1000;
const MIB2 = 0x20_0000;
const GIB = 0x4000_0000;
const TWO_32 = 0x1_0000_0000;

/**
 * Bytes of page tables {@link writeIdentityPageTables} needs to map `bytes` of address space:
 * one PML4, one PDPT and one page directory per started GiB, each 4 KiB.
 */
export function identityPageTablesSize(bytes: number): number {
  return (2 + Math.ceil(bytes / GIB)) * PAGE;
}

/**
 * Writes 4-level page tables at GPA `at` that identity-map [0, bytes) with 2 MiB pages
 * (present, writable, supervisor; `bytes` is rounded up to 2 MiB): PML4 at `at`, PDPT at `at + 4 KiB`,
 * page directories after it (one per GiB). Returns the CR3 value (= `at`; PCD/PWT clear).
 *
 * Throws RangeError when `at` is not 4 KiB aligned, `bytes` is not in (0, 512 GiB], or the
 * {@link identityPageTablesSize} bytes at `at` do not fit in `memory`. Edge code (boot time).
 */
export function writeIdentityPageTables(memory: GuestMemory, at: number, bytes: number): number {
  if (!Number.isInteger(at) || at < 0 || at % PAGE !== 0) {
    throw new RangeError(`page tables must start on a 4 KiB boundary, got 0x${at.toString(16)}`);
  }
  if (!Number.isInteger(bytes) || bytes <= 0 || bytes > 512 * GIB) {
    throw new RangeError(`identity map size must be in (0, 512 GiB], got ${bytes}`);
  }
  const size = identityPageTablesSize(bytes);
  if (!memory.contains(at, size)) {
    throw new RangeError(
      `page tables need ${size} bytes at 0x${at.toString(16)}, guest RAM is ${memory.size} bytes`,
    );
  }
  memory.fill(at, size, 0);
  const pml4 = at;
  const pdpt = at + PAGE;
  memory.writeU64(pml4, (pdpt | PTE_P | PTE_RW) >>> 0, Math.floor(pdpt / TWO_32));
  const pages = Math.ceil(bytes / MIB2);
  for (let i = 0; i < pages; i++) {
    const pdIndex = Math.floor(i / 512);
    const pd = at + (2 + pdIndex) * PAGE;
    if (i % 512 === 0) {
      memory.writeU64(pdpt + pdIndex * 8, ((pd % TWO_32) | PTE_P | PTE_RW) >>> 0, Math.floor(pd / TWO_32));
    }
    const addr = i * MIB2;
    memory.writeU64(pd + (i % 512) * 8, ((addr % TWO_32) | PTE_P | PTE_RW | PTE_PS) >>> 0, Math.floor(addr / TWO_32));
  }
  return at;
}

/**
 * Translates virtual address `va` through 4-level paging rooted at `cr3` (4 KiB, 2 MiB and 1 GiB
 * pages), reading the tables from `memory`. Returns the physical address, or -1 when a level is not
 * present or a table lies outside RAM. `va` must be canonical and below 2^53 (JS numbers); bits 47..63
 * are ignored. Ignores permissions. Edge/debug code.
 */
export function translateVirtual(memory: GuestMemory, cr3: number, va: number): number {
  const halves = new Uint32Array(2);
  const low = va % 2 ** 48;
  let table = Math.floor(cr3 / PAGE) * PAGE;
  const shifts = [39, 30, 21, 12];
  for (let level = 0; level < 4; level++) {
    const index = Math.floor(low / 2 ** shifts[level]) % 512;
    if (!memory.readU64(table + index * 8, halves)) return -1;
    const [lo, hi] = halves;
    if ((lo & PTE_P) === 0) return -1;
    const addr = (hi & 0x000f_ffff) * TWO_32 + ((lo & 0xffff_f000) >>> 0);
    const large = (level === 1 || level === 2) && (lo & PTE_PS) !== 0;
    if (large || level === 3) {
      const pageSize = 2 ** shifts[level];
      const base = addr - (addr % pageSize);
      return base + (low % pageSize);
    }
    table = addr;
  }
  return -1;
}

/** One segment register as KVM's `struct kvm_segment` holds it; flags are 0 or 1, `limit` is in bytes (expanded by G). */
export interface SegmentState {
  readonly selector: number;
  readonly base: number;
  readonly limit: number;
  /** Descriptor type (4 bits): 0xB execute/read accessed code, 0x3 read/write accessed data, 0xB busy TSS (S = 0), 0x2 LDT. */
  readonly type: number;
  readonly present: number;
  readonly dpl: number;
  /** D/B: default operand size 32 (code) / big (data). Must be 0 for 64-bit code. */
  readonly db: number;
  /** S: 1 for code/data, 0 for system descriptors (TSS, LDT). */
  readonly s: number;
  /** L: 64-bit code segment. */
  readonly l: number;
  /** G: limit granularity 4 KiB. */
  readonly g: number;
  readonly avl: number;
}

/** A descriptor-table register (GDTR/IDTR): linear base and limit (size - 1). */
export interface DescriptorTable {
  readonly base: number;
  readonly limit: number;
}

/** The special registers a boot state sets: the segments and tables of `struct kvm_sregs`, CR0/CR3/CR4 and EFER. */
export interface BootSregs {
  readonly cs: SegmentState;
  readonly ds: SegmentState;
  readonly es: SegmentState;
  readonly fs: SegmentState;
  readonly gs: SegmentState;
  readonly ss: SegmentState;
  readonly tr: SegmentState;
  readonly ldt: SegmentState;
  readonly gdt: DescriptorTable;
  readonly idt: DescriptorTable;
  readonly cr0: number;
  readonly cr3: number;
  readonly cr4: number;
  readonly efer: number;
}

/** GDT selector of the flat 64-bit code segment {@link writeGdt} writes (index 1). */
export const GDT_CODE64 = 0x08;
/** GDT selector of the flat read/write data segment (index 2). */
export const GDT_DATA = 0x10;
/** GDT selector of the flat 32-bit code segment (index 3). */
export const GDT_CODE32 = 0x18;
/** GDT selector of the TSS (indices 4 and 5: a 16-byte system descriptor in long mode). */
export const GDT_TSS = 0x20;
/** Bytes of the GDT {@link writeGdt} writes (6 entries); GDTR.limit = GDT_SIZE - 1. */
export const GDT_SIZE = 0x30;
/** Bytes of a 64-bit TSS (limit 0x67). */
export const TSS_SIZE = 0x68;

/**
 * Encodes an 8-byte segment descriptor (SDM 3A §3.4.5) from base, raw 20-bit `limit` (units per G),
 * `access` byte (P, DPL, S, type) and `flags` nibble (G, D/B, L, AVL). Returns [low dword, high dword].
 */
export function encodeSegmentDescriptor(base: number, limit: number, access: number, flags: number): [number, number] {
  const lo = ((limit & 0xffff) | ((base & 0xffff) << 16)) >>> 0;
  const hi = (((base >>> 16) & 0xff) | ((access & 0xff) << 8) | (((limit >>> 16) & 0xf) << 16) |
    ((flags & 0xf) << 20) | (((base >>> 24) & 0xff) << 24)) >>> 0;
  return [lo, hi];
}

/** Decodes an 8-byte segment descriptor into {@link SegmentState} fields (limit expanded by G; selector 0). */
export function decodeSegmentDescriptor(lo: number, hi: number): SegmentState {
  const rawLimit = (lo & 0xffff) | (hi & 0x000f_0000);
  const g = (hi >>> 23) & 1;
  return {
    selector: 0,
    base: ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff00_0000)) >>> 0,
    limit: g ? ((rawLimit << 12) | 0xfff) >>> 0 : rawLimit,
    type: (hi >>> 8) & 0xf,
    s: (hi >>> 12) & 1,
    dpl: (hi >>> 13) & 3,
    present: (hi >>> 15) & 1,
    avl: (hi >>> 20) & 1,
    l: (hi >>> 21) & 1,
    db: (hi >>> 22) & 1,
    g,
  };
}

/** Where {@link writeGdt} put things: the GDTR value and the TSS it described. */
export interface GdtLayout {
  readonly gdt: DescriptorTable;
  readonly tssBase: number;
}

/**
 * Writes a flat GDT at GPA `at` (8-byte aligned): null, 64-bit code ({@link GDT_CODE64}), data
 * ({@link GDT_DATA}), 32-bit code ({@link GDT_CODE32}) and a 16-byte busy-TSS descriptor
 * ({@link GDT_TSS}). The 104-byte TSS goes at `tssBase` (default: right after the GDT, `at + 0x30`)
 * and is zeroed with its I/O map base past the limit (no I/O bitmap: IN/OUT at CPL 3 fault).
 * The TSS descriptor is written busy (type 0xB), as after LTR, matching {@link longModeSregs}' TR.
 *
 * Throws RangeError when `at` is misaligned or the GDT or TSS do not fit in `memory`, or when the
 * TSS base is not below 4 GiB (this writer targets boot-time tables in low memory).
 */
export function writeGdt(memory: GuestMemory, at: number, tssBase = at + GDT_SIZE): GdtLayout {
  if (!Number.isInteger(at) || at < 0 || at % 8 !== 0) {
    throw new RangeError(`GDT must be 8-byte aligned, got 0x${at.toString(16)}`);
  }
  if (!memory.contains(at, GDT_SIZE)) {
    throw new RangeError(`GDT at 0x${at.toString(16)} does not fit in ${memory.size} bytes of RAM`);
  }
  if (!memory.contains(tssBase, TSS_SIZE) || tssBase >= TWO_32) {
    throw new RangeError(`TSS at 0x${tssBase.toString(16)} does not fit in RAM below 4 GiB`);
  }
  const put = (index: number, [lo, hi]: [number, number]) => memory.writeU64(at + index * 8, lo, hi);
  put(0, [0, 0]);
  put(1, encodeSegmentDescriptor(0, 0xfffff, 0x9b, 0xa)); // P, DPL0, S, code exec/read accessed; G, L
  put(2, encodeSegmentDescriptor(0, 0xfffff, 0x93, 0xc)); // P, DPL0, S, data read/write accessed; G, D/B
  put(3, encodeSegmentDescriptor(0, 0xfffff, 0x9b, 0xc)); // P, DPL0, S, code exec/read accessed; G, D
  put(4, encodeSegmentDescriptor(tssBase, TSS_SIZE - 1, 0x8b, 0x0)); // P, DPL0, system, busy 64-bit TSS
  put(5, [0, 0]); // base 63:32 = 0
  memory.fill(tssBase, TSS_SIZE, 0);
  memory.view.setUint16(tssBase + 0x66, TSS_SIZE, true); // I/O map base = limit + 1
  return { gdt: { base: at, limit: GDT_SIZE - 1 }, tssBase };
}

/** Options for {@link longModeSregs} and {@link protectedModeSregs}. */
export interface BootSregsOptions {
  /** The GDT written by {@link writeGdt} (selectors must match its layout). */
  readonly gdt: GdtLayout;
  /** IDTR; default base 0, limit 0 (no IDT: any exception shuts the guest down). */
  readonly idt?: DescriptorTable;
  /** CR3 (PML4 address from {@link writeIdentityPageTables}); required for long mode, 0 in protected mode without paging. */
  readonly cr3?: number;
  /** Enable SSE (CR0.MP, CR4.OSFXSR|OSXMMEXCPT), default true: XMM registers usable (fast hypercalls pass input in XMM). */
  readonly sse?: boolean;
}

const flat = (selector: number, type: number, db: number, l: number): SegmentState => ({
  selector,
  base: 0,
  limit: 0xffff_ffff,
  type,
  present: 1,
  dpl: 0,
  db,
  s: 1,
  l,
  g: 1,
  avl: 0,
});

const trFor = (gdt: GdtLayout): SegmentState => ({
  selector: GDT_TSS,
  base: gdt.tssBase,
  limit: TSS_SIZE - 1,
  type: 0xb,
  present: 1,
  dpl: 0,
  db: 0,
  s: 0,
  l: 0,
  g: 0,
  avl: 0,
});

/** The code and data segment registers of a boot state: `cs`, and `data` in DS, ES, FS, GS and SS. */
const segments = (cs: SegmentState, data: SegmentState) => ({ cs, ds: data, es: data, fs: data, gs: data, ss: data });

const LDT_UNUSABLE: SegmentState = {
  selector: 0,
  base: 0,
  limit: 0xffff,
  type: 0x2,
  present: 0,
  dpl: 0,
  db: 0,
  s: 0,
  l: 0,
  g: 0,
  avl: 0,
};

/**
 * 64-bit long mode at CPL 0 with paging, as after the SDM §9.8.5 sequence: CS = 64-bit code
 * ({@link GDT_CODE64}, L = 1, D = 0), DS/ES/FS/GS/SS = flat data ({@link GDT_DATA}), TR = busy TSS,
 * LDTR unusable; CR0 = PE|ET|NE|PG (+MP with SSE), CR4 = PAE (+OSFXSR|OSXMMEXCPT with SSE),
 * EFER = LME|LMA. `cr3` is required (throws RangeError without it or when not 4 KiB aligned).
 */
export function longModeSregs(opts: BootSregsOptions): BootSregs {
  const { gdt, idt = { base: 0, limit: 0 }, cr3, sse = true } = opts;
  if (cr3 === undefined || !Number.isInteger(cr3) || cr3 < 0 || cr3 % PAGE !== 0) {
    throw new RangeError(`long mode needs a 4 KiB aligned CR3, got ${cr3}`);
  }
  return {
    ...segments(flat(GDT_CODE64, 0xb, 0, 1), flat(GDT_DATA, 0x3, 1, 0)),
    tr: trFor(gdt),
    ldt: LDT_UNUSABLE,
    gdt: gdt.gdt,
    idt,
    cr0: (CR0_PE | CR0_ET | CR0_NE | CR0_PG | (sse ? CR0_MP : 0)) >>> 0,
    cr3,
    cr4: CR4_PAE | (sse ? CR4_OSFXSR | CR4_OSXMMEXCPT : 0),
    efer: EFER_LME | EFER_LMA,
  };
}

/**
 * 32-bit protected mode at CPL 0, flat: CS = 32-bit code ({@link GDT_CODE32}, D = 1), data segments
 * {@link GDT_DATA}, TR = the TSS, LDTR unusable; CR0 = PE|ET|NE (+MP with SSE), paging off unless
 * `cr3` is given (then CR0.PG|CR4.PAE: PAE paging, which needs PAE-format tables, not the 4-level
 * ones of {@link writeIdentityPageTables}); EFER = 0.
 */
export function protectedModeSregs(opts: BootSregsOptions): BootSregs {
  const { gdt, idt = { base: 0, limit: 0 }, cr3, sse = true } = opts;
  const paging = cr3 !== undefined && cr3 !== 0;
  return {
    ...segments(flat(GDT_CODE32, 0xb, 1, 0), flat(GDT_DATA, 0x3, 1, 0)),
    tr: trFor(gdt),
    ldt: LDT_UNUSABLE,
    gdt: gdt.gdt,
    idt,
    cr0: (CR0_PE | CR0_ET | CR0_NE | (sse ? CR0_MP : 0) | (paging ? CR0_PG : 0)) >>> 0,
    cr3: cr3 ?? 0,
    cr4: (sse ? CR4_OSFXSR | CR4_OSXMMEXCPT : 0) | (paging ? CR4_PAE : 0),
    efer: 0,
  };
}

/**
 * Writes a 64-bit interrupt gate (16 bytes, SDM 3A §6.14.1) for `vector` into the IDT at `idtBase`:
 * handler `offset` (below 2^32 here), code selector `selector` (default {@link GDT_CODE64}), type 0xE,
 * DPL 0, present, IST 0. Throws RangeError when the gate is outside RAM or the vector is not 0..255.
 */
export function writeIdtGate64(
  memory: GuestMemory,
  idtBase: number,
  vector: number,
  offset: number,
  selector = GDT_CODE64,
): void {
  if (!Number.isInteger(vector) || vector < 0 || vector > 255) throw new RangeError(`vector ${vector} is not 0..255`);
  const at = idtBase + vector * 16;
  if (!memory.contains(at, 16) || offset < 0 || offset >= TWO_32) {
    throw new RangeError(`IDT gate ${vector} at 0x${at.toString(16)} (handler 0x${offset.toString(16)}) does not fit`);
  }
  const lo = ((offset & 0xffff) | ((selector & 0xffff) << 16)) >>> 0;
  const hi = ((0x8e << 8) | (offset & 0xffff_0000)) >>> 0; // P, DPL0, type 0xE (64-bit interrupt gate), IST 0
  memory.writeU64(at, lo, hi);
  memory.writeU64(at + 8, 0, 0); // offset 63:32 = 0, reserved
}

const realSeg = (selector: number, base: number, type: number): SegmentState => ({
  selector,
  base,
  limit: 0xffff,
  type,
  present: 1,
  dpl: 0,
  db: 0,
  s: 1,
  l: 0,
  g: 0,
  avl: 0,
});

/**
 * The state INIT leaves a processor in (SDM Vol. 3A table 10-1, "IA-32 Processor States Following
 * Power-up, Reset, or INIT"), or, with `startupVector` (0..255), the state a start-up IPI then gives
 * it (SDM §10.4.3 / 11.6.1: real mode at CS.selector = vector << 8, CS.base = vector << 12, IP = 0;
 * without a vector CS = 0xF000, base 0xFFFF0000, the caller sets RIP = 0xFFF0). Real mode: CR0 =
 * 0x60000010 (CD|NW|ET), CR3 = CR4 = EFER = 0, 64 KiB segments, GDTR/IDTR base 0 limit 0xFFFF.
 * Throws RangeError for a vector outside 0..255.
 */
export function realModeSregs(startupVector?: number): BootSregs {
  if (startupVector !== undefined && !(Number.isInteger(startupVector) && startupVector >= 0 && startupVector <= 255)) {
    throw new RangeError(`start-up vector must be 0..255, got ${startupVector}`);
  }
  const cs = startupVector === undefined ? realSeg(0xf000, 0xffff0000, 0xb) : realSeg(startupVector << 8, startupVector << 12, 0xb);
  return {
    ...segments(cs, realSeg(0, 0, 0x3)),
    tr: { ...realSeg(0, 0, 0xb), s: 0 },
    ldt: { ...realSeg(0, 0, 0x2), s: 0 },
    gdt: { base: 0, limit: 0xffff },
    idt: { base: 0, limit: 0xffff },
    cr0: 0x60000010,
    cr3: 0,
    cr4: 0,
    efer: 0,
  };
}
