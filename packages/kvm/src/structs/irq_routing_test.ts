import assert from "node:assert/strict";
import {
  defaultIrqchipRoutes,
  type IrqRoute,
  irqRouteTypeName,
  KVM_HYPERV_EVENTFD,
  KVM_HYPERV_EVENTFD_DEASSIGN,
  KVM_IRQ_ROUTING_ENTRY_SIZE,
  KVM_IRQ_ROUTING_HEADER_SIZE,
  KVM_IRQ_ROUTING_HV_SINT,
  KVM_IRQ_ROUTING_IRQCHIP,
  KVM_IRQ_ROUTING_MSI,
  KVM_IRQCHIP_IOAPIC,
  KVM_IRQCHIP_PIC_MASTER,
  KVM_IRQCHIP_PIC_SLAVE,
  KVM_IRQFD,
  KVM_IRQFD_FLAG_RESAMPLE,
  KVM_MAX_IRQ_ROUTES,
  KVM_SET_GSI_ROUTING,
  KvmHypervEventfd,
  KvmIrqfd,
  KvmIrqRouting,
  STRUCT_SIZE,
} from "../../mod.ts";

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

// Golden bytes: the same values in the real uapi structs (<linux/kvm.h>, x86-64, gcc), dumped byte for byte.
const GOLDEN_ROUTING = "0300000000000000" +
  "09000000010000000000000000000000" + "0100000001000000" + "0".repeat(48) +
  "18000000020000000000000000000000" + "0010e0fe0000000041400000" + "00000000" + "0".repeat(32) +
  "19000000040000000000000000000000" + "0100000002000000" + "0".repeat(48);
const GOLDEN_IRQFD = "1100000018000000020000001200000000000000000000000000000000000000";
const GOLDEN_HV_EVENTFD = "42000000ffffffff01000000000000000000000000000000";

Deno.test("kvm_irq_routing: 8-byte header, 48-byte entries, union at 16; bytes equal the uapi struct's", () => {
  assert.equal(KVM_IRQ_ROUTING_HEADER_SIZE, STRUCT_SIZE.kvm_irq_routing);
  assert.equal(KVM_IRQ_ROUTING_ENTRY_SIZE, 48);
  const routes: IrqRoute[] = [
    { gsi: 9, type: KVM_IRQ_ROUTING_IRQCHIP, irqchip: KVM_IRQCHIP_PIC_SLAVE, pin: 1 },
    { gsi: 24, type: KVM_IRQ_ROUTING_MSI, addressLo: 0xfee01000, addressHi: 0, data: 0x4041 },
    { gsi: 25, type: KVM_IRQ_ROUTING_HV_SINT, vcpu: 1, sint: 2 },
  ];
  const r = KvmIrqRouting.of(routes);
  assert.equal(r.bytes.byteLength, 8 + 3 * 48);
  assert.equal(hex(r.bytes), GOLDEN_ROUTING);
  assert.equal(r.nr, 3);
  assert.equal(r.flags, 0);
  // Decoding gives the routes back (MSI with its flags/devid made explicit).
  assert.deepEqual(r.entries(), [routes[0], { ...routes[1], flags: 0, devid: 0 }, routes[2]]);
  assert.deepEqual(KvmIrqRouting.wrap(r.bytes).entries(), r.entries(), "wrap reads an ioctl argument");
  assert.deepEqual(r.raw(2), { gsi: 25, type: KVM_IRQ_ROUTING_HV_SINT, flags: 0, u: [1, 2, 0, 0] });
});

Deno.test("kvm_irq_routing: capacity, reuse (set clears), full tables and undecodable types are errors", () => {
  const r = new KvmIrqRouting(2);
  r.set([{ gsi: 30, type: KVM_IRQ_ROUTING_HV_SINT, vcpu: 0, sint: 15 }, { gsi: 31, type: KVM_IRQ_ROUTING_HV_SINT, vcpu: 3, sint: 0 }]);
  r.set([{ gsi: 5, type: KVM_IRQ_ROUTING_IRQCHIP, irqchip: KVM_IRQCHIP_IOAPIC, pin: 5 }]);
  assert.equal(r.nr, 1);
  assert.deepEqual(r.raw(1), { gsi: 0, type: 0, flags: 0, u: [0, 0, 0, 0] }, "the old second entry was cleared");
  r.add({ gsi: 6, type: KVM_IRQ_ROUTING_IRQCHIP, irqchip: KVM_IRQCHIP_IOAPIC, pin: 6 });
  assert.throws(() => r.add({ gsi: 7, type: KVM_IRQ_ROUTING_IRQCHIP, irqchip: KVM_IRQCHIP_IOAPIC, pin: 7 }), /full \(2 entries\)/);
  assert.throws(() => new KvmIrqRouting(KVM_MAX_IRQ_ROUTES + 1), /0\.\.4096 entries/);
  const x = new KvmIrqRouting(1);
  x.view.setUint32(0, 1, true);
  x.view.setUint32(8 + 4, 5, true);
  assert.throws(() => x.entries(), /KVM_IRQ_ROUTING_XEN_EVTCHN/);
  assert.equal(irqRouteTypeName(KVM_IRQ_ROUTING_HV_SINT), "KVM_IRQ_ROUTING_HV_SINT");
  assert.equal(irqRouteTypeName(9), "type 9");
});

Deno.test("KVM's default x86 routing: 40 entries, IOAPIC then PIC for GSI 0..15, IOAPIC only for 16..23", () => {
  const d = defaultIrqchipRoutes();
  assert.equal(d.length, 40);
  assert.deepEqual(d.slice(0, 2), [
    { gsi: 0, type: KVM_IRQ_ROUTING_IRQCHIP, irqchip: KVM_IRQCHIP_IOAPIC, pin: 0 },
    { gsi: 0, type: KVM_IRQ_ROUTING_IRQCHIP, irqchip: KVM_IRQCHIP_PIC_MASTER, pin: 0 },
  ]);
  assert.deepEqual(d.filter((r) => r.gsi === 9), [
    { gsi: 9, type: KVM_IRQ_ROUTING_IRQCHIP, irqchip: KVM_IRQCHIP_IOAPIC, pin: 9 },
    { gsi: 9, type: KVM_IRQ_ROUTING_IRQCHIP, irqchip: KVM_IRQCHIP_PIC_SLAVE, pin: 1 },
  ]);
  assert.deepEqual(d.filter((r) => r.gsi === 23), [{ gsi: 23, type: KVM_IRQ_ROUTING_IRQCHIP, irqchip: KVM_IRQCHIP_IOAPIC, pin: 23 }]);
  assert.equal(Math.max(...d.map((r) => r.gsi)), 23);
});

Deno.test("kvm_irqfd (32 bytes) and kvm_hyperv_eventfd (24 bytes, fd signed): bytes equal the uapi structs'", () => {
  const f = new KvmIrqfd().set(17, 24, KVM_IRQFD_FLAG_RESAMPLE, 18);
  assert.equal(f.bytes.byteLength, STRUCT_SIZE.kvm_irqfd);
  assert.equal(hex(f.bytes), GOLDEN_IRQFD);
  assert.deepEqual([f.fd, f.gsi, f.flags, f.resamplefd], [17, 24, 2, 18]);
  f.set(5, 6);
  assert.deepEqual([f.fd, f.gsi, f.flags, f.resamplefd], [5, 6, 0, 0], "set clears the previous flags");
  const h = new KvmHypervEventfd().set(0x42, -1, KVM_HYPERV_EVENTFD_DEASSIGN);
  assert.equal(h.bytes.byteLength, STRUCT_SIZE.kvm_hyperv_eventfd);
  assert.equal(hex(h.bytes), GOLDEN_HV_EVENTFD);
  assert.deepEqual([h.connId, h.fd, h.flags], [0x42, -1, 1]);
});

Deno.test("KVM_SET_GSI_ROUTING, KVM_IRQFD, KVM_HYPERV_EVENTFD numbers as <linux/kvm.h> defines them", () => {
  assert.equal(KVM_SET_GSI_ROUTING, 0x4008ae6a);
  assert.equal(KVM_IRQFD, 0x4020ae76);
  assert.equal(KVM_HYPERV_EVENTFD, 0x4018aebd);
});
