import assert from "node:assert/strict";
import { Effect, Exit } from "effect";
import { defaultIrqchipRoutes, KVM_IRQ_ROUTING_HV_SINT, openKvmOrSkip } from "@hv/kvm";
import {
  decodeSintRouteLayout,
  encodeSintRouteLayout,
  hostWith,
  HOST_WITHOUT_HYPERV,
  HYPERV_CAPABLE_HOST,
  type PassthroughPlan,
  PassthroughSetupError,
  PassthroughUnavailable,
  preflight,
  RealKvmService,
  setupPassthroughVm,
  SimulatedKvm,
  SINT_GSI_BASE,
  sintGsi,
  SintRouteTable,
} from "../mod.ts";
import { composeNames, composeProfile } from "./test_helpers.ts";

const plan = (k: SimulatedKvm, names = ["synic"]): PassthroughPlan => Effect.runSync(preflight(composeNames(names), k));

/** A VM with `n` vCPUs set up by hand on `k` (no routes), for building tables directly. */
function vmWithVcpus(k: SimulatedKvm, n: number, synic = true) {
  const vm = k.createVm();
  k.createIrqchip(vm);
  const vcpus = Array.from({ length: n }, (_, i) => {
    const v = k.createVcpu(vm, i);
    if (synic) k.enableVcpuCap(v, "KVM_CAP_HYPERV_SYNIC2");
    return v;
  });
  return { vm, vcpus };
}

/** Throws unless `f` throws a PassthroughSetupError at `step` whose message matches `re`. */
function setupError(f: () => unknown, step: string, re: RegExp): PassthroughSetupError {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof PassthroughSetupError, `expected a PassthroughSetupError, got ${err}`);
  assert.equal(err.step, step);
  assert.match(err.message, re);
  return err;
}

Deno.test("SINT routes on 2 VPs: 17 eventfds per VP, one KVM_SET_GSI_ROUTING (KVM's 40 defaults + 32 HV_SINT), one KVM_IRQFD per VP per SINT with the VP's ack as resamplefd", () => {
  const k = new SimulatedKvm();
  const { routes } = setupPassthroughVm(k, plan(k), 2);
  assert.ok(routes);
  const l = k.log();
  const first = l.findIndex((x) => x.startsWith("eventfd "));
  // After every vCPU's SynIC is active: KVM records SINT -> GSI only for active SynICs.
  assert.ok(first > l.lastIndexOf("KVM_ENABLE_CAP vcpu1 KVM_CAP_HYPERV_SYNIC2"));
  assert.ok(first > l.lastIndexOf("KVM_SET_MSRS vcpu1 0x40000002=0x1"), "after VP_INDEX (the HV_SINT route names the VP index)");
  const layout = routes.layout();
  const expected: string[] = [];
  for (const vp of layout.vps) expected.push(...[...vp.sints, vp.ack].map((fd) => `eventfd host fd=${fd}`));
  expected.push("KVM_SET_GSI_ROUTING vm 72 entries 40 KVM_IRQ_ROUTING_IRQCHIP 32 KVM_IRQ_ROUTING_HV_SINT");
  layout.vps.forEach((vp, v) => vp.sints.forEach((fd, n) => expected.push(`KVM_IRQFD vm fd=${fd} gsi=${24 + 16 * v + n} resamplefd=${vp.ack}`)));
  assert.deepEqual(l.slice(first), expected);

  // What KVM holds: the default irqchip routes kept, then (vp, sint) at GSI 24 + 16 vp + sint.
  const table = k.gsiRoutes();
  assert.deepEqual(table.slice(0, 40), defaultIrqchipRoutes());
  assert.deepEqual(table[40], { gsi: 24, type: KVM_IRQ_ROUTING_HV_SINT, vcpu: 0, sint: 0 });
  assert.deepEqual(table[71], { gsi: 55, type: KVM_IRQ_ROUTING_HV_SINT, vcpu: 1, sint: 15 });
  assert.deepEqual(k.sintToGsi(1), Array.from({ length: 16 }, (_, n) => 40 + n));
  assert.equal(k.irqfds().length, 32);
  assert.deepEqual([routes.gsi(1, 2), sintGsi(1, 2), SINT_GSI_BASE], [42, 42, 24]);
  assert.deepEqual(new Set(layout.vps.flatMap((vp) => [...vp.sints, vp.ack])).size, 34, "34 distinct eventfds");
});

Deno.test("raising a route writes its eventfd; KVM consumes it and delivers the SINT as KVM holds it (vector, or dropped when masked)", () => {
  const k = new SimulatedKvm();
  const { routes } = setupPassthroughVm(k, plan(k), 2);
  k.guestWroteSint(1, 2, 0x90n);
  assert.ok(routes!.raise(1, 2));
  assert.ok(routes!.raise(1, 3), "the write succeeds; KVM decides");
  assert.deepEqual(k.deliveries, [
    { gsi: 42, route: "KVM_IRQ_ROUTING_HV_SINT", outcome: "delivered", vp: 1, sint: 2, vector: 0x90 },
    { gsi: 43, route: "KVM_IRQ_ROUTING_HV_SINT", outcome: "masked", vp: 1, sint: 3 },
  ]);
  assert.equal(k.eventfdCount(routes!.layout().vps[1].sints[2]), 0, "the irqfd took the counter");
  assert.equal(routes!.raise(2, 0), false, "no VP 2");
  assert.equal(routes!.raise(0, 16), false, "no SINT 16");
  assert.equal(k.log().filter((l) => l.startsWith("KVM_SIGNAL_MSI")).length, 0);
});

Deno.test("EOM (no exit): KVM acks every SINT, signalling that VP's ack eventfd only; an EOI of a SINT vector acks too", () => {
  const k = new SimulatedKvm();
  const { vcpus, routes } = setupPassthroughVm(k, plan(k), 2);
  const r = routes!;
  k.queueExit(1, { kind: "eom" }, { kind: "io-out", port: 0x80, value: 0 });
  k.run(vcpus[1]);
  assert.equal(r.takeAck(1), true);
  assert.equal(r.takeAck(1), false, "taken");
  assert.equal(r.takeAck(0), false, "VP 0 wrote no EOM");
  k.queueExit(0, { kind: "sint", sint: 4, value: 0x91n }, { kind: "eoi", vector: 0x92 }, { kind: "eoi", vector: 0x91 }, { kind: "io-out", port: 0x80, value: 0 });
  k.run(vcpus[0]);
  assert.equal(r.takeAck(0), true, "EOI of SINT 4's vector");
  assert.equal(k.log().filter((l) => l === "KVM_RUN vcpu0").length, 1, "EOM, EOI and SINT writes make no exit");
});

Deno.test("routes set before the SynIC is active: KVM skips the SINT -> GSI map, so EOM acks never arrive (why the table comes after the vCPUs)", () => {
  const k = new SimulatedKvm();
  const { vm, vcpus } = vmWithVcpus(k, 1, false);
  const routes = SintRouteTable.create(k, vm, 1);
  assert.deepEqual(k.sintToGsi(0), Array(16).fill(-1));
  k.enableVcpuCap(vcpus[0], "KVM_CAP_HYPERV_SYNIC2");
  k.guestWroteSint(0, 1, 0x95n);
  routes.raise(0, 1);
  assert.equal(k.deliveries.at(-1)?.outcome, "delivered", "injection looks the SynIC up when it happens");
  k.queueExit(0, { kind: "eom" }, { kind: "shutdown" });
  k.run(vcpus[0]);
  assert.equal(routes.takeAck(0), false, "no ack: the resamplefd path needs the map");
});

Deno.test("refusals: a kernel without in-kernel Hyper-V rejects HV_SINT routes (EINVAL), named, with the eventfds released", () => {
  const k = new SimulatedKvm(HOST_WITHOUT_HYPERV);
  const { vm } = vmWithVcpus(k, 1, false);
  const e = setupError(
    () => SintRouteTable.create(k, vm, 1),
    "KVM_SET_GSI_ROUTING",
    /^cannot route the SynIC interrupts through KVM: KVM_SET_GSI_ROUTING failed: EINVAL \(invalid argument\): entry 40: KVM_IRQ_ROUTING_HV_SINT \(40 irqchip \+ 16 KVM_IRQ_ROUTING_HV_SINT entries, GSI 24\.\.39\); .*CONFIG_KVM_HYPERV.*; remove synic \(--without synic\) or use --backend emulator$/,
  );
  assert.equal(e.vcpu, -1);
  const fds = k.log().filter((l) => l.startsWith("eventfd ")).map((l) => Number(l.split("fd=")[1]));
  assert.equal(fds.length, 17);
  for (const fd of fds) assert.equal(k.eventfdCount(fd), undefined, `fd ${fd} closed`);
  assert.deepEqual(k.gsiRoutes(), defaultIrqchipRoutes(), "KVM kept its table");
  assert.equal(k.irqfds().length, 0);
});

Deno.test("refusals through setupPassthroughVm: KVM_SET_GSI_ROUTING or KVM_IRQFD failing is a PassthroughSetupError naming it; too many VPs is refused before anything is made", () => {
  const noMem = new SimulatedKvm(hostWith(HYPERV_CAPABLE_HOST, { fail: { KVM_SET_GSI_ROUTING: 12 } }));
  setupError(() => setupPassthroughVm(noMem, plan(noMem), 2), "KVM_SET_GSI_ROUTING", /KVM_SET_GSI_ROUTING failed: ENOMEM \(cannot allocate memory\) \(40 irqchip \+ 32 KVM_IRQ_ROUTING_HV_SINT entries, GSI 24\.\.55\)/);

  const busy = new SimulatedKvm(hostWith(HYPERV_CAPABLE_HOST, { fail: { KVM_IRQFD: 16 } }));
  const e = setupError(() => setupPassthroughVm(busy, plan(busy), 2), "KVM_IRQFD", /KVM_IRQFD failed: EBUSY .*\(VP 0 SINT 0, GSI 24\)/);
  assert.equal(e.vcpu, 0);

  const small = new SimulatedKvm(hostWith(HYPERV_CAPABLE_HOST, { caps: { KVM_CAP_IRQ_ROUTING: 64 } }));
  const p = plan(small);
  assert.equal(p.maxRoutes, 64);
  setupError(() => setupPassthroughVm(small, p, 3), "KVM_SET_GSI_ROUTING", /^cannot route the SynIC interrupts of 3 VPs through KVM: 88 routing entries \(GSI up to 71\) exceed KVM_CAP_IRQ_ROUTING \(64\)/);
  assert.ok(!small.log().some((l) => l.startsWith("eventfd ")), "refused before any eventfd");
});

Deno.test("the preflight: synic needs KVM_CAP_IRQ_ROUTING, KVM_CAP_IRQFD, KVM_CAP_IRQFD_RESAMPLE (listed as synic's); KVM_HYPERV_EVENTFD is used when present", () => {
  const p = plan(new SimulatedKvm());
  assert.deepEqual([p.sintRoutes, p.maxRoutes, p.hypervEventfd], [true, 4096, true]);
  const noSynic = Effect.runSync(preflight(composeProfile("win2008"), new SimulatedKvm()));
  assert.deepEqual([noSynic.sintRoutes, noSynic.hypervEventfd], [false, false]);
  assert.equal(plan(new SimulatedKvm(hostWith(HYPERV_CAPABLE_HOST, { caps: { KVM_CAP_HYPERV_EVENTFD: 0 } }))).hypervEventfd, false);

  const k = new SimulatedKvm(hostWith(HYPERV_CAPABLE_HOST, { caps: { KVM_CAP_IRQFD_RESAMPLE: 0 } }));
  const r = Effect.runSync(Effect.exit(preflight(composeNames(["synic"]), k)));
  assert.ok(Exit.isFailure(r));
  const err = r.cause.reasons.map((x) => (x as { error?: unknown }).error).find((x) => x instanceof PassthroughUnavailable);
  assert.ok(err instanceof PassthroughUnavailable);
  assert.match(err.message, /KVM lacks KVM_CAP_IRQFD_RESAMPLE \(synic\); nothing was created; use --backend emulator$/);
  assert.ok(!k.log().some((l) => l.startsWith("KVM_CREATE_") || l.startsWith("eventfd")));
  // Without synic the routes are not needed.
  assert.ok(Exit.isSuccess(Effect.runSync(Effect.exit(preflight(composeNames(["relaxed"]), k)))));
});

Deno.test("the layout crosses threads as plain fd numbers: encode/decode, attach raises through the same eventfds and owns nothing", () => {
  const k = new SimulatedKvm();
  const { routes } = setupPassthroughVm(k, plan(k), 2);
  const text = encodeSintRouteLayout(routes!.layout());
  assert.equal(encodeURIComponent(decodeURIComponent(text)), text, "URL-safe");
  const attached = SintRouteTable.attach(k, decodeSintRouteLayout(text));
  assert.deepEqual(attached.layout(), routes!.layout());
  k.guestWroteSint(0, 5, 0x99n);
  assert.ok(attached.raise(0, 5));
  assert.deepEqual(k.deliveries.at(-1), { gsi: 29, route: "KVM_IRQ_ROUTING_HV_SINT", outcome: "delivered", vp: 0, sint: 5, vector: 0x99 });
  const calls = k.calls.length;
  attached.close();
  assert.equal(k.calls.length, calls, "an attached table closes nothing");
  assert.throws(() => decodeSintRouteLayout(encodeURIComponent(JSON.stringify({ gsiBase: 24, vps: [{ sints: [1, 2], ack: 3 }] }))), /VP 0 needs 16 SINT fds/);
  assert.throws(() => decodeSintRouteLayout(encodeURIComponent("[]")), /gsiBase and vps expected/);
});

Deno.test("close(): every irqfd deassigned, every eventfd closed; raising afterwards is false", () => {
  const k = new SimulatedKvm();
  const { routes } = setupPassthroughVm(k, plan(k), 1);
  routes!.close();
  routes!.close(); // idempotent
  assert.equal(k.irqfds().length, 0);
  assert.equal(k.log().filter((l) => l.startsWith("KVM_IRQFD vm") && l.endsWith("deassign")).length, 16);
  assert.equal(k.log().filter((l) => l.startsWith("close host")).length, 17);
  assert.equal(routes!.raise(0, 0), false);
  assert.equal(routes!.takeAck(0), false);
});

/** The real /dev/kvm service, recording the eventfds it creates and closes. */
class CountingKvm extends RealKvmService {
  readonly created: number[] = [];
  readonly closed: number[] = [];
  override createEventfd() {
    const e = super.createEventfd();
    this.created.push(e.fd);
    return e;
  }
  override closeEventfd(e: Parameters<RealKvmService["closeEventfd"]>[0]) {
    this.closed.push(e.fd);
    super.closeEventfd(e);
  }
}

const realProbe = openKvmOrSkip();
realProbe.kvm?.close();
if (!realProbe.kvm) console.log(`skipping the real-KVM SINT route test: ${realProbe.reason}`);

Deno.test({
  name: "THIS host (real /dev/kvm, RealKvmService): the SINT route table is refused by KVM_SET_GSI_ROUTING without in-kernel Hyper-V (eventfds released); built and raised with it",
  ignore: !realProbe.kvm,
  fn() {
    const k = new CountingKvm();
    try {
      const vm = k.createVm();
      k.createIrqchip(vm);
      const vcpu = k.createVcpu(vm, 0);
      if (k.checkExtension("KVM_CAP_HYPERV_SYNIC") === 0) {
        const e = setupError(() => SintRouteTable.create(k, vm, 1), "KVM_SET_GSI_ROUTING", /KVM_SET_GSI_ROUTING failed: EINVAL \(invalid argument\): 56 entries/);
        assert.equal(e.vcpu, -1);
        assert.equal(k.created.length, 17);
        assert.deepEqual(k.closed, k.created, "every eventfd closed again");
      } else {
        k.enableVcpuCap(vcpu, "KVM_CAP_HYPERV_SYNIC2");
        const routes = SintRouteTable.create(k, vm, 1);
        assert.ok(routes.raise(0, 2), "the eventfd write succeeds (KVM drops it: SINT 2 is masked at power-on)");
        assert.equal(routes.takeAck(0), false);
        routes.close();
      }
    } finally {
      k.close();
    }
  },
});
