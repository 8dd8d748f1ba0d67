import assert from "node:assert/strict";
import { Effect, Schema } from "effect";
import {
  CapabilityReport,
  denyMsrRange,
  exitReasonName,
  Kvm,
  KVM_CAP_X86_USER_SPACE_MSR,
  KVM_CAPS,
  KVM_EXIT_HLT,
  KVM_EXIT_IO,
  KVM_EXIT_IO_OUT,
  KVM_EXIT_MMIO,
  KVM_EXIT_X86_RDMSR,
  KVM_EXIT_X86_WRMSR,
  KVM_MSR_EXIT_REASON_FILTER,
  KVM_MSR_EXIT_REASON_INVAL,
  KVM_MSR_EXIT_REASON_UNKNOWN,
  KVM_MSR_FILTER_DEFAULT_ALLOW,
  KvmCpuid2,
  KvmIoctlError,
  KvmUnavailable,
  KVM_CAP_SYNC_REGS,
  KVM_SYNC_X86_REGS,
  KVM_SYNC_X86_SREGS,
  openKvmEffect,
  openKvmOrSkip,
  probeCapabilities,
  Reg,
  Seg,
  SegField,
} from "../mod.ts";
import { GP_HANDLER, GP_PORT, GUEST, longModeVm, MMIO_GPA } from "./guest.ts";

const probe = openKvmOrSkip();
if (!probe.kvm) console.log(`skipping KVM tests: ${probe.reason}`);
const kvm = probe.kvm as Kvm;
const ignore = !probe.kvm;

/** Runs the vCPU and asserts the exit reason by name (clearer failures than numbers). */
const expectExit = (run: () => number, want: number) => assert.equal(exitReasonName(run()), exitReasonName(want));

Deno.test("a missing device and a non-KVM device give KvmUnavailable with the fix", () => {
  let err: unknown;
  try {
    Kvm.open("/dev/no-such-kvm");
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof KvmUnavailable);
  assert.equal(err.reason, "no /dev/kvm");
  assert.match(err.message, /modprobe kvm_intel/);
  assert.match(err.message, /nested/);
  const other = openKvmOrSkip("/dev/null");
  assert.equal(other.kvm, undefined);
  assert.match(other.reason!, /KVM_GET_API_VERSION returned -1/);
  assert.equal(KvmUnavailable.permissionDenied().reason, "permission denied");
  assert.match(KvmUnavailable.permissionDenied().message, /kvm. group|root/);
});

Deno.test({
  name: "KVM API version is 12; openKvmEffect succeeds",
  ignore,
  async fn() {
    assert.equal(kvm.apiVersion, 12);
    const k = await Effect.runPromise(openKvmEffect());
    assert.equal(k.apiVersion, 12);
    k.close();
    const fail = await Effect.runPromise(Effect.flip(openKvmEffect("/dev/no-such-kvm")));
    assert.equal(fail._tag, "KvmUnavailable");
  },
});

Deno.test({
  name: "capability report: a number for every listed cap, KVM_CAP_HYPERV included; decodes with its Schema",
  ignore,
  fn() {
    const report = probeCapabilities(kvm);
    for (const name of Object.keys(KVM_CAPS)) {
      assert.equal(typeof report.caps[name], "number", name);
      assert.ok(report.caps[name] >= 0, name);
    }
    assert.equal(typeof report.caps.KVM_CAP_HYPERV, "number");
    assert.ok(report.caps.KVM_CAP_USER_MEMORY > 0);
    const decoded = Schema.decodeUnknownSync(CapabilityReport)(JSON.parse(JSON.stringify(report)));
    assert.deepEqual(decoded, report);
    console.log(
      `KVM_CAP_HYPERV=${report.caps.KVM_CAP_HYPERV} KVM_CAP_X86_USER_SPACE_MSR=${report.caps.KVM_CAP_X86_USER_SPACE_MSR} ` +
        `KVM_CAP_X86_MSR_FILTER=${report.caps.KVM_CAP_X86_MSR_FILTER} KVM_CAP_IMMEDIATE_EXIT=${report.caps.KVM_CAP_IMMEDIATE_EXIT}`,
    );
    assert.throws(() => Schema.decodeUnknownSync(CapabilityReport)({ apiVersion: "12", caps: {} }));
  },
});

Deno.test({
  name: "supported CPUID holds leaf 0 and leaf 1; MSR index list and mmap size are sane",
  ignore,
  fn() {
    const leaves = kvm.supportedCpuid();
    const leaf0 = leaves.find((l) => l.function === 0);
    assert.ok(leaf0, "leaf 0");
    assert.ok(leaf0.eax >= 1, "max basic leaf");
    assert.ok(leaves.some((l) => l.function === 1), "leaf 1");
    assert.ok(leaves.some((l) => l.function === 0x8000_0001 && (l.edx & (1 << 29)) !== 0), "CPUID.80000001h:EDX.LM");
    const msrs = kvm.msrIndexList();
    assert.ok(msrs.includes(0xc000_0082), "LSTAR in the MSR index list");
    assert.ok(msrs.includes(0x10), "TSC in the MSR index list");
    assert.ok(Array.isArray(kvm.msrFeatureIndexList()));
    assert.ok(kvm.vcpuMmapSize >= 4096);
    const hv = kvm.supportedHvCpuid();
    if (hv === undefined) console.log("KVM_GET_SUPPORTED_HV_CPUID: absent (KVM_CAP_SYS_HYPERV_CPUID = 0)");
    else assert.ok(hv.some((l) => l.function === 0x4000_0000));
  },
});

Deno.test({
  name: "KVM_SET_CPUID2 with an absurd entry count fails with a KvmIoctlError naming the ioctl",
  ignore,
  fn() {
    using vm = kvm.createVm();
    const vcpu = vm.createVcpu(0);
    const tooMany = new KvmCpuid2(300); // KVM_MAX_CPUID_ENTRIES is 256
    let err: unknown;
    try {
      vcpu.setCpuid2(tooMany);
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof KvmIoctlError, String(err));
    assert.equal(err._tag, "KvmIoctlError");
    assert.equal(err.ioctl, "KVM_SET_CPUID2");
    assert.ok(["E2BIG", "EINVAL"].includes(err.errnoName), err.errnoName);
    assert.match(err.message, /^KVM_SET_CPUID2 failed: (E2BIG \(argument list too long\)|EINVAL \(invalid argument\))/);
    console.log(err.message);
  },
});

Deno.test({
  name: "long mode guest: OUT exits as KVM_EXIT_IO with port, size and data, then HLT",
  ignore,
  fn() {
    using g = longModeVm(kvm);
    g.load(GUEST.out);
    expectExit(() => g.vcpu.run(), KVM_EXIT_IO);
    const k = g.vcpu.kvmRun;
    assert.equal(k.ioDirection, KVM_EXIT_IO_OUT);
    assert.equal(k.ioPort, 0x3f8);
    assert.equal(k.ioSize, 1);
    assert.equal(k.ioCount, 1);
    assert.equal(k.ioData, 0x48);
    expectExit(() => g.vcpu.run(), KVM_EXIT_HLT);
    const s = g.vcpu.getSregs();
    assert.equal(s.longMode, true, "still in 64-bit mode");
    assert.equal(s.cpl, 0);
  },
});

Deno.test({
  name: "sync regs: kvm_run.s.regs matches KVM_GET_REGS/KVM_GET_SREGS at each exit; dirty regs replace KVM_SET_REGS",
  ignore,
  fn() {
    using g = longModeVm(kvm);
    const sync = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS;
    const cap = g.vm.checkExtension(KVM_CAP_SYNC_REGS);
    if ((cap & sync) !== sync) {
      console.log(`skipping: KVM_CAP_SYNC_REGS = ${cap}`);
      return;
    }
    // mov rax, 0x1122334455667788; mov rbx, 0x0102030405060708; mov r15d, 0xcafef00d; mov dx, 0xe4;
    // out dx, eax; out dx, eax; hlt
    g.load([
      0x48, 0xb8, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,
      0x48, 0xbb, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
      0x41, 0xbf, 0x0d, 0xf0, 0xfe, 0xca,
      0x66, 0xba, 0xe4, 0x00,
      0xef, 0xef, 0xf4,
    ]);
    const v = g.vcpu;
    const k = v.kvmRun;
    v.enableSyncRegs(sync);
    assert.equal(v.syncRegsMask, sync);

    expectExit(() => v.run(), KVM_EXIT_IO);
    assert.equal(k.kvmValidRegs, sync, "KVM keeps kvm_valid_regs across KVM_RUN");
    assert.equal(v.syncedRegs, sync);
    assert.equal(k.ioData, 0x55667788);
    const r = k.syncRegs;
    assert.equal(r.lo(Reg.rax), 0x55667788);
    assert.equal(r.hi(Reg.rax), 0x11223344);
    assert.equal(r.lo(Reg.rbx), 0x05060708);
    assert.equal(r.hi(Reg.rbx), 0x01020304);
    assert.equal(r.lo(Reg.r15), 0xcafef00d);
    // Byte for byte what the ioctls return (the sync area is not dirty, so getRegs() does not push it).
    assert.deepEqual([...r.bytes], [...v.getRegs().bytes], "s.regs.regs == KVM_GET_REGS");
    assert.deepEqual([...k.syncSregs.bytes], [...v.getSregs().bytes], "s.regs.sregs == KVM_GET_SREGS");
    const s = k.syncSregs;
    assert.equal(s.longMode, true);
    assert.equal(s.field(Seg.cs, SegField.l), 1);
    assert.equal(s.cpl, 0);
    assert.equal(s.field(Seg.cs, SegField.dpl), 0);
    assert.equal(s.selector(Seg.cs), v.sregs.selector(Seg.cs));
    assert.equal(s.protectedMode, true);
    assert.equal(s.efer & 0x500, 0x500, "EFER.LME|LMA");
    assert.equal(s.cr0, v.sregs.cr0);

    // Write EAX and R15 through the sync area: the second OUT sees them, without KVM_SET_REGS.
    r.setHalves(Reg.rax, 0xdeadbeef, 0);
    r.words[2 * Reg.r15] = 0x1234;
    v.markRegsDirty();
    assert.equal(k.kvmDirtyRegs, KVM_SYNC_X86_REGS);
    expectExit(() => v.run(), KVM_EXIT_IO);
    assert.equal(k.kvmDirtyRegs, 0, "KVM consumed the dirty mark");
    assert.equal(k.kvmValidRegs, sync, "still valid after a second KVM_RUN");
    assert.equal(k.ioData, 0xdeadbeef);
    assert.equal(k.syncRegs.lo(Reg.r15), 0x1234);
    assert.equal(k.syncRegs.rip, v.getRegs().rip, "RIP at the second OUT");

    // Ioctl getters see registers still marked dirty; setRegs() supersedes the mark.
    r.rbx = 0x42;
    v.markRegsDirty();
    assert.equal(v.getRegs().rbx, 0x42, "getRegs() pushed the dirty sync regs first");
    assert.equal(k.kvmDirtyRegs, 0);
    r.rbx = 0x43;
    v.markRegsDirty();
    v.regs.rbx = 0x44;
    v.setRegs();
    assert.equal(k.kvmDirtyRegs, 0, "setRegs() dropped the dirty mark");
    // run() re-asserts kvm_valid_regs should anything have cleared it, so this exit is synced too.
    k.kvmValidRegs = 0;
    expectExit(() => v.run(), KVM_EXIT_HLT);
    assert.equal(k.kvmValidRegs, sync);
    assert.equal(k.syncRegs.rbx, 0x44, "KVM_SET_REGS's value, synced at the HLT exit");
    v.enableSyncRegs(0);
    assert.throws(() => v.enableSyncRegs(8), RangeError);
  },
});

Deno.test({
  name: "long mode guest: a store outside RAM exits as KVM_EXIT_MMIO",
  ignore,
  fn() {
    using g = longModeVm(kvm);
    g.load(GUEST.mmio);
    expectExit(() => g.vcpu.run(), KVM_EXIT_MMIO);
    const k = g.vcpu.kvmRun;
    assert.equal(k.mmioPhysAddr, MMIO_GPA);
    assert.equal(k.mmioLen, 4);
    assert.equal(k.mmioIsWrite, 1);
    assert.equal(k.mmioDataLo, 0xdeadbeef);
    expectExit(() => g.vcpu.run(), KVM_EXIT_HLT);
  },
});

Deno.test({
  name: "MSR filter + userspace MSRs: RDMSR 0x40000000 exits, the answer lands in EDX:EAX; WRMSR error=1 raises #GP",
  ignore,
  fn() {
    using g = longModeVm(kvm);
    g.vm.enableCap(KVM_CAP_X86_USER_SPACE_MSR, [
      KVM_MSR_EXIT_REASON_FILTER | KVM_MSR_EXIT_REASON_UNKNOWN | KVM_MSR_EXIT_REASON_INVAL,
    ]);
    g.vm.setMsrFilter(KVM_MSR_FILTER_DEFAULT_ALLOW, [denyMsrRange(0x4000_0000, 0x200)]);
    const k = g.vcpu.kvmRun;

    g.load(GUEST.rdmsr);
    expectExit(() => g.vcpu.run(), KVM_EXIT_X86_RDMSR);
    assert.equal(k.msrIndex, 0x4000_0000);
    assert.equal(k.msrReason, KVM_MSR_EXIT_REASON_FILTER);
    k.msrError = 0;
    k.setMsrData(0x11223344, 0x55667788);
    expectExit(() => g.vcpu.run(), KVM_EXIT_HLT);
    const regs = g.vcpu.getRegs();
    assert.equal(regs.lo(0), 0x11223344, "EAX");
    assert.equal(regs.rdx, 0x55667788, "EDX");

    g.load(GUEST.wrmsr);
    expectExit(() => g.vcpu.run(), KVM_EXIT_X86_WRMSR);
    assert.equal(k.msrIndex, 0x4000_0001);
    assert.equal(k.msrDataLo, 1);
    assert.equal(k.msrDataHi, 0);
    k.msrError = 1; // -> #GP(0) in the guest
    expectExit(() => g.vcpu.run(), KVM_EXIT_IO);
    assert.equal(k.ioPort, GP_PORT, "the #GP handler ran");
    assert.equal(k.ioData, 13);
    expectExit(() => g.vcpu.run(), KVM_EXIT_HLT);
    assert.ok(g.vcpu.getRegs().rip > GP_HANDLER, "stopped in the handler");
  },
});

Deno.test({
  name: "HLT without in-kernel irqchip exits as KVM_EXIT_HLT; regs, sregs, FPU and MSRs round-trip",
  ignore,
  fn() {
    using g = longModeVm(kvm);
    g.load(GUEST.hlt);
    expectExit(() => g.vcpu.run(), KVM_EXIT_HLT);
    const v = g.vcpu;
    v.getRegs();
    v.regs.rbx = 0x1_2345_6789;
    v.setRegs();
    assert.equal(v.getRegs().rbx, 0x1_2345_6789);
    assert.equal(v.getMsr(0xc000_0080) & 0x500, 0x500, "EFER.LME|LMA");
    v.setMsr(0xc000_0102, 0x7fff_0000_1000); // KERNEL_GS_BASE
    assert.equal(v.getMsr(0xc000_0102), 0x7fff_0000_1000);
    const fpu = v.getFpu();
    fpu.setXmm(3, 0, 0xa5a5_a5a5);
    v.setFpu();
    assert.equal(v.getFpu().xmm(3, 0), 0xa5a5_a5a5);
    assert.equal(typeof v.getMpState(), "number");
    assert.ok(v.getTscKhz() > 0);
    assert.ok(g.vm.getTscKhz() > 0);
    assert.throws(() => v.getLapic(), (e: unknown) => e instanceof KvmIoctlError && e.ioctl === "KVM_GET_LAPIC");
  },
});

Deno.test({
  name: "KVM_INTERRUPT injects a vector into a guest without in-kernel irqchip",
  ignore,
  fn() {
    using g = longModeVm(kvm);
    // sti; hlt; (the handler for the injected vector 0x1f is the #GP handler stub: out GP_PORT, 13; hlt)
    g.load([0xfb, 0xf4, 0xf4]);
    expectExit(() => g.vcpu.run(), KVM_EXIT_HLT);
    const k = g.vcpu.kvmRun;
    assert.equal(k.ifFlag, 1);
    assert.equal(k.readyForInterruptInjection, 1);
    g.vcpu.interrupt(0x1f);
    expectExit(() => g.vcpu.run(), KVM_EXIT_IO);
    assert.equal(k.ioPort, GP_PORT);
  },
});

Deno.test({
  name: "in-kernel irqchip with two vCPUs, KVM_SIGNAL_MSI and KVM_IRQ_LINE",
  ignore,
  fn() {
    using vm = kvm.createVm();
    vm.createIrqchip();
    vm.addRam(0, 0, 1 << 20);
    const a = vm.createVcpu(0);
    const b = vm.createVcpu(1);
    assert.equal(a.getLapic().reg(0x20) >>> 24, 0, "APIC id 0");
    assert.equal(b.getLapic().reg(0x20) >>> 24, 1, "APIC id 1");
    assert.ok(vm.signalMsi(0xfee0_0000, 0x30) >= 0);
    vm.irqLine(4, 1);
    vm.irqLine(4, 0);
  },
});

Deno.test({
  name: "OUT loop on the main thread: 100 000 KVM_EXIT_IO round trips (measured, not asserted)",
  ignore,
  fn() {
    using g = longModeVm(kvm);
    g.load(GUEST.outLoop);
    const v = g.vcpu;
    const k = v.kvmRun;
    let exits = 0;
    let sum = 0;
    const t0 = performance.now();
    for (;;) {
      const r = v.run();
      if (r !== KVM_EXIT_IO) break;
      sum += k.ioData;
      exits++;
    }
    const ms = performance.now() - t0;
    assert.equal(exits, 100_000);
    assert.equal(sum, 100_000 * 0x41);
    assert.equal(k.exitReason, KVM_EXIT_HLT);
    console.log(
      `OUT loop on the main thread: ${exits} exits in ${ms.toFixed(1)} ms = ${Math.round(exits / (ms / 1000))} exits/s`,
    );
  },
});
