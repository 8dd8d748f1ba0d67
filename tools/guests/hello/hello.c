/* hello.elf: a tiny multiboot test kernel for loaders and vCPU setup.
 * Prints a greeting and the command line on COM1, starts smp=N-1 APs that each print
 * "ap <n> up", reads the fw_cfg signature, and exits through isa-debug-exit with exit=N
 * (default 0x10, which QEMU turns into process status 33). */
#include "runtime.h"

static void ap_hello(uint32_t index)
{
	printf("ap %u up (apic id %u)\n", index, apic_id());
}

int guest_main(const char *cmdline)
{
	printf("\nhello from hv guest\n");   /* own line even after firmware output */
	printf("cmdline: %s\n", cmdline);

	uint64_t ncpus = cmdline_u64(cmdline, "smp", 1);
	if (ncpus > 1) {
		uint32_t up = smp_start_aps((uint32_t)ncpus, ap_hello, 5000000);
		uint64_t t0 = rdtsc();
		while (ap_done < up && rdtsc() - t0 < 5 * rt_tsc_hz) cpu_relax();
		printf("smp: %u of %u APs up\n", up, (uint32_t)ncpus - 1);
	}

	/* fw_cfg: selector 0 (signature) as a 16-bit write to 0x510, then 4 data bytes from 0x511. */
	outw(0x510, 0x0000);
	char sig[5];
	for (int i = 0; i < 4; i++) sig[i] = (char)inb(0x511);
	sig[4] = 0;
	bool printable = true;
	for (int i = 0; i < 4; i++)
		if (sig[i] < 0x20 || sig[i] > 0x7e) printable = false;
	if (printable)
		printf("fw_cfg signature: %s\n", sig);
	else
		printf("fw_cfg signature: %02x %02x %02x %02x (no fw_cfg)\n", (uint8_t)sig[0], (uint8_t)sig[1],
		       (uint8_t)sig[2], (uint8_t)sig[3]);

	uint64_t code = cmdline_u64(cmdline, "exit", 0x10);
	printf("exit 0x%lx\n", code);
	return (int)code;
}
