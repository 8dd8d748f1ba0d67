/* bench.elf: an exit-cost benchmark guest. Runs n iterations of one kind of VM exit and prints one line:
 *
 *   @@bench {"kind":"out","n":100000,"hv":true,"errors":0,"cycles":123456789}
 *
 * Command line: kind=out|rdmsr|hypercall (default out), n=N (default 100000; 0 = setup only, to time
 * the VMM's start-up and tear-down).
 * - out:       `out %al, $0xEF` to an unclaimed port (handled by the VMM's port bus, ignored);
 * - rdmsr:     RDMSR HV_X64_MSR_VP_INDEX (0x40000002): a synthetic MSR the VMM answers in user space;
 *              the value must be 0 (the BSP);
 * - hypercall: a slow null hypercall (code 0xFFFF, GPAs 0) through the hypercall page; the status
 *              must be HV_STATUS_INVALID_HYPERCALL_CODE (2).
 * Before the loop, when CPUID reports Hyper-V (hypervisor bit and 0x40000001.EAX = "Hv#1"), it writes
 * GUEST_OS_ID and enables the hypercall page at GPA_HYPERCALL_PAGE (filled with int3 first).
 * `cycles` is the guest TSC across the loop (RDTSC may itself exit; it runs only twice).
 * Exit (isa-debug-exit): 0 when every iteration gave the expected result, 1 when some did not,
 * 2 when the kind needs Hyper-V and there is none (or the page was not written), 3 for a bad command line.
 */
#include "runtime.h"
#include "hv_tlfs.h"

#define BENCH_PORT 0xEF
#define GUEST_OS_ID 0x0001040A00004F7Cull   /* WS2022, as the probe's default */
#define NULL_CODE 0xFFFFull

static bool hyperv_present(void)
{
	if (!(cpuid(1).ecx & CPUID_1_ECX_HYPERVISOR)) return false;
	struct cpuid_regs v = cpuid(HV_CPUID_VENDOR_AND_MAX_FUNCTIONS);
	if (v.eax < HV_CPUID_INTERFACE) return false;
	return cpuid(HV_CPUID_INTERFACE).eax == HV_CPUID_SIGNATURE_HV1;
}

/* GUEST_OS_ID, then the hypercall page. Returns true when the page holds a stub with a RET. */
static bool hyperv_setup(void)
{
	uint8_t *pg = (uint8_t *)(uint64_t)GPA_HYPERCALL_PAGE;
	memset(pg, 0xCC, 4096);
	if (wrmsr_safe(HV_X64_MSR_GUEST_OS_ID, GUEST_OS_ID)) return false;
	if (wrmsr_safe(HV_X64_MSR_HYPERCALL, GPA_HYPERCALL_PAGE | HV_X64_MSR_PAGE_ENABLE)) return false;
	for (int i = 0; i < 64; i++)
		if (pg[i] == 0xC3) {
			hv_hypercall_pg = pg;
			return true;
		}
	return false;
}

int guest_main(const char *cmdline)
{
	char kind[16] = "out";
	cmdline_get(cmdline, "kind", kind, sizeof kind);
	uint64_t n = cmdline_u64(cmdline, "n", 100000);
	int k = !strcmp(kind, "out") ? 0 : !strcmp(kind, "rdmsr") ? 1 : !strcmp(kind, "hypercall") ? 2 : -1;
	if (k < 0) {
		printf("\n@@bench-error {\"reason\":\"unknown kind (out, rdmsr, hypercall)\"}\n");
		return 3;
	}
	bool hv = hyperv_present();
	bool page = hv && hyperv_setup();
	if ((k == 1 && !hv) || (k == 2 && !page)) {
		printf("\n@@bench-error {\"kind\":\"%s\",\"reason\":\"%s\"}\n", kind,
		       !hv ? "no Hyper-V interface in CPUID" : "the hypercall page was not written");
		return 2;
	}

	uint64_t errors = 0, t0 = rdtsc();
	switch (k) {
	case 0:
		for (uint64_t i = 0; i < n; i++) outb(BENCH_PORT, 0);
		break;
	case 1:
		for (uint64_t i = 0; i < n; i++) {
			uint64_t v;
			if (rdmsr_safe(HV_X64_MSR_VP_INDEX, &v) || v != 0) errors++;
		}
		break;
	case 2:
		for (uint64_t i = 0; i < n; i++) {
			uint64_t rax;
			if (hypercall_safe(NULL_CODE, 0, 0, &rax) || (rax & 0xffff) != HV_STATUS_INVALID_HYPERCALL_CODE) errors++;
		}
		break;
	}
	uint64_t cycles = rdtsc() - t0;
	printf("\n@@bench {\"kind\":\"%s\",\"n\":%lu,\"hv\":%s,\"errors\":%lu,\"cycles\":%lu}\n", kind, n,
	       hv ? "true" : "false", errors, cycles);
	return errors ? 1 : 0;
}
