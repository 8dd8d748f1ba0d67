import assert from "node:assert/strict";
import { renderTable } from "./table.ts";
import { composeNames } from "./testing.ts";

Deno.test("table: one row per enlightenment with parameters and CPUID, the base, then the leaves", () => {
  assert.equal(
    renderTable(composeNames(["relaxed", "spinlocks", "vendor-id"], { "vendor-id": "hv-test" })),
    `ENLIGHTENMENT  PARAMETERS      CPUID                                              SUMMARY
relaxed                        0x40000004.EAX[5] UseRelaxedTiming                 Relaxed timing: the guest disables watchdog timeouts that fire when a vCPU is descheduled
spinlocks      retries=0x1fff  0x40000004.EBX = 0x00001fff                        Paravirtual spinlocks: the guest tells the hypervisor after N failed spins, so a preempted lock holder can run
vpindex                        0x40000003.EAX[6] AccessVpIndex                    VP index MSR: each vCPU can read its hypervisor VP index (needed by SynIC, PV TLB flush and PV IPI)
vendor-id      value=hv-test   0x40000000.EBX = 0x742d7668                        Hypervisor vendor string in CPUID 0x40000000 (default "Microsoft Hv"); e.g. to hide Hyper-V from drivers
                               0x40000000.ECX = 0x00747365
                               0x40000000.EDX = 0x00000000
(base)                         0x40000003.EAX[5] AccessHypercallMsrs              Always present: hypercall MSRs, VP index access, dynamic partitioning
                               0x40000003.EAX[6] AccessVpIndex
                               0x40000003.EDX[3] CpuDynamicPartitioningAvailable

Hyper-V CPUID leaves (hypervisor version 10.0.14393):
function    index       eax         ebx         ecx         edx
0x40000000  0x00000000  0x40000005  0x742d7668  0x00747365  0x00000000
0x40000001  0x00000000  0x31237648  0x00000000  0x00000000  0x00000000
0x40000002  0x00000000  0x00003839  0x000a0000  0x00000000  0x00000000
0x40000003  0x00000000  0x00000060  0x00000000  0x00000000  0x00000008
0x40000004  0x00000000  0x00000020  0x00001fff  0x00000000  0x00000000
0x40000005  0x00000000  0xffffffff  0x00000040  0x00000000  0x00000000
`,
  );
});

Deno.test("table: cleared bits, and a non-default version in the heading", () => {
  const out = renderTable(
    composeNames(["vapic", "avic"], {}, {
      build: 7601,
      major: 6,
      minor: 1,
      servicePack: 1,
      serviceBranch: 0,
      serviceNumber: 0,
    }),
  );
  assert.match(out, /^avic +0x40000004\.EAX\[9\] DeprecateAutoEoi {2}/m);
  assert.match(out, /^ +- 0x40000004\.EAX\[3\] UseApicMsrs \(cleared\)$/m);
  assert.match(out, /^Hyper-V CPUID leaves \(hypervisor version 6\.1\.7601 SP1\):$/m);
});
