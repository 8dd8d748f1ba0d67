/* reset.elf: checks that a Hyper-V partition reset (HV_X64_MSR_RESET, hv-reset) power-cycles the VM.
 *
 * The guest keeps its boot count in a battery-backed CMOS NVRAM byte (MC146818 at ports 0x70/0x71,
 * byte 0x60), which survives the reset as on a PC:
 *   boot 1 (byte 0): sets GUEST_OS_ID and enables the hypercall page, has every AP (smp = fw_cfg's
 *     CPU count, or smp=N) enable its SynIC message page, dirties a .data variable, writes the byte = 1
 *     and writes 1 to HV_X64_MSR_RESET. Execution must not come back.
 *   boot 2 (byte 1): checks that the partition is back at power-on: GUEST_OS_ID = 0, HYPERCALL = 0,
 *     the .data variable has its image value again (RAM reloaded from the kernel), and each AP came up
 *     again through INIT/SIPI with VP_INDEX = its index and SIMP = 0; writes the byte = 2.
 *   boot 3+ (byte >= 2): a reset too many: fails.
 * One line per event on COM1: "@@reset boot N", "@@reset check <name> pass|fail <detail>",
 * "@@reset result pass|fail". Exits through isa-debug-exit with 0 when every check passed (process
 * status 1), else 1 (status 3). */
#include "runtime.h"
#include "hv_tlfs.h"

#define CMOS_INDEX 0x70
#define CMOS_DATA 0x71
#define CMOS_BOOT_BYTE 0x60            /* an NVRAM byte no PC firmware convention claims */
#define AP_SIMP_BASE 0x00500000ull     /* AP n's SynIC message page: + n * 0x1000 */
#define DATA_MARKER 0x600DDA7A5EEDull

static volatile uint64_t data_marker = DATA_MARKER;   /* in .data: reloaded from the image at power-on */
static bool have_synic;
static volatile uint64_t ap_vp_index[MAX_APS + 1], ap_simp[MAX_APS + 1];
static volatile int ap_simp_rc[MAX_APS + 1], ap_vp_index_rc[MAX_APS + 1];
static int failures, checks;

static uint8_t cmos_read(uint8_t reg)
{
	outb(CMOS_INDEX, reg);
	return inb(CMOS_DATA);
}

static void cmos_write(uint8_t reg, uint8_t v)
{
	outb(CMOS_INDEX, reg);
	outb(CMOS_DATA, v);
}

static void check(const char *name, bool ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void check(const char *name, bool ok, const char *fmt, ...)
{
	char detail[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	checks++;
	if (!ok) failures++;
	printf("@@reset check %s %s %s\n", name, ok ? "pass" : "fail", detail);
}

/* fw_cfg key 0x05 (boot CPUs, u16 LE): the vCPU count without a command line. */
static uint32_t fw_cfg_cpus(void)
{
	outw(0x510, 0x0005);
	uint32_t lo = inb(0x511), hi = inb(0x511);
	uint32_t n = lo | (hi << 8);
	return n == 0 || n == 0xffff ? 1 : n;
}

static void ap_boot1(uint32_t index)
{
	rdmsr_safe(HV_X64_MSR_VP_INDEX, (uint64_t *)&ap_vp_index[index]);
	if (have_synic) {
		ap_simp_rc[index] = wrmsr_safe(HV_X64_MSR_SIMP, (AP_SIMP_BASE + index * 0x1000ull) | HV_X64_MSR_PAGE_ENABLE);
		uint64_t v = 0;
		rdmsr_safe(HV_X64_MSR_SIMP, &v);
		ap_simp[index] = v;
	}
}

static void ap_boot2(uint32_t index)
{
	uint64_t v = 0;
	ap_vp_index_rc[index] = rdmsr_safe(HV_X64_MSR_VP_INDEX, &v);
	ap_vp_index[index] = v;
	if (have_synic) {
		v = ~0ull;
		ap_simp_rc[index] = rdmsr_safe(HV_X64_MSR_SIMP, &v);
		ap_simp[index] = v;
	}
}

static uint32_t start_aps(uint32_t ncpus, ap_fn_t fn)
{
	if (ncpus <= 1) return 0;
	uint32_t up = smp_start_aps(ncpus, fn, 5000000);
	uint64_t t0 = rdtsc();
	while (ap_done < up && rdtsc() - t0 < 5 * rt_tsc_hz) cpu_relax();
	return up;
}

/* The Hyper-V interface this test needs: "Microsoft Hv", hypercall MSRs and the reset MSR. */
static bool hyperv_reset_available(void)
{
	struct cpuid_regs r = cpuid(0x40000000);
	if (r.eax < 0x40000003 || r.ebx != 0x7263694d || r.ecx != 0x666f736f || r.edx != 0x76482074) return false;
	uint32_t priv = cpuid(0x40000003).eax;
	have_synic = (priv & HvPrivilegeEax_AccessSynicRegs) != 0;
	return (priv & HvPrivilegeEax_AccessHypercallMsrs) && (priv & HvPrivilegeEax_AccessResetReg);
}

static int first_boot(uint32_t ncpus, uint64_t os_id)
{
	uint64_t v = 0;
	int w = wrmsr_safe(HV_X64_MSR_GUEST_OS_ID, os_id);
	int r = rdmsr_safe(HV_X64_MSR_GUEST_OS_ID, &v);
	check("boot1.guest_os_id", !w && !r && v == os_id, "GUEST_OS_ID=0x%lx", v);
	w = wrmsr_safe(HV_X64_MSR_HYPERCALL, GPA_HYPERCALL_PAGE | HV_X64_MSR_PAGE_ENABLE);
	r = rdmsr_safe(HV_X64_MSR_HYPERCALL, &v);
	check("boot1.hypercall", !w && !r && (v & HV_X64_MSR_PAGE_ENABLE), "HYPERCALL=0x%lx", v);
	uint32_t up = start_aps(ncpus, ap_boot1);
	check("boot1.aps", up == ncpus - 1, "%u of %u APs up", up, ncpus - 1);
	for (uint32_t i = 1; i <= up && have_synic; i++)
		check("boot1.ap.simp", !ap_simp_rc[i] && (ap_simp[i] & HV_X64_MSR_PAGE_ENABLE), "AP %u SIMP=0x%lx", i,
		      ap_simp[i]);
	data_marker = 0xBADBADBADull;
	if (failures) {
		printf("@@reset result fail (boot 1: %d of %d checks failed; not resetting)\n", failures, checks);
		return 1;
	}
	cmos_write(CMOS_BOOT_BYTE, 1);
	printf("@@reset writing HV_X64_MSR_RESET=1\n");
	w = wrmsr_safe(HV_X64_MSR_RESET, 1);
	delay_us(2000000);
	printf("@@reset result fail (HV_X64_MSR_RESET=1 -> %s, but the VM is still running)\n", fault_name(w));
	return 1;
}

static int second_boot(uint32_t ncpus)
{
	uint64_t v = ~0ull;
	int r = rdmsr_safe(HV_X64_MSR_GUEST_OS_ID, &v);
	check("guest_os_id", !r && v == 0, "GUEST_OS_ID=%s0x%lx (power-on 0)", r ? "fault " : "", v);
	v = ~0ull;
	r = rdmsr_safe(HV_X64_MSR_HYPERCALL, &v);
	check("hypercall", !r && v == 0, "HYPERCALL=%s0x%lx (power-on 0)", r ? "fault " : "", v);
	check("ram_reloaded", data_marker == DATA_MARKER, ".data marker 0x%lx (image 0x%llx)", data_marker, DATA_MARKER);
	uint32_t up = start_aps(ncpus, ap_boot2);
	check("aps", up == ncpus - 1, "%u of %u APs came up again through INIT/SIPI", up, ncpus - 1);
	for (uint32_t i = 1; i <= up; i++) {
		check("ap.vp_index", !ap_vp_index_rc[i] && ap_vp_index[i] == i, "AP %u VP_INDEX=0x%lx", i, ap_vp_index[i]);
		if (have_synic)
			check("ap.simp", !ap_simp_rc[i] && ap_simp[i] == 0, "AP %u SIMP=0x%lx (power-on 0)", i, ap_simp[i]);
	}
	cmos_write(CMOS_BOOT_BYTE, 2);
	printf("@@reset result %s (%d of %d checks passed)\n", failures ? "fail" : "pass", checks - failures, checks);
	return failures ? 1 : 0;
}

int guest_main(const char *cmdline)
{
	uint8_t boot = cmos_read(CMOS_BOOT_BYTE);
	uint32_t ncpus = (uint32_t)cmdline_u64(cmdline, "smp", fw_cfg_cpus());
	printf("\n@@reset boot %u (cpus %u)\n", boot + 1u, ncpus);
	if (!hyperv_reset_available()) {
		printf("@@reset result fail (no Hyper-V reset interface: CPUID 0x40000003 lacks AccessResetReg)\n");
		return 1;
	}
	if (boot == 0) return first_boot(ncpus, cmdline_u64(cmdline, "guest_os_id", 0x8100000000001234ull));
	if (boot == 1) return second_boot(ncpus);
	printf("@@reset result fail (boot %u: the VM was reset more than once)\n", boot + 1u);
	return 1;
}
