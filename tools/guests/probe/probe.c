/*
 * probe.elf: the hv probe guest. Walks the Hyper-V interface the way a guest boots and reports
 * one JSON line per check on COM1 (see ../README.md for the protocol and the list of check ids).
 *
 * Rules: every MSR access and hypercall goes through a fault fixup, every wait is bounded, and a
 * check whose prerequisite failed is skipped (never run blind), so a hypervisor without Hyper-V
 * leaves (QEMU TCG) still produces a clean report.
 */
#include "runtime.h"
#include "hv_tlfs.h"

/* ------------------------------------------------------------------ options */
static uint64_t opt_guest_os_id = 0x0001040A00004F7Cull;   /* Windows Server 2022 (10.0.20348) */
static uint64_t opt_iters = 1000;
static uint64_t opt_smp = 1;
static uint64_t opt_crash = 0;
static uint64_t opt_clock_ms = 100;
static uint64_t opt_hv = 1;
static char opt_vendor[16] = "Microsoft Hv";
static char opt_expect[512];
static bool have_expect;

/* ------------------------------------------------------------------ report */
static int n_pass, n_fail, n_skip;

struct jb { char b[1800]; size_t n; };
static void jb_c(struct jb *j, char c) { if (j->n + 1 < sizeof j->b) j->b[j->n++] = c; j->b[j->n] = 0; }
static void jb_raw(struct jb *j, const char *s) { while (*s) jb_c(j, *s++); }
static void jb_str(struct jb *j, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	jb_c(j, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') { jb_c(j, '\\'); jb_c(j, (char)c); }
		else if (c == '\n') jb_raw(j, "\\n");
		else if (c == '\r') jb_raw(j, "\\r");
		else if (c == '\t') jb_raw(j, "\\t");
		else if (c < 0x20 || c >= 0x7f) {
			jb_raw(j, "\\u00");
			jb_c(j, hex[c >> 4]);
			jb_c(j, hex[c & 15]);
		} else jb_c(j, (char)c);
	}
	jb_c(j, '"');
}
static void jb_i64(struct jb *j, int64_t v)
{
	char t[24];
	snprintf(t, sizeof t, "%ld", v);
	jb_raw(j, t);
}
static void jb_kv_str(struct jb *j, const char *k, const char *v, bool comma)
{
	if (comma) jb_c(j, ',');
	jb_str(j, k);
	jb_c(j, ':');
	jb_str(j, v);
}

static void emit(const char *id, const char *enl, bool ok, const char *saw, const char *expect, int64_t cycles,
		 int64_t ref)
{
	struct jb j = {{0}, 0};
	jb_raw(&j, "@@hvprobe {");
	jb_kv_str(&j, "check", id, false);
	jb_kv_str(&j, "enl", enl, true);
	jb_raw(&j, ok ? ",\"ok\":true" : ",\"ok\":false");
	jb_kv_str(&j, "saw", saw, true);
	jb_kv_str(&j, "expect", expect, true);
	jb_raw(&j, ",\"cycles\":");
	jb_i64(&j, cycles);
	jb_raw(&j, ",\"ref\":");
	jb_i64(&j, ref);
	jb_raw(&j, "}\n");
	printf("%s", j.b);
	if (ok) n_pass++;
	else n_fail++;
}

static bool vcheck(const char *id, const char *enl, bool ok, const char *expect, int64_t cycles, int64_t ref,
		   const char *fmt, va_list ap)
{
	char saw[768];
	vsnprintf(saw, sizeof saw, fmt, ap);
	emit(id, enl, ok, saw, expect, cycles, ref);
	return ok;
}
/* check(id, enl, ok, expect, saw-format, ...): one report line; returns ok. */
static bool __attribute__((format(printf, 5, 6))) check(const char *id, const char *enl, bool ok, const char *expect,
							const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vcheck(id, enl, ok, expect, -1, -1, fmt, ap);
	va_end(ap);
	return ok;
}
static bool __attribute__((format(printf, 7, 8))) check_cost(const char *id, const char *enl, bool ok,
							     const char *expect, int64_t cycles, int64_t ref,
							     const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vcheck(id, enl, ok, expect, cycles, ref, fmt, ap);
	va_end(ap);
	return ok;
}
static void skip(const char *id, const char *enl, const char *reason)
{
	struct jb j = {{0}, 0};
	jb_raw(&j, "@@hvprobe-skip {");
	jb_kv_str(&j, "check", id, false);
	jb_kv_str(&j, "enl", enl, true);
	jb_kv_str(&j, "reason", reason, true);
	jb_raw(&j, "}\n");
	printf("%s", j.b);
	n_skip++;
}

/* "0x..." for a value read, or the fault name. */
static const char *mv(char *buf, int rc, uint64_t v)
{
	if (rc) snprintf(buf, 32, "%s", fault_name(rc));
	else snprintf(buf, 32, "0x%lx", v);
	return buf;
}
#define MV(rc, v) mv((char[32]){0}, (rc), (v))

/* ------------------------------------------------------------------ CPUID state */
static struct cpuid_regs L0, L1, L2, L3, L4, L5, LA;
static uint32_t max_leaf;
static char vendor[13];
#define F_A L3.eax
#define F_B L3.ebx
#define F_D L3.edx
#define R_A L4.eax
#define R_B L4.ebx
#define N_A LA.eax

static bool hc_ok;              /* the hypercall page holds a plausible stub and GUEST_OS_ID != 0 */
static uint64_t bsp_vp_index;
static uint64_t tsc_hz;         /* from HV_X64_MSR_TSC_FREQUENCY, 0 if unknown */
static bool tsc_page_on;

static uint64_t ctl(uint32_t code, bool fast, uint32_t varhead, uint32_t rep_count, uint32_t rep_start)
{
	return code | (fast ? HV_HYPERCALL_FAST_BIT : 0) | ((uint64_t)varhead << HV_HYPERCALL_VARHEAD_SHIFT) |
	       ((uint64_t)rep_count << HV_HYPERCALL_REP_COUNT_SHIFT) |
	       ((uint64_t)rep_start << HV_HYPERCALL_REP_START_SHIFT);
}
static unsigned hv_status(uint64_t rax) { return (unsigned)(rax & 0xffff); }
static unsigned hv_reps(uint64_t rax) { return (unsigned)((rax >> HV_HYPERCALL_REP_COMP_SHIFT) & 0xfff); }
static const char *hcd(char *buf, int f, uint64_t rax)
{
	if (f) snprintf(buf, 64, "%s in hypercall (rip 0x%lx)", fault_name(f), last_fault.rip);
	else snprintf(buf, 64, "RAX=0x%lx status=%u reps=%u", rax, hv_status(rax), hv_reps(rax));
	return buf;
}
#define HCD(f, r) hcd((char[64]){0}, (f), (r))

static uint64_t *hc_in(void)
{
	uint64_t *p = (uint64_t *)(uint64_t)GPA_HCALL_INPUT;
	memset(p, 0, 4096);
	return p;
}

/* ------------------------------------------------------------------ reference TSC page */
struct hv_tsc_page {
	volatile uint32_t tsc_sequence;
	uint32_t reserved;
	volatile uint64_t tsc_scale;
	volatile int64_t tsc_offset;
};
static volatile struct hv_tsc_page *const tscpg = (volatile struct hv_tsc_page *)(uint64_t)GPA_TSC_PAGE;

static bool tsc_page_read(uint64_t *t)
{
	for (int tries = 0; tries < 1000; tries++) {
		uint32_t seq = tscpg->tsc_sequence;
		barrier();
		if (seq == HV_TSC_PAGE_SEQUENCE_INVALID) return false;
		uint64_t scale = tscpg->tsc_scale;
		int64_t off = tscpg->tsc_offset;
		uint64_t tsc = rdtsc();
		barrier();
		if (tscpg->tsc_sequence == seq) {
			*t = (uint64_t)(((unsigned __int128)tsc * scale) >> 64) + (uint64_t)off;
			return true;
		}
	}
	return false;
}

/* ------------------------------------------------------------------ small helpers */
static bool expect_has(const char *name)
{
	size_t n = strlen(name);
	const char *p = opt_expect;
	while (*p) {
		const char *w = p;
		while (*p && *p != ',') p++;
		if ((size_t)(p - w) == n && !strncmp(w, name, n)) return true;
		if (*p == ',') p++;
	}
	return false;
}
static bool page_all(const void *p, uint8_t v, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i] != v) return false;
	return true;
}
static void hexbytes(char *out, size_t size, const uint8_t *b, int n)
{
	size_t k = 0;
	out[0] = 0;
	for (int i = 0; i < n && k + 4 < size; i++) k += (size_t)snprintf(out + k, size - k, i ? " %02x" : "%02x", b[i]);
}
static uint64_t udiv128(uint64_t hi, uint64_t lo, uint64_t d)   /* (hi:lo)/d, needs hi < d */
{
	uint64_t q, r;
	__asm__("divq %4" : "=a"(q), "=d"(r) : "a"(lo), "d"(hi), "rm"(d));
	return q;
}
/* a * b / d with a 128-bit intermediate; the quotient must fit in 64 bits. */
static uint64_t muldiv(uint64_t a, uint64_t b, uint64_t d)
{
	unsigned __int128 p = (unsigned __int128)a * b;
	return udiv128((uint64_t)(p >> 64), (uint64_t)p, d);
}
static uint64_t absdiff(uint64_t a, uint64_t b) { return a > b ? a - b : b - a; }

/* A write that must #GP; if it unexpectedly succeeds, `restore` is written back. */
static bool expect_wr_gp(const char *id, const char *enl, uint32_t msr, uint64_t val, uint64_t restore,
			 const char *what)
{
	int rc = wrmsr_safe(msr, val);
	if (!rc) wrmsr_safe(msr, restore);
	char expect[96];
	snprintf(expect, sizeof expect, "WRMSR 0x%x (%s) -> #GP", msr, what);
	return check(id, enl, FAULT_VECTOR(rc) == X86_TRAP_GP && rc, expect, "WRMSR 0x%x=0x%lx -> %s", msr, val,
		     rc ? fault_name(rc) : "no fault");
}
/* An MSR of an enlightenment that is not advertised must #GP on read. */
static bool expect_rd_gp(const char *id, const char *enl, uint32_t msr, const char *why)
{
	uint64_t v;
	int rc = rdmsr_safe(msr, &v);
	char expect[128];
	snprintf(expect, sizeof expect, "RDMSR 0x%x -> #GP (%s)", msr, why);
	return check(id, enl, FAULT_VECTOR(rc) == X86_TRAP_GP && rc, expect, "RDMSR 0x%x -> %s", msr, MV(rc, v));
}
/* Read-write an MSR: write val, read it back, then write restore. */
static bool msr_rw(const char *id, const char *enl, uint32_t msr, uint64_t val, uint64_t mask, uint64_t restore,
		   const char *expect)
{
	uint64_t rb = 0;
	int w = wrmsr_safe(msr, val);
	int r = w ? 0 : rdmsr_safe(msr, &rb);
	int w2 = wrmsr_safe(msr, restore);
	return check(id, enl, !w && !r && (rb & mask) == (val & mask), expect,
		     "WRMSR 0x%x=0x%lx -> %s, read back %s, restore -> %s", msr, val, fault_name(w), MV(r, rb),
		     fault_name(w2));
}
static void skip_sections(const char *const *names, const char *reason)
{
	for (; *names; names++) {
		char id[48], enl[32];
		snprintf(id, sizeof id, "%s.*", *names);
		strncpy_z(enl, *names, sizeof enl);
		for (char *c = enl; *c; c++)
			if (*c == '.') *c = 0;
		skip(id, enl, reason);
	}
}

/* Wait (interrupts on) until irq_count[vec] reaches want or `cycles` pass; returns the count. */
static uint32_t wait_irq(uint8_t vec, uint32_t want, uint64_t cycles)
{
	uint64_t t0 = rdtsc();
	sti();
	while (irq_count[vec] < want && rdtsc() - t0 < cycles) cpu_relax();
	cli();
	return irq_count[vec];
}

/* ------------------------------------------------------------------ base: CPUID */
static bool base_cpuid(void)
{
	L0 = cpuid(0);
	L1 = cpuid(1);
	check("base.cpuid.hypervisor_bit", "base", (L1.ecx & CPUID_1_ECX_HYPERVISOR) != 0, "CPUID.1:ECX[31]=1",
	      "CPUID.1:ECX=0x%08x (bit31=%u)", L1.ecx, L1.ecx >> 31);

	struct cpuid_regs v = cpuid(HV_CPUID_VENDOR_AND_MAX_FUNCTIONS);
	max_leaf = v.eax;
	memcpy(vendor + 0, &v.ebx, 4);
	memcpy(vendor + 4, &v.ecx, 4);
	memcpy(vendor + 8, &v.edx, 4);
	vendor[12] = 0;
	for (int i = 0; i < 12; i++)
		if (vendor[i] && (vendor[i] < 0x20 || vendor[i] > 0x7e)) vendor[i] = '?';
	if (!opt_hv) {
		/* hv=0: the profile has no Hyper-V; report the signature and check that Hv#1 is absent. */
		check("base.absent.signature", "base", true, "0x40000000 signature (reported)",
		      "0x40000000.EAX=0x%x vendor=\"%s\"", max_leaf, vendor);
		L1 = cpuid(HV_CPUID_INTERFACE);
		return check("base.absent.hv1", "base", L1.eax != HV_CPUID_SIGNATURE_HV1,
			     "hv=0: 0x40000001.EAX != \"Hv#1\"", "0x40000001.EAX=0x%08x", L1.eax);
	}
	check("base.cpuid.max_leaf", "base", max_leaf >= HV_CPUID_MIN_MAX_LEAF && max_leaf <= 0x4000FFFF,
	      "0x40000000.EAX in [0x40000005, 0x4000FFFF]", "0x40000000.EAX=0x%x", max_leaf);
	check("base.cpuid.vendor", "base", !memcmp(vendor, opt_vendor, 12) && strlen(opt_vendor) <= 12,
	      have_expect || strcmp(opt_vendor, "Microsoft Hv") ? "0x40000000.EBX:ECX:EDX = vendor= from cmdline"
								: "0x40000000.EBX:ECX:EDX = \"Microsoft Hv\"",
	      "vendor=\"%s\" (EBX=0x%08x ECX=0x%08x EDX=0x%08x)", vendor, v.ebx, v.ecx, v.edx);

	char found[256] = "";
	size_t k = 0;
	for (uint32_t base = 0x40000000; base <= 0x4000FF00; base += 0x100) {
		struct cpuid_regs r = cpuid(base);
		if (r.ebx == 0x4b4d564b && r.ecx == 0x564b4d56 && r.edx == 0x0000004d && k + 40 < sizeof found)
			k += (size_t)snprintf(found + k, sizeof found - k, "%sKVMKVMKVM at 0x%x (max 0x%x)", k ? ", " : "",
					      base, r.eax);
	}
	check("base.cpuid.no_kvm_signature", "base", k == 0,
	      "no \"KVMKVMKVM\" at any base 0x40000000..0x4000FF00 (Linux would take the KVM path)", "%s",
	      k ? found : "none in 0x40000000..0x4000FF00");

	L1 = cpuid(HV_CPUID_INTERFACE);
	bool hv1 = L1.eax == HV_CPUID_SIGNATURE_HV1;
	char sig[5];
	memcpy(sig, &L1.eax, 4);
	sig[4] = 0;
	for (int i = 0; i < 4; i++)
		if (sig[i] < 0x20 || sig[i] > 0x7e) sig[i] = '?';
	check("base.cpuid.hv1", "base", hv1, "0x40000001.EAX = 0x31237648 (\"Hv#1\")",
	      "0x40000001.EAX=0x%08x (\"%s\")%s", L1.eax, sig,
	      hv1 ? "" : ": no Hyper-V interface, the remaining checks are skipped");
	if (!hv1) return false;

	uint32_t top = max_leaf > 0x4000FFFF ? 0 : max_leaf;
	L2 = cpuid(HV_CPUID_VERSION);
	L3 = top >= HV_CPUID_FEATURES ? cpuid(HV_CPUID_FEATURES) : (struct cpuid_regs){0, 0, 0, 0};
	L4 = top >= HV_CPUID_ENLIGHTMENT_INFO ? cpuid(HV_CPUID_ENLIGHTMENT_INFO) : (struct cpuid_regs){0, 0, 0, 0};
	L5 = top >= HV_CPUID_IMPLEMENT_LIMITS ? cpuid(HV_CPUID_IMPLEMENT_LIMITS) : (struct cpuid_regs){0, 0, 0, 0};
	LA = top >= HV_CPUID_NESTED_FEATURES ? cpuid(HV_CPUID_NESTED_FEATURES) : (struct cpuid_regs){0, 0, 0, 0};

	check("base.cpuid.version", "base", true, "0x40000002: hypervisor build (reported)",
	      "0x40000002 EAX=0x%x EBX=0x%x ECX=0x%x EDX=0x%x (build %u.%u.%u)", L2.eax, L2.ebx, L2.ecx, L2.edx,
	      L2.ebx >> 16, L2.ebx & 0xffff, L2.eax);
	check("base.cpuid.features", "base", true, "0x40000003/4/A feature words (reported)",
	      "3.EAX=0x%x 3.EBX=0x%x 3.EDX=0x%x 4.EAX=0x%x 4.EBX=0x%x A.EAX=0x%x", F_A, F_B, F_D, R_A, R_B, N_A);
	check("base.cpuid.limits", "base", L5.eax != 0, "0x40000005.EAX (max VPs) != 0",
	      "0x40000005 EAX=0x%x EBX=0x%x ECX=0x%x", L5.eax, L5.ebx, L5.ecx);
	uint32_t need = HvPrivilegeEax_AccessHypercallMsrs | HvPrivilegeEax_AccessVpIndex;
	check("base.cpuid.priv_required", "base", (F_A & need) == need,
	      "3.EAX[5] AccessHypercallMsrs and 3.EAX[6] AccessVpIndex set", "3.EAX=0x%x (bit5=%u bit6=%u)", F_A,
	      (F_A >> 5) & 1, (F_A >> 6) & 1);
	check("base.cpuid.priv_forbidden", "base", (F_B & HV_FORBIDDEN_PRIVILEGES_EBX) == 0,
	      "3.EBX bits 0,1,2,3,6,8,12,13,22 clear (CreatePartitions, AccessPartitionId, AccessMemoryPool, "
	      "AdjustMessageBuffers, CreatePort, AccessStats, CpuManagement, ConfigureProfiler, Isolation)",
	      "3.EBX=0x%x forbidden bits set=0x%x", F_B, F_B & HV_FORBIDDEN_PRIVILEGES_EBX);

	/* Costs: CPUID of a hypervisor leaf, against a basic leaf. */
	uint64_t t0 = rdtsc();
	for (uint64_t i = 0; i < opt_iters; i++) cpuid(HV_CPUID_VENDOR_AND_MAX_FUNCTIONS);
	uint64_t c_hv = (rdtsc() - t0) / opt_iters;
	t0 = rdtsc();
	for (uint64_t i = 0; i < opt_iters; i++) cpuid(0);
	uint64_t c_0 = (rdtsc() - t0) / opt_iters;
	check_cost("base.cpuid.cost", "base", true, "cycles: CPUID(0x40000000); ref: CPUID(0)", (int64_t)c_hv,
		   (int64_t)c_0, "%lu iterations", opt_iters);
	return true;
}

/* ------------------------------------------------------------------ profile: advertised set */
static const char *const enl_names[] = {
	"relaxed", "vapic", "spinlocks", "vpindex", "runtime", "crash", "time", "synic", "stimer", "stimer-direct",
	"frequencies", "reenlightenment", "reset", "tlbflush", "tlbflush-ext", "tlbflush-direct", "ipi", "xmm-input",
	"no-nonarch-coresharing", "avic", "evmcs", "emsr-bitmap", "syndbg", 0};

static bool advertised(const char *n)
{
#define IS(s) (!strcmp(n, s))
	if (IS("relaxed")) return R_A & HvRecommendationEax_UseRelaxedTiming;
	if (IS("vapic")) return F_A & HvPrivilegeEax_AccessIntrCtrlRegs;
	if (IS("spinlocks")) return R_B != HV_SPINLOCK_RETRIES_NEVER_NOTIFY;
	if (IS("vpindex")) return F_A & HvPrivilegeEax_AccessVpIndex;
	if (IS("runtime")) return F_A & HvPrivilegeEax_AccessVpRunTimeReg;
	if (IS("crash")) return F_D & HvFeatureEdx_GuestCrashRegsAvailable;
	if (IS("time"))
		return (F_A & HvPrivilegeEax_AccessPartitionReferenceCounter) &&
		       (F_A & HvPrivilegeEax_AccessPartitionReferenceTsc);
	if (IS("synic")) return F_A & HvPrivilegeEax_AccessSynicRegs;
	if (IS("stimer")) return F_A & HvPrivilegeEax_AccessSyntheticTimerRegs;
	if (IS("stimer-direct")) return F_D & HvFeatureEdx_DirectSyntheticTimers;
	if (IS("frequencies")) return (F_A & HvPrivilegeEax_AccessFrequencyRegs) && (F_D & HvFeatureEdx_FrequencyRegsAvailable);
	if (IS("reenlightenment")) return F_A & HvPrivilegeEax_AccessReenlightenmentControls;
	if (IS("reset")) return F_A & HvPrivilegeEax_AccessResetReg;
	if (IS("tlbflush")) return R_A & HvRecommendationEax_UseHypercallForRemoteFlush;
	if (IS("tlbflush-ext")) return F_D & HvFeatureEdx_ExtendedGvaRangesForFlushVirtualAddressListAvailable;
	if (IS("tlbflush-direct")) return N_A & HvNestedEax_DirectVirtualFlush;
	if (IS("ipi")) return R_A & HvRecommendationEax_UseSyntheticClusterIpi;
	if (IS("xmm-input")) return F_D & HvFeatureEdx_XmmRegistersForFastHypercallAvailable;
	if (IS("no-nonarch-coresharing")) return R_A & HvRecommendationEax_NoNonArchitecturalCoreSharing;
	if (IS("avic")) return R_A & HvRecommendationEax_DeprecateAutoEoi;
	if (IS("evmcs")) return R_A & HvRecommendationEax_UseVmcsEnlightenments;
	if (IS("emsr-bitmap")) return N_A & HvNestedEax_EnlightenedMsrBitmap;
	if (IS("syndbg")) return F_D & HvFeatureEdx_DebugRegsAvailable;
#undef IS
	return false;
}

static void profile_checks(void)
{
	if (!have_expect) return;
	for (const char *const *n = enl_names; *n; n++) {
		char id[48];
		snprintf(id, sizeof id, "%s.advertised", *n);
		bool want = expect_has(*n), got = advertised(*n);
		check(id, *n, want == got, want ? "advertised (listed in expect=)" : "not advertised (not in expect=)",
		      "%s", got ? "advertised" : "not advertised");
	}
}

/* ------------------------------------------------------------------ base: GUEST_OS_ID and hypercall page */
static void base_hypercall(void)
{
	uint8_t *pg = (uint8_t *)(uint64_t)GPA_HYPERCALL_PAGE;
	uint64_t v = 0, hc = 0;

	int rc = rdmsr_safe(HV_X64_MSR_GUEST_OS_ID, &v);
	check("base.guest_os_id.reset", "base", !rc && v == 0, "RDMSR GUEST_OS_ID = 0 at boot",
	      "GUEST_OS_ID=%s", MV(rc, v));
	if (!rc && v != 0) wrmsr_safe(HV_X64_MSR_GUEST_OS_ID, 0);

	rc = rdmsr_safe(HV_X64_MSR_HYPERCALL, &hc);
	check("base.hypercall.reset", "base", !rc && !(hc & HV_X64_MSR_PAGE_ENABLE),
	      "RDMSR HYPERCALL readable, enable=0 at boot", "HYPERCALL=%s", MV(rc, hc));

	/* Enabling the page while GUEST_OS_ID == 0 must be ignored: no #GP, not stored, page untouched. */
	memset(pg, 0xCC, 4096);
	int w = wrmsr_safe(HV_X64_MSR_HYPERCALL, GPA_HYPERCALL_PAGE | HV_X64_MSR_PAGE_ENABLE);
	int r = rdmsr_safe(HV_X64_MSR_HYPERCALL, &hc);
	bool untouched = page_all(pg, 0xCC, 4096);
	check("base.hypercall.enable_without_os_id", "base", !w && !r && !(hc & 1) && untouched,
	      "with GUEST_OS_ID=0, WRMSR HYPERCALL=gpa|1 is dropped: no #GP, reads back enable=0, page not written",
	      "WRMSR -> %s, read back %s, page %s", fault_name(w), MV(r, hc), untouched ? "untouched" : "WRITTEN");
	if (!w && (hc & 1)) wrmsr_safe(HV_X64_MSR_HYPERCALL, 0);

	w = wrmsr_safe(HV_X64_MSR_GUEST_OS_ID, opt_guest_os_id);
	r = rdmsr_safe(HV_X64_MSR_GUEST_OS_ID, &v);
	bool osid = check("base.guest_os_id.write", "base", !w && !r && v == opt_guest_os_id,
			  "WRMSR GUEST_OS_ID=<guest_os_id> then RDMSR returns it", "wrote 0x%016lx -> %s, read back %s",
			  opt_guest_os_id, fault_name(w), MV(r, v));

	memset(pg, 0xCC, 4096);
	hv_hypercall_pg = pg;   /* from now on faults inside the page unwind to the call site */
	w = wrmsr_safe(HV_X64_MSR_HYPERCALL, GPA_HYPERCALL_PAGE | HV_X64_MSR_PAGE_ENABLE);
	check("base.hypercall.enable", "base", !w, "WRMSR HYPERCALL = gpa|1 (after GUEST_OS_ID) -> no #GP",
	      "WRMSR HYPERCALL=0x%x -> %s", GPA_HYPERCALL_PAGE | 1, fault_name(w));
	r = rdmsr_safe(HV_X64_MSR_HYPERCALL, &hc);
	bool enabled = check("base.hypercall.readback", "base",
			     !r && (hc & 1) && (hc & HV_X64_MSR_PAGE_GPA_MASK) == GPA_HYPERCALL_PAGE,
			     "RDMSR HYPERCALL: enable=1 and GPA as written", "HYPERCALL=%s", MV(r, hc));

	char bytes[64];
	hexbytes(bytes, sizeof bytes, pg, 8);
	bool written = memcmp(pg, "\xCC\xCC\xCC\xCC\xCC\xCC\xCC\xCC", 8) != 0;
	bool has_ret = false;
	for (int i = 0; i < 64; i++)
		if (pg[i] == 0xC3) has_ret = true;
	hc_ok = check("base.hypercall.page_written", "base", written && has_ret,
		      "the hypervisor wrote a stub ending in RET (0xC3) into the page", "page[0..8]=%s%s", bytes,
		      !written ? " (unchanged 0xCC fill)" : has_ret ? "" : " (no RET in the first 64 bytes)") &&
		enabled && osid;
	if (!hc_ok) {
		static const char *const ids[] = {"base.hypercall.unknown_code", "base.hypercall.reserved_bits",
						  "base.hypercall.cost", 0};
		for (const char *const *i = ids; *i; i++) skip(*i, "base", "no usable hypercall page");
		return;
	}

	uint64_t rax;
	int f = hypercall_safe(ctl(0xFFFF, false, 0, 0, 0), 0, 0, &rax);
	check("base.hypercall.unknown_code", "base", !f && hv_status(rax) == HV_STATUS_INVALID_HYPERCALL_CODE,
	      "code 0xFFFF (slow, GPAs 0) -> HV_STATUS_INVALID_HYPERCALL_CODE (2)", "%s", HCD(f, rax));

	/* Reserved control bits are checked before the call code (tlfs-conformance.md (b), step 4). */
	static const int rbits[] = {27, 44, 60};
	char saw[192] = "";
	size_t k = 0;
	bool all3 = true;
	for (int i = 0; i < 3; i++) {
		f = hypercall_safe(ctl(0xFFFF, false, 0, 0, 0) | (1ull << rbits[i]), 0, 0, &rax);
		if (f || hv_status(rax) != HV_STATUS_INVALID_HYPERCALL_INPUT) all3 = false;
		k += (size_t)snprintf(saw + k, sizeof saw - k, "%sbit%d -> %s", i ? ", " : "", rbits[i],
				      f ? fault_name(f) : "");
		if (!f) k += (size_t)snprintf(saw + k, sizeof saw - k, "status %u", hv_status(rax));
	}
	check("base.hypercall.reserved_bits", "base", all3,
	      "control with a RsvdZ bit (31:27, 47:44, 63:60) -> HV_STATUS_INVALID_HYPERCALL_INPUT (3), before the "
	      "unknown-code check",
	      "%s", saw);

	/* Cost: a null hypercall against a plain OUT to an unclaimed port. */
	uint64_t t0 = rdtsc();
	for (uint64_t i = 0; i < opt_iters; i++) hypercall_safe(ctl(0xFFFF, false, 0, 0, 0), 0, 0, &rax);
	uint64_t c_hc = (rdtsc() - t0) / opt_iters;
	t0 = rdtsc();
	for (uint64_t i = 0; i < opt_iters; i++) outb(0xEF, 0);
	uint64_t c_out = (rdtsc() - t0) / opt_iters;
	check_cost("base.hypercall.cost", "base", true,
		   "cycles: null hypercall (code 0xFFFF via the page); ref: OUT to unclaimed port 0xEF", (int64_t)c_hc,
		   (int64_t)c_out, "%lu iterations", opt_iters);
}

/* ------------------------------------------------------------------ vpindex */
static void sec_vpindex(void)
{
	if (!advertised("vpindex")) {
		expect_rd_gp("vpindex.absent", "vpindex", HV_X64_MSR_VP_INDEX, "3.EAX[6] AccessVpIndex clear");
		return;
	}
	int rc = rdmsr_safe(HV_X64_MSR_VP_INDEX, &bsp_vp_index);
	check("vpindex.bsp_zero", "vpindex", !rc && bsp_vp_index == 0, "RDMSR VP_INDEX = 0 on the BSP",
	      "VP_INDEX=%s (apic id %u)", MV(rc, bsp_vp_index), apic_id());
	expect_wr_gp("vpindex.write_gp", "vpindex", HV_X64_MSR_VP_INDEX, bsp_vp_index, bsp_vp_index, "read-only");
}

/* ------------------------------------------------------------------ frequencies */
static void sec_frequencies(void)
{
	if (!(F_A & HvPrivilegeEax_AccessFrequencyRegs)) {
		expect_rd_gp("frequencies.absent", "frequencies", HV_X64_MSR_TSC_FREQUENCY, "3.EAX[11] clear");
		return;
	}
	uint64_t tsc = 0, apic = 0;
	int r1 = rdmsr_safe(HV_X64_MSR_TSC_FREQUENCY, &tsc);
	int r2 = rdmsr_safe(HV_X64_MSR_APIC_FREQUENCY, &apic);
	check("frequencies.feature_bit", "frequencies", (F_D & HvFeatureEdx_FrequencyRegsAvailable) != 0,
	      "3.EDX[8] FrequencyRegsAvailable set with 3.EAX[11] (Linux needs both)", "3.EAX[11]=1 3.EDX[8]=%u",
	      (F_D >> 8) & 1);
	if (check("frequencies.tsc", "frequencies", !r1 && tsc != 0, "RDMSR TSC_FREQUENCY != 0 (Hz)",
		  "TSC_FREQUENCY=%s (%lu Hz)", MV(r1, tsc), tsc)) {
		tsc_hz = tsc;
		rt_tsc_hz = tsc;
	}
	check("frequencies.apic", "frequencies", !r2 && apic != 0, "RDMSR APIC_FREQUENCY != 0 (KVM: 1000000000)",
	      "APIC_FREQUENCY=%s (%lu Hz)", MV(r2, apic), apic);
	expect_wr_gp("frequencies.tsc.write_gp", "frequencies", HV_X64_MSR_TSC_FREQUENCY, tsc, tsc, "read-only");
	expect_wr_gp("frequencies.apic.write_gp", "frequencies", HV_X64_MSR_APIC_FREQUENCY, apic, apic, "read-only");
}

/* ------------------------------------------------------------------ time */
static void sec_time(void)
{
	bool refc = F_A & HvPrivilegeEax_AccessPartitionReferenceCounter;
	bool refp = F_A & HvPrivilegeEax_AccessPartitionReferenceTsc;
	uint64_t c_msr = 0;

	if (!refc) {
		expect_rd_gp("time.ref_count.absent", "time", HV_X64_MSR_TIME_REF_COUNT, "3.EAX[1] clear");
	} else {
		uint64_t a = 0, b = 0;
		int rc = rdmsr_safe(HV_X64_MSR_TIME_REF_COUNT, &a);
		check("time.ref_count.read", "time", !rc && a != 0, "RDMSR TIME_REF_COUNT readable, non-zero (100 ns)",
		      "TIME_REF_COUNT=%s", MV(rc, a));
		if (!rc) {
			/* 1000 back-to-back reads never go back; across a ~100 us gap it strictly increases. */
			uint64_t prev = a, first = a, bad = 0, faults = 0;
			for (int i = 0; i < 1000; i++) {
				uint64_t x;
				if (rdmsr_safe(HV_X64_MSR_TIME_REF_COUNT, &x)) { faults++; continue; }
				if (x < prev) bad++;
				prev = x;
			}
			delay_us(100);
			rdmsr_safe(HV_X64_MSR_TIME_REF_COUNT, &b);
			check("time.ref_count.monotonic", "time", !bad && !faults && b > prev,
			      "TIME_REF_COUNT never decreases and strictly increases across a gap",
			      "first=%lu last=%lu after-gap=%lu backwards=%lu faults=%lu", first, prev, b, bad, faults);
		} else {
			skip("time.ref_count.monotonic", "time", "TIME_REF_COUNT not readable");
		}
		expect_wr_gp("time.ref_count.write_gp", "time", HV_X64_MSR_TIME_REF_COUNT, 0, 0, "read-only");

		if (tsc_hz && !rc) {
			uint64_t win = tsc_hz / 1000 * opt_clock_ms;
			uint64_t r1, r2;
			rdmsr_safe(HV_X64_MSR_TIME_REF_COUNT, &r1);
			uint64_t t1 = rdtsc(), t2;
			while ((t2 = rdtsc()) - t1 < win) cpu_relax();
			rdmsr_safe(HV_X64_MSR_TIME_REF_COUNT, &r2);
			uint64_t ref = r2 - r1;
			uint64_t tsc100 = muldiv(t2 - t1, HV_CLOCK_HZ, tsc_hz);
			bool ok = absdiff(ref, tsc100) * 100 <= tsc100;
			check("time.ref_count.rate", "time", ok,
			      "elapsed TIME_REF_COUNT within 1% of elapsed rdtsc / TSC_FREQUENCY",
			      "over %lu ms: ref=%lu tsc/freq=%lu (x100ns), diff=%lu", opt_clock_ms, ref, tsc100,
			      absdiff(ref, tsc100));
		} else {
			skip("time.ref_count.rate", "time", "TSC frequency unknown (frequencies not advertised)");
		}
		uint64_t x, t0 = rdtsc();
		for (uint64_t i = 0; i < opt_iters; i++) rdmsr_safe(HV_X64_MSR_TIME_REF_COUNT, &x);
		c_msr = (rdtsc() - t0) / opt_iters;
		if (!refp)
			check_cost("time.ref_count.cost", "time", true, "cycles: RDMSR TIME_REF_COUNT", (int64_t)c_msr, -1,
				   "%lu iterations", opt_iters);
	}

	if (!refp) {
		expect_rd_gp("time.tsc_page.absent", "time", HV_X64_MSR_REFERENCE_TSC, "3.EAX[9] clear");
		return;
	}
	/* enable=0: the hypervisor must not write the page. */
	memset((void *)tscpg, 0, 4096);
	int w = wrmsr_safe(HV_X64_MSR_REFERENCE_TSC, GPA_TSC_PAGE);
	bool clean = page_all((const void *)tscpg, 0, 4096);
	check("time.tsc_page.disabled_untouched", "time", !w && clean,
	      "WRMSR REFERENCE_TSC = gpa (enable=0): no #GP, page never written", "WRMSR -> %s, page %s",
	      fault_name(w), clean ? "all zero" : "WRITTEN");

	w = wrmsr_safe(HV_X64_MSR_REFERENCE_TSC, GPA_TSC_PAGE | HV_X64_MSR_PAGE_ENABLE);
	uint32_t seq = tscpg->tsc_sequence;   /* read right away: the page must be valid before we resume */
	uint64_t scale = tscpg->tsc_scale;
	int64_t off = tscpg->tsc_offset;
	uint64_t rb = 0;
	int r = rdmsr_safe(HV_X64_MSR_REFERENCE_TSC, &rb);
	check("time.tsc_page.enable", "time", !w && !r && rb == (GPA_TSC_PAGE | 1),
	      "WRMSR REFERENCE_TSC = gpa|1 -> no #GP, reads back gpa|1", "WRMSR -> %s, read back %s", fault_name(w),
	      MV(r, rb));
	tsc_page_on = check("time.tsc_page.sequence", "time", !w && seq != HV_TSC_PAGE_SEQUENCE_INVALID,
			    "tsc_sequence != 0 immediately after enabling",
			    "tsc_sequence=0x%x tsc_scale=0x%lx tsc_offset=%ld", seq, scale, off);
	if (!tsc_page_on) {
		static const char *const ids[] = {"time.tsc_page.bracket", "time.tsc_page.scale", "time.tsc_page.cost", 0};
		for (const char *const *i = ids; *i; i++) skip(*i, "time", "reference TSC page not valid");
		return;
	}
	if (refc) {
		char saw[400] = "";
		size_t k = 0;
		bool ok = true;
		for (int i = 0; i < 3; i++) {
			uint64_t m1 = 0, m2 = 0, p = 0;
			int e1 = rdmsr_safe(HV_X64_MSR_TIME_REF_COUNT, &m1);
			bool pv = tsc_page_read(&p);
			int e2 = rdmsr_safe(HV_X64_MSR_TIME_REF_COUNT, &m2);
			if (e1 || e2 || !pv || m1 > p || p > m2) ok = false;
			k += (size_t)snprintf(saw + k, sizeof saw - k, "%smsr1=%lu page=%lu msr2=%lu", i ? "; " : "", m1, p, m2);
			delay_us(1000);
		}
		check("time.tsc_page.bracket", "time", ok,
		      "page time ((rdtsc*scale)>>64)+offset lies between two TIME_REF_COUNT reads (msr1 <= page <= msr2)",
		      "%s", saw);
	} else {
		skip("time.tsc_page.bracket", "time", "TIME_REF_COUNT not advertised");
	}
	if (tsc_hz) {
		/* implied Hz = (10^7 << 64) / scale */
		uint64_t hz = scale > HV_CLOCK_HZ ? udiv128(HV_CLOCK_HZ, 0, scale) : 0;
		check("time.tsc_page.scale", "time", hz && absdiff(hz, tsc_hz) * 100 <= tsc_hz,
		      "tsc_scale = (10^7 << 64) / TSC_FREQUENCY within 1%", "scale=0x%lx implies %lu Hz, TSC_FREQUENCY=%lu",
		      scale, hz, tsc_hz);
	} else {
		skip("time.tsc_page.scale", "time", "TSC frequency unknown (frequencies not advertised)");
	}
	uint64_t p, t0 = rdtsc();
	for (uint64_t i = 0; i < opt_iters; i++) tsc_page_read(&p);
	uint64_t c_page = (rdtsc() - t0) / opt_iters;
	t0 = rdtsc();
	for (uint64_t i = 0; i < opt_iters; i++) (void)rdtsc();
	uint64_t c_rdtsc = (rdtsc() - t0) / opt_iters;
	/* Reported, not judged: where RDTSC itself exits (nested PVM) the page is not cheaper. */
	check_cost("time.tsc_page.cost", "time", true,
		   "cycles: reference TSC page read; ref: RDMSR TIME_REF_COUNT (reported; the page should be cheaper)",
		   (int64_t)c_page, refc ? (int64_t)c_msr : -1, "%lu iterations; a bare RDTSC costs %lu cycles", opt_iters,
		   c_rdtsc);
}

/* ------------------------------------------------------------------ vapic */
static void sec_vapic(void)
{
	if (!advertised("vapic")) {
		/* VP_ASSIST_PAGE is deliberately not probed: hv tolerates it regardless (Linux writes it always). */
		expect_rd_gp("vapic.absent", "vapic", HV_X64_MSR_TPR, "3.EAX[4] AccessIntrCtrlRegs clear");
		return;
	}
	uint8_t *pg = (uint8_t *)(uint64_t)GPA_VP_ASSIST_PAGE;
	memset(pg, 0, 4096);
	int w = wrmsr_safe(HV_X64_MSR_VP_ASSIST_PAGE, GPA_VP_ASSIST_PAGE | HV_X64_MSR_PAGE_ENABLE);
	uint64_t rb = 0;
	int r = rdmsr_safe(HV_X64_MSR_VP_ASSIST_PAGE, &rb);
	check("vapic.assist_page.enable", "vapic", !w && !r && rb == (GPA_VP_ASSIST_PAGE | 1),
	      "WRMSR VP_ASSIST_PAGE = gpa|1 -> no #GP, reads back gpa|1", "WRMSR -> %s, read back %s", fault_name(w),
	      MV(r, rb));
	uint64_t tpr = 0;
	r = rdmsr_safe(HV_X64_MSR_TPR, &tpr);
	msr_rw("vapic.tpr.rw", "vapic", HV_X64_MSR_TPR, 0x20, 0xFF, r ? 0 : tpr, "WRMSR TPR=0x20 reads back 0x20");
	expect_wr_gp("vapic.tpr.high_gp", "vapic", HV_X64_MSR_TPR, 1ull << 32, r ? 0 : tpr, "bits 63:32 set");
	w = wrmsr_safe(HV_X64_MSR_EOI, 0);
	check("vapic.eoi.write", "vapic", !w, "WRMSR EOI=0 -> no #GP (EOI with nothing in service is a no-op)",
	      "WRMSR EOI -> %s", fault_name(w));
	uint64_t icr = 0;
	r = rdmsr_safe(HV_X64_MSR_ICR, &icr);
	check("vapic.icr.read", "vapic", !r, "RDMSR ICR -> no #GP", "ICR=%s", MV(r, icr));
	check("vapic.recommended", "vapic", true, "4.EAX[3] UseApicMsrs (reported; clear with avic)",
	      "4.EAX[3]=%u", (R_A >> 3) & 1);
}

/* ------------------------------------------------------------------ runtime, reset */
static void sec_runtime(void)
{
	if (!advertised("runtime")) {
		expect_rd_gp("runtime.absent", "runtime", HV_X64_MSR_VP_RUNTIME, "3.EAX[0] clear");
		return;
	}
	uint64_t a = 0, b = 0;
	int r1 = rdmsr_safe(HV_X64_MSR_VP_RUNTIME, &a);
	check("runtime.read", "runtime", !r1, "RDMSR VP_RUNTIME readable (100 ns of VP run time)", "VP_RUNTIME=%s",
	      MV(r1, a));
	delay_us(1000);
	int r2 = rdmsr_safe(HV_X64_MSR_VP_RUNTIME, &b);
	check("runtime.monotonic", "runtime", !r1 && !r2 && b >= a, "VP_RUNTIME never decreases",
	      "first=%s after ~1 ms=%s", MV(r1, a), MV(r2, b));
	expect_wr_gp("runtime.write_gp", "runtime", HV_X64_MSR_VP_RUNTIME, 0, 0, "read-only");
}

static void sec_reset(void)
{
	if (!advertised("reset")) {
		expect_rd_gp("reset.absent", "reset", HV_X64_MSR_RESET, "3.EAX[7] clear");
		return;
	}
	uint64_t v = 0;
	int r = rdmsr_safe(HV_X64_MSR_RESET, &v);   /* never write 1: that resets the machine */
	check("reset.read_zero", "reset", !r && v == 0, "RDMSR RESET = 0", "RESET=%s", MV(r, v));
}

/* ------------------------------------------------------------------ synic */
static void sec_synic(void)
{
	if (!advertised("synic")) {
		expect_rd_gp("synic.absent", "synic", HV_X64_MSR_SCONTROL, "3.EAX[2] clear");
		return;
	}
	uint64_t sc = 0, ver = 0;
	int r = rdmsr_safe(HV_X64_MSR_SCONTROL, &sc);
	check("synic.scontrol.read", "synic", !r, "RDMSR SCONTROL readable", "SCONTROL=%s", MV(r, sc));
	if (!r) msr_rw("synic.scontrol.rw", "synic", HV_X64_MSR_SCONTROL, sc, ~0ull, sc, "WRMSR SCONTROL=<read value> accepted");
	r = rdmsr_safe(HV_X64_MSR_SVERSION, &ver);
	check("synic.sversion", "synic", !r && ver == HV_SYNIC_VERSION_1, "RDMSR SVERSION = 1", "SVERSION=%s",
	      MV(r, ver));
	expect_wr_gp("synic.sversion.write_gp", "synic", HV_X64_MSR_SVERSION, 1, 1, "read-only");

	char saw[320] = "";
	size_t k = 0;
	bool ok = true;
	for (uint32_t n = 0; n < HV_SYNIC_SINT_COUNT; n++) {
		uint64_t v = 0;
		int e = rdmsr_safe(hvMsrSint(n), &v);
		if (e || v != HV_SYNIC_SINT_RESET) {
			ok = false;
			k += (size_t)snprintf(saw + k, sizeof saw - k, "SINT%u=%s ", n, MV(e, v));
		}
	}
	check("synic.sint.default", "synic", ok, "SINT0..15 read 0x10000 (masked) at boot", "%s",
	      ok ? "all 16 SINTs = 0x10000" : saw);
	msr_rw("synic.sint.rw", "synic", hvMsrSint(2), HV_SYNIC_SINT_MASKED | 0x50, ~0ull, HV_SYNIC_SINT_RESET,
	       "WRMSR SINT2=0x10050 (masked, vector 0x50) reads back");
	expect_wr_gp("synic.sint.low_vector_gp", "synic", hvMsrSint(2), 0x0F, HV_SYNIC_SINT_RESET,
		     "unmasked vector < 16");
	msr_rw("synic.simp.rw", "synic", HV_X64_MSR_SIMP, GPA_SIMP | 1, ~0ull, 0, "WRMSR SIMP=gpa|1 reads back");
	msr_rw("synic.siefp.rw", "synic", HV_X64_MSR_SIEFP, GPA_SIEFP | 1, ~0ull, 0, "WRMSR SIEFP=gpa|1 reads back");
	int w = wrmsr_safe(HV_X64_MSR_EOM, 0);
	check("synic.eom.write", "synic", !w, "WRMSR EOM=0 -> no #GP", "WRMSR EOM -> %s", fault_name(w));
}

/* ------------------------------------------------------------------ stimer, stimer-direct */
static void sec_stimer(void)
{
	bool st = advertised("stimer"), direct = advertised("stimer-direct");
	if (!st) {
		expect_rd_gp("stimer.absent", "stimer", HV_X64_MSR_STIMER0_CONFIG, "3.EAX[3] clear");
	} else {
		char saw[400] = "";
		size_t k = 0;
		bool ok = true;
		for (uint32_t n = 0; n < HV_SYNIC_STIMER_COUNT; n++) {
			uint64_t val = 2ull << HvStimerConfig_sintx_shift, rb = 0;   /* sintx=2, not enabled */
			int w = wrmsr_safe(hvMsrStimerConfig(n), val);
			int r = rdmsr_safe(hvMsrStimerConfig(n), &rb);
			wrmsr_safe(hvMsrStimerConfig(n), 0);
			if (w || r || rb != val) ok = false;
			k += (size_t)snprintf(saw + k, sizeof saw - k, "%sCONFIG%u: wr %s rd %s", n ? "; " : "", n,
					      fault_name(w), MV(r, rb));
		}
		check("stimer.config.rw", "stimer", ok, "STIMERn_CONFIG (n=0..3) = 0x20000 (sintx 2, disabled) reads back",
		      "%s", saw);
		k = 0;
		ok = true;
		for (uint32_t n = 0; n < HV_SYNIC_STIMER_COUNT; n++) {
			uint64_t val = 0x123456789ull, rb = 0;
			int w = wrmsr_safe(hvMsrStimerCount(n), val);
			int r = rdmsr_safe(hvMsrStimerCount(n), &rb);
			wrmsr_safe(hvMsrStimerCount(n), 0);
			if (w || r || rb != val) ok = false;
			k += (size_t)snprintf(saw + k, sizeof saw - k, "%sCOUNT%u: wr %s rd %s", n ? "; " : "", n,
					      fault_name(w), MV(r, rb));
		}
		check("stimer.count.rw", "stimer", ok, "STIMERn_COUNT (n=0..3) reads back (timer disabled)", "%s", saw);
	}

	uint64_t direct_cfg = HvStimerConfig_direct_mode | (0xEDull << HvStimerConfig_apic_vector_shift);
	if (!direct) {
		if (st)
			expect_wr_gp("stimer-direct.absent", "stimer-direct", HV_X64_MSR_STIMER0_CONFIG, direct_cfg, 0,
				     "direct mode without 3.EDX[19]");
		else
			skip("stimer-direct.absent", "stimer-direct", "stimer not advertised");
		return;
	}
	msr_rw("stimer-direct.config", "stimer-direct", HV_X64_MSR_STIMER0_CONFIG, direct_cfg, ~0ull, 0,
	       "STIMER0_CONFIG = direct | vector 0xED (disabled) reads back");
	if (!(F_A & HvPrivilegeEax_AccessPartitionReferenceCounter)) {
		skip("stimer-direct.fire", "stimer-direct", "needs TIME_REF_COUNT for the expiry time");
		return;
	}
	/* Arm a one-shot direct timer 1 ms ahead the way Linux does (0x1ED9 then an absolute COUNT). */
	apic_enable();
	irq_count[0xED] = 0;
	uint64_t now = 0, cfg_after = 0;
	int w1 = wrmsr_safe(HV_X64_MSR_STIMER0_CONFIG, direct_cfg | HvStimerConfig_auto_enable | HvStimerConfig_enable);
	rdmsr_safe(HV_X64_MSR_TIME_REF_COUNT, &now);
	int w2 = wrmsr_safe(HV_X64_MSR_STIMER0_COUNT, now + 10000);
	uint32_t got = wait_irq(0xED, 1, rt_tsc_hz / 5);   /* up to ~200 ms */
	int r = rdmsr_safe(HV_X64_MSR_STIMER0_CONFIG, &cfg_after);
	wrmsr_safe(HV_X64_MSR_STIMER0_COUNT, 0);
	wrmsr_safe(HV_X64_MSR_STIMER0_CONFIG, 0);
	check("stimer-direct.fire", "stimer-direct", !w1 && !w2 && got == 1 && !r && !(cfg_after & 1),
	      "CONFIG=0x1ED9, COUNT=now+1ms: exactly one interrupt on vector 0xED, then enable clears (one-shot)",
	      "CONFIG wr %s, COUNT wr %s, interrupts=%u, CONFIG after=%s", fault_name(w1), fault_name(w2), got,
	      MV(r, cfg_after));
}

/* ------------------------------------------------------------------ crash */
static void sec_crash(void)
{
	if (!advertised("crash")) {
		expect_rd_gp("crash.absent", "crash", HV_X64_MSR_CRASH_CTL, "3.EDX[10] clear");
		return;
	}
	uint64_t ctl_v = 0;
	int r = rdmsr_safe(HV_X64_MSR_CRASH_CTL, &ctl_v);
	check("crash.ctl.read", "crash", !r && (ctl_v & HV_CRASH_CTL_CRASH_NOTIFY),
	      "RDMSR CRASH_CTL readable with bit 63 CrashNotify advertised", "CRASH_CTL=%s", MV(r, ctl_v));
	char saw[400] = "";
	size_t k = 0;
	bool ok = true;
	for (uint32_t n = 0; n < HV_CRASH_PARAMETER_COUNT; n++) {
		uint64_t val = 0x1111111111111111ull * (n + 1), rb = 0;
		int w = wrmsr_safe(hvMsrCrashP(n), val);
		int rr = rdmsr_safe(hvMsrCrashP(n), &rb);
		wrmsr_safe(hvMsrCrashP(n), 0);
		if (w || rr || rb != val) ok = false;
		k += (size_t)snprintf(saw + k, sizeof saw - k, "%sP%u: wr %s rd %s", n ? "; " : "", n, fault_name(w),
				      MV(rr, rb));
	}
	check("crash.params.rw", "crash", ok, "CRASH_P0..P4 accept any value and read it back", "%s", saw);
	if (opt_crash)
		check("crash.trigger", "crash", true, "crash=1: CRASH_P0..P4 then CRASH_CTL=1<<63 after @@hvprobe-done",
		      "armed: P0=0x%x P1=guest_os_id P2=0x%lx P3=0x3 P4=0x4", 0xDEAD, (uint64_t)(uintptr_t)&sec_crash);
}

static void crash_trigger(void)
{
	wrmsr_safe(hvMsrCrashP(0), 0xDEAD);
	wrmsr_safe(hvMsrCrashP(1), opt_guest_os_id);
	wrmsr_safe(hvMsrCrashP(2), (uint64_t)(uintptr_t)&sec_crash);
	wrmsr_safe(hvMsrCrashP(3), 3);
	wrmsr_safe(hvMsrCrashP(4), 4);
	wrmsr_safe(HV_X64_MSR_CRASH_CTL, HV_CRASH_CTL_CRASH_NOTIFY);
}

/* ------------------------------------------------------------------ reenlightenment */
static void sec_reenlightenment(void)
{
	if (!advertised("reenlightenment")) {
		expect_rd_gp("reenlightenment.absent", "reenlightenment", HV_X64_MSR_REENLIGHTENMENT_CONTROL,
			     "3.EAX[13] clear");
		return;
	}
	msr_rw("reenlightenment.control.rw", "reenlightenment", HV_X64_MSR_REENLIGHTENMENT_CONTROL, 0xEE, ~0ull, 0,
	       "REENLIGHTENMENT_CONTROL=0xEE (vector, not enabled) reads back");
	uint64_t v = 0;
	int r = rdmsr_safe(HV_X64_MSR_TSC_EMULATION_CONTROL, &v);
	check("reenlightenment.emulation_control.read", "reenlightenment", !r, "RDMSR TSC_EMULATION_CONTROL readable",
	      "TSC_EMULATION_CONTROL=%s", MV(r, v));
	expect_wr_gp("reenlightenment.emulation_status.write_gp", "reenlightenment", HV_X64_MSR_TSC_EMULATION_STATUS, 1,
		     0, "guest may write only 0");
}

/* ------------------------------------------------------------------ spinlocks */
static void sec_spinlocks(void)
{
	check("spinlocks.retries", "spinlocks", true, "0x40000004.EBX spinlock retries (0xFFFFFFFF = never notify)",
	      "0x40000004.EBX=0x%x", R_B);
	uint64_t rax;
	if (!hc_ok) {
		skip(advertised("spinlocks") ? "spinlocks.notify" : "spinlocks.absent", "spinlocks", "no usable hypercall page");
		return;
	}
	int f = hypercall_safe(ctl(HvCallNotifyLongSpinWait, true, 0, 0, 0), 1, 0, &rax);
	if (advertised("spinlocks") && R_B != 0)
		check("spinlocks.notify", "spinlocks", !f && hv_status(rax) == HV_STATUS_SUCCESS,
		      "HvCallNotifyLongSpinWait (0x0008, fast, count 1) -> 0", "%s", HCD(f, rax));
	else
		check("spinlocks.absent", "spinlocks",
		      !f && (hv_status(rax) == HV_STATUS_INVALID_HYPERCALL_CODE || hv_status(rax) == HV_STATUS_ACCESS_DENIED),
		      "retries 0 or 0xFFFFFFFF: HvCallNotifyLongSpinWait -> 2 or 6", "%s", HCD(f, rax));
}

/* ------------------------------------------------------------------ tlbflush, tlbflush-ext */
static void sec_tlbflush(void)
{
	bool tf = advertised("tlbflush"), ex = R_A & HvRecommendationEax_UseExProcessorMasks;
	uint64_t cr3 = read_cr3() & ~0xFFFull, rax;
	if (!hc_ok) {
		skip(tf ? "tlbflush.*" : "tlbflush.absent", "tlbflush", "no usable hypercall page");
	} else if (!tf) {
		uint64_t *in = hc_in();
		in[0] = cr3;
		int f = hypercall_safe(ctl(HvCallFlushVirtualAddressSpace, false, 0, 0, 0), GPA_HCALL_INPUT, 0, &rax);
		check("tlbflush.absent", "tlbflush",
		      !f && (hv_status(rax) == HV_STATUS_INVALID_HYPERCALL_CODE || hv_status(rax) == HV_STATUS_ACCESS_DENIED),
		      "4.EAX[2] clear: HvCallFlushVirtualAddressSpace -> 2 or 6", "%s", HCD(f, rax));
	} else {
		uint64_t *in = hc_in();
		in[0] = cr3; in[1] = 0; in[2] = 0;   /* address space, flags, empty processor mask */
		int f = hypercall_safe(ctl(HvCallFlushVirtualAddressSpace, false, 0, 0, 0), GPA_HCALL_INPUT, 0, &rax);
		check("tlbflush.flush_space", "tlbflush", !f && hv_status(rax) == HV_STATUS_SUCCESS,
		      "HvCallFlushVirtualAddressSpace (0x0002), empty mask -> 0", "%s", HCD(f, rax));

		in = hc_in();
		in[0] = cr3; in[1] = 0; in[2] = 0; in[3] = 0x200000; in[4] = 0x201000;
		f = hypercall_safe(ctl(HvCallFlushVirtualAddressList, false, 0, 2, 0), GPA_HCALL_INPUT, 0, &rax);
		check("tlbflush.flush_list", "tlbflush", !f && hv_status(rax) == HV_STATUS_SUCCESS && hv_reps(rax) == 2,
		      "HvCallFlushVirtualAddressList (0x0003), rep count 2, empty mask -> 0 with 2 reps completed", "%s",
		      HCD(f, rax));
		f = hypercall_safe(ctl(HvCallFlushVirtualAddressList, false, 0, 0, 0), GPA_HCALL_INPUT, 0, &rax);
		check("tlbflush.flush_list.rep_zero", "tlbflush",
		      !f && hv_status(rax) == HV_STATUS_INVALID_HYPERCALL_INPUT,
		      "HvCallFlushVirtualAddressList with rep count 0 -> 3", "%s", HCD(f, rax));

		if (ex) {
			in = hc_in();
			in[0] = cr3; in[1] = 0; in[2] = HV_GENERIC_SET_SPARSE_4K; in[3] = 0;   /* empty sparse set */
			f = hypercall_safe(ctl(HvCallFlushVirtualAddressSpaceEx, false, 0, 0, 0), GPA_HCALL_INPUT, 0, &rax);
			check("tlbflush.flush_space_ex", "tlbflush", !f && hv_status(rax) == HV_STATUS_SUCCESS,
			      "HvCallFlushVirtualAddressSpaceEx (0x0013), empty sparse VP set, varhead 0 -> 0", "%s",
			      HCD(f, rax));
			f = hypercall_safe(ctl(HvCallFlushVirtualAddressSpaceEx, false, 1, 0, 0), GPA_HCALL_INPUT, 0, &rax);
			check("tlbflush.flush_space_ex.bad_varhead", "tlbflush",
			      !f && hv_status(rax) == HV_STATUS_INVALID_HYPERCALL_INPUT,
			      "HvCallFlushVirtualAddressSpaceEx with varhead 1 != popcount(valid_bank_mask)=0 -> 3", "%s",
			      HCD(f, rax));
			in[4] = 0x200000; in[5] = 0x201000;
			f = hypercall_safe(ctl(HvCallFlushVirtualAddressListEx, false, 0, 2, 0), GPA_HCALL_INPUT, 0, &rax);
			check("tlbflush.flush_list_ex", "tlbflush",
			      !f && hv_status(rax) == HV_STATUS_SUCCESS && hv_reps(rax) == 2,
			      "HvCallFlushVirtualAddressListEx (0x0014), empty set, rep count 2 -> 0 with 2 reps completed",
			      "%s", HCD(f, rax));
		} else {
			skip("tlbflush.flush_space_ex", "tlbflush", "4.EAX[11] UseExProcessorMasks clear");
		}
	}
	bool ext = advertised("tlbflush-ext");
	check("tlbflush-ext.bit", "tlbflush-ext", !ext || tf,
	      "3.EDX[14] ExtendedGvaRanges reported; requires tlbflush", "3.EDX[14]=%u tlbflush=%u", ext, tf);
}

/* ------------------------------------------------------------------ ipi */
static void sec_ipi(void)
{
	bool ipi = advertised("ipi"), ex = R_A & HvRecommendationEax_UseExProcessorMasks;
	uint64_t rax;
	if (!hc_ok) {
		skip(ipi ? "ipi.*" : "ipi.absent", "ipi", "no usable hypercall page");
		return;
	}
	if (!ipi) {
		int f = hypercall_safe(ctl(HvCallSendSyntheticClusterIpi, true, 0, 0, 0), 0x40, 0, &rax);
		check("ipi.absent", "ipi",
		      !f && (hv_status(rax) == HV_STATUS_INVALID_HYPERCALL_CODE || hv_status(rax) == HV_STATUS_ACCESS_DENIED),
		      "4.EAX[10] clear: HvCallSendSyntheticClusterIpi -> 2 or 6", "%s", HCD(f, rax));
		return;
	}
	int f = hypercall_safe(ctl(HvCallSendSyntheticClusterIpi, true, 0, 0, 0), 0x40, 0, &rax);
	check("ipi.send", "ipi", !f && hv_status(rax) == HV_STATUS_SUCCESS,
	      "HvCallSendSyntheticClusterIpi (0x000B, fast, vector 0x40, empty mask) -> 0", "%s", HCD(f, rax));
	f = hypercall_safe(ctl(HvCallSendSyntheticClusterIpi, true, 0, 0, 0), 0x0F, 0, &rax);
	check("ipi.send.bad_vector", "ipi", !f && hv_status(rax) == HV_STATUS_INVALID_HYPERCALL_INPUT,
	      "HvCallSendSyntheticClusterIpi with vector 0x0F (< 0x10) -> 3", "%s", HCD(f, rax));

	apic_enable();
	irq_count[0x41] = 0;
	f = hypercall_safe(ctl(HvCallSendSyntheticClusterIpi, true, 0, 0, 0), 0x41,
			   bsp_vp_index < 64 ? 1ull << bsp_vp_index : 0, &rax);
	uint32_t got = wait_irq(0x41, 1, rt_tsc_hz / 10);
	check("ipi.send.self", "ipi", !f && hv_status(rax) == HV_STATUS_SUCCESS && got == 1,
	      "HvCallSendSyntheticClusterIpi to this VP (mask 1<<VP_INDEX, vector 0x41) -> 0 and one interrupt",
	      "%s, interrupts=%u", HCD(f, rax), got);

	if (ex) {
		uint64_t *in = hc_in();
		in[0] = 0x40; in[1] = HV_GENERIC_SET_SPARSE_4K; in[2] = 0;   /* vector|rsvd, format, valid_bank_mask */
		f = hypercall_safe(ctl(HvCallSendSyntheticClusterIpiEx, false, 0, 0, 0), GPA_HCALL_INPUT, 0, &rax);
		check("ipi.send_ex", "ipi", !f && hv_status(rax) == HV_STATUS_SUCCESS,
		      "HvCallSendSyntheticClusterIpiEx (0x0015), empty sparse VP set -> 0", "%s", HCD(f, rax));
	} else {
		skip("ipi.send_ex", "ipi", "4.EAX[11] UseExProcessorMasks clear");
	}
}

/* ------------------------------------------------------------------ xmm-input */
static void sec_xmm_input(void)
{
	bool xmm = advertised("xmm-input");
	if (!hc_ok || !advertised("tlbflush")) {
		skip(xmm ? "xmm-input.flush_space" : "xmm-input.absent", "xmm-input",
		     !hc_ok ? "no usable hypercall page" : "needs tlbflush (an XMM-fast capable call)");
		return;
	}
	/* Fast FlushVirtualAddressSpace: RDX = address space, R8 = flags, XMM0[63:0] = processor mask. */
	uint64_t x[2] = {0, 0}, rax;
	int f = hypercall_xmm_safe(ctl(HvCallFlushVirtualAddressSpace, true, 0, 0, 0), read_cr3() & ~0xFFFull, 0, x, &rax);
	if (xmm)
		check("xmm-input.flush_space", "xmm-input", !f && hv_status(rax) == HV_STATUS_SUCCESS,
		      "XMM-fast HvCallFlushVirtualAddressSpace (mask in XMM0) -> 0", "%s", HCD(f, rax));
	else
		check("xmm-input.absent", "xmm-input", FAULT_VECTOR(f) == X86_TRAP_UD && f,
		      "3.EDX[4] clear: XMM-fast HvCallFlushVirtualAddressSpace -> #UD", "%s", HCD(f, rax));
}

/* ------------------------------------------------------------------ reported bits */
static void sec_reported(void)
{
	check("relaxed.bit", "relaxed", true, "4.EAX[5] UseRelaxedTiming (reported)", "4.EAX[5]=%u", (R_A >> 5) & 1);
	check("no-nonarch-coresharing.bit", "no-nonarch-coresharing", true,
	      "4.EAX[18] NoNonArchitecturalCoreSharing (reported)", "4.EAX[18]=%u", (R_A >> 18) & 1);
	check("vendor-id.vendor", "vendor-id", true, "0x40000000.EBX:ECX:EDX vendor string (reported)", "vendor=\"%s\"",
	      vendor);
	check("avic.bit", "avic", true, "4.EAX[9] DeprecateAutoEoi (reported)", "4.EAX[9]=%u 4.EAX[3]=%u",
	      (R_A >> 9) & 1, (R_A >> 3) & 1);
	check("evmcs.bit", "evmcs", true, "4.EAX[14] UseVmcsEnlightenments, 0x4000000A.EAX[15:0] version (reported)",
	      "4.EAX[14]=%u A.EAX=0x%x max_leaf=0x%x", (R_A >> 14) & 1, N_A, max_leaf);
	check("syndbg.bit", "syndbg", true, "3.EDX[11] (reported)", "3.EDX[11]=%u", (F_D >> 11) & 1);
}

/* ------------------------------------------------------------------ SMP */
static volatile uint64_t ap_vp[MAX_APS + 1], ap_ref[MAX_APS + 1];
static volatile int ap_vp_rc[MAX_APS + 1], ap_ref_rc[MAX_APS + 1];
static volatile uint32_t ap_apic[MAX_APS + 1];

static void probe_ap(uint32_t idx)
{
	uint64_t v = 0;
	ap_apic[idx] = apic_id();
	ap_vp_rc[idx] = rdmsr_safe(HV_X64_MSR_VP_INDEX, &v);
	ap_vp[idx] = v;
	ap_ref_rc[idx] = rdmsr_safe(HV_X64_MSR_TIME_REF_COUNT, &v);
	ap_ref[idx] = v;
}

static void sec_smp(void)
{
	if (opt_smp <= 1) return;
	uint32_t want = (uint32_t)opt_smp - 1;
	uint32_t up = smp_start_aps((uint32_t)opt_smp, probe_ap, 2000000);
	uint64_t t0 = rdtsc();
	while (ap_done < up && rdtsc() - t0 < 2 * rt_tsc_hz) cpu_relax();
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!check("smp.aps_started", "base", up == want && ap_done == up, "smp=N: N-1 APs start via INIT/SIPI/SIPI",
		   "%u of %u APs started, %u finished", up, want, ap_done)) {
		skip("vpindex.unique", "vpindex", "APs did not start");
		return;
	}
	if (advertised("vpindex")) {
		char saw[400];
		size_t k = (size_t)snprintf(saw, sizeof saw, "bsp=%lu", bsp_vp_index);
		bool ok = true;
		for (uint32_t i = 1; i <= up; i++) {
			k += (size_t)snprintf(saw + k, sizeof saw - k, " ap%u(apic %u)=%s", i, ap_apic[i], MV(ap_vp_rc[i], ap_vp[i]));
			if (ap_vp_rc[i] || ap_vp[i] == bsp_vp_index) ok = false;
			for (uint32_t j = 1; j < i; j++)
				if (ap_vp[j] == ap_vp[i]) ok = false;
		}
		check("vpindex.unique", "vpindex", ok, "every VP reads a distinct VP_INDEX", "%s", saw);
	}
	if (F_A & HvPrivilegeEax_AccessPartitionReferenceCounter) {
		uint64_t now = 0;
		int r = rdmsr_safe(HV_X64_MSR_TIME_REF_COUNT, &now);
		bool ok = !r;
		char saw[400];
		size_t k = (size_t)snprintf(saw, sizeof saw, "bsp after=%s", MV(r, now));
		for (uint32_t i = 1; i <= up; i++) {
			k += (size_t)snprintf(saw + k, sizeof saw - k, " ap%u=%s", i, MV(ap_ref_rc[i], ap_ref[i]));
			if (ap_ref_rc[i] || ap_ref[i] > now) ok = false;
		}
		check("time.ref_count.cross_vp", "time", ok,
		      "TIME_REF_COUNT is partition-wide: an AP's earlier read <= the BSP's later read", "%s", saw);
	}
}

/* ------------------------------------------------------------------ teardown */
static void base_teardown(void)
{
	if (!hc_ok) return;
	int w = wrmsr_safe(HV_X64_MSR_GUEST_OS_ID, 0);
	uint64_t hc = 0;
	int r = rdmsr_safe(HV_X64_MSR_HYPERCALL, &hc);
	check("base.guest_os_id.zero_disables_hypercall", "base", !w && !r && !(hc & 1),
	      "WRMSR GUEST_OS_ID=0 clears HYPERCALL.enable", "WRMSR -> %s, HYPERCALL=%s", fault_name(w), MV(r, hc));
	hv_hypercall_pg = 0;
}

/* ------------------------------------------------------------------ selftest (selftest=1 / selftest=fatal) */
/* Exercises the runtime's fault fixups and the JSON encoder with faults every CPU model raises
 * (QEMU TCG returns 0 for unknown MSRs instead of #GP, so MSRs cannot be used for this). */
static int fault_ud(void)
{
	uint64_t f;
	__asm__ volatile("xor %%esi, %%esi\n\t1: ud2\n\t2:\n\t" EXTABLE(1b, 2b) : "=&S"(f)::"memory");
	return (int)f;
}
static int fault_gp(void)
{
	uint64_t f;
	__asm__ volatile("xor %%esi, %%esi\n\tmov $0xfff8, %%eax\n\t1: mov %%eax, %%es\n\t2:\n\t" EXTABLE(1b, 2b)
			 : "=&S"(f)::"eax", "memory");
	return (int)f;
}
static void selftest(bool fatal_run)
{
	if (fatal_run) {
		printf("@@selftest unguarded ud2 follows\n");
		__asm__ volatile("ud2");
	}
	int f = fault_ud();
	check("selftest.fixup_ud", "selftest", FAULT_VECTOR(f) == X86_TRAP_UD && f, "ud2 with a fixup -> #UD, resumed",
	      "%s", fault_name(f));
	f = fault_gp();
	check("selftest.fixup_gp", "selftest", FAULT_VECTOR(f) == X86_TRAP_GP && f,
	      "loading selector 0xfff8 with a fixup -> #GP, resumed", "%s err=0x%lx", fault_name(f), last_fault.error);

	uint8_t *pg = (uint8_t *)(uint64_t)GPA_SELFTEST_PAGE;
	void *saved = hv_hypercall_pg;
	hv_hypercall_pg = pg;
	uint64_t rax = 0;
	static const uint8_t stub_ok[] = {0xb8, 0x2a, 0x00, 0x00, 0x00, 0xc3};            /* mov $42,%eax; ret */
	static const uint8_t stub_ud[] = {0x0f, 0x0b, 0xc3};                              /* ud2; ret */
	static const uint8_t stub_gp[] = {0xb8, 0xf8, 0xff, 0x00, 0x00, 0x8e, 0xc0, 0xc3}; /* mov $0xfff8,%eax; mov %eax,%es; ret */
	memset(pg, 0xCC, 4096);
	memcpy(pg, stub_ok, sizeof stub_ok);
	f = hypercall_safe(0x1234, 1, 2, &rax);
	check("selftest.stub_call", "selftest", !f && rax == 42, "CALL into a page stub returning RAX=42",
	      "%s", HCD(f, rax));
	memcpy(pg, stub_ud, sizeof stub_ud);
	f = hypercall_safe(0x1234, 1, 2, &rax);
	check("selftest.stub_ud", "selftest", FAULT_VECTOR(f) == X86_TRAP_UD && f,
	      "#UD inside the page unwinds to the call site", "%s", HCD(f, rax));
	memcpy(pg, stub_gp, sizeof stub_gp);
	f = hypercall_safe(0x1234, 1, 2, &rax);
	check("selftest.stub_gp", "selftest", FAULT_VECTOR(f) == X86_TRAP_GP && f,
	      "#GP inside the page unwinds to the call site", "%s", HCD(f, rax));
	hv_hypercall_pg = saved;
	check("selftest.json", "selftest", true, "saw is the JSON string: quote\" backslash\\ tab\t ctl\\u0001 hi\\u0080",
	      "quote\" backslash\\ tab\t ctl\x01 hi\x80");
}

/* ------------------------------------------------------------------ main */
static const char *const all_sections[] = {"base.hypercall", "vpindex", "frequencies", "time", "vapic", "runtime",
					   "reset", "synic", "stimer", "stimer-direct", "crash", "reenlightenment",
					   "spinlocks", "tlbflush", "tlbflush-ext", "ipi", "xmm-input", "relaxed",
					   "no-nonarch-coresharing", "vendor-id", 0};

int guest_main(const char *cmdline)
{
	char v[64];
	opt_guest_os_id = cmdline_u64(cmdline, "guest_os_id", opt_guest_os_id);
	opt_iters = cmdline_u64(cmdline, "iters", opt_iters);
	if (!opt_iters) opt_iters = 1;
	opt_smp = cmdline_u64(cmdline, "smp", 1);
	opt_crash = cmdline_u64(cmdline, "crash", 0);
	opt_clock_ms = cmdline_u64(cmdline, "clock_ms", opt_clock_ms);
	opt_hv = cmdline_u64(cmdline, "hv", 1);
	if (cmdline_get(cmdline, "vendor", v, sizeof v)) strncpy_z(opt_vendor, v, sizeof opt_vendor);
	have_expect = cmdline_get(cmdline, "expect", opt_expect, sizeof opt_expect);

	struct jb j = {{0}, 0};
	jb_raw(&j, "\n@@hvprobe-start {\"version\":1");   /* own line even after firmware output */
	jb_kv_str(&j, "cmdline", cmdline, true);
	jb_raw(&j, "}\n");
	printf("%s", j.b);

	if (cmdline_get(cmdline, "selftest", v, sizeof v)) selftest(!strcmp(v, "fatal"));
	if (!opt_hv) {
		/* hv=0: the profile has no Hyper-V; check that nothing of it leaks. */
		base_cpuid();
		expect_rd_gp("base.absent.guest_os_id", "base", HV_X64_MSR_GUEST_OS_ID, "hv=0: no Hyper-V interface");
		expect_rd_gp("base.absent.hypercall", "base", HV_X64_MSR_HYPERCALL, "hv=0: no Hyper-V interface");
	} else if (!base_cpuid()) {
		skip_sections(all_sections, "no Hyper-V interface (0x40000001.EAX != \"Hv#1\")");
	} else {
		profile_checks();
		base_hypercall();
		sec_vpindex();
		sec_frequencies();
		sec_time();
		sec_vapic();
		sec_runtime();
		sec_reset();
		sec_synic();
		sec_stimer();
		sec_crash();
		sec_reenlightenment();
		sec_spinlocks();
		sec_tlbflush();
		sec_ipi();
		sec_xmm_input();
		sec_reported();
		sec_smp();
		base_teardown();
	}

	printf("@@hvprobe-done {\"passed\":%d,\"failed\":%d,\"skipped\":%d}\n", n_pass, n_fail, n_skip);
	if (opt_hv && opt_crash && advertised("crash")) crash_trigger();
	return n_fail ? 1 : 0;
}
