// captureVcpuState / applyVcpuState on the real /dev/kvm: a long-mode vCPU with distinctive state
// is captured, applied to a fresh VM's vCPU, captured again (every part equal, the TSC a little
// later) and run (its RDTSC continues from the saved TSC); a bad snapshot is refused untouched.
import assert from "node:assert/strict";
import {
  type Kvm,
  KVM_CAP_SYNC_REGS,
  KVM_EXIT_IO,
  KVM_SYNC_X86_REGS,
  KVM_VCPUEVENT_VALID_NMI_PENDING,
  KVM_VCPUEVENT_VALID_SHADOW,
  KvmMsrs,
  KvmRegs,
  openKvmOrSkip,
  Reg,
  type Vcpu,
  VcpuEventsByte,
  type Vm,
} from "@hv/kvm";
import { GuestMemory, longModeSregs, writeGdt, writeIdentityPageTables } from "@hv/x86";
import { applyVcpuState, captureVcpuState, SAVED_MSRS, type SavedVcpuState, VcpuStateError } from "./vcpu_state.ts";

const probe = openKvmOrSkip();
if (!probe.kvm) console.log(`skipping vCPU state tests: ${probe.reason}`);
const kvm = probe.kvm as Kvm;
const ignore = !probe.kvm;

const CODE = 0x8000;
const PORT = 0x510;
/** rdtsc; shl rdx, 32; or rax, rdx; mov dx, PORT; out dx, al; hlt */
const RDTSC_OUT = [
  0x0f,
  0x31,
  0x48,
  0xc1,
  0xe2,
  0x20,
  0x48,
  0x09,
  0xd0,
  0x66,
  0xba,
  PORT & 0xff,
  PORT >> 8,
  0xee,
  0xf4,
];
const IA32_TSC = 0x10;
const LSTAR = 0xc0000082;
const KERNEL_GS_BASE = 0xc0000102;
const TSC = 1_000_000_000_000n;
const YMM_HI = 576; // XSAVE offset of AVX's upper YMM halves (CPUID.(0DH,2).EBX)

/** A VM with one long-mode vCPU (KVM's supported CPUID), RDTSC_OUT at CODE and no in-kernel irqchip. */
function longModeVcpu(): { vm: Vm; vcpu: Vcpu } {
  const vm = kvm.createVm();
  const memory = new GuestMemory(vm.addRam(0, 0, 2 << 20).bytes);
  const gdt = writeGdt(memory, 0x500);
  const cr3 = writeIdentityPageTables(memory, 0x2000, 1 << 30);
  memory.write(CODE, Uint8Array.from(RDTSC_OUT));
  const vcpu = vm.createVcpu(0);
  vcpu.setCpuid2(kvm.supportedCpuid());
  vcpu.getSregs().apply(longModeSregs({ gdt, cr3 }));
  vcpu.setSregs();
  return { vm, vcpu };
}

/** Whether KVM offers AVX state to guests (CPUID.(0DH,0).EAX bit 2). */
const hasAvx = () => ((kvm.supportedCpuid().find((l) => l.function === 0xd && l.index === 0)?.eax ?? 0) & 4) !== 0;

/**
 * Gives `vcpu` distinctive state in every part. Returns whether KVM honoured the IA32_TSC write
 * (a KVM that cannot offset the guest TSC, as under PVM, accepts the write and ignores it).
 */
function makeDistinctive(vcpu: Vcpu, avx: boolean): boolean {
  const regs = vcpu.getRegs();
  for (let r = Reg.rax; r <= Reg.r15; r++) regs.setBig(r, BigInt(r + 1) * 0x0101_0101_0101_0101n);
  regs.rip = CODE;
  regs.rsp = 0x7_0000;
  regs.rflags = 0x246;
  vcpu.setRegs();
  const fpu = vcpu.getFpu();
  fpu.setXmm(3, 0, 0xcafe_f00d);
  fpu.setXmm(3, 3, 0x1234_5678);
  vcpu.setFpu();
  vcpu.xcrs.nrXcrs = 1;
  vcpu.xcrs.setEntry(0, 0, avx ? 7 : 3);
  vcpu.setXcrs();
  if (avx) {
    const x = vcpu.getXsave();
    x.view.setUint32(YMM_HI + 3 * 16, 0xa5a5_0003, true);
    x.xstateBv |= 4n;
    vcpu.setXsave(x);
  }
  const msrs = new KvmMsrs(3);
  msrs.setIndices([IA32_TSC, LSTAR, KERNEL_GS_BASE]);
  [TSC, 0xffff_ffff_8100_0040n, 0xffff_8880_0000_1000n].forEach((v, i) => msrs.setDataBig(i, v));
  assert.equal(vcpu.setMsrs(msrs), 3);
  const dr = vcpu.getDebugregs();
  dr.setDb(0, 0xffff_8000_1234_5678n);
  dr.dr7 = 0x401;
  vcpu.setDebugregs();
  const ev = vcpu.getVcpuEvents();
  ev.setByte(VcpuEventsByte.nmiPending, 1);
  ev.setByte(VcpuEventsByte.nmiMasked, 1);
  ev.setByte(VcpuEventsByte.interruptShadow, 1); // KVM_X86_SHADOW_INT_MOV_SS
  ev.flags = KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SHADOW;
  vcpu.setVcpuEvents();
  const tsc = BigInt(vcpu.getMsr(IA32_TSC));
  return tsc >= TSC && tsc - TSC <= slackOf(vcpu);
}

const msrMap = (s: SavedVcpuState) => new Map(s.msrs.map((m) => [m.index, m.value]));
/** TSC cycles of 10 seconds on `vcpu`: how far the TSC may move during a test. */
const slackOf = (vcpu: Vcpu) => BigInt(vcpu.getTscKhz()) * 1000n * 10n;

/** Asserts `b` equals `a` in every part, the TSC at most `slack` cycles later. */
function assertSameState(a: SavedVcpuState, b: SavedVcpuState, slack: bigint): void {
  for (const part of ["regs", "sregs", "fpu", "xsave", "xcrs", "events", "debugregs"] as const) {
    assert.deepEqual(b[part], a[part], `${part} differs`);
  }
  const [ma, mb] = [msrMap(a), msrMap(b)];
  assert.deepEqual([...mb.keys()], [...ma.keys()], "same MSRs");
  for (const [index, v] of ma) if (index !== IA32_TSC) assert.equal(mb.get(index), v, `MSR 0x${index.toString(16)}`);
  const dt = mb.get(IA32_TSC)! - ma.get(IA32_TSC)!;
  assert.ok(dt >= 0n && dt <= slack, `TSC moved by ${dt} cycles`);
}

Deno.test("SAVED_MSRS never holds an MSR the VMM owns (APIC base, TSC deadline, x2APIC, Hyper-V)", () => {
  for (const m of SAVED_MSRS) {
    assert.ok(
      m !== 0x1b && m !== 0x6e0 && !(m >= 0x800 && m <= 0x8ff) && !(m >= 0x40000000 && m <= 0x400001ff),
      `0x${m.toString(16)}`,
    );
  }
  assert.equal(SAVED_MSRS[0], IA32_TSC);
  assert.equal(new Set(SAVED_MSRS).size, SAVED_MSRS.length);
});

Deno.test({
  name:
    "a captured vCPU applied to a fresh VM captures back the same; the restored guest's TSC continues from the saved one",
  ignore,
  fn() {
    const avx = hasAvx();
    const a = longModeVcpu();
    const b = longModeVcpu();
    try {
      const tscSet = makeDistinctive(a.vcpu, avx);
      const saved = captureVcpuState(a.vcpu);
      const slack = slackOf(a.vcpu);
      const tsc = msrMap(saved).get(IA32_TSC)!;
      if (tscSet) assert.ok(tsc >= TSC && tsc - TSC <= slack, `saved TSC ${tsc}`);
      else console.log("this KVM ignores IA32_TSC writes (no TSC offsetting): the TSC is only checked to move forward");
      assert.equal(msrMap(saved).get(LSTAR), 0xffff_ffff_8100_0040n);
      assert.equal(msrMap(saved).get(KERNEL_GS_BASE), 0xffff_8880_0000_1000n);
      console.log(
        `xsave ${saved.xsave.byteLength} bytes, xcrs ${saved.xcrs.byteLength}, AVX ${avx}, MSRs:`,
        saved.msrs.map((m) => m.index.toString(16)).join(" "),
      );

      applyVcpuState(b.vcpu, saved);
      const again = captureVcpuState(b.vcpu);
      assertSameState(saved, again, slack);
      // The restored vCPU holds what was set on the first one.
      const v = b.vcpu;
      assert.equal(v.getRegs().getBig(Reg.r15), 16n * 0x0101_0101_0101_0101n);
      assert.deepEqual([v.getFpu().xmm(3, 0), v.fpu.xmm(3, 3)], [0xcafe_f00d, 0x1234_5678]);
      assert.equal(v.getXcrs().get(0), avx ? 7 : 3);
      if (avx) assert.equal(v.getXsave().view.getUint32(YMM_HI + 3 * 16, true), 0xa5a5_0003);
      assert.equal(v.getDebugregs().db(0), 0xffff_8000_1234_5678n);
      assert.equal(v.debugregs.dr7, 0x401);
      const ev = v.getVcpuEvents();
      assert.deepEqual([
        ev.byte(VcpuEventsByte.nmiPending),
        ev.byte(VcpuEventsByte.nmiMasked),
        ev.byte(VcpuEventsByte.interruptShadow),
      ], [1, 1, 1]);

      // Run the restored vCPU: RDTSC at the saved RIP reads the saved TSC plus the time since.
      const sync = (kvm.checkExtension(KVM_CAP_SYNC_REGS) & KVM_SYNC_X86_REGS) !== 0;
      if (sync) v.enableSyncRegs(KVM_SYNC_X86_REGS);
      assert.equal(v.run(), KVM_EXIT_IO);
      assert.equal(v.kvmRun.ioPort, PORT);
      const guestTsc = v.getRegs().getBig(Reg.rax);
      assert.ok(guestTsc >= tsc && guestTsc - tsc <= slack, `guest TSC ${guestTsc}, saved ${tsc}`);
      if (sync) {
        // Registers changed in the sync area and marked dirty are what a capture sees.
        v.kvmRun.syncRegs.setBig(Reg.rbx, 0x5eed_0000_0000_0001n);
        v.markRegsDirty();
        const r = new KvmRegs(captureVcpuState(v).regs.slice());
        assert.equal(r.getBig(Reg.rbx), 0x5eed_0000_0000_0001n);
        assert.equal(v.kvmRun.kvmDirtyRegs & KVM_SYNC_X86_REGS, 0);
      }
    } finally {
      a.vm.close();
      b.vm.close();
    }
  },
});

Deno.test({
  name: "a snapshot with a wrong-size part or a foreign MSR is refused with VcpuStateError before anything is written",
  ignore,
  fn() {
    const a = longModeVcpu();
    const b = longModeVcpu();
    try {
      makeDistinctive(a.vcpu, false);
      const good = captureVcpuState(a.vcpu);
      const before = captureVcpuState(b.vcpu);
      assert.notDeepEqual(before.regs, good.regs);
      const cases: [Partial<Record<keyof SavedVcpuState, unknown>>, string, RegExp][] = [
        [{ events: good.events.subarray(0, 63) }, "events", /63 bytes; this KVM takes 64/],
        [{ regs: new Uint8Array(143) }, "regs", /143 bytes/],
        [{ xsave: new Uint8Array(4000) }, "xsave", /4000 bytes; this KVM takes none \(empty\) or \d+/],
        [{ debugregs: undefined }, "debugregs", /missing/],
        [{ msrs: [...good.msrs, { index: 0x1b, value: 0xfee00900n }] }, "msrs", /MSR 0x1b is not one/],
        [{ msrs: [...good.msrs, { index: 0x40000000, value: 1n }] }, "msrs", /MSR 0x40000000 is not one/],
        [{ msrs: [...good.msrs, good.msrs[0]] }, "msrs", /appears twice/],
        [{ msrs: [{ index: IA32_TSC, value: 1n << 64n }] }, "msrs", /no u64 value/],
        [{ msrs: [{ index: IA32_TSC, value: 5 }] }, "msrs", /no u64 value/],
      ];
      for (const [change, part, message] of cases) {
        const bad = { ...good, ...change } as SavedVcpuState;
        assert.throws(
          () => applyVcpuState(b.vcpu, bad),
          (e) => e instanceof VcpuStateError && e.part === part && message.test(e.message),
        );
      }
      assertSameState(before, captureVcpuState(b.vcpu), slackOf(b.vcpu));
    } finally {
      a.vm.close();
      b.vm.close();
    }
  },
});
