/* runtime.h: the small freestanding runtime shared by the guests (64-bit long mode, identity map). */
#ifndef RUNTIME_H
#define RUNTIME_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "layout.h"

/* ---------------------------------------------------------------- guest entry point */
/* Provided by each guest: called on the BSP with the multiboot command line (never NULL).
 * Its return value goes to rt_exit(). */
int guest_main(const char *cmdline);

/* ---------------------------------------------------------------- port I/O and CPU */
static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint16_t inw(uint16_t port) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint32_t inl(uint16_t port) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline void cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }
static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void sti(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void invlpg(const void *p) { __asm__ volatile("invlpg (%0)" ::"r"(p) : "memory"); }
static inline void mfence(void) { __asm__ volatile("mfence" ::: "memory"); }
static inline void sti_hlt_cli(void) { __asm__ volatile("sti; hlt; cli" ::: "memory"); }
static inline void barrier(void) { __asm__ volatile("" ::: "memory"); }

struct cpuid_regs { uint32_t eax, ebx, ecx, edx; };
static inline struct cpuid_regs cpuid_count(uint32_t leaf, uint32_t sub)
{
	struct cpuid_regs r;
	__asm__ volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(sub));
	return r;
}
static inline struct cpuid_regs cpuid(uint32_t leaf) { return cpuid_count(leaf, 0); }

/* rdtsc ordered after earlier loads (lfence), as Linux's rdtsc_ordered(). */
static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) :: "memory");
	return ((uint64_t)hi << 32) | lo;
}

static inline uint64_t read_cr0(void) { uint64_t v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr3(void) { uint64_t v; __asm__ volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr4(void) { uint64_t v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static inline void write_cr0(uint64_t v) { __asm__ volatile("mov %0, %%cr0" ::"r"(v) : "memory"); }
static inline void write_cr4(uint64_t v) { __asm__ volatile("mov %0, %%cr4" ::"r"(v) : "memory"); }

/* ---------------------------------------------------------------- fault fixups */
/* Like Linux's exception tables: an instruction listed in .ex_table that faults (vector < 32)
 * resumes at its fixup address with RSI = FAULT_FLAG | vector instead of killing the guest.
 * A fault anywhere inside the hypercall page resumes at the return address on the stack when that
 * address is the fixup of a listed call. The *_safe helpers return 0 or FAULT_FLAG|vector. */
#define FAULT_FLAG 0x100
#define EXTABLE(from, to) ".pushsection .ex_table,\"a\"\n\t.balign 8\n\t.quad " #from ", " #to "\n\t.popsection\n\t"
#define FAULT_VECTOR(code) ((code) & 0xff)
#define X86_TRAP_UD 6
#define X86_TRAP_GP 13
#define X86_TRAP_PF 14

struct fault_info { uint64_t vector, error, rip; };
extern volatile struct fault_info last_fault;   /* the last fault a fixup absorbed */
const char *fault_name(int code);               /* "ok", "#GP", "#UD", ... */

static inline int rdmsr_safe(uint32_t msr, uint64_t *val)
{
	uint32_t lo, hi;
	uint64_t f;
	__asm__ volatile("xor %%esi, %%esi\n\t"
			 "xor %%eax, %%eax\n\t"
			 "xor %%edx, %%edx\n\t"
			 "1: rdmsr\n\t"
			 "2:\n\t" EXTABLE(1b, 2b)
			 : "=&a"(lo), "=&d"(hi), "=&S"(f)
			 : "c"(msr)
			 : "memory");
	*val = f ? 0 : (((uint64_t)hi << 32) | lo);
	return (int)f;
}

static inline int wrmsr_safe(uint32_t msr, uint64_t val)
{
	uint64_t f;
	__asm__ volatile("xor %%esi, %%esi\n\t"
			 "1: wrmsr\n\t"
			 "2:\n\t" EXTABLE(1b, 2b)
			 : "=&S"(f)
			 : "c"(msr), "a"((uint32_t)val), "d"((uint32_t)(val >> 32))
			 : "memory");
	return (int)f;
}

/* The hypercall page (set by the guest before use). Calls follow the Linux convention: an indirect
 * CALL, RCX = control, RDX = input GPA (or fast input), R8 = output GPA (or fast input),
 * RAX = result; RCX, RDX, R8-R11 and flags are clobbered. */
extern void *hv_hypercall_pg;

static inline int hypercall_safe(uint64_t control, uint64_t in, uint64_t out, uint64_t *result)
{
	register uint64_t r8 __asm__("r8") = out;
	uint64_t rax, f;
	void *pg = hv_hypercall_pg;
	__asm__ volatile("xor %%esi, %%esi\n\t"
			 "xor %%eax, %%eax\n\t"
			 "1: call *%[pg]\n\t"
			 "2:\n\t" EXTABLE(1b, 2b)
			 : "=&a"(rax), "+c"(control), "+d"(in), "+r"(r8), "=&S"(f)
			 : [pg] "r"(pg)
			 : "cc", "memory", "r9", "r10", "r11");
	*result = f ? 0 : rax;
	return (int)f;
}

/* XMM fast hypercall: up to 16 bytes in RDX:R8 and 16 more in XMM0 (needs CR4.OSFXSR, done at boot). */
static inline int hypercall_xmm_safe(uint64_t control, uint64_t in0, uint64_t in1, const uint64_t xmm0[2],
				     uint64_t *result)
{
	register uint64_t r8 __asm__("r8") = in1;
	uint64_t rax, f;
	void *pg = hv_hypercall_pg;
	__asm__ volatile("movdqu (%[x]), %%xmm0\n\t"
			 "xor %%esi, %%esi\n\t"
			 "xor %%eax, %%eax\n\t"
			 "1: call *%[pg]\n\t"
			 "2:\n\t" EXTABLE(1b, 2b)
			 : "=&a"(rax), "+c"(control), "+d"(in0), "+r"(r8), "=&S"(f)
			 : [pg] "r"(pg), [x] "r"(xmm0)
			 : "cc", "memory", "r9", "r10", "r11");
	*result = f ? 0 : rax;
	return (int)f;
}

/* ---------------------------------------------------------------- console and formatting */
void serial_init(void);
void serial_putc(char c);
void serial_write(const char *s, size_t n);
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));   /* serialized by a spinlock */
void puts_raw(const char *s);                                                /* no lock (fatal paths) */

/* ---------------------------------------------------------------- strings */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strncpy_z(char *d, const char *s, size_t n);   /* always NUL-terminates */

/* ---------------------------------------------------------------- spinlock */
typedef struct { volatile uint32_t v; } spinlock_t;
static inline void spin_lock(spinlock_t *l)
{
	while (__atomic_exchange_n(&l->v, 1, __ATOMIC_ACQUIRE))
		while (l->v) cpu_relax();
}
static inline void spin_unlock(spinlock_t *l) { __atomic_store_n(&l->v, 0, __ATOMIC_RELEASE); }

/* ---------------------------------------------------------------- command line */
/* Words "key=value" separated by spaces; the first word (QEMU passes the kernel path) is skipped
 * only by virtue of having no '='. */
extern char rt_cmdline[1024];
bool cmdline_get(const char *cmdline, const char *key, char *val, size_t size);
uint64_t cmdline_u64(const char *cmdline, const char *key, uint64_t dflt);
bool parse_u64(const char *s, uint64_t *out);   /* 0x-hex or decimal */

/* ---------------------------------------------------------------- exit, delays, interrupts */
/* isa-debug-exit at port 0xF4 (iosize 4): QEMU exits with status (code << 1) | 1. */
#define DEBUG_EXIT_PORT 0xF4
void rt_exit(uint32_t code) __attribute__((noreturn));
void halt_forever(void) __attribute__((noreturn));
extern uint64_t rt_tsc_hz;                       /* estimate used for delays (default 3 GHz) */
void delay_cycles(uint64_t cycles);
void delay_us(uint64_t us);

/* Interrupts (vectors >= 32): counted per vector and EOI'd at the local APIC (0xFF: spurious). */
extern volatile uint32_t irq_count[256];
/* Optional per-vector handler, run (on any CPU) before the count and the EOI. */
typedef void (*irq_hook_t)(uint32_t vector);
extern irq_hook_t irq_hook[256];
/* Vectors whose interrupts the handler must not EOI (auto-EOI SINTs; 0 = EOI as usual). */
extern volatile uint8_t irq_no_eoi[256];
/* How the handler EOIs (default apic_eoi; e.g. the VP assist page's exit-less EOI). */
extern void (*volatile irq_eoi)(void);
void idt_load(void);

/* ---------------------------------------------------------------- local APIC and SMP */
bool apic_is_x2apic(void);
uint32_t apic_id(void);
void apic_enable(void);              /* software-enable (SVR = 0x1FF) */
void apic_eoi(void);
bool apic_isr_bit(uint8_t vector);   /* whether `vector` is in service (ISR) */
void apic_timer_periodic(uint8_t vector, uint32_t count);   /* count 0 stops; a wake-up source for hlt */
void apic_send_ipi(uint32_t dest, uint32_t icr_low);   /* dest: APIC id (ignored with shorthands) */

typedef void (*ap_fn_t)(uint32_t index);         /* index 1..n-1; the BSP is 0 */
extern volatile uint32_t ap_started, ap_done;
/* Starts ncpus-1 APs with INIT/SIPI/SIPI (broadcast, all excluding self); each AP runs fn(index)
 * on its own stack with the IDT loaded. Returns the number of APs that reported in before the
 * timeout. APs beyond ncpus-1 park. */
uint32_t smp_start_aps(uint32_t ncpus, ap_fn_t fn, uint64_t timeout_us);

#endif
