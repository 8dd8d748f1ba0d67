// eventfd, KVM_SET_GSI_ROUTING, KVM_IRQFD and KVM_HYPERV_EVENTFD with real syscalls. The eventfd
// tests need only FFI; the KVM ones are skipped (with the reason printed) only when /dev/kvm cannot
// be opened. Capability-dependent answers (HV_SINT routes, KVM_HYPERV_EVENTFD) are asserted both
// ways: refused here (no CONFIG_KVM_HYPERV), accepted on a kernel with in-kernel Hyper-V.
import assert from "node:assert/strict";
import {
  APIC_REG,
  defaultIrqchipRoutes,
  EventFd,
  EventFdPoller,
  eventfdRead,
  eventfdSignal,
  type IrqRoute,
  Kvm,
  KVM_CAP_HYPERV_EVENTFD,
  KVM_CAP_HYPERV_SYNIC,
  KVM_CAP_IRQ_ROUTING,
  KVM_CAP_IRQFD,
  KVM_CAP_IRQFD_RESAMPLE,
  KVM_IRQ_ROUTING_HV_SINT,
  KVM_IRQ_ROUTING_MSI,
  KvmIoctlError,
  KvmIrqRouting,
  openKvmOrSkip,
  type Vcpu,
  type Vm,
} from "../mod.ts";

const probe = openKvmOrSkip();
if (!probe.kvm) console.log(`skipping the KVM irqfd tests: ${probe.reason}`);
const kvm = probe.kvm as Kvm;
const ignore = !probe.kvm;

/** Throws unless `f` fails with a KvmIoctlError naming `ioctl` and `errno`. */
function refuses(f: () => void, ioctl: string, errno: string): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof KvmIoctlError, String(e));
    assert.equal(e.ioctl, ioctl);
    assert.equal(e.errnoName, errno, e.message);
    return true;
  });
}

/** Polls the LAPIC's IRR for `vector` (KVM may inject an irqfd from a workqueue), up to ~1 s. */
async function pendingInIrr(v: Vcpu, vector: number): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (v.getLapic().bit(APIC_REG.IRR, vector)) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return false;
}

/** A VM with the in-kernel irqchip and vCPU 0 whose LAPIC is software-enabled (SVR bit 8), so fixed interrupts are accepted. */
function irqchipVm(): { vm: Vm; vcpu: Vcpu } {
  const vm = kvm.createVm();
  vm.createIrqchip();
  vm.addRam(0, 0, 1 << 20);
  const vcpu = vm.createVcpu(0);
  const l = vcpu.getLapic();
  l.setReg(APIC_REG.SVR, l.reg(APIC_REG.SVR) | 0x100);
  vcpu.setLapic();
  return { vm, vcpu };
}

const msi = (gsi: number, apicId: number, vector: number): IrqRoute => ({
  gsi,
  type: KVM_IRQ_ROUTING_MSI,
  addressLo: 0xfee00000 + apicId * 4096,
  addressHi: 0,
  data: vector,
});

Deno.test("eventfd: signal adds, read takes and resets, a zero counter reads 0 (non-blocking), errors are false or named", () => {
  using e = EventFd.create();
  assert.ok(e.fd >= 0);
  assert.equal(e.read(), 0, "EAGAIN: nothing signalled");
  assert.ok(e.signal());
  assert.ok(eventfdSignal(e.fd, 41), "by fd number, as another thread does");
  assert.equal(eventfdRead(e.fd), 42);
  assert.equal(e.read(), 0, "read resets the counter");
  assert.equal(eventfdSignal(-1), false, "EBADF: false, no throw (exit path)");
  assert.throws(() => eventfdRead(-1), /^KvmIoctlError|read failed: EBADF/);
  e.close();
  e.close(); // idempotent
});

Deno.test("EventFdPoller: poll(2) says which eventfd is readable; 0 on timeout", () => {
  using a = EventFd.create();
  using b = EventFd.create();
  const p = new EventFdPoller([a.fd, b.fd]);
  assert.equal(p.wait(0), 0);
  b.signal();
  assert.equal(p.wait(1000), 1);
  assert.deepEqual([p.ready(0), p.ready(1)], [false, true]);
  assert.equal(b.read(), 1);
  assert.equal(p.wait(5), 0, "drained: nothing readable");
});

Deno.test({
  name: "real KVM: capabilities the SynIC route path needs are reported (IRQFD, IRQ_ROUTING = KVM_MAX_IRQ_ROUTES, IRQFD_RESAMPLE)",
  ignore,
  fn() {
    assert.ok(kvm.checkExtension(KVM_CAP_IRQFD) > 0);
    assert.equal(kvm.checkExtension(KVM_CAP_IRQ_ROUTING), 4096);
    assert.ok(kvm.checkExtension(KVM_CAP_IRQFD_RESAMPLE) > 0);
    console.log(`KVM_CAP_HYPERV_SYNIC=${kvm.checkExtension(KVM_CAP_HYPERV_SYNIC)} KVM_CAP_HYPERV_EVENTFD=${kvm.checkExtension(KVM_CAP_HYPERV_EVENTFD)}`);
  },
});

Deno.test({
  name: "real KVM: an MSI route + KVM_IRQFD: signalling the eventfd puts the vector in the LAPIC's IRR; KVM consumes the counter; deassign stops it",
  ignore,
  async fn() {
    const { vm, vcpu } = irqchipVm();
    using e = EventFd.create();
    try {
      vm.setGsiRouting(KvmIrqRouting.of([...defaultIrqchipRoutes(), msi(24, 0, 0x41)]));
      vm.irqfd(e.fd, 24);
      refuses(() => vm.irqfd(e.fd, 24), "KVM_IRQFD", "EBUSY");
      assert.equal(vcpu.getLapic().bit(APIC_REG.IRR, 0x41), false);
      assert.ok(e.signal());
      assert.ok(await pendingInIrr(vcpu, 0x41), "vector 0x41 pending in vCPU 0's IRR");
      assert.equal(e.read(), 0, "the irqfd took the counter");
      vm.irqfdDeassign(e.fd, 24);
      assert.ok(e.signal());
      assert.equal(e.read(), 1, "unbound: the counter stays for userspace");
      vm.irqfdDeassign(e.fd, 24); // KVM answers 0 for an irqfd that is not bound
    } finally {
      vm.close();
    }
  },
});

Deno.test({
  name: "real KVM: KVM_IRQFD with a resamplefd (full irqchip) is accepted; without an in-kernel irqchip KVM_IRQFD is EINVAL",
  ignore,
  fn() {
    const { vm } = irqchipVm();
    using set = EventFd.create();
    using ack = EventFd.create();
    try {
      vm.irqfd(set.fd, 4, ack.fd);
      vm.irqfdDeassign(set.fd, 4);
    } finally {
      vm.close();
    }
    using bare = kvm.createVm();
    refuses(() => bare.irqfd(set.fd, 24), "KVM_IRQFD", "EINVAL");
  },
});

Deno.test({
  name: "real KVM: a KVM_IRQ_ROUTING_HV_SINT route and KVM_HYPERV_EVENTFD: refused without in-kernel Hyper-V, accepted with it",
  ignore,
  async fn() {
    const { vm, vcpu } = irqchipVm();
    using e = EventFd.create();
    try {
      const base = [...defaultIrqchipRoutes(), msi(24, 0, 0x42)];
      vm.setGsiRouting(base);
      vm.irqfd(e.fd, 24);
      const withSint = [...base, { gsi: 25, type: KVM_IRQ_ROUTING_HV_SINT, vcpu: 0, sint: 2 } as const];
      if (kvm.checkExtension(KVM_CAP_HYPERV_SYNIC) === 0) {
        refuses(() => vm.setGsiRouting(withSint), "KVM_SET_GSI_ROUTING", "EINVAL");
        // The refused table changed nothing: the MSI route still delivers.
        e.signal();
        assert.ok(await pendingInIrr(vcpu, 0x42), "the previous table is still in force");
      } else {
        vm.setGsiRouting(withSint);
      }
      if (kvm.checkExtension(KVM_CAP_HYPERV_EVENTFD) === 0) {
        refuses(() => vm.hypervEventfd(0x42, e.fd), "KVM_HYPERV_EVENTFD", "ENOTTY");
      } else {
        using c = EventFd.create();
        vm.hypervEventfd(0x42, c.fd);
        refuses(() => vm.hypervEventfd(0x42, c.fd), "KVM_HYPERV_EVENTFD", "EEXIST");
        vm.hypervEventfdDeassign(0x42);
        refuses(() => vm.hypervEventfdDeassign(0x42), "KVM_HYPERV_EVENTFD", "ENOENT");
      }
    } finally {
      vm.close();
    }
  },
});
