/* smp.c: local APIC helpers and AP bring-up (INIT/SIPI/SIPI through xAPIC MMIO or x2APIC MSRs). */
#include "runtime.h"

#define IA32_APIC_BASE 0x1B
#define APIC_BASE_EXTD (1ull << 10)
#define APIC_ID 0x20
#define APIC_EOI 0xB0
#define APIC_SVR 0xF0
#define APIC_ICR_LO 0x300
#define APIC_ICR_HI 0x310
#define X2APIC_MSR(reg) (0x800 + ((reg) >> 4))
#define ICR_BUSY (1u << 12)

extern char tramp_start[], tramp_end[];
void cpu_init(void);

volatile uint32_t ap_started, ap_done;
static ap_fn_t ap_fn;
static uint32_t ap_limit;

static uint64_t apic_base_msr(void)
{
	uint64_t v;
	if (rdmsr_safe(IA32_APIC_BASE, &v)) return 0xFEE00000ull | (1ull << 11);
	return v;
}
bool apic_is_x2apic(void) { return (apic_base_msr() & APIC_BASE_EXTD) != 0; }
static volatile uint32_t *apic_reg(uint32_t reg)
{
	return (volatile uint32_t *)((apic_base_msr() & 0xFFFFF000ull) + reg);
}
static uint32_t apic_read(uint32_t reg)
{
	if (apic_is_x2apic()) {
		uint64_t v;
		rdmsr_safe(X2APIC_MSR(reg), &v);
		return (uint32_t)v;
	}
	return *apic_reg(reg);
}
static void apic_write(uint32_t reg, uint32_t v)
{
	if (apic_is_x2apic()) wrmsr_safe(X2APIC_MSR(reg), v);
	else *apic_reg(reg) = v;
}
uint32_t apic_id(void)
{
	uint32_t v = apic_read(APIC_ID);
	return apic_is_x2apic() ? v : v >> 24;
}
void apic_enable(void) { apic_write(APIC_SVR, 0x1FF); }
void apic_eoi(void) { apic_write(APIC_EOI, 0); }
bool apic_isr_bit(uint8_t vector) { return (apic_read(0x100 + 0x10 * (vector >> 5)) >> (vector & 31)) & 1; }
/* Local APIC timer: periodic on `vector` every `count` bus clocks (divide by 1); count 0 stops it. */
void apic_timer_periodic(uint8_t vector, uint32_t count)
{
	apic_write(0x3E0, 0xB);                                   /* divide configuration: by 1 */
	apic_write(0x320, count ? (1u << 17) | vector : 1u << 16);   /* LVT timer: periodic, or masked */
	apic_write(0x380, count);                                 /* initial count (0 stops) */
}

void apic_send_ipi(uint32_t dest, uint32_t icr_low)
{
	if (apic_is_x2apic()) {
		wrmsr_safe(X2APIC_MSR(APIC_ICR_LO), ((uint64_t)dest << 32) | icr_low);
		return;
	}
	*apic_reg(APIC_ICR_HI) = dest << 24;
	*apic_reg(APIC_ICR_LO) = icr_low;
	for (int i = 0; i < 1000000 && (*apic_reg(APIC_ICR_LO) & ICR_BUSY); i++) cpu_relax();
}

/* Called by ap_long_entry on the AP's own stack with its 0-based ticket. */
void ap_c_entry(uint32_t ticket)
{
	cpu_init();
	uint32_t index = ticket + 1;
	if (index > ap_limit) halt_forever();
	__atomic_fetch_add(&ap_started, 1, __ATOMIC_SEQ_CST);
	if (ap_fn) ap_fn(index);
	__atomic_fetch_add(&ap_done, 1, __ATOMIC_SEQ_CST);
	halt_forever();
}

uint32_t smp_start_aps(uint32_t ncpus, ap_fn_t fn, uint64_t timeout_us)
{
	if (ncpus <= 1) return 0;
	if (ncpus - 1 > MAX_APS) ncpus = MAX_APS + 1;
	ap_fn = fn;
	ap_limit = ncpus - 1;
	memcpy((void *)(uint64_t)TRAMP_BASE, tramp_start, (size_t)(tramp_end - tramp_start));
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	apic_enable();
	/* INIT (assert, level), all excluding self; then two STARTUP IPIs with the trampoline page. */
	apic_send_ipi(0, 0x000C4500);
	delay_us(10000);
	for (int i = 0; i < 2; i++) {
		apic_send_ipi(0, 0x000C4600 | (TRAMP_BASE >> 12));
		delay_us(200);
	}
	uint64_t t0 = rdtsc(), limit = timeout_us * (rt_tsc_hz / 1000000);
	while (ap_started < ncpus - 1 && rdtsc() - t0 < limit) cpu_relax();
	return ap_started;
}
