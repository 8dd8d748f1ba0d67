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
static uint64_t opt_periodic = 1;
static uint64_t opt_eoi = 1;   /* eoi=0: skip synic.auto_eoi and vapic.exitless_eoi (a VMM on KVM's in-kernel LAPIC) */
static uint64_t opt_tsc_change_wait = 0;   /* seconds to wait for a reenlightenment notification (0: off) */
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

/* ------------------------------------------------------------------ vapic: exit-less EOI through the VP assist page */
#define EL_VEC 0x54
#define EL_ROUNDS 64
static volatile uint32_t el_skipped, el_written;
/* Linux's hv_apic_eoi_write: clear apic_assist; when "no EOI required" was set, skip the EOI. */
static void assist_eoi(void)
{
	volatile uint32_t *assist = (volatile uint32_t *)(uint64_t)GPA_VP_ASSIST_PAGE;
	if (__atomic_exchange_n(assist, 0, __ATOMIC_SEQ_CST) & 1) {
		el_skipped++;
		return;
	}
	el_written++;
	wrmsr_safe(HV_X64_MSR_EOI, 0);
}
static void msr_eoi(void) { wrmsr_safe(HV_X64_MSR_EOI, 0); }

/* EL_ROUNDS self-IPIs through HV_X64_MSR_ICR, each taken (IF=1) and EOI'd by `eoi`; returns cycles per round, 0 when one got lost. */
static uint64_t el_rounds(void (*eoi)(void), uint32_t *got)
{
	irq_eoi = eoi;
	irq_count[EL_VEC] = 0;
	uint64_t t0 = rdtsc();
	for (uint32_t i = 0; i < EL_ROUNDS; i++) {
		wrmsr_safe(HV_X64_MSR_ICR, 0x40000ull | EL_VEC);   /* fixed, edge, self shorthand */
		uint64_t t1 = rdtsc();
		sti();
		while (irq_count[EL_VEC] == i && rdtsc() - t1 < rt_tsc_hz / 20) cpu_relax();
		cli();
	}
	uint64_t c = (rdtsc() - t0) / EL_ROUNDS;
	irq_eoi = apic_eoi;
	*got = irq_count[EL_VEC];
	return *got == EL_ROUNDS ? c : 0;
}

static void vapic_exitless_eoi(bool page_ok)
{
	if (!opt_eoi) {
		skip("vapic.exitless_eoi", "vapic", "eoi=0 on the command line");
		return;
	}
	if (!page_ok) {
		skip("vapic.exitless_eoi", "vapic", "the VP assist page could not be enabled");
		return;
	}
	apic_enable();
	uint32_t got_msr = 0, got_el = 0;
	uint64_t c_msr = el_rounds(msr_eoi, &got_msr);
	el_skipped = el_written = 0;
	uint64_t c_el = el_rounds(assist_eoi, &got_el);
	bool isr = apic_isr_bit(EL_VEC);   /* an exit: the VMM completes the last skipped EOI first */
	bool ok = got_msr == EL_ROUNDS && got_el == EL_ROUNDS && el_skipped == EL_ROUNDS && el_written == 0 && !isr;
	check_cost("vapic.exitless_eoi", "vapic", ok,
		   "64 self-IPIs via HV_X64_MSR_ICR, each EOI'd as Linux does (xchg apic_assist: bit 0 set -> skip the "
		   "EOI): every one arrives with \"no EOI required\" set, no EOI write, vector not in ISR at the end; "
		   "hv completes the skipped EOIs (counted as exitless_eoi) (cycles per IPI round trip: exit-less EOI vs "
		   "HV_X64_MSR_EOI)",
		   (int64_t)c_el, (int64_t)c_msr, "MSR EOI: %u/%u irqs; exit-less: %u/%u irqs, skipped=%u written=%u, isr=%d",
		   got_msr, EL_ROUNDS, got_el, EL_ROUNDS, el_skipped, el_written, isr);
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
	bool page_ok = !w && !r && rb == (GPA_VP_ASSIST_PAGE | 1);
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
	vapic_exitless_eoi(page_ok);
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

/* ------------------------------------------------------------------ status codes and messages used below */
#ifndef HV_STATUS_INVALID_CONNECTION_ID
#define HV_STATUS_INVALID_CONNECTION_ID 0x12u
#endif
#ifndef HV_STATUS_INSUFFICIENT_BUFFERS
#define HV_STATUS_INSUFFICIENT_BUFFERS 0x13u
#endif
#ifndef HV_STATUS_INVALID_PORT_ID
#define HV_STATUS_INVALID_PORT_ID 0x11u
#endif
#define HVMSG_TIMER_EXPIRED_ 0x80000010u
#define HV_REF_PER_SEC 10000000ull          /* TIME_REF_COUNT ticks (100 ns) per second */
#define TESTDEV_PORT 0x3000                 /* QEMU hyperv-testdev: conn<<24 | ctl<<16 | vp<<8 | sint */
#define TESTDEV_MSG_CONN_CREATE 4
#define TESTDEV_MSG_CONN_DESTROY 5
#define TESTDEV_EVT_CONN_CREATE 6
#define TESTDEV_EVT_CONN_DESTROY 7

/* One SIMP slot (256 bytes): header, then the payload. */
struct hv_msg {
	volatile uint32_t type;
	volatile uint8_t payload_size, flags;   /* flags bit 0: msg_pending */
	uint16_t reserved;
	volatile uint64_t sender;
	volatile uint64_t payload[30];
};
static struct hv_msg *simp_slot(uint32_t sint) { return (struct hv_msg *)(uint64_t)(GPA_SIMP + sint * 256); }

static bool ref_now(uint64_t *t) { return rdmsr_safe(HV_X64_MSR_TIME_REF_COUNT, t) == 0; }

/* Interrupt windows with IF=1 on the BSP, bounded in TSC cycles. */
static void sti_window(uint64_t cycles)
{
	uint64_t t0 = rdtsc();
	sti();
	while (rdtsc() - t0 < cycles) cpu_relax();
	cli();
}

/* Makes sure SCONTROL.enable is set and SIMP (and optionally SIEFP) point at zeroed pages. */
static bool synic_on(bool siefp)
{
	uint64_t sc = 0;
	if (rdmsr_safe(HV_X64_MSR_SCONTROL, &sc) || wrmsr_safe(HV_X64_MSR_SCONTROL, sc | 1)) return false;
	memset((void *)(uint64_t)GPA_SIMP, 0, 4096);
	if (wrmsr_safe(HV_X64_MSR_SIMP, GPA_SIMP | 1)) return false;
	if (siefp) {
		memset((void *)(uint64_t)GPA_SIEFP, 0, 4096);
		if (wrmsr_safe(HV_X64_MSR_SIEFP, GPA_SIEFP | 1)) return false;
	}
	return true;
}
static void synic_off(void)
{
	wrmsr_safe(HV_X64_MSR_SIMP, 0);
	wrmsr_safe(HV_X64_MSR_SIEFP, 0);
}

/* ------------------------------------------------------------------ stimer: 1 ms periodic, message and direct */
#define ST_SINT 2
#define ST_MSG_VEC 0x50
#define ST_DIRECT_VEC 0x51
static volatile uint64_t st_msgs, st_bad, st_bad_type, st_late_max, st_late_sum, st_prev_exp, st_skipped;

/* Message-mode handler: consume the HVMSG_TIMER_EXPIRED in the slot, free it, then EOM. */
static void stimer_msg_hook(uint32_t vec)
{
	struct hv_msg *m = simp_slot(ST_SINT);
	uint32_t type = m->type;
	if (type == HVMSG_TIMER_EXPIRED_) {
		uint32_t idx = (uint32_t)m->payload[0];
		uint64_t exp = m->payload[1], del = m->payload[2];
		st_msgs++;
		if (idx != 0) st_bad++;
		if (st_prev_exp && exp > st_prev_exp + 10000) st_skipped += (exp - st_prev_exp) / 10000 - 1;
		st_prev_exp = exp;
		uint64_t late = del > exp ? del - exp : 0;
		st_late_sum += late;
		if (late > st_late_max) st_late_max = late;
	} else {
		st_bad_type = type ? type : 0xFFFFFFFFu;   /* an interrupt without a timer message */
	}
	m->type = 0;
	mfence();
	wrmsr_safe(HV_X64_MSR_EOM, 0);
}

static void stimer_periodic(bool direct)
{
	const char *id = direct ? "stimer.periodic_1ms.direct" : "stimer.periodic_1ms.message";
	const char *enl = direct ? "stimer-direct" : "stimer";
	uint8_t vec = direct ? ST_DIRECT_VEC : ST_MSG_VEC;
	if (!direct && !advertised("synic")) {
		skip(id, enl, "message mode needs synic (SIMP, SINTx)");
		return;
	}
	if (!direct && !synic_on(false)) {
		skip(id, enl, "could not enable SCONTROL/SIMP");
		return;
	}
	apic_enable();
	st_msgs = st_bad = st_bad_type = st_late_max = st_late_sum = st_prev_exp = st_skipped = 0;
	irq_count[vec] = 0;
	uint64_t cfg = HvStimerConfig_enable | HvStimerConfig_periodic;
	int ws = 0;
	if (direct) {
		cfg |= HvStimerConfig_direct_mode | ((uint64_t)vec << HvStimerConfig_apic_vector_shift);
	} else {
		irq_hook[vec] = stimer_msg_hook;
		ws = wrmsr_safe(hvMsrSint(ST_SINT), vec);   /* unmasked, no auto-EOI */
		cfg |= (uint64_t)ST_SINT << HvStimerConfig_sintx_shift;
	}
	int w1 = wrmsr_safe(HV_X64_MSR_STIMER0_COUNT, 10000);   /* period 1 ms in 100 ns units */
	int w2 = wrmsr_safe(HV_X64_MSR_STIMER0_CONFIG, cfg);
	/* Warm up (~20 expiries or 200 ms), then count over one second of reference time. */
	uint64_t t0 = rdtsc();
	sti();
	while (irq_count[vec] < 20 && rdtsc() - t0 < rt_tsc_hz / 5) cpu_relax();
	cli();
	uint64_t r0 = 0, r1 = 0, now = 0;
	bool rok = ref_now(&r0);
	uint32_t c0 = irq_count[vec];
	uint64_t m0 = st_msgs;
	uint64_t sk0 = st_skipped;
	t0 = rdtsc();
	sti();
	/* Halt between interrupts rather than spin on TIME_REF_COUNT (an exit to the VMM per read, and a
	 * busy vCPU thread competing with the VMM's timer on a small host); the local APIC timer (vector
	 * 0x5F, every ~10 ms) bounds every hlt. The window itself is measured in reference time. */
	cli();
	apic_timer_periodic(0x5F, 10000000);
	while (rok && rdtsc() - t0 < rt_tsc_hz) sti_hlt_cli();
	apic_timer_periodic(0x5F, 0);
	sti();
	while (rok && ref_now(&now) && now - r0 < HV_REF_PER_SEC && rdtsc() - t0 < 3 * rt_tsc_hz) cpu_relax();
	cli();
	rok = rok && ref_now(&r1);
	uint32_t c1 = irq_count[vec];
	uint64_t m1 = st_msgs, sk1 = st_skipped;
	uint64_t cfg_run = 0;
	rdmsr_safe(HV_X64_MSR_STIMER0_CONFIG, &cfg_run);
	wrmsr_safe(HV_X64_MSR_STIMER0_CONFIG, 0);
	wrmsr_safe(HV_X64_MSR_STIMER0_COUNT, 0);
	sti_window(rt_tsc_hz / 200);   /* drain an expiry already in flight */
	if (!direct) {
		wrmsr_safe(hvMsrSint(ST_SINT), HV_SYNIC_SINT_RESET);
		synic_off();
		irq_hook[vec] = 0;
	}
	uint64_t win = r1 - r0, n = c1 - c0, msgs = m1 - m0;
	uint64_t expect_n = rok ? win / 10000 : 0;
	bool ok = !ws && !w1 && !w2 && rok && expect_n && absdiff(n, expect_n) * 50 <= expect_n &&
		  absdiff(muldiv(n, HV_REF_PER_SEC, win ? win : 1), 1000) <= 20;
	if (!direct) ok = ok && msgs == n && !st_bad && !st_bad_type;
	char extra[240] = "";
	if (!direct)
		snprintf(extra, sizeof extra, ", timer messages=%lu bad_index=%lu non-timer slot=0x%lx, periods skipped "
			 "(expiration_time gaps)=%lu, delivery-expiration avg=%lu max=%lu (x100ns)",
			 msgs, st_bad, st_bad_type, sk1 - sk0, st_msgs ? st_late_sum / st_msgs : 0, st_late_max);
	check(id, enl, ok,
	      direct ? "STIMER0 periodic 1 ms, direct mode (vector 0x51 via the IDT, EOI at the local APIC): 1000 +/- 2% "
		       "expiries per second of reference time"
		     : "STIMER0 periodic 1 ms, message mode (SINT2 vector 0x50, HVMSG_TIMER_EXPIRED in the SIMP slot, "
		       "handler clears the slot + EOM): 1000 +/- 2% expiries per second of reference time",
	      "SINT wr %s, COUNT wr %s, CONFIG=0x%lx wr %s (read 0x%lx while running); %lu interrupts over %lu x100ns "
	      "(expected %lu, %lu/s)%s",
	      fault_name(ws), fault_name(w1), cfg, fault_name(w2), cfg_run, n, win, expect_n,
	      win ? muldiv(n, HV_REF_PER_SEC, win) : 0, extra);
}

/* ------------------------------------------------------------------ synic: HvPostMessage / HvSignalEvent via hyperv-testdev */
#define POST_SINT 3
#define POST_VEC 0x52
#define POST_CONN 0x21
#define EVT_SINT 4
#define EVT_VEC 0x53
#define EVT_CONN 0x22

static uint64_t post_message(uint32_t conn, uint32_t type, uint64_t word, int *fault)
{
	uint64_t *in = hc_in(), rax = 0;
	in[0] = conn;                                   /* connection_id, reserved */
	in[1] = type | ((uint64_t)8 << 32);             /* message_type, payload_size = 8 */
	in[2] = word;
	*fault = hypercall_safe(ctl(HvCallPostMessage, false, 0, 0, 0), GPA_HCALL_INPUT, 0, &rax);
	return rax;
}

static void synic_post_signal(void)
{
	bool post = F_B & HvPrivilegeEbx_PostMessages, sig = F_B & HvPrivilegeEbx_SignalEvents;
	if (!hc_ok || !post) {
		skip("synic.post.busy_then_eom", "synic", !hc_ok ? "no usable hypercall page" : "3.EBX[4] PostMessages clear");
	}
	if (!hc_ok || !sig) {
		skip("synic.signal_event", "synic", !hc_ok ? "no usable hypercall page" : "3.EBX[5] SignalEvents clear");
	}
	if (!hc_ok || (!post && !sig)) return;
	if (!synic_on(true)) {
		if (post) skip("synic.post.busy_then_eom", "synic", "could not enable SCONTROL/SIMP/SIEFP");
		if (sig) skip("synic.signal_event", "synic", "could not enable SCONTROL/SIMP/SIEFP");
		return;
	}
	apic_enable();
	uint32_t vp = (uint32_t)bsp_vp_index;
	if (post) {
		wrmsr_safe(hvMsrSint(POST_SINT), POST_VEC);
		outl(TESTDEV_PORT, (uint32_t)POST_CONN << 24 | TESTDEV_MSG_CONN_CREATE << 16 | vp << 8 | POST_SINT);
		struct hv_msg *m = simp_slot(POST_SINT);
		irq_count[POST_VEC] = 0;
		int f1, f2;
		uint64_t t0 = rdtsc();
		uint64_t r1 = post_message(POST_CONN, 0x4242, 0x1111111111111111ull, &f1);
		uint64_t c_post = rdtsc() - t0;
		/* The testdev path may deliver asynchronously: wait (bounded) for the first message. */
		t0 = rdtsc();
		while (m->type != 0x4242 && rdtsc() - t0 < rt_tsc_hz / 10) cpu_relax();
		uint32_t type1 = m->type;
		uint64_t pay1 = m->payload[0];
		sti_window(rt_tsc_hz / 100);   /* take the SINT (counted, EOI'd; the slot stays busy) */
		uint32_t irq1 = irq_count[POST_VEC];
		if (!f1 && (hv_status(r1) == HV_STATUS_INVALID_CONNECTION_ID || hv_status(r1) == HV_STATUS_INVALID_HYPERCALL_CODE)) {
			char why[96];
			snprintf(why, sizeof why, "HvPostMessage -> status 0x%x: no hyperv-testdev message connection at port 0x3000",
				 hv_status(r1));
			skip("synic.post.busy_then_eom", "synic", why);
		} else {
			uint64_t r2 = post_message(POST_CONN, 0x4243, 0x2222222222222222ull, &f2);
			t0 = rdtsc();
			while (!(m->flags & 1) && hv_status(r2) == HV_STATUS_SUCCESS && rdtsc() - t0 < rt_tsc_hz / 10) cpu_relax();
			uint8_t flags_busy = m->flags;
			uint32_t type_busy = m->type;
			m->type = 0;
			mfence();
			int we = wrmsr_safe(HV_X64_MSR_EOM, 0);
			bool requeue = !f2 && hv_status(r2) == HV_STATUS_INSUFFICIENT_BUFFERS;
			uint64_t r3 = 0;
			int f3 = 0;
			if (requeue) r3 = post_message(POST_CONN, 0x4243, 0x2222222222222222ull, &f3);   /* retry after EOM */
			t0 = rdtsc();
			while (m->type != 0x4243 && rdtsc() - t0 < rt_tsc_hz / 10) cpu_relax();
			uint32_t type2 = m->type;
			uint64_t pay2 = m->payload[0];
			sti_window(rt_tsc_hz / 100);
			uint32_t irq2 = irq_count[POST_VEC];
			bool ok = !f1 && hv_status(r1) == HV_STATUS_SUCCESS && type1 == 0x4242 && pay1 == 0x1111111111111111ull &&
				  irq1 == 1 && !f2 && type_busy == 0x4242 &&
				  ((hv_status(r2) == HV_STATUS_SUCCESS && (flags_busy & 1)) ||
				   (requeue && !f3 && hv_status(r3) == HV_STATUS_SUCCESS)) &&
				  !we && type2 == 0x4243 && pay2 == 0x2222222222222222ull && irq2 == 2;
			check_cost("synic.post.busy_then_eom", "synic", ok,
				   "HvPostMessage (0x5C) via testdev connection to (this VP, SINT3): 1st delivered + SINT; 2nd "
				   "to the busy slot -> 0 with msg_pending set (or 0x13 and accepted after EOM); clear slot + "
				   "EOM -> 2nd delivered + SINT (cycles: one HvPostMessage)",
				   (int64_t)c_post, -1,
				   "1st %s slot type=0x%x payload=0x%lx irqs=%u; 2nd %s slot type=0x%x flags=0x%x; EOM %s%s%s; "
				   "after EOM slot type=0x%x payload=0x%lx irqs=%u",
				   HCD(f1, r1), type1, pay1, irq1, HCD(f2, r2), type_busy, flags_busy, fault_name(we),
				   requeue ? ", re-post " : "", requeue ? HCD(f3, r3) : "", type2, pay2, irq2);
		}
		m->type = 0;
		wrmsr_safe(HV_X64_MSR_EOM, 0);
		outl(TESTDEV_PORT, (uint32_t)POST_CONN << 24 | TESTDEV_MSG_CONN_DESTROY << 16);
		wrmsr_safe(hvMsrSint(POST_SINT), HV_SYNIC_SINT_RESET);
	}
	if (sig) {
		wrmsr_safe(hvMsrSint(EVT_SINT), EVT_VEC);
		outl(TESTDEV_PORT, (uint32_t)EVT_CONN << 24 | TESTDEV_EVT_CONN_CREATE << 16 | vp << 8 | EVT_SINT);
		volatile uint8_t *flags = (volatile uint8_t *)(uint64_t)(GPA_SIEFP + EVT_SINT * 256);
		uint8_t bit = 1u << (EVT_CONN & 7);
		irq_count[EVT_VEC] = 0;
		uint64_t ra, rb, rc, c_sig = 0;
		uint64_t t0 = rdtsc();
		int fa = hypercall_safe(ctl(HvCallSignalEvent, true, 0, 0, 0), EVT_CONN, 0, &ra);
		c_sig = rdtsc() - t0;
		t0 = rdtsc();
		while (!(flags[EVT_CONN / 8] & bit) && rdtsc() - t0 < rt_tsc_hz / 10) cpu_relax();
		uint8_t fl1 = flags[EVT_CONN / 8];
		sti_window(rt_tsc_hz / 100);
		uint32_t i1 = irq_count[EVT_VEC];
		if (!fa && (hv_status(ra) == HV_STATUS_INVALID_CONNECTION_ID || hv_status(ra) == HV_STATUS_INVALID_PORT_ID ||
			    hv_status(ra) == HV_STATUS_INVALID_HYPERCALL_CODE)) {
			char why[96];
			snprintf(why, sizeof why, "HvSignalEvent -> status 0x%x: no hyperv-testdev event connection at port 0x3000",
				 hv_status(ra));
			skip("synic.signal_event", "synic", why);
		} else {
			int fb = hypercall_safe(ctl(HvCallSignalEvent, true, 0, 0, 0), EVT_CONN, 0, &rb);   /* flag still set */
			sti_window(rt_tsc_hz / 100);
			uint32_t i2 = irq_count[EVT_VEC];
			__atomic_and_fetch(&flags[EVT_CONN / 8], (uint8_t)~bit, __ATOMIC_SEQ_CST);
			wrmsr_safe(HV_X64_MSR_EOM, 0);
			int fc = hypercall_safe(ctl(HvCallSignalEvent, true, 0, 0, 0), EVT_CONN, 0, &rc);   /* 0 -> 1 again */
			t0 = rdtsc();
			while (!(flags[EVT_CONN / 8] & bit) && rdtsc() - t0 < rt_tsc_hz / 10) cpu_relax();
			uint8_t fl3 = flags[EVT_CONN / 8];
			sti_window(rt_tsc_hz / 100);
			uint32_t i3 = irq_count[EVT_VEC];
			bool ok = !fa && hv_status(ra) == 0 && (fl1 & bit) && i1 == 1 && !fb && hv_status(rb) == 0 && i2 == 1 &&
				  !fc && hv_status(rc) == 0 && (fl3 & bit) && i3 == 2;
			check_cost("synic.signal_event", "synic", ok,
				   "HvSignalEvent (0x5D, fast) on a testdev event connection (this VP, SINT4, flag 0x22): sets "
				   "the SIEFP flag and raises the SINT only on 0->1 (signal, signal again, clear, signal: 1, 1, 2 "
				   "interrupts) (cycles: one HvSignalEvent)",
				   (int64_t)c_sig, -1, "1st %s flag byte=0x%x irqs=%u; 2nd (flag set) %s irqs=%u; after clear: %s flag byte=0x%x irqs=%u",
				   HCD(fa, ra), fl1, i1, HCD(fb, rb), i2, HCD(fc, rc), fl3, i3);
		}
		outl(TESTDEV_PORT, (uint32_t)EVT_CONN << 24 | TESTDEV_EVT_CONN_DESTROY << 16);
		wrmsr_safe(hvMsrSint(EVT_SINT), HV_SYNIC_SINT_RESET);
	}
	synic_off();
}

/* ------------------------------------------------------------------ synic: auto-EOI SINTs via hyperv-testdev */
#define TESTDEV_SINT_ROUTE_CREATE 1
#define TESTDEV_SINT_ROUTE_DESTROY 2
#define TESTDEV_SINT_ROUTE_SET_SINT 3
#define AEOI_SINT 5
#define AEOI_VEC 0x55
#define HV_SYNIC_SINT_AUTO_EOI (1ull << 17)

/* Raises (this VP, AEOI_SINT) through the testdev and waits (bounded, IF=1) until the count moves; returns cycles. */
static uint64_t aeoi_raise(uint32_t vp, uint64_t bound)
{
	uint32_t before = irq_count[AEOI_VEC];
	uint64_t t0 = rdtsc();
	outl(TESTDEV_PORT, (uint32_t)TESTDEV_SINT_ROUTE_SET_SINT << 16 | vp << 8 | AEOI_SINT);
	sti();
	while (irq_count[AEOI_VEC] == before && rdtsc() - t0 < bound) cpu_relax();
	cli();
	return rdtsc() - t0;
}

static void synic_auto_eoi(void)
{
	if (!opt_eoi) {
		skip("synic.auto_eoi", "synic", "eoi=0 on the command line");
		return;
	}
	if (!synic_on(false)) {
		skip("synic.auto_eoi", "synic", "could not enable SCONTROL/SIMP");
		return;
	}
	apic_enable();
	uint32_t vp = (uint32_t)bsp_vp_index;
	uint64_t bound = rt_tsc_hz / 20;
	outl(TESTDEV_PORT, (uint32_t)TESTDEV_SINT_ROUTE_CREATE << 16 | vp << 8 | AEOI_SINT);
	irq_no_eoi[AEOI_VEC] = 1;   /* the handler writes no EOI */
	irq_count[AEOI_VEC] = 0;
	/* Auto-EOI: each SINT is acknowledged without entering ISR, so two arrive without any EOI. */
	int w1 = wrmsr_safe(hvMsrSint(AEOI_SINT), AEOI_VEC | HV_SYNIC_SINT_AUTO_EOI);
	uint64_t c_auto = aeoi_raise(vp, bound);
	uint32_t i1 = irq_count[AEOI_VEC];
	bool isr1 = apic_isr_bit(AEOI_VEC);
	aeoi_raise(vp, bound);
	uint32_t i2 = irq_count[AEOI_VEC];
	bool isr2 = apic_isr_bit(AEOI_VEC);
	/* Control, the same SINT without auto-EOI: the vector stays in service and blocks the next one until an EOI. */
	int w2 = wrmsr_safe(hvMsrSint(AEOI_SINT), AEOI_VEC);
	uint64_t c_plain = aeoi_raise(vp, bound);
	uint32_t i3 = irq_count[AEOI_VEC];
	bool isr3 = apic_isr_bit(AEOI_VEC);
	aeoi_raise(vp, rt_tsc_hz / 100);
	uint32_t i4 = irq_count[AEOI_VEC];
	uint64_t t0 = rdtsc();
	apic_eoi();
	uint64_t c_eoi = rdtsc() - t0;
	sti_window(rt_tsc_hz / 100);
	uint32_t i5 = irq_count[AEOI_VEC];
	apic_eoi();   /* the one that arrived after the EOI */
	bool ok = !w1 && !w2 && i1 == 1 && !isr1 && i2 == 2 && !isr2 && i3 == 3 && isr3 && i4 == 3 && i5 == 4;
	check_cost("synic.auto_eoi", "synic", ok,
		   "SINT5 with auto-EOI (bit 17) raised twice through the testdev, handler writes no EOI: 2 interrupts, "
		   "vector never in ISR; without auto-EOI the vector stays in ISR and blocks the next raise until an "
		   "EOI (cycles: raise to handler with auto-EOI vs. the same plus the EOI write it saves)",
		   (int64_t)c_auto, (int64_t)(c_plain + c_eoi),
		   "SINT wr %s/%s; auto-EOI: irqs=%u isr=%d, irqs=%u isr=%d; plain: irqs=%u isr=%d, blocked irqs=%u, after EOI "
		   "irqs=%u; EOI write %lu cycles",
		   fault_name(w1), fault_name(w2), i1, isr1, i2, isr2, i3, isr3, i4, i5, c_eoi);
	irq_no_eoi[AEOI_VEC] = 0;
	wrmsr_safe(hvMsrSint(AEOI_SINT), HV_SYNIC_SINT_RESET);
	outl(TESTDEV_PORT, (uint32_t)TESTDEV_SINT_ROUTE_DESTROY << 16 | vp << 8 | AEOI_SINT);
	synic_off();
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
	synic_post_signal();
	synic_auto_eoi();
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
		if (opt_periodic) stimer_periodic(false);
		else skip("stimer.periodic_1ms.message", "stimer", "periodic=0 on the command line");
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
	if (opt_periodic) stimer_periodic(true);
	else skip("stimer.periodic_1ms.direct", "stimer-direct", "periodic=0 on the command line");
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

/* ------------------------------------------------------------------ reenlightenment: a real TSC frequency change */
/* tsc_change_wait=N: arm the reenlightenment notification on the BSP (VP 0) with TSC emulation
 * requested, then wait up to N s of guest run time, counted with the TSC (sti; hlt, the local APIC
 * timer at 0x5F bounding each hlt) for hv to announce a TSC frequency change (hv run --save / --restore onto a host with
 * another TSC frequency). The vector is one no other check uses. */
#define RE_VEC 0x56
#define RE_WAIT_MAX 3600
static volatile uint32_t re_irqs, re_apic;
static volatile uint64_t re_status, re_ref;
static volatile int re_status_rc, re_ref_rc;
static bool re_refc;   /* TIME_REF_COUNT advertised: the handler reads it too */

static void reenl_hook(uint32_t vec)
{
	uint64_t st = 0;
	int rc = rdmsr_safe(HV_X64_MSR_TSC_EMULATION_STATUS, &st);
	if (!re_irqs) {   /* keep what the first notification saw */
		re_status = st;
		re_status_rc = rc;
		re_apic = apic_id();
		uint64_t r = 0;
		re_ref_rc = re_refc ? rdmsr_safe(HV_X64_MSR_TIME_REF_COUNT, &r) : 1;
		re_ref = r;
	}
	re_irqs++;
}

static void reenl_tsc_change(void)
{
	if (!opt_tsc_change_wait || !advertised("reenlightenment")) return;
	const char *enl = "reenlightenment";
	uint64_t secs = opt_tsc_change_wait > RE_WAIT_MAX ? RE_WAIT_MAX : opt_tsc_change_wait;
	bool refc = F_A & HvPrivilegeEax_AccessPartitionReferenceCounter;
	bool refp = F_A & HvPrivilegeEax_AccessPartitionReferenceTsc;
	bool freqs = advertised("frequencies");
	uint64_t hz_before = rt_tsc_hz;   /* bounds the wait: TSC_FREQUENCY when known, else the runtime's estimate */

	/* 1. Arm: handler, notification on VP 0 with TSC emulation, then the clocks before. */
	apic_enable();
	re_irqs = 0;
	re_status = 0;
	re_status_rc = 0;
	re_refc = refc;
	irq_count[RE_VEC] = 0;
	irq_hook[RE_VEC] = reenl_hook;
	uint64_t ctl_v = RE_VEC | (1ull << 16) | (0ull << 32);
	int wc = wrmsr_safe(HV_X64_MSR_REENLIGHTENMENT_CONTROL, ctl_v);
	int we = wrmsr_safe(HV_X64_MSR_TSC_EMULATION_CONTROL, 1);
	uint64_t ref0 = 0, f0 = 0;
	int rr0 = refc ? rdmsr_safe(HV_X64_MSR_TIME_REF_COUNT, &ref0) : 0;
	int rf0 = freqs ? rdmsr_safe(HV_X64_MSR_TSC_FREQUENCY, &f0) : 0;
	if (wc || we) {
		check("reenlightenment.tsc_change", enl, false,
		      "REENLIGHTENMENT_CONTROL = vector|enable|VP 0 and TSC_EMULATION_CONTROL = 1 accepted",
		      "WRMSR REENLIGHTENMENT_CONTROL=0x%lx -> %s, TSC_EMULATION_CONTROL=1 -> %s; not waiting", ctl_v,
		      fault_name(wc), fault_name(we));
		goto out;
	}

	/* 2 and 3: announce, then wait with interrupts on, bounded by N s of guest run time. */
	printf("probe: waiting up to %lu s for a TSC frequency change (hv run --save / --restore)\n", secs);
	/* Guest run time is counted in TSC steps between wake-ups (each hlt lasts ~10 ms at most): a step
	 * over 1 s is the VM having been stopped (saved, then restored where KVM did not take the saved
	 * TSC value) and does not count, so the wait is N s of run time either way. */
	uint64_t lim = secs * hz_before, run = 0, jumps = 0, prev = rdtsc();
	apic_timer_periodic(0x5F, 10000000);   /* ~10 ms: bounds every hlt */
	while (!re_irqs && run < lim) {
		sti_hlt_cli();
		uint64_t now = rdtsc(), d = now - prev;
		prev = now;
		if (d > hz_before) jumps++;
		else run += d;
	}
	apic_timer_periodic(0x5F, 0);
	sti_window(hz_before / 1000);   /* a timer tick already pending */
	if (!re_irqs) {
		char why[96];
		snprintf(why, sizeof why, "no TSC frequency change within %lu s", secs);
		skip("reenlightenment.tsc_change", enl, why);
		goto out;
	}

	/* 4. The notification came: report what the guest sees. */
	uint64_t st_after = 0, st_ack = 0;
	int rs = rdmsr_safe(HV_X64_MSR_TSC_EMULATION_STATUS, &st_after);
	uint32_t bsp_apic = apic_id();
	char ref_ms[48] = "";
	if (refc && !rr0 && !re_ref_rc)
		snprintf(ref_ms, sizeof ref_ms, ", %lu ms of reference time", re_ref >= ref0 ? (re_ref - ref0) / 10000 : 0);
	check("reenlightenment.tsc_change.notified", enl, re_apic == bsp_apic,
	      "the reenlightenment vector arrives on the target VP (VP 0, the BSP) after a TSC frequency change",
	      "vector 0x%x taken %u time(s), first on apic %u (BSP apic %u), ~%lu ms of run time into the wait (TSC, "
	      "%lu TSC jump(s) > 1 s not counted%s)",
	      RE_VEC, re_irqs, re_apic, bsp_apic, muldiv(run, 1000, hz_before), jumps, ref_ms);
	check("reenlightenment.tsc_change.in_progress", enl,
	      (!re_status_rc && (re_status & 1)) || (!rs && (st_after & 1)),
	      "TSC_EMULATION_STATUS bit 0 (InProgress) = 1 in/after the handler (TSC_EMULATION_CONTROL = 1)",
	      "TSC_EMULATION_STATUS in handler=%s, after=%s", MV(re_status_rc, re_status), MV(rs, st_after));
	int wa = wrmsr_safe(HV_X64_MSR_TSC_EMULATION_STATUS, 0);
	int ra = rdmsr_safe(HV_X64_MSR_TSC_EMULATION_STATUS, &st_ack);
	check("reenlightenment.tsc_change.acknowledged", enl, !wa && !ra && st_ack == 0,
	      "WRMSR TSC_EMULATION_STATUS = 0 (acknowledge) -> no #GP, reads back 0",
	      "WRMSR TSC_EMULATION_STATUS=0 -> %s, read back %s", fault_name(wa), MV(ra, st_ack));
	if (freqs) {
		uint64_t f1 = 0;
		int rf1 = rdmsr_safe(HV_X64_MSR_TSC_FREQUENCY, &f1);
		check("reenlightenment.tsc_change.frequency", enl, !rf0 && !rf1 && f0 && f1,
		      "TSC_FREQUENCY before and after the change (reported; fails only when 0 or unreadable)",
		      "TSC_FREQUENCY before=%s (%lu Hz) after=%s (%lu Hz)%s", MV(rf0, f0), f0, MV(rf1, f1), f1,
		      !rf1 && f1 && f1 != f0 ? ", changed" : ", unchanged");
		if (!rf1 && f1) {   /* as a guest would: use the new frequency from now on */
			tsc_hz = f1;
			rt_tsc_hz = f1;
		}
	}
	if (refc) {
		uint64_t ref1 = 0;
		int rr1 = rdmsr_safe(HV_X64_MSR_TIME_REF_COUNT, &ref1);
		bool ok = !rr0 && !rr1 && ref1 >= ref0;
		char saw[600];
		size_t k = (size_t)snprintf(saw, sizeof saw, "TIME_REF_COUNT before=%s after=%s", MV(rr0, ref0), MV(rr1, ref1));
		if (!rr0 && !rr1) k += (size_t)snprintf(saw + k, sizeof saw - k, " (+%lu x100ns)", ref1 - ref0);
		if (refp) {
			uint64_t pv = 0;
			int rp = rdmsr_safe(HV_X64_MSR_REFERENCE_TSC, &pv);
			int wp = 0;
			if (!rp && !(pv & HV_X64_MSR_PAGE_ENABLE)) {   /* the time section leaves it enabled; else enable ours */
				wp = wrmsr_safe(HV_X64_MSR_REFERENCE_TSC, GPA_TSC_PAGE | HV_X64_MSR_PAGE_ENABLE);
				rp = rdmsr_safe(HV_X64_MSR_REFERENCE_TSC, &pv);
			}
			volatile struct hv_tsc_page *pg = (volatile struct hv_tsc_page *)(pv & HV_X64_MSR_PAGE_GPA_MASK);
			bool on = !rp && !wp && (pv & HV_X64_MSR_PAGE_ENABLE) && pg == tscpg;
			uint32_t seq = on ? pg->tsc_sequence : 0;
			k += (size_t)snprintf(saw + k, sizeof saw - k, "; REFERENCE_TSC=%s%s tsc_sequence=0x%x tsc_scale=0x%lx",
					      MV(rp, pv), wp ? " (enable faulted)" : "", seq, on ? (uint64_t)pg->tsc_scale : 0);
			if (!on || seq == HV_TSC_PAGE_SEQUENCE_INVALID) ok = false;
			for (int i = 0; on && i < 3; i++) {
				uint64_t p1 = 0, p2 = 0, m = 0;
				bool v1 = tsc_page_read(&p1);
				int e = rdmsr_safe(HV_X64_MSR_TIME_REF_COUNT, &m);
				bool v2 = tsc_page_read(&p2);
				if (!v1 || !v2 || e || p1 > m || m > p2) ok = false;
				k += (size_t)snprintf(saw + k, sizeof saw - k, "; page1=%lu%s msr=%s page2=%lu%s", p1, v1 ? "" : "(invalid)",
						      MV(e, m), p2, v2 ? "" : "(invalid)");
			}
		}
		check("reenlightenment.tsc_change.ref_time", enl, ok,
		      refp ? "TIME_REF_COUNT after the change >= before (no step back), and page1 <= TIME_REF_COUNT <= page2 "
			     "with tsc_sequence != 0 (3 rounds)"
			   : "TIME_REF_COUNT after the change >= before (no step back)",
		      "%s", saw);
	}
out:
	wrmsr_safe(HV_X64_MSR_REENLIGHTENMENT_CONTROL, 0);
	wrmsr_safe(HV_X64_MSR_TSC_EMULATION_CONTROL, 0);
	irq_hook[RE_VEC] = 0;
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

/* ------------------------------------------------------------------ multi-VP checks: AP 1 runs commands */
enum { AP_CMD_BRACKET = 1, AP_CMD_IRQ_WINDOW, AP_CMD_TLB_READ };
static volatile uint32_t ap_cmd, ap_cmd_seq, ap_ack_seq, ap_ready, ap_in_window;
static volatile uint32_t ap_stop;
static volatile uint64_t tlb_phase, ap_tlb_seen, ap_tlb_reads, ap_tlb_stale, ap_tlb_discard, ap_tlb_val[2];
static volatile uint64_t ap_tlb_stale_phase, ap_tlb_stale_val;
#define TLB_VAL_A 0xAAAAAAAA00000000ull
#define TLB_VAL_B 0xBBBBBBBB00000000ull

struct bracket_res { uint64_t iters, bad, back, faults, c_page, c_msr, elapsed; int timeout; uint64_t m1, p, m2; };
static struct bracket_res bres[2];   /* [0] BSP, [1] AP 1 */

/* ~dur x100ns of msr1 <= page <= msr2 rounds; bounded by 4 s of TSC. */
static void bracket_loop(struct bracket_res *r, uint64_t dur)
{
	memset(r, 0, sizeof *r);
	uint64_t start = 0, prev_p = 0, prev_m = 0, sp = 0, sm = 0, lim = 4 * rt_tsc_hz, t_start = rdtsc();
	if (!ref_now(&start)) { r->faults = 1; return; }
	prev_m = start;
	for (;;) {
		uint64_t m1 = 0, m2 = 0, p = 0;
		int e1 = rdmsr_safe(HV_X64_MSR_TIME_REF_COUNT, &m1);
		uint64_t ta = rdtsc();
		bool pv = tsc_page_read(&p);
		uint64_t tb = rdtsc();
		int e2 = rdmsr_safe(HV_X64_MSR_TIME_REF_COUNT, &m2);
		uint64_t tc = rdtsc();
		r->iters++;
		sp += tb - ta;
		sm += tc - tb;
		if (e1 || e2 || !pv) {
			r->faults++;
		} else {
			if ((m1 > p || p > m2) && !r->bad++) { r->m1 = m1; r->p = p; r->m2 = m2; }
			if (p < prev_p || m1 < prev_m) r->back++;
			prev_p = p;
			prev_m = m2;
			if (m2 - start >= dur) { r->elapsed = m2 - start; break; }
		}
		if (tc - t_start > lim) { r->timeout = 1; r->elapsed = prev_m - start; break; }
	}
	r->c_page = sp / r->iters;
	r->c_msr = sm / r->iters;
}

static void ap_tlb_read(void)
{
	volatile uint64_t *g = (volatile uint64_t *)TLB_GVA;
	uint64_t t0 = rdtsc();
	while (!ap_stop && rdtsc() - t0 < 20 * rt_tsc_hz) {
		uint64_t p1 = tlb_phase;
		if (p1 & 1) { cpu_relax(); continue; }
		mfence();
		uint64_t v = *g;
		mfence();
		uint64_t p2 = tlb_phase;
		ap_tlb_reads++;
		if (p1 != p2) { ap_tlb_discard++; continue; }
		uint64_t want = (p1 / 2) & 1 ? TLB_VAL_B : TLB_VAL_A;
		if (v == want) {
			ap_tlb_val[(p1 / 2) & 1]++;
		} else if (!ap_tlb_stale++) {
			ap_tlb_stale_phase = p1;
			ap_tlb_stale_val = v;
		}
		ap_tlb_seen = p1;
	}
}

/* AP 1 after its first report: a command loop (interrupts off except in IRQ windows). It never
 * returns; the BSP ends the VM. Every loop is bounded, so a lost BSP cannot wedge it in IF=1. */
static void ap_loop(void)
{
	uint32_t seen = 0;
	for (;;) {
		uint32_t s = ap_cmd_seq;
		if (s == seen) { cpu_relax(); continue; }
		seen = s;
		switch (ap_cmd) {
		case AP_CMD_BRACKET: bracket_loop(&bres[1], HV_REF_PER_SEC); break;
		case AP_CMD_IRQ_WINDOW: {
			uint64_t t0 = rdtsc();
			sti();
			ap_in_window = 1;
			while (!ap_stop && rdtsc() - t0 < 2 * rt_tsc_hz) cpu_relax();
			cli();
			ap_in_window = 0;
			break;
		}
		case AP_CMD_TLB_READ: ap_tlb_read(); break;
		}
		__atomic_store_n(&ap_ack_seq, s, __ATOMIC_RELEASE);
	}
}
static void ap_post(uint32_t cmd)
{
	ap_stop = 0;
	ap_cmd = cmd;
	__atomic_add_fetch(&ap_cmd_seq, 1, __ATOMIC_SEQ_CST);
}
static bool ap_wait(uint64_t cycles)
{
	uint64_t t0 = rdtsc();
	while (ap_ack_seq != ap_cmd_seq && rdtsc() - t0 < cycles) cpu_relax();
	return ap_ack_seq == ap_cmd_seq;
}

static void smp_bracket(void)
{
	if (!tsc_page_on || !(F_A & HvPrivilegeEax_AccessPartitionReferenceCounter)) {
		skip("time.bracket_1s", "time", "needs a valid reference TSC page and TIME_REF_COUNT");
		return;
	}
	ap_post(AP_CMD_BRACKET);
	bracket_loop(&bres[0], HV_REF_PER_SEC);
	bool done = ap_wait(3 * rt_tsc_hz);
	bool ok = done;
	char saw[600];
	size_t k = 0;
	for (int i = 0; i < 2; i++) {
		struct bracket_res *r = &bres[i];
		if (i == 1 && !done) { k += (size_t)snprintf(saw + k, sizeof saw - k, "; ap1: no result within 3 s"); break; }
		if (!r->iters || r->bad || r->back || r->faults || r->timeout || r->elapsed < HV_REF_PER_SEC) ok = false;
		k += (size_t)snprintf(saw + k, sizeof saw - k,
				      "%s%s: %lu rounds over %lu x100ns, out-of-bracket=%lu backward=%lu faults=%lu%s", i ? "; " : "",
				      i ? "ap1" : "bsp", r->iters, r->elapsed, r->bad, r->back, r->faults, r->timeout ? " TIMEOUT" : "");
		if (r->bad) k += (size_t)snprintf(saw + k, sizeof saw - k, " (first: msr1=%lu page=%lu msr2=%lu)", r->m1, r->p, r->m2);
	}
	check_cost("time.bracket_1s", "time", ok,
		   "on both VPs at once for 1 s of reference time: msr1 <= page <= msr2 every round, neither clock steps back "
		   "(cycles: page read; ref: RDMSR TIME_REF_COUNT, BSP averages)",
		   (int64_t)bres[0].c_page, (int64_t)bres[0].c_msr, "%s", saw);
}

static uint64_t c_ipi_roundtrip;   /* ICR IPI to AP 1 until it counted the interrupt (for tlbflush's ref) */

static void smp_ipi(uint32_t ap_vp, uint32_t ap_apic_id)
{
	if (!hc_ok || !advertised("ipi") || ap_vp >= 64) {
		skip("ipi.to_other_vp", "ipi", !hc_ok ? "no usable hypercall page" : ap_vp >= 64 ? "AP VP index >= 64" : "ipi not advertised");
		return;
	}
	const uint8_t V = 0x42, R = 0x43;
	irq_count[V] = irq_count[R] = 0;
	ap_post(AP_CMD_IRQ_WINDOW);
	uint64_t t0 = rdtsc(), rax = 0;
	while (!ap_in_window && rdtsc() - t0 < rt_tsc_hz / 10) cpu_relax();
	bool in_win = ap_in_window;
	t0 = rdtsc();
	int f = hypercall_safe(ctl(HvCallSendSyntheticClusterIpi, true, 0, 0, 0), V, 1ull << ap_vp, &rax);
	uint64_t c_hc = rdtsc() - t0;
	while (irq_count[V] < 1 && rdtsc() - t0 < rt_tsc_hz / 10) cpu_relax();
	uint64_t rt_hc = rdtsc() - t0;
	delay_us(10000);   /* a duplicate would show up here */
	uint32_t got = irq_count[V];
	/* Non-enlightened equivalent: a fixed IPI through the local APIC ICR. */
	t0 = rdtsc();
	apic_send_ipi(ap_apic_id, 0x4000 | R);
	uint64_t c_icr = rdtsc() - t0;
	while (irq_count[R] < 1 && rdtsc() - t0 < rt_tsc_hz / 10) cpu_relax();
	c_ipi_roundtrip = rdtsc() - t0;
	uint32_t got_r = irq_count[R];
	ap_stop = 1;
	bool done = ap_wait(rt_tsc_hz);
	sti_window(rt_tsc_hz / 500);   /* anything misrouted to the BSP arrives here */
	uint32_t bsp_extra = irq_count[V] - got;
	check_cost("ipi.to_other_vp", "ipi", in_win && done && !f && hv_status(rax) == HV_STATUS_SUCCESS && got == 1 && !bsp_extra,
		   "HvCallSendSyntheticClusterIpi (fast, vector 0x42, mask 1<<AP's VP_INDEX) -> 0 and exactly +1 interrupt at "
		   "the AP, none at the BSP (cycles: the hypercall; ref: fixed IPI by an ICR write)",
		   (int64_t)c_hc, (int64_t)c_icr,
		   "%s, AP(vp %u, apic %u) interrupts=%u (round trip %lu cycles), BSP interrupts=%u; ICR IPI: AP interrupts=%u "
		   "(round trip %lu cycles)%s",
		   HCD(f, rax), ap_vp, ap_apic_id, got, rt_hc, bsp_extra, got_r, c_ipi_roundtrip,
		   in_win && done ? "" : " (AP did not enter/leave its interrupt window)");
}

static void smp_tlbflush(uint32_t ap_vp)
{
	const char *id = "tlbflush.remote_no_stale";
	if (!hc_ok || !advertised("tlbflush") || ap_vp >= 64 || bsp_vp_index >= 64) {
		skip(id, "tlbflush", !hc_ok ? "no usable hypercall page" : "tlbflush not advertised or VP index >= 64");
		return;
	}
	uint64_t *pml4 = (uint64_t *)(read_cr3() & ~0xFFFull);
	uint64_t *pdpt = (uint64_t *)(pml4[0] & 0x000FFFFFFFFFF000ull);
	if (pdpt[4] & 1) {
		skip(id, "tlbflush", "PDPT[4] (GVA 4 GiB) already in use");
		return;
	}
	uint64_t *pd = (uint64_t *)(uint64_t)GPA_TLB_PD, *pt = (uint64_t *)(uint64_t)GPA_TLB_PT;
	uint64_t *pa = (uint64_t *)(uint64_t)GPA_TLB_A, *pb = (uint64_t *)(uint64_t)GPA_TLB_B;
	memset(pd, 0, 4096);
	memset(pt, 0, 4096);
	for (int i = 0; i < 512; i++) { pa[i] = TLB_VAL_A; pb[i] = TLB_VAL_B; }
	pt[0] = GPA_TLB_A | 3;
	pd[0] = GPA_TLB_PT | 3;
	mfence();
	pdpt[4] = GPA_TLB_PD | 3;
	mfence();
	invlpg((void *)TLB_GVA);
	uint64_t first = *(volatile uint64_t *)TLB_GVA;
	tlb_phase = 0;
	ap_tlb_seen = ~0ull;
	ap_tlb_reads = ap_tlb_stale = ap_tlb_discard = ap_tlb_val[0] = ap_tlb_val[1] = 0;
	ap_post(AP_CMD_TLB_READ);
	uint64_t t0 = rdtsc();
	while (ap_tlb_reads < 100 && rdtsc() - t0 < rt_tsc_hz) cpu_relax();
	uint64_t mask = (1ull << ap_vp) | (1ull << bsp_vp_index);
	unsigned swaps = 0, bad_status = 0, no_read = 0, last_status = 0;
	uint64_t c_sum = 0;
	for (unsigned k = 1; k <= 100; k++) {
		tlb_phase = 2 * k - 1;
		mfence();
		pt[0] = (k & 1 ? GPA_TLB_B : GPA_TLB_A) | 3;
		mfence();
		uint64_t *in = hc_in(), rax = 0;
		in[0] = read_cr3() & ~0xFFFull; in[1] = 0; in[2] = mask;
		uint64_t t1 = rdtsc();
		int f = hypercall_safe(ctl(HvCallFlushVirtualAddressSpace, false, 0, 0, 0), GPA_HCALL_INPUT, 0, &rax);
		c_sum += rdtsc() - t1;
		if (f || hv_status(rax) != HV_STATUS_SUCCESS) { bad_status++; last_status = f ? 0x10000 | (unsigned)f : hv_status(rax); }
		mfence();
		tlb_phase = 2 * k;
		swaps++;
		/* Let the AP read at least once under the new mapping (bounded). */
		t1 = rdtsc();
		while (ap_tlb_seen != 2 * k && rdtsc() - t1 < rt_tsc_hz / 10) cpu_relax();
		if (ap_tlb_seen != 2 * k) no_read++;
	}
	ap_stop = 1;
	bool done = ap_wait(rt_tsc_hz);
	/* Unmap GVA 4 GiB again, flushing everywhere. */
	pdpt[4] = 0;
	mfence();
	invlpg((void *)TLB_GVA);
	uint64_t *in = hc_in(), rax;
	in[0] = read_cr3() & ~0xFFFull; in[1] = HV_FLUSH_ALL_PROCESSORS; in[2] = 0;
	hypercall_safe(ctl(HvCallFlushVirtualAddressSpace, false, 0, 0, 0), GPA_HCALL_INPUT, 0, &rax);
	bool ok = done && first == TLB_VAL_A && !bad_status && !ap_tlb_stale && ap_tlb_val[0] && ap_tlb_val[1] && no_read <= swaps / 4;   /* a loaded host may deschedule the AP */
	char stale[96] = "";
	if (ap_tlb_stale) snprintf(stale, sizeof stale, " (first stale: phase %lu read 0x%lx)", ap_tlb_stale_phase, ap_tlb_stale_val);
	check_cost(id, "tlbflush", ok,
		   "AP reads a GVA in a loop while the BSP swaps its PTE between two pages and calls "
		   "HvCallFlushVirtualAddressSpace (mask BSP|AP): after the call returns the AP never reads the old page "
		   "(cycles: the flush hypercall; ref: an ICR IPI round trip to the AP, the minimum of an IPI shootdown)",
		   swaps ? (int64_t)(c_sum / swaps) : -1, c_ipi_roundtrip ? (int64_t)c_ipi_roundtrip : -1,
		   "%u swaps, hypercall failures=%u (last 0x%x); AP reads=%lu (A=%lu B=%lu, during a swap=%lu), stale=%lu%s; "
		   "swaps the AP did not read within 100 ms=%u (at most 1 in 4)%s",
		   swaps, bad_status, last_status, ap_tlb_reads, ap_tlb_val[0], ap_tlb_val[1], ap_tlb_discard, ap_tlb_stale,
		   stale, no_read, done ? "" : "; AP did not stop");
}

static void sec_smp_ext(uint32_t up)
{
	static const char *const ids[][2] = {{"time.bracket_1s", "time"}, {"ipi.to_other_vp", "ipi"},
					      {"tlbflush.remote_no_stale", "tlbflush"}, {0, 0}};
	if (up < 1 || ap_ready < 1) {
		for (int i = 0; ids[i][0]; i++) skip(ids[i][0], ids[i][1], "needs an AP (smp=2 and a second vCPU)");
		return;
	}
	smp_bracket();
	uint32_t vp1 = ap_vp_rc[1] ? 0xFFFFFFFFu : (uint32_t)ap_vp[1];
	if (ap_vp_rc[1] || !advertised("vpindex")) {
		skip("ipi.to_other_vp", "ipi", "AP VP_INDEX unknown");
		skip("tlbflush.remote_no_stale", "tlbflush", "AP VP_INDEX unknown");
		return;
	}
	smp_ipi(vp1, ap_apic[1]);
	smp_tlbflush(vp1);
}

static void probe_ap(uint32_t idx)
{
	uint64_t v = 0;
	ap_apic[idx] = apic_id();
	ap_vp_rc[idx] = rdmsr_safe(HV_X64_MSR_VP_INDEX, &v);
	ap_vp[idx] = v;
	ap_ref_rc[idx] = rdmsr_safe(HV_X64_MSR_TIME_REF_COUNT, &v);
	ap_ref[idx] = v;
	apic_enable();   /* for ipi.to_other_vp */
	__atomic_fetch_add(&ap_ready, 1, __ATOMIC_SEQ_CST);
	if (idx == 1) ap_loop();   /* AP 1 stays for the multi-VP checks; it never returns */
}

static void sec_smp(void)
{
	if (opt_smp <= 1) {
		sec_smp_ext(0);
		return;
	}
	uint32_t want = (uint32_t)opt_smp - 1;
	uint32_t up = smp_start_aps((uint32_t)opt_smp, probe_ap, 2000000);
	uint64_t t0 = rdtsc();
	while (ap_ready < up && rdtsc() - t0 < 2 * rt_tsc_hz) cpu_relax();
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!check("smp.aps_started", "base", up == want && ap_ready == up, "smp=N: N-1 APs start via INIT/SIPI/SIPI",
		   "%u of %u APs started, %u finished", up, want, ap_ready)) {
		skip("vpindex.unique", "vpindex", "APs did not start");
		sec_smp_ext(0);
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
	sec_smp_ext(up);
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
	opt_periodic = cmdline_u64(cmdline, "periodic", 1);
	opt_eoi = cmdline_u64(cmdline, "eoi", 1);
	opt_tsc_change_wait = cmdline_u64(cmdline, "tsc_change_wait", 0);
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
		reenl_tsc_change();
		base_teardown();
	}

	printf("@@hvprobe-done {\"passed\":%d,\"failed\":%d,\"skipped\":%d}\n", n_pass, n_fail, n_skip);
	if (opt_hv && opt_crash && advertised("crash")) crash_trigger();
	return n_fail ? 1 : 0;
}
