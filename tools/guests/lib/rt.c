/* rt.c: C start, COM1, strings, command line, exit, IDT and the fault-fixup dispatcher. */
#include "runtime.h"

extern uint32_t mb_magic, mb_info;
extern char isr_stubs[];
extern const uint64_t __ex_table_start[], __ex_table_end[];

char rt_cmdline[1024];
void *hv_hypercall_pg;
uint64_t rt_tsc_hz = 3000000000ull;
volatile uint32_t irq_count[256];
volatile uint8_t irq_no_eoi[256];
void (*volatile irq_eoi)(void) = apic_eoi;
irq_hook_t irq_hook[256];
volatile struct fault_info last_fault;

/* ---------------------------------------------------------------- strings */
void *memset(void *d, int c, size_t n)
{
	__asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	return d;
}
void *memcpy(void *d, const void *s, size_t n)
{
	void *r = d;
	__asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) :: "memory");
	return r;
}
void *memmove(void *d, const void *s, size_t n)
{
	unsigned char *dp = d;
	const unsigned char *sp = s;
	if (dp <= sp || dp >= sp + n) return memcpy(d, s, n);
	while (n--) dp[n] = sp[n];
	return d;
}
int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;
	for (size_t i = 0; i < n; i++)
		if (x[i] != y[i]) return x[i] - y[i];
	return 0;
}
size_t strlen(const char *s)
{
	size_t n = 0;
	while (s[n]) n++;
	return n;
}
int strcmp(const char *a, const char *b)
{
	while (*a && *a == *b) a++, b++;
	return (unsigned char)*a - (unsigned char)*b;
}
int strncmp(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++) {
		if (*a != *b) return (unsigned char)*a - (unsigned char)*b;
		if (!*a) return 0;
	}
	return 0;
}
char *strncpy_z(char *d, const char *s, size_t n)
{
	size_t i = 0;
	if (!n) return d;
	for (; i + 1 < n && s[i]; i++) d[i] = s[i];
	d[i] = 0;
	return d;
}

/* ---------------------------------------------------------------- COM1 */
#define COM1 0x3F8
void serial_init(void)
{
	outb(COM1 + 1, 0x00);   /* IER: no interrupts */
	outb(COM1 + 3, 0x80);   /* LCR: DLAB */
	outb(COM1 + 0, 0x01);   /* 115200 */
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x03);   /* 8N1 */
	outb(COM1 + 2, 0xC7);   /* FIFO on, cleared */
	outb(COM1 + 4, 0x03);   /* DTR | RTS */
}
void serial_putc(char c)
{
	/* Bounded wait on LSR.THRE so a missing or stuck UART can never hang the guest. */
	for (int i = 0; i < 100000 && !(inb(COM1 + 5) & 0x20); i++) cpu_relax();
	outb(COM1, (uint8_t)c);
}
void serial_write(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) serial_putc(s[i]);
}
void puts_raw(const char *s) { serial_write(s, strlen(s)); }

/* ---------------------------------------------------------------- formatting */
struct out { char *buf; size_t size, len; };
static void out_c(struct out *o, char c)
{
	if (o->len + 1 < o->size) o->buf[o->len] = c;
	o->len++;
}
static void out_num(struct out *o, uint64_t v, unsigned base, bool upper, bool neg, int width, bool zero, bool left)
{
	char tmp[24];
	int n = 0;
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	do {
		tmp[n++] = digits[v % base];
		v /= base;
	} while (v);
	int len = n + (neg ? 1 : 0);
	if (!left && !zero)
		for (; len < width; width--) out_c(o, ' ');
	if (neg) out_c(o, '-');
	if (!left && zero)
		for (; len < width; width--) out_c(o, '0');
	while (n) out_c(o, tmp[--n]);
	if (left)
		for (; len < width; width--) out_c(o, ' ');
}
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct out o = {buf, size, 0};
	for (; *fmt; fmt++) {
		if (*fmt != '%') { out_c(&o, *fmt); continue; }
		fmt++;
		bool zero = false, left = false;
		int width = 0, lng = 0;
		for (;; fmt++) {
			if (*fmt == '0') zero = true;
			else if (*fmt == '-') left = true;
			else break;
		}
		while (*fmt >= '0' && *fmt <= '9') width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l' || *fmt == 'z') { lng++; fmt++; }
		switch (*fmt) {
		case 'd': case 'i': {
			int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
			out_num(&o, v < 0 ? -(uint64_t)v : (uint64_t)v, 10, false, v < 0, width, zero, left);
			break;
		}
		case 'u': case 'x': case 'X': {
			uint64_t v = lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
			out_num(&o, v, *fmt == 'u' ? 10 : 16, *fmt == 'X', false, width, zero, left);
			break;
		}
		case 'p':
			out_c(&o, '0'); out_c(&o, 'x');
			out_num(&o, (uint64_t)va_arg(ap, void *), 16, false, false, width, zero, left);
			break;
		case 'c': out_c(&o, (char)va_arg(ap, int)); break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (!s) s = "(null)";
			int len = (int)strlen(s);
			if (!left) for (; len < width; width--) out_c(&o, ' ');
			while (*s) out_c(&o, *s++);
			if (left) for (; len < width; width--) out_c(&o, ' ');
			break;
		}
		case '%': out_c(&o, '%'); break;
		case 0: fmt--; break;
		default: out_c(&o, '%'); out_c(&o, *fmt); break;
		}
	}
	if (size) buf[o.len < size ? o.len : size - 1] = 0;
	return (int)o.len;
}
int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}
static spinlock_t print_lock;
int printf(const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	size_t len = (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1;
	spin_lock(&print_lock);
	serial_write(buf, len);
	spin_unlock(&print_lock);
	return n;
}

/* ---------------------------------------------------------------- command line */
bool parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	if (!*s) return false;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		s += 2;
		if (!*s) return false;
		for (; *s; s++) {
			int d = (*s >= '0' && *s <= '9') ? *s - '0'
			      : (*s >= 'a' && *s <= 'f') ? *s - 'a' + 10
			      : (*s >= 'A' && *s <= 'F') ? *s - 'A' + 10 : -1;
			if (d < 0) return false;
			v = (v << 4) | (uint64_t)d;
		}
	} else {
		for (; *s; s++) {
			if (*s < '0' || *s > '9') return false;
			v = v * 10 + (uint64_t)(*s - '0');
		}
	}
	*out = v;
	return true;
}
bool cmdline_get(const char *c, const char *key, char *val, size_t size)
{
	size_t klen = strlen(key);
	bool found = false;
	while (*c) {
		while (*c == ' ' || *c == '\t') c++;
		const char *w = c;
		while (*c && *c != ' ' && *c != '\t') c++;
		if ((size_t)(c - w) > klen && !strncmp(w, key, klen) && w[klen] == '=') {
			size_t n = (size_t)(c - w) - klen - 1;
			if (n >= size) n = size - 1;
			memcpy(val, w + klen + 1, n);
			val[n] = 0;
			found = true;   /* the last occurrence wins */
		}
	}
	return found;
}
uint64_t cmdline_u64(const char *c, const char *key, uint64_t dflt)
{
	char v[64];
	uint64_t r;
	if (cmdline_get(c, key, v, sizeof v) && parse_u64(v, &r)) return r;
	return dflt;
}

/* ---------------------------------------------------------------- exit and delays */
void halt_forever(void)
{
	for (;;) __asm__ volatile("cli; hlt");
}
void rt_exit(uint32_t code)
{
	outl(DEBUG_EXIT_PORT, code);
	/* Still running: no isa-debug-exit device. Say so and stop. */
	puts_raw("@@exit isa-debug-exit did not stop the machine; halting\n");
	halt_forever();
}
void delay_cycles(uint64_t cycles)
{
	uint64_t t0 = rdtsc();
	while (rdtsc() - t0 < cycles) cpu_relax();
}
void delay_us(uint64_t us) { delay_cycles(us * (rt_tsc_hz / 1000000)); }

/* ---------------------------------------------------------------- IDT and dispatch */
struct idt_entry {
	uint16_t off0, sel;
	uint8_t ist, type;
	uint16_t off1;
	uint32_t off2, rsvd;
} __attribute__((packed));
static struct idt_entry idt[256] __attribute__((aligned(16)));
static struct { uint16_t limit; uint64_t base; } __attribute__((packed)) idtr;

struct intr_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rdi, rsi, rbp, rbx, rdx, rcx, rax;
	uint64_t vector, error, rip, cs, rflags, rsp, ss;
};

static void idt_init(void)
{
	for (int v = 0; v < 256; v++) {
		uint64_t a = (uint64_t)isr_stubs + 16 * (uint64_t)v;
		idt[v] = (struct idt_entry){(uint16_t)a, GDT_CODE64, 0, 0x8E, (uint16_t)(a >> 16), (uint32_t)(a >> 32), 0};
	}
	idtr.limit = sizeof idt - 1;
	idtr.base = (uint64_t)idt;
}
void idt_load(void) { __asm__ volatile("lidt %0" ::"m"(idtr)); }

const char *fault_name(int code)
{
	static const char *names[32] = {"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#CSO",
					"#TS", "#NP", "#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM",
					"#VE", "#CP", "#22", "#23", "#24", "#25", "#26", "#27", "#HV", "#VC",
					"#SX", "#31"};
	if (!code) return "ok";
	return names[FAULT_VECTOR(code) & 31];
}

static uint64_t extable_fixup(uint64_t rip)
{
	for (const uint64_t *e = __ex_table_start; e < __ex_table_end; e += 2)
		if (e[0] == rip) return e[1];
	return 0;
}
static bool extable_is_fixup(uint64_t addr)
{
	for (const uint64_t *e = __ex_table_start; e < __ex_table_end; e += 2)
		if (e[1] == addr) return true;
	return false;
}

static volatile int fatal_depth;
static void fatal(struct intr_frame *f)
{
	char buf[512];
	if (__atomic_fetch_add(&fatal_depth, 1, __ATOMIC_SEQ_CST) > 0) halt_forever();
	uint64_t cr2;
	__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
	snprintf(buf, sizeof buf,
		 "\n@@fatal {\"vector\":%lu,\"name\":\"%s\",\"error\":\"0x%lx\",\"rip\":\"0x%016lx\","
		 "\"rsp\":\"0x%016lx\",\"cr2\":\"0x%016lx\",\"apic_id\":%u}\n",
		 f->vector, fault_name((int)(FAULT_FLAG | f->vector)), f->error, f->rip, f->rsp, cr2, apic_id());
	puts_raw(buf);
	rt_exit(2);
}

void intr_dispatch(struct intr_frame *f)
{
	if (f->vector < 32 && f->vector != 2) {
		uint64_t fix = extable_fixup(f->rip);
		uint64_t pg = (uint64_t)hv_hypercall_pg;
		if (!fix && pg && f->rip >= pg && f->rip < pg + 4096) {
			/* Fault inside the hypercall stub: unwind the CALL if it came from a listed site. */
			uint64_t ret = *(uint64_t *)f->rsp;
			if (extable_is_fixup(ret)) {
				f->rsp += 8;
				fix = ret;
			}
		}
		if (fix) {
			last_fault.vector = f->vector;
			last_fault.error = f->error;
			last_fault.rip = f->rip;
			f->rip = fix;
			f->rsi = FAULT_FLAG | f->vector;
			return;
		}
		fatal(f);
	}
	if (irq_hook[f->vector]) irq_hook[f->vector]((uint32_t)f->vector);
	irq_count[f->vector]++;
	if (f->vector != 0xFF && f->vector != 2 && !irq_no_eoi[f->vector]) irq_eoi();
}

/* ---------------------------------------------------------------- CPU setup */
void cpu_init(void)
{
	/* SSE for XMM fast hypercalls: CR0.EM=0, MP=1, NE=1; CR4.OSFXSR | OSXMMEXCPT. */
	write_cr0((read_cr0() & ~4ull) | 2 | 0x20);
	write_cr4(read_cr4() | (1 << 9) | (1 << 10));
	idt_load();
}

static void pic_mask_all(void)
{
	/* Remap the 8259s to 0x20-0x2F (away from exception vectors) and mask every line. */
	outb(0x20, 0x11); outb(0xA0, 0x11);
	outb(0x21, 0x20); outb(0xA1, 0x28);
	outb(0x21, 0x04); outb(0xA1, 0x02);
	outb(0x21, 0x01); outb(0xA1, 0x01);
	outb(0x21, 0xFF); outb(0xA1, 0xFF);
}

void rt_start(void)
{
	/* Copy the command line before anything else can overwrite the multiboot info. */
	rt_cmdline[0] = 0;
	if (mb_magic == 0x2BADB002 && mb_info) {
		const uint32_t *mbi = (const uint32_t *)(uint64_t)mb_info;
		if ((mbi[0] & (1u << 2)) && mbi[4])
			strncpy_z(rt_cmdline, (const char *)(uint64_t)mbi[4], sizeof rt_cmdline);
	}
	serial_init();
	idt_init();
	cpu_init();
	pic_mask_all();
	int rc = guest_main(rt_cmdline);
	rt_exit((uint32_t)rc);
}
