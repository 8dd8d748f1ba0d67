import assert from "node:assert/strict";
import {
  CR0_ET,
  CR0_NE,
  CR0_PE,
  CR0_PG,
  CR4_PAE,
  decodeSegmentDescriptor,
  EFER_LMA,
  EFER_LME,
  GDT_CODE32,
  GDT_CODE64,
  GDT_DATA,
  GDT_SIZE,
  GDT_TSS,
  GuestMemory,
  identityPageTablesSize,
  longModeSregs,
  protectedModeSregs,
  realModeSregs,
  translateVirtual,
  writeGdt,
  writeIdentityPageTables,
  writeIdtGate64,
} from "../mod.ts";

const MIB = 1 << 20;

Deno.test("identity page tables translate addresses to themselves, 2 MiB pages, and nothing beyond", () => {
  const m = GuestMemory.allocate(4 * MIB);
  const cr3 = writeIdentityPageTables(m, 0x9000, 2 * 1024 * MIB); // 2 GiB of address space: two page directories
  assert.equal(cr3, 0x9000);
  assert.equal(identityPageTablesSize(2 * 1024 * MIB), 4 * 4096);
  for (const va of [0, 0x1234, 0x1f_ffff, 0x20_0000, 0x3fff_ffff, 0x4000_0000, 0x7fff_fffc, 0x6543_2101]) {
    assert.equal(translateVirtual(m, cr3, va), va, `0x${va.toString(16)}`);
  }
  assert.equal(translateVirtual(m, cr3, 0x8000_0000), -1, "beyond the mapped range");
  assert.equal(translateVirtual(m, cr3, 2 ** 39), -1, "another PML4 slot");
  // Entry format: PML4[0] -> PDPT, present|rw; PDE = address|P|RW|PS.
  assert.equal(m.readU32(0x9000), 0xa003);
  assert.equal(m.readU32(0xa000), 0xb003);
  assert.equal(m.readU32(0xa008), 0xc003);
  assert.equal(m.readU32(0xb000 + 8), 0x20_0083);
  assert.equal(m.readU32(0xc000), 0x4000_0083);
});

Deno.test("identity page tables round the size up to 2 MiB and validate alignment and space", () => {
  const m = GuestMemory.allocate(64 * 1024);
  writeIdentityPageTables(m, 0x1000, 1);
  assert.equal(translateVirtual(m, 0x1000, 0x1f_ffff), 0x1f_ffff);
  assert.equal(translateVirtual(m, 0x1000, 0x20_0000), -1);
  assert.throws(() => writeIdentityPageTables(m, 0x1001, MIB), RangeError);
  assert.throws(() => writeIdentityPageTables(m, 0, 0), RangeError);
  assert.throws(() => writeIdentityPageTables(m, 0, 513 * 1024 * MIB), RangeError);
  assert.throws(() => writeIdentityPageTables(m, 0xe000, MIB), /need 12288 bytes/);
});

Deno.test("translateVirtual follows 4 KiB and 1 GiB pages written by hand", () => {
  const m = GuestMemory.allocate(0x10000);
  // PML4 0x1000 -> PDPT 0x2000; PDPT[0] -> PD 0x3000; PDPT[1] = 1 GiB page at 0x4000_0000*3.
  m.writeU64(0x1000, 0x2003, 0);
  m.writeU64(0x2000, 0x3003, 0);
  m.writeU64(0x2008, 0xc000_0083, 0);
  m.writeU64(0x3000, 0x4003, 0); // PD[0] -> PT at 0x4000
  m.writeU64(0x4000 + 5 * 8, 0x7000 | 3, 0); // PT[5]: VA 0x5000 -> PA 0x7000
  assert.equal(translateVirtual(m, 0x1000, 0x5abc), 0x7abc);
  assert.equal(translateVirtual(m, 0x1000, 0x6000), -1);
  assert.equal(translateVirtual(m, 0x1000, 0x4000_1234), 0xc000_1234);
});

Deno.test("writeGdt lays out flat 64-bit code, data, 32-bit code and a busy TSS", () => {
  const m = GuestMemory.allocate(0x4000);
  const layout = writeGdt(m, 0x500);
  assert.deepEqual(layout, { gdt: { base: 0x500, limit: GDT_SIZE - 1 }, tssBase: 0x530 });
  const desc = (sel: number) => decodeSegmentDescriptor(m.readU32(0x500 + sel), m.readU32(0x500 + sel + 4));
  assert.equal(m.readU32(0x500), 0);
  assert.equal(m.readU32(0x504), 0);
  assert.equal(m.readU32(0x500 + GDT_CODE64), 0x0000ffff);
  assert.equal(m.readU32(0x500 + GDT_CODE64 + 4), 0x00af9b00);
  assert.equal(m.readU32(0x500 + GDT_DATA + 4), 0x00cf9300);
  assert.equal(m.readU32(0x500 + GDT_CODE32 + 4), 0x00cf9b00);
  assert.deepEqual(desc(GDT_CODE64), {
    selector: 0,
    base: 0,
    limit: 0xffffffff,
    type: 0xb,
    s: 1,
    dpl: 0,
    present: 1,
    avl: 0,
    l: 1,
    db: 0,
    g: 1,
  });
  assert.deepEqual(desc(GDT_DATA), {
    selector: 0,
    base: 0,
    limit: 0xffffffff,
    type: 0x3,
    s: 1,
    dpl: 0,
    present: 1,
    avl: 0,
    l: 0,
    db: 1,
    g: 1,
  });
  const tss = desc(GDT_TSS);
  assert.equal(tss.base, 0x530);
  assert.equal(tss.limit, 0x67);
  assert.equal(tss.type, 0xb);
  assert.equal(tss.s, 0);
  assert.equal(m.readU32(0x500 + GDT_TSS + 8), 0, "TSS base 63:32");
  assert.equal(m.view.getUint16(0x530 + 0x66, true), 0x68, "no I/O bitmap");
  assert.throws(() => writeGdt(m, 0x501), RangeError);
  assert.throws(() => writeGdt(m, 0x3ff0), RangeError);
  assert.throws(() => writeGdt(m, 0x100, 0x3fa0), RangeError);
});

Deno.test("longModeSregs: 64-bit CS, flat data, paging with PAE and LME|LMA", () => {
  const m = GuestMemory.allocate(0x4000);
  const gdt = writeGdt(m, 0x500);
  const s = longModeSregs({ gdt, cr3: 0x1000, idt: { base: 0x800, limit: 0xfff } });
  assert.equal(s.cs.selector, GDT_CODE64);
  assert.equal(s.cs.l, 1);
  assert.equal(s.cs.db, 0);
  assert.equal(s.cs.type, 0xb);
  for (const seg of [s.ds, s.es, s.fs, s.gs, s.ss]) assert.deepEqual(seg, { ...s.ds, selector: GDT_DATA });
  assert.equal(s.ds.db, 1);
  assert.equal(s.tr.selector, GDT_TSS);
  assert.equal(s.tr.base, 0x530);
  assert.equal(s.tr.s, 0);
  assert.equal(s.ldt.present, 0);
  assert.equal((s.cr0 & (CR0_PE | CR0_PG | CR0_ET | CR0_NE)) >>> 0, (CR0_PE | CR0_PG | CR0_ET | CR0_NE) >>> 0);
  assert.ok(s.cr0 >= 0x8000_0000, "CR0 is an unsigned number");
  assert.equal(s.cr4 & CR4_PAE, CR4_PAE);
  assert.equal(s.efer, EFER_LME | EFER_LMA);
  assert.equal(s.cr3, 0x1000);
  assert.deepEqual(s.gdt, { base: 0x500, limit: 0x2f });
  assert.deepEqual(s.idt, { base: 0x800, limit: 0xfff });
  assert.equal(longModeSregs({ gdt, cr3: 0x1000, sse: false }).cr4, CR4_PAE);
  assert.throws(() => longModeSregs({ gdt }), RangeError);
  assert.throws(() => longModeSregs({ gdt, cr3: 0x1001 }), RangeError);
});

Deno.test("protectedModeSregs: 32-bit CS, no paging, EFER 0", () => {
  const m = GuestMemory.allocate(0x4000);
  const s = protectedModeSregs({ gdt: writeGdt(m, 0x500) });
  assert.equal(s.cs.selector, GDT_CODE32);
  assert.equal(s.cs.db, 1);
  assert.equal(s.cs.l, 0);
  assert.equal(s.cr0 & CR0_PG, 0);
  assert.equal(s.cr0 & CR0_PE, CR0_PE);
  assert.equal(s.efer, 0);
  assert.equal(s.cr3, 0);
});

Deno.test("writeIdtGate64 encodes a present 64-bit interrupt gate", () => {
  const m = GuestMemory.allocate(0x2000);
  writeIdtGate64(m, 0x1000, 13, 0x0012_3456);
  const at = 0x1000 + 13 * 16;
  assert.equal(m.readU32(at), (GDT_CODE64 << 16 | 0x3456) >>> 0);
  assert.equal(m.readU32(at + 4), 0x0012_8e00);
  assert.equal(m.readU32(at + 8), 0);
  assert.throws(() => writeIdtGate64(m, 0x1000, 256, 0), RangeError);
  assert.throws(() => writeIdtGate64(m, 0x1ff8, 0, 0), RangeError);
});

Deno.test("realModeSregs: INIT state at F000:FFF0's segment, SIPI state at vector << 8, real mode, bad vectors refused", () => {
  const init = realModeSregs();
  assert.deepEqual([init.cs.selector, init.cs.base, init.cs.limit, init.cs.type], [0xf000, 0xffff0000, 0xffff, 0xb]);
  assert.equal(init.cr0, 0x60000010);
  assert.deepEqual([init.cr3, init.cr4, init.efer], [0, 0, 0]);
  for (const seg of [init.ds, init.es, init.fs, init.gs, init.ss]) assert.deepEqual([seg.selector, seg.base, seg.limit, seg.type, seg.present], [0, 0, 0xffff, 0x3, 1]);
  assert.deepEqual(init.idt, { base: 0, limit: 0xffff });
  assert.equal(init.tr.s, 0);
  const sipi = realModeSregs(0x9a);
  assert.deepEqual([sipi.cs.selector, sipi.cs.base], [0x9a00, 0x9a000]);
  assert.throws(() => realModeSregs(256), RangeError);
  assert.throws(() => realModeSregs(-1), RangeError);
  assert.throws(() => realModeSregs(1.5), RangeError);
});
