import assert from "node:assert/strict";
import { GuestMemory, longModeSregs, writeGdt } from "@hv/x86";
import {
  denyMsrRange,
  getU64,
  KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
  KVM_MSR_FILTER_DEFAULT_DENY,
  KVM_MSR_FILTER_READ,
  KVM_SYNC_X86_EVENTS,
  KVM_SYNC_X86_REGS,
  KVM_SYNC_X86_SREGS,
  KVM_SYNC_X86_VALID_FIELDS,
  KVM_VCPUEVENT_VALID_NMI_PENDING,
  KVM_VCPUEVENT_VALID_PAYLOAD,
  KVM_VCPUEVENT_VALID_SHADOW,
  KVM_VCPUEVENT_VALID_SIPI_VECTOR,
  KVM_VCPUEVENT_VALID_SMM,
  KVM_VCPUEVENT_VALID_TRIPLE_FAULT,
  KVM_XSAVE_SIZE,
  KvmCpuid2,
  KvmDebugregs,
  KvmEnableCap,
  KvmFpu,
  KvmMsi,
  KvmMsrFilter,
  KvmMsrs,
  KvmRegs,
  KvmRun,
  KvmSregs,
  KvmUserspaceMemoryRegion,
  KvmVcpuEvents,
  KvmXcrs,
  KvmXsave,
  kvmXsaveSize,
  Reg,
  Seg,
  SegField,
  setU64,
  VcpuEventsByte,
} from "../../mod.ts";

Deno.test("u64 helpers: numbers, halves, two's complement", () => {
  const v = new DataView(new ArrayBuffer(8));
  setU64(v, 0, 0x1234_5678_9abc);
  assert.equal(v.getUint32(0, true), 0x5678_9abc);
  assert.equal(v.getUint32(4, true), 0x1234);
  assert.equal(getU64(v, 0), 0x1234_5678_9abc);
  setU64(v, 0, -1);
  assert.equal(v.getBigUint64(0, true), 0xffff_ffff_ffff_ffffn);
  setU64(v, 0, 2 ** 53 - 1);
  assert.equal(getU64(v, 0), 2 ** 53 - 1);
});

Deno.test("kvm_regs: 144 bytes, rip at 128, rflags at 136, halves and words", () => {
  const r = new KvmRegs();
  assert.equal(r.bytes.byteLength, 144);
  r.rip = 0x8000;
  r.rflags = 2;
  r.setHalves(Reg.rdx, 0xdeadbeef, 0xcafebabe);
  r.setBig(Reg.r15, 0x8000_0000_0000_0001n);
  assert.equal(r.view.getUint32(128, true), 0x8000);
  assert.equal(r.view.getUint32(136, true), 2);
  assert.equal(r.lo(Reg.rdx), 0xdeadbeef);
  assert.equal(r.hi(Reg.rdx), 0xcafebabe);
  assert.equal(r.words[2 * Reg.rdx + 1], 0xcafebabe);
  assert.equal(r.getBig(Reg.r15), 0x8000_0000_0000_0001n);
  assert.equal(r.view.getUint32(15 * 8 + 4, true), 0x8000_0000);
});

Deno.test("kvm_sregs: 312 bytes, segment and control-register offsets, apply() of a boot state", () => {
  const s = new KvmSregs();
  assert.equal(s.bytes.byteLength, 312);
  const m = GuestMemory.allocate(0x4000);
  const boot = longModeSregs({ gdt: writeGdt(m, 0x500), cr3: 0x2000, idt: { base: 0x1000, limit: 0xfff } });
  s.apicBase = 0xfee0_0900;
  s.apply(boot);
  assert.equal(s.selector(Seg.cs), 8);
  assert.equal(s.view.getUint16(12, true), 8, "cs.selector @12");
  assert.equal(s.field(Seg.cs, SegField.l), 1);
  assert.equal(s.bytes[19], 1, "cs.l @19");
  assert.equal(s.selector(Seg.ss), 0x10);
  assert.equal(s.view.getUint16(5 * 24 + 12, true), 0x10, "ss.selector @132");
  assert.equal(s.base(Seg.tr), 0x530);
  assert.equal(s.field(Seg.ldt, SegField.unusable), 1);
  assert.deepEqual(s.gdt, { base: 0x500, limit: 0x2f });
  assert.equal(s.view.getUint16(216, true), 0xfff, "idt.limit @216");
  assert.equal(s.cr0, boot.cr0);
  assert.equal(s.view.getUint32(224, true), boot.cr0, "cr0 @224");
  assert.equal(s.view.getUint32(240, true), 0x2000, "cr3 @240");
  assert.equal(s.view.getUint32(264, true), 0x500, "efer @264");
  assert.equal(s.apicBase, 0xfee0_0900, "apply keeps apic_base");
  assert.equal(s.longMode, true);
  assert.equal(s.cpl, 0);
  assert.deepEqual(s.segment(Seg.ds), { ...boot.ds, unusable: 0 });
});

Deno.test("kvm_run: exit union offsets (io @32, mmio @32, msr @32, hyperv @32)", () => {
  const k = new KvmRun(new Uint8Array(8192));
  const v = k.view;
  v.setUint32(8, 2, true);
  v.setUint8(32, 1);
  v.setUint8(33, 2);
  v.setUint16(34, 0x3f8, true);
  v.setUint32(36, 1, true);
  v.setUint32(40, 4096, true);
  v.setUint16(4096, 0xbeef, true);
  assert.equal(k.exitReason, 2);
  assert.equal(k.ioDirection, 1);
  assert.equal(k.ioSize, 2);
  assert.equal(k.ioPort, 0x3f8);
  assert.equal(k.ioCount, 1);
  assert.equal(k.ioDataOffset, 4096);
  assert.equal(k.ioData, 0xbeef);
  k.ioData = 0x1234;
  assert.equal(v.getUint16(4096, true), 0x1234);
  // msr: error @32, reason @40, index @44, data @48
  v.setUint32(40, 4, true);
  v.setUint32(44, 0x40000000, true);
  k.setMsrData(0x11223344, 0x55667788);
  k.msrError = 1;
  assert.equal(k.msrReason, 4);
  assert.equal(k.msrIndex, 0x40000000);
  assert.equal(v.getUint32(48, true), 0x11223344);
  assert.equal(v.getUint32(52, true), 0x55667788);
  assert.equal(v.getUint8(32), 1);
  // mmio: phys_addr @32, data @40, len @48, is_write @52
  v.setUint32(32, 0x1000_0000, true);
  v.setUint32(36, 0, true);
  assert.equal(k.mmioPhysAddr, 0x1000_0000);
  assert.equal(k.mmioLen, 0x11223344);
  // hyperv hcall: type @32, input @40, result @48, params @56/@64
  v.setUint32(32, 2, true);
  v.setUint32(56, 0xabcd, true);
  v.setUint32(60, 1, true);
  assert.equal(k.hypervType, 2);
  assert.equal(k.hypervHcallParam(0), 0x1_0000_abcd);
  assert.equal(k.hypervHcallParamHi(0), 1);
  k.hypervHcallResult = 5;
  assert.equal(v.getUint32(48, true), 5);
  k.immediateExit = 1;
  assert.equal(v.getUint8(1), 1);
});

Deno.test("kvm_run sync regs: valid @288, dirty @296, s.regs.regs @304, s.regs.sregs @448, s.regs.events @760 (zero copy)", () => {
  // Offsets from include/uapi/linux/kvm.h (kvm_valid_regs, kvm_dirty_regs, union s) and
  // arch/x86/include/uapi/asm/kvm.h (struct kvm_sync_regs { kvm_regs; kvm_sregs; kvm_vcpu_events; }).
  assert.equal(KVM_SYNC_X86_REGS, 1);
  assert.equal(KVM_SYNC_X86_SREGS, 2);
  assert.equal(KVM_SYNC_X86_EVENTS, 4);
  assert.equal(KVM_SYNC_X86_VALID_FIELDS, 7);
  const k = new KvmRun(new Uint8Array(8192));
  const v = k.view;
  k.kvmValidRegs = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS;
  assert.equal(v.getUint32(288, true), 3);
  assert.equal(v.getUint32(292, true), 0);
  k.kvmDirtyRegs = KVM_SYNC_X86_REGS;
  assert.equal(v.getUint32(296, true), 1);
  v.setUint32(296, 0, true);
  assert.equal(k.kvmDirtyRegs, 0);
  // regs: rax @304, rcx @320, rip @304 + 128; words is a GprFile over the mapping.
  k.syncRegs.setHalves(Reg.rax, 0x11223344, 0x55667788);
  assert.equal(v.getUint32(304, true), 0x11223344);
  assert.equal(v.getUint32(308, true), 0x55667788);
  v.setUint32(304 + Reg.rip * 8, 0x10_000c, true);
  assert.equal(k.syncRegs.rip, 0x10_000c);
  assert.equal(k.syncRegs.words.length, 36);
  assert.equal(k.syncRegs.words.buffer, k.bytes.buffer, "zero copy");
  k.syncRegs.words[2 * Reg.rcx] = 0xffff;
  assert.equal(v.getUint32(304 + 16, true), 0xffff);
  // sregs: cs @448 (selector @460, dpl @464, l @467), cr0 @448 + 224, efer @448 + 264.
  v.setUint16(448 + 12, 0x0b, true);
  v.setUint8(448 + SegField.dpl, 3);
  v.setUint8(448 + SegField.l, 1);
  v.setUint32(448 + 224, 0x8000_0011, true);
  v.setUint32(448 + 264, 0x500, true);
  const s = k.syncSregs;
  assert.equal(s.selector(Seg.cs), 0x0b);
  assert.equal(s.cpl, 3);
  assert.equal(s.field(Seg.cs, SegField.dpl), 3);
  assert.equal(s.cr0, 0x8000_0011);
  assert.equal(s.protectedMode, true);
  assert.equal(s.efer, 0x500);
  assert.equal(s.longMode, true);
  // events @760, 64 bytes, then the end of the 2048-byte union at 2352.
  assert.equal(k.syncEvents.byteOffset, 760);
  assert.equal(k.syncEvents.byteLength, 64);
  assert.equal(k.syncSregs.bytes.byteOffset, 448);
  assert.equal(k.syncRegs.bytes.byteOffset, 304);
});

Deno.test("kvm_cpuid2: entries of 40 bytes; SIGNIFCANT_INDEX for indexed functions", () => {
  const c = KvmCpuid2.fromLeaves([
    { function: 0, index: 0, eax: 0xd, ebx: 1, ecx: 2, edx: 3 },
    { function: 7, index: 0, eax: 0, ebx: 0xffff_ffff, ecx: 0, edx: 0 },
    { function: 0x4000_0005, index: 0, eax: 1, ebx: 0, ecx: 0, edx: 0 },
    { function: 0x4000_0005, index: 1, eax: 2, ebx: 0, ecx: 0, edx: 0 },
  ]);
  assert.equal(c.nent, 4);
  assert.equal(c.bytes.byteLength, 8 + 4 * 40);
  assert.equal(c.flags(0), 0);
  assert.equal(c.flags(1), KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
  assert.equal(c.flags(2), KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
  assert.equal(c.view.getUint32(8 + 40 + 16, true), 0xffff_ffff, "entries[1].ebx");
  assert.deepEqual(c.toLeaves()[1], { function: 7, index: 0, eax: 0, ebx: 0xffff_ffff, ecx: 0, edx: 0 });
  assert.throws(() => c.setEntry(4, 0, 0, 0, 0, 0, 0, 0), RangeError);
});

Deno.test("kvm_msrs, kvm_msr_filter (bitmap pointer kept), and the small structs", () => {
  const m = new KvmMsrs(2);
  m.setIndices([0x10, 0xc000_0080]);
  m.setDataHalves(1, 0x500, 0);
  assert.equal(m.nmsrs, 2);
  assert.equal(m.view.getUint32(8 + 16, true), 0xc000_0080);
  assert.equal(m.data(1), 0x500);
  assert.throws(() => (m.nmsrs = 3), RangeError);

  const range = denyMsrRange(0x4000_0000, 0x200);
  assert.equal(range.bitmap.byteLength, 0x40);
  const f = KvmMsrFilter.of(KVM_MSR_FILTER_DEFAULT_DENY, [range]);
  assert.equal(f.bytes.byteLength, 392);
  assert.equal(f.flags, 1);
  assert.deepEqual(f.range(0), { flags: 3, nmsrs: 0x200, base: 0x4000_0000 });
  assert.equal(f.view.getBigUint64(8 + 16, true), Deno.UnsafePointer.value(Deno.UnsafePointer.of(range.bitmap)));
  assert.throws(() => f.setRange(16, range), RangeError);
  assert.throws(
    () => f.setRange(1, { flags: KVM_MSR_FILTER_READ, base: 0, nmsrs: 100, bitmap: new Uint8Array(12) }),
    RangeError,
  );

  const region = new KvmUserspaceMemoryRegion().set(1, 0, 0x1_0000_0000, 0x20_0000, 0x7f00_0000_0000);
  assert.equal(region.view.getUint32(12, true), 1, "guest_phys_addr high half");
  assert.equal(region.userspaceAddr, 0x7f00_0000_0000);

  const cap = new KvmEnableCap().set(188, [7]);
  assert.equal(cap.bytes.byteLength, 104);
  assert.equal(cap.view.getUint32(8, true), 7);

  const msi = new KvmMsi().set(0xfee0_1000, 0, 0xed);
  assert.equal(msi.view.getUint32(8, true), 0xed);

  const fpu = new KvmFpu();
  fpu.setXmm(5, 3, 0xfeed);
  assert.equal(fpu.view.getUint32(152 + 5 * 16 + 12, true), 0xfeed);
  assert.equal(fpu.xmm(5, 3), 0xfeed);

  const x = new KvmXcrs();
  x.nrXcrs = 1;
  x.setEntry(0, 0, 7);
  assert.equal(x.get(0), 7);
  assert.equal(x.get(1), undefined);
});

Deno.test("kvm_vcpu_events: 64 bytes, nmi @12, sipi_vector @16, flags @20, smi @24, triple_fault @28, payload @55/@56", () => {
  const e = new KvmVcpuEvents();
  assert.equal(e.bytes.byteLength, 64);
  e.setByte(VcpuEventsByte.nmiPending, 1);
  e.setByte(VcpuEventsByte.interruptShadow, 1);
  e.sipiVector = 0x9a;
  e.flags = KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SHADOW;
  e.exceptionErrorCode = 0xffff_fff0;
  e.exceptionPayload = 0xffff_8000_0000_1000n;
  e.setByte(VcpuEventsByte.exceptionHasPayload, 1);
  e.setByte(VcpuEventsByte.tripleFaultPending, 1);
  assert.deepEqual([e.bytes[11], e.bytes[13], e.bytes[28], e.bytes[55]], [1, 1, 1, 1]);
  assert.equal(e.view.getUint32(4, true), 0xffff_fff0);
  assert.equal(e.view.getUint32(16, true), 0x9a);
  assert.equal(e.view.getUint32(20, true), 5);
  assert.equal(e.view.getBigUint64(56, true), 0xffff_8000_0000_1000n);
  assert.deepEqual(
    [
      KVM_VCPUEVENT_VALID_SIPI_VECTOR,
      KVM_VCPUEVENT_VALID_SMM,
      KVM_VCPUEVENT_VALID_PAYLOAD,
      KVM_VCPUEVENT_VALID_TRIPLE_FAULT,
    ],
    [2, 8, 0x10, 0x20],
  );
});

Deno.test("kvm_debugregs: 128 bytes, db[4] @0 (bigint), dr6 @32, dr7 @40, flags @48", () => {
  const d = new KvmDebugregs();
  assert.equal(d.bytes.byteLength, 128);
  d.setDb(3, 0xffff_8000_1234_5678n);
  d.dr6 = 0xffff_0ff0;
  d.dr7 = 0x401;
  assert.equal(d.view.getBigUint64(24, true), 0xffff_8000_1234_5678n);
  assert.equal(d.db(3), 0xffff_8000_1234_5678n);
  assert.equal(d.view.getUint32(32, true), 0xffff_0ff0);
  assert.equal(d.view.getUint32(40, true), 0x401);
  assert.equal(d.flags, 0);
});

Deno.test("kvm_xsave: 4096 bytes or KVM_CAP_XSAVE2's size, XMM @160, MXCSR @24, XSTATE_BV @512", () => {
  assert.equal(KVM_XSAVE_SIZE, 4096);
  const x = new KvmXsave();
  assert.equal(x.bytes.byteLength, 4096);
  x.view.setUint32(160 + 16 * 2 + 4, 0xabcd, true);
  x.view.setUint32(24, 0x1f80, true);
  x.xstateBv = 7n;
  assert.equal(x.xmm(2, 1), 0xabcd);
  assert.equal(x.mxcsr, 0x1f80);
  assert.equal(x.view.getUint32(512, true), 7);
  assert.equal(new KvmXsave(11008).bytes.byteLength, 11008);
  assert.throws(() => new KvmXsave(4095), RangeError);
  assert.throws(() => new KvmXsave(2048), RangeError);
  const ext = (caps: Record<number, number>) => ({ checkExtension: (c: number) => caps[c] ?? 0 });
  assert.equal(kvmXsaveSize(ext({})), 0, "no KVM_CAP_XSAVE");
  assert.equal(kvmXsaveSize(ext({ 55: 1 })), 4096, "no KVM_CAP_XSAVE2");
  assert.equal(kvmXsaveSize(ext({ 55: 1, 208: 2696 })), 4096);
  assert.equal(kvmXsaveSize(ext({ 55: 1, 208: 11008 })), 11008);
});

Deno.test("kvm_msrs: u64 data as bigint, exact above 2^53", () => {
  const m = new KvmMsrs(2);
  m.setDataBig(1, 0xffff_ffff_8000_0001n);
  assert.equal(m.dataBig(1), 0xffff_ffff_8000_0001n);
  assert.equal(m.view.getBigUint64(8 + 16 + 8, true), 0xffff_ffff_8000_0001n);
  m.setDataBig(0, -1n);
  assert.equal(m.dataBig(0), 0xffff_ffff_ffff_ffffn);
});
