import assert from "node:assert/strict";
import { builtins, findBuiltin } from "@hv/builtins";
import { renderExplain } from "./explain.ts";

Deno.test("explain: relaxed, exactly", () => {
  assert.equal(
    renderExplain(findBuiltin("relaxed")!, { registry: builtins }),
    `relaxed: Relaxed timing: the guest disables watchdog timeouts that fire when a vCPU is descheduled

  Recommends relaxed timing (0x40000004.EAX[5] UseRelaxedTiming): the guest should not treat late timer interrupts or slow IPIs as hardware faults.

Guest gains: No CLOCK_WATCHDOG_TIMEOUT / DPC watchdog bugchecks when the host deschedules a vCPU.
Windows:     Windows 7 / 2008 R2 and later honour it; Vista RTM ignores it; from Windows 8 / 2012 it is used whenever any hypervisor is present.
Requires:    nothing
Required by: syndbg
Parameters:  none
CPUID:       0x40000004.EAX[5] UseRelaxedTiming
MSRs:        none
Hypercalls:  none
Emulator:    supported
Passthrough: needs KVM_CAP_HYPERV
QEMU:        -cpu host,hv-relaxed
libvirt:     <hyperv><relaxed state='on'/></hyperv>
KubeVirt:    spec.domain.features.hyperv.relaxed: {}
Sources:
  - TLFS §2.4.5 Implementation Recommendations, bit 5
  - QEMU docs/system/i386/hyperv.rst (hv-relaxed)
  - Requirements for Implementing the Microsoft Hypervisor Interface, footnote 3
`,
  );
});

Deno.test("explain: stimer lists its MSRs with index, access and gate, and its dependencies", () => {
  const out = renderExplain(findBuiltin("stimer")!, { registry: builtins });
  assert.match(out, /^Requires: +synic, time$/m);
  assert.match(out, /^Required by: +stimer-direct$/m);
  assert.match(out, /^MSRs: +8$/m);
  assert.match(
    out,
    /^ {2}HV_X64_MSR_STIMER0_CONFIG {2}0x400000b0 {2}rw {2}gate 0x40000003\.EAX\[3\] AccessSyntheticTimerRegs$/m,
  );
  assert.match(
    out,
    /^ {2}HV_X64_MSR_STIMER3_COUNT {3}0x400000b7 {2}rw {2}gate 0x40000003\.EAX\[3\] AccessSyntheticTimerRegs$/m,
  );
  assert.match(out, /^libvirt: +<hyperv><stimer state='on'\/><\/hyperv>$/m);
  assert.match(out, /^KubeVirt: +spec\.domain\.features\.hyperv\.synictimer: \{\}$/m);
});

Deno.test("explain: parameters, hypercalls, emulator support and spellings with values", () => {
  const spin = renderExplain(findBuiltin("spinlocks")!);
  assert.match(spin, /^Parameters: +--set spinlocks=<value> \(sets retries\)$/m);
  assert.match(spin, /^ {2}retries {2}default 0x1fff {2}spin iterations/m);
  assert.match(spin, /^ {2}HvCallNotifyLongSpinWait {2}0x0008 {2}simple {2}fast allowed/m);
  assert.match(spin, /^QEMU: +-cpu host,hv-spinlocks=0x1fff$/m);
  assert.match(spin, /^libvirt: +<hyperv><spinlocks state='on' retries='8191'\/><\/hyperv>$/m);
  assert.match(spin, /^KubeVirt: +spec\.domain\.features\.hyperv\.spinlocks: \{spinlocks: 8191\}$/m);
  assert.doesNotMatch(spin, /^Required by/m);
  const dbg = renderExplain(findBuiltin("syndbg")!);
  assert.match(dbg, /^Emulator: +not supported: /m);
  assert.match(dbg, /^libvirt: +none \(/m);
  assert.match(renderExplain(findBuiltin("vendor-id")!), /^QEMU: +-cpu 'host,hv-vendor-id=Microsoft Hv'$/m);
  assert.match(
    renderExplain(findBuiltin("stimer-direct")!),
    /^libvirt: +<hyperv><stimer state='on'><direct state='on'\/><\/stimer><\/hyperv>$/m,
  );
  assert.match(
    renderExplain(findBuiltin("time")!),
    /^libvirt: +<clock><timer name='hypervclock' present='yes'\/><\/clock>$/m,
  );
  assert.match(renderExplain(findBuiltin("crash")!), /^libvirt: +<devices><panic model='hyperv'\/><\/devices>$/m);
});
