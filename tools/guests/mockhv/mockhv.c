/*
 * mockhv: a minimal KVM VMM that boots a multiboot v1 ELF32 guest the way hv must, and emulates a
 * small Hyper-V interface in user space (CPUID leaves, synthetic MSRs through the MSR filter,
 * hypercalls through an `OUT imm8, EAX; RET` stub). It exists to exercise probe.elf end to end on
 * hosts whose KVM has no Hyper-V support, and as a reference for the vCPU setup.
 *
 *   mockhv [-s ncpus] [-m MiB] [-e enl,enl,...] [-b breakage] [-S] kernel.elf ["cmdline"]
 *
 * -e picks the enlightenments (QEMU names without hv-; default: all that mockhv implements).
 * -b injects one deliberate bug so the probe's negative paths can be seen failing
 *    (e.g. -b vpindex-writable, -b tsc-page-late, -b unknown-code-ok).
 * -S reads the hypercall's registers and mode from kvm_run's sync-regs area (KVM_CAP_SYNC_REGS,
 *    kvm_valid_regs = REGS|SREGS) and returns RAX through kvm_dirty_regs instead of
 *    KVM_GET_REGS/KVM_GET_SREGS/KVM_SET_REGS (the C reference for tools/bench/exits.ts).
 * Exit status: like QEMU's isa-debug-exit ((code << 1) | 1); 120+ on VMM errors.
 * Not a hypervisor: flushes are no-ops, EOI/ICR/TPR MSRs are only stored, VP_RUNTIME is wall time.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "../include/hv_tlfs.h"

#define MAX_VCPUS 8
#define HCALL_PORT 0xE5
#define MBI_ADDR 0x9000
#define MBI_CMDLINE 0x9800

static int kvm_fd, vm_fd;
static uint8_t *ram;
static uint64_t ram_size = 128ull << 20;
static int ncpus = 1;
static uint64_t tsc_hz;
static char breakage[64];
static bool sync_regs;   /* -S */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "mockhv: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, " (errno %d: %s)\n", errno, strerror(errno));
	va_end(ap);
	exit(120);
}
static bool broken(const char *what) { return !strcmp(breakage, what); }

/* ------------------------------------------------------------------ enlightenments */
enum {
	E_RELAXED, E_VAPIC, E_SPINLOCKS, E_VPINDEX, E_RUNTIME, E_CRASH, E_TIME, E_SYNIC, E_STIMER, E_STIMER_DIRECT,
	E_FREQUENCIES, E_REENLIGHTENMENT, E_RESET, E_TLBFLUSH, E_TLBFLUSH_EXT, E_IPI, E_XMM_INPUT, E_NO_NONARCH, E_N
};
static const char *enl_name[E_N] = {"relaxed", "vapic", "spinlocks", "vpindex", "runtime", "crash", "time",
				    "synic", "stimer", "stimer-direct", "frequencies", "reenlightenment", "reset",
				    "tlbflush", "tlbflush-ext", "ipi", "xmm-input", "no-nonarch-coresharing"};
static bool enl[E_N];
static bool hv_on;   /* any enlightenment: Hyper-V leaves replace KVM's */

static void parse_enl(const char *list)
{
	char buf[512];
	snprintf(buf, sizeof buf, "%s", list);
	for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
		int i;
		for (i = 0; i < E_N; i++)
			if (!strcmp(t, enl_name[i])) break;
		if (i == E_N) {
			if (strcmp(t, "none")) { fprintf(stderr, "mockhv: unknown enlightenment %s\n", t); exit(120); }
			continue;
		}
		enl[i] = true;
	}
}

/* ------------------------------------------------------------------ partition and VP state */
struct stimer { uint64_t config, count, gen; };
struct vp {
	int fd, index;
	struct kvm_run *run;
	pthread_t thread;
	uint64_t vp_assist, tpr, icr, scontrol, simp, siefp, sint[16];
	struct stimer st[4];
};
static struct vp vps[MAX_VCPUS];
static struct {
	uint64_t guest_os_id, hypercall, ref_tsc, crash_p[5], crash_ctl, reenl_ctl, tsc_emu_ctl, tsc_emu_status;
	uint64_t scale;
} part;

static uint64_t guest_tsc(struct vp *v)
{
	struct { struct kvm_msrs h; struct kvm_msr_entry e; } m = {{.nmsrs = 1}, {.index = 0x10}};
	if (ioctl(v->fd, KVM_GET_MSRS, &m) != 1) die("KVM_GET_MSRS(TSC)");
	return m.e.data;
}
/* Reference time in 100 ns from the guest TSC, with the same scale/offset(0) as the TSC page. */
static uint64_t ref_time(struct vp *v) { return (uint64_t)(((unsigned __int128)guest_tsc(v) * part.scale) >> 64); }

static void *gpa(uint64_t a, uint64_t len)
{
	if (a >= ram_size || len > ram_size - a) return NULL;
	return ram + a;
}

static void signal_msi(uint32_t apic_id, uint8_t vector)
{
	struct kvm_msi msi = {.address_lo = 0xFEE00000u | (apic_id << 12), .data = vector};
	if (ioctl(vm_fd, KVM_SIGNAL_MSI, &msi) < 0) fprintf(stderr, "mockhv: KVM_SIGNAL_MSI failed\n");
}

/* ------------------------------------------------------------------ synthetic timers (direct mode) */
struct arm { struct vp *v; int n; uint64_t gen; uint64_t delay_ns; };
static void *stimer_thread(void *p)
{
	struct arm a = *(struct arm *)p;
	free(p);
	struct timespec ts = {(time_t)(a.delay_ns / 1000000000ull), (long)(a.delay_ns % 1000000000ull)};
	nanosleep(&ts, NULL);
	pthread_mutex_lock(&lock);
	struct stimer *t = &a.v->st[a.n];
	if (t->gen == a.gen && (t->config & HvStimerConfig_enable)) {
		uint8_t vec = (uint8_t)(t->config >> HvStimerConfig_apic_vector_shift);
		if (!(t->config & HvStimerConfig_periodic)) t->config &= ~HvStimerConfig_enable;
		signal_msi((uint32_t)a.v->index, vec);
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}
static void stimer_arm(struct vp *v, int n)   /* with lock held */
{
	struct stimer *t = &v->st[n];
	t->gen++;
	if (!(t->config & HvStimerConfig_enable) || !t->count) return;
	if (!(t->config & HvStimerConfig_direct_mode)) return;   /* message mode not implemented */
	uint64_t now = ref_time(v);
	struct arm *a = malloc(sizeof *a);
	*a = (struct arm){v, n, t->gen, t->count > now ? (t->count - now) * 100 : 0};
	pthread_t th;
	pthread_create(&th, NULL, stimer_thread, a);
	pthread_detach(th);
}

/* ------------------------------------------------------------------ MSRs */
#define GP (-1)
static void write_tsc_page(void)
{
	uint8_t *p = gpa(part.ref_tsc & HV_X64_MSR_PAGE_GPA_MASK, 4096);
	if (!p) return;
	uint32_t seq = 1;
	uint64_t scale = part.scale;
	int64_t off = 0;
	memcpy(p + 8, &scale, 8);
	memcpy(p + 16, &off, 8);
	__atomic_store_n((uint32_t *)p, seq, __ATOMIC_RELEASE);
}

static int msr_read(struct vp *v, uint32_t msr, uint64_t *val)
{
	if (!hv_on) return GP;
	switch (msr) {
	case HV_X64_MSR_GUEST_OS_ID: *val = part.guest_os_id; return 0;
	case HV_X64_MSR_HYPERCALL: *val = part.hypercall; return 0;
	case HV_X64_MSR_VP_INDEX: if (!enl[E_VPINDEX]) return GP; *val = (uint64_t)v->index; return 0;
	case HV_X64_MSR_RESET: if (!enl[E_RESET]) return GP; *val = 0; return 0;
	case HV_X64_MSR_VP_RUNTIME: if (!enl[E_RUNTIME]) return GP; *val = ref_time(v); return 0;
	case HV_X64_MSR_TIME_REF_COUNT: if (!enl[E_TIME]) return GP; *val = ref_time(v); return 0;
	case HV_X64_MSR_REFERENCE_TSC: if (!enl[E_TIME]) return GP; *val = part.ref_tsc; return 0;
	case HV_X64_MSR_TSC_FREQUENCY: if (!enl[E_FREQUENCIES]) return GP; *val = tsc_hz; return 0;
	case HV_X64_MSR_APIC_FREQUENCY: if (!enl[E_FREQUENCIES]) return GP; *val = 1000000000ull; return 0;
	case HV_X64_MSR_ICR: if (!enl[E_VAPIC]) return GP; *val = v->icr; return 0;
	case HV_X64_MSR_TPR: if (!enl[E_VAPIC]) return GP; *val = v->tpr; return 0;
	case HV_X64_MSR_VP_ASSIST_PAGE: if (!enl[E_VAPIC]) return GP; *val = v->vp_assist; return 0;
	case HV_X64_MSR_SCONTROL: if (!enl[E_SYNIC]) return GP; *val = v->scontrol; return 0;
	case HV_X64_MSR_SVERSION: if (!enl[E_SYNIC]) return GP; *val = 1; return 0;
	case HV_X64_MSR_SIEFP: if (!enl[E_SYNIC]) return GP; *val = v->siefp; return 0;
	case HV_X64_MSR_SIMP: if (!enl[E_SYNIC]) return GP; *val = v->simp; return 0;
	case HV_X64_MSR_EOM: if (!enl[E_SYNIC]) return GP; *val = 0; return 0;
	case HV_X64_MSR_CRASH_CTL: if (!enl[E_CRASH]) return GP; *val = HV_CRASH_CTL_CRASH_NOTIFY; return 0;
	case HV_X64_MSR_REENLIGHTENMENT_CONTROL: if (!enl[E_REENLIGHTENMENT]) return GP; *val = part.reenl_ctl; return 0;
	case HV_X64_MSR_TSC_EMULATION_CONTROL: if (!enl[E_REENLIGHTENMENT]) return GP; *val = part.tsc_emu_ctl; return 0;
	case HV_X64_MSR_TSC_EMULATION_STATUS: if (!enl[E_REENLIGHTENMENT]) return GP; *val = part.tsc_emu_status; return 0;
	}
	if (msr >= HV_X64_MSR_SINT0 && msr <= HV_X64_MSR_SINT15) {
		if (!enl[E_SYNIC]) return GP;
		*val = v->sint[msr - HV_X64_MSR_SINT0];
		return 0;
	}
	if (msr >= HV_X64_MSR_STIMER0_CONFIG && msr < HV_X64_MSR_STIMER0_CONFIG + 8) {
		if (!enl[E_STIMER]) return GP;
		struct stimer *t = &v->st[(msr - HV_X64_MSR_STIMER0_CONFIG) / 2];
		*val = (msr & 1) ? t->count : t->config;
		return 0;
	}
	if (msr >= HV_X64_MSR_CRASH_P0 && msr <= HV_X64_MSR_CRASH_P4) {
		if (!enl[E_CRASH]) return GP;
		*val = part.crash_p[msr - HV_X64_MSR_CRASH_P0];
		return 0;
	}
	return GP;
}

static int msr_write(struct vp *v, uint32_t msr, uint64_t val)
{
	if (!hv_on) return GP;
	switch (msr) {
	case HV_X64_MSR_GUEST_OS_ID:
		part.guest_os_id = val;
		if (!val) part.hypercall &= ~HV_X64_MSR_PAGE_ENABLE;
		return 0;
	case HV_X64_MSR_HYPERCALL: {
		if (!part.guest_os_id) return 0;   /* silently dropped */
		if (val & HV_X64_MSR_PAGE_ENABLE) {
			uint8_t *p = gpa(val & HV_X64_MSR_PAGE_GPA_MASK, 4096);
			if (!p) return GP;
			static const uint8_t stub[] = {0xE7, HCALL_PORT, 0xC3};   /* out %eax, $port; ret */
			memcpy(p, stub, sizeof stub);
		}
		part.hypercall = val;
		return 0;
	}
	case HV_X64_MSR_VP_INDEX:
		if (!enl[E_VPINDEX] || !broken("vpindex-writable")) return GP;
		return 0;
	case HV_X64_MSR_RESET:
		if (!enl[E_RESET]) return GP;
		if (val & 1) { fprintf(stderr, "mockhv: guest requested RESET\n"); exit(121); }
		return 0;
	case HV_X64_MSR_REFERENCE_TSC:
		if (!enl[E_TIME]) return GP;
		part.ref_tsc = val;
		if ((val & HV_X64_MSR_PAGE_ENABLE) && !broken("tsc-page-late")) write_tsc_page();
		return 0;
	case HV_X64_MSR_EOI: if (!enl[E_VAPIC] || (val >> 32)) return GP; return 0;
	case HV_X64_MSR_ICR: if (!enl[E_VAPIC]) return GP; v->icr = val; return 0;
	case HV_X64_MSR_TPR: if (!enl[E_VAPIC] || (val >> 32)) return GP; v->tpr = val; return 0;
	case HV_X64_MSR_VP_ASSIST_PAGE: {
		if (!enl[E_VAPIC]) return GP;
		if (val & 1) {
			uint8_t *p = gpa(val & HV_X64_MSR_PAGE_GPA_MASK, 4096);
			if (!p) return GP;
			memset(p, 0, 4);
		}
		v->vp_assist = val;
		return 0;
	}
	case HV_X64_MSR_SCONTROL: if (!enl[E_SYNIC]) return GP; v->scontrol = val; return 0;
	case HV_X64_MSR_SIEFP: if (!enl[E_SYNIC]) return GP; v->siefp = val; return 0;
	case HV_X64_MSR_SIMP: if (!enl[E_SYNIC]) return GP; v->simp = val; return 0;
	case HV_X64_MSR_EOM: if (!enl[E_SYNIC]) return GP; return 0;
	case HV_X64_MSR_CRASH_CTL:
		if (!enl[E_CRASH]) return GP;
		if (val & HV_CRASH_CTL_CRASH_NOTIFY)
			fprintf(stderr, "mockhv: guest crash P0=0x%lx P1=0x%lx P2=0x%lx P3=0x%lx P4=0x%lx\n",
				part.crash_p[0], part.crash_p[1], part.crash_p[2], part.crash_p[3], part.crash_p[4]);
		return 0;
	case HV_X64_MSR_REENLIGHTENMENT_CONTROL: if (!enl[E_REENLIGHTENMENT]) return GP; part.reenl_ctl = val; return 0;
	case HV_X64_MSR_TSC_EMULATION_CONTROL: if (!enl[E_REENLIGHTENMENT]) return GP; part.tsc_emu_ctl = val; return 0;
	case HV_X64_MSR_TSC_EMULATION_STATUS:
		if (!enl[E_REENLIGHTENMENT] || val) return GP;
		part.tsc_emu_status = 0;
		return 0;
	}
	if (msr >= HV_X64_MSR_SINT0 && msr <= HV_X64_MSR_SINT15) {
		if (!enl[E_SYNIC]) return GP;
		if (!(val & HV_SYNIC_SINT_MASKED) && (val & 0xFF) < HV_SYNIC_FIRST_VALID_VECTOR) return GP;
		v->sint[msr - HV_X64_MSR_SINT0] = val;
		return 0;
	}
	if (msr >= HV_X64_MSR_STIMER0_CONFIG && msr < HV_X64_MSR_STIMER0_CONFIG + 8) {
		if (!enl[E_STIMER]) return GP;
		struct stimer *t = &v->st[(msr - HV_X64_MSR_STIMER0_CONFIG) / 2];
		if (!(msr & 1)) {
			if ((val & HvStimerConfig_direct_mode) && !enl[E_STIMER_DIRECT]) return GP;
			t->config = val;
		} else {
			t->count = val;
			if (!val) t->config &= ~HvStimerConfig_enable;
			else if (t->config & HvStimerConfig_auto_enable) t->config |= HvStimerConfig_enable;
		}
		stimer_arm(v, (int)(msr - HV_X64_MSR_STIMER0_CONFIG) / 2);
		return 0;
	}
	if (msr >= HV_X64_MSR_CRASH_P0 && msr <= HV_X64_MSR_CRASH_P4) {
		if (!enl[E_CRASH]) return GP;
		part.crash_p[msr - HV_X64_MSR_CRASH_P0] = val;
		return 0;
	}
	return GP;
}

/* ------------------------------------------------------------------ hypercalls */
static uint64_t hypercall(struct vp *v, struct kvm_regs *r, bool *inject_ud)
{
	uint64_t c = r->rcx;
	uint32_t code = c & 0xffff;
	bool fast = c & HV_HYPERCALL_FAST_BIT;
	uint32_t varhead = (c >> HV_HYPERCALL_VARHEAD_SHIFT) & 0x3ff;
	uint32_t rep = (c >> HV_HYPERCALL_REP_COUNT_SHIFT) & 0xfff, rep_start = (c >> HV_HYPERCALL_REP_START_SHIFT) & 0xfff;
	uint64_t in = r->rdx, out = r->r8;
	(void)out;
	bool known = (code == HvCallNotifyLongSpinWait && enl[E_SPINLOCKS]) ||
		     ((code == HvCallFlushVirtualAddressSpace || code == HvCallFlushVirtualAddressList ||
		       code == HvCallFlushVirtualAddressSpaceEx || code == HvCallFlushVirtualAddressListEx) && enl[E_TLBFLUSH]) ||
		     ((code == HvCallSendSyntheticClusterIpi || code == HvCallSendSyntheticClusterIpiEx) && enl[E_IPI]);
	if (c & HV_HYPERCALL_INPUT_RSVD_MASK) return HV_STATUS_INVALID_HYPERCALL_INPUT;
	if (!known) return broken("unknown-code-ok") ? HV_STATUS_SUCCESS : HV_STATUS_INVALID_HYPERCALL_CODE;
	if (fast && !enl[E_XMM_INPUT] && code != HvCallNotifyLongSpinWait && code != HvCallSendSyntheticClusterIpi) {
		*inject_ud = true;   /* XMM-fast call without 3.EDX[4] */
		return 0;
	}
	uint64_t *p = fast ? NULL : gpa(in, 4096);
	if (!fast && (!p || (in & 7))) return HV_STATUS_INVALID_ALIGNMENT;
	switch (code) {
	case HvCallNotifyLongSpinWait:
		return (rep || varhead) ? HV_STATUS_INVALID_HYPERCALL_INPUT : HV_STATUS_SUCCESS;
	case HvCallFlushVirtualAddressSpace:
		return (rep || varhead) ? HV_STATUS_INVALID_HYPERCALL_INPUT : HV_STATUS_SUCCESS;
	case HvCallFlushVirtualAddressList:
		if (varhead || !rep || rep_start) return HV_STATUS_INVALID_HYPERCALL_INPUT;
		return HV_STATUS_SUCCESS | ((uint64_t)rep << HV_HYPERCALL_REP_COMP_SHIFT);
	case HvCallFlushVirtualAddressSpaceEx:
	case HvCallFlushVirtualAddressListEx: {
		if (fast) return HV_STATUS_SUCCESS;
		if (p[2] == HV_GENERIC_SET_SPARSE_4K && varhead != (uint32_t)__builtin_popcountll(p[3]))
			return HV_STATUS_INVALID_HYPERCALL_INPUT;
		if (code == HvCallFlushVirtualAddressSpaceEx) return rep ? HV_STATUS_INVALID_HYPERCALL_INPUT : 0;
		if (!rep || rep_start) return HV_STATUS_INVALID_HYPERCALL_INPUT;
		return HV_STATUS_SUCCESS | ((uint64_t)rep << HV_HYPERCALL_REP_COMP_SHIFT);
	}
	case HvCallSendSyntheticClusterIpi: {
		uint64_t vector = fast ? in : p[0] & 0xffffffff, mask = fast ? out : p[2];
		if (rep || varhead || (fast && (in >> 32))) return HV_STATUS_INVALID_HYPERCALL_INPUT;
		if (vector < HV_IPI_LOW_VECTOR || vector > HV_IPI_HIGH_VECTOR) return HV_STATUS_INVALID_HYPERCALL_INPUT;
		for (int i = 0; i < ncpus && i < 64; i++)
			if (mask & (1ull << i)) signal_msi((uint32_t)i, (uint8_t)vector);
		return HV_STATUS_SUCCESS;
	}
	case HvCallSendSyntheticClusterIpiEx: {
		if (fast) return HV_STATUS_SUCCESS;
		uint64_t vector = p[0] & 0xffffffff, format = p[1], banks = p[2];
		if (format == HV_GENERIC_SET_SPARSE_4K && varhead != (uint32_t)__builtin_popcountll(banks))
			return HV_STATUS_INVALID_HYPERCALL_INPUT;
		if (format == HV_GENERIC_SET_SPARSE_4K && !banks) return HV_STATUS_SUCCESS;
		if (vector < HV_IPI_LOW_VECTOR || vector > HV_IPI_HIGH_VECTOR) return HV_STATUS_INVALID_HYPERCALL_INPUT;
		for (int i = 0; i < ncpus; i++)
			if (format == HV_GENERIC_SET_ALL || ((banks & 1) && (p[3] & (1ull << i))))
				signal_msi((uint32_t)i, (uint8_t)vector);
		return HV_STATUS_SUCCESS;
	}
	}
	(void)v;
	return HV_STATUS_INVALID_HYPERCALL_CODE;
}

/* ------------------------------------------------------------------ CPUID */
static void set_cpuid(struct vp *v)
{
	int n = 256;
	struct kvm_cpuid2 *c = calloc(1, sizeof *c + n * sizeof(struct kvm_cpuid_entry2));
	c->nent = n;
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0) die("KVM_GET_SUPPORTED_CPUID");
	int j = 0;
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];
		if (hv_on && (e->function & 0xffff0000u) == 0x40000000u) continue;   /* drop KVM's leaves */
		if (e->function == 1) {
			e->ecx |= CPUID_1_ECX_HYPERVISOR;
			e->ebx = (e->ebx & 0x00ffffff) | ((uint32_t)v->index << 24);
		}
		if (e->function == 0xb || e->function == 0x1f) e->edx = (uint32_t)v->index;
		c->entries[j++] = *e;
	}
	if (hv_on) {
		uint32_t fa = HvPrivilegeEax_AccessHypercallMsrs, fb = 0, fd = HvFeatureEdx_CpuDynamicPartitioningAvailable;
		uint32_t ra = 0, rb = enl[E_SPINLOCKS] ? 0x1fff : HV_SPINLOCK_RETRIES_NEVER_NOTIFY;
		if (enl[E_RUNTIME]) fa |= HvPrivilegeEax_AccessVpRunTimeReg;
		if (enl[E_TIME]) fa |= HvPrivilegeEax_AccessPartitionReferenceCounter | HvPrivilegeEax_AccessPartitionReferenceTsc;
		if (enl[E_SYNIC]) { fa |= HvPrivilegeEax_AccessSynicRegs; fb |= HvPrivilegeEbx_PostMessages | HvPrivilegeEbx_SignalEvents; }
		if (enl[E_STIMER]) fa |= HvPrivilegeEax_AccessSyntheticTimerRegs;
		if (enl[E_VAPIC]) { fa |= HvPrivilegeEax_AccessIntrCtrlRegs; ra |= HvRecommendationEax_UseApicMsrs; }
		if (enl[E_VPINDEX]) fa |= HvPrivilegeEax_AccessVpIndex;
		if (enl[E_RESET]) fa |= HvPrivilegeEax_AccessResetReg;
		if (enl[E_FREQUENCIES]) { fa |= HvPrivilegeEax_AccessFrequencyRegs; fd |= HvFeatureEdx_FrequencyRegsAvailable; }
		if (enl[E_REENLIGHTENMENT]) fa |= HvPrivilegeEax_AccessReenlightenmentControls;
		if (enl[E_CRASH]) fd |= HvFeatureEdx_GuestCrashRegsAvailable;
		if (enl[E_STIMER_DIRECT]) fd |= HvFeatureEdx_DirectSyntheticTimers;
		if (enl[E_XMM_INPUT]) fd |= HvFeatureEdx_XmmRegistersForFastHypercallAvailable;
		if (enl[E_TLBFLUSH_EXT]) fd |= HvFeatureEdx_ExtendedGvaRangesForFlushVirtualAddressListAvailable;
		if (enl[E_RELAXED]) ra |= HvRecommendationEax_UseRelaxedTiming;
		if (enl[E_TLBFLUSH]) ra |= HvRecommendationEax_UseHypercallForRemoteFlush | HvRecommendationEax_UseExProcessorMasks;
		if (enl[E_IPI]) ra |= HvRecommendationEax_UseSyntheticClusterIpi | HvRecommendationEax_UseExProcessorMasks;
		if (enl[E_NO_NONARCH]) ra |= HvRecommendationEax_NoNonArchitecturalCoreSharing;
		struct kvm_cpuid_entry2 hv[] = {
			{.function = 0x40000000, .eax = 0x40000005, .ebx = 0x7263694D, .ecx = 0x666F736F, .edx = 0x76482074},
			{.function = 0x40000001, .eax = HV_CPUID_SIGNATURE_HV1},
			{.function = 0x40000002, .eax = 0x3839, .ebx = 0xA0000},
			{.function = 0x40000003, .eax = fa, .ebx = fb, .edx = fd},
			{.function = 0x40000004, .eax = ra, .ebx = rb},
			{.function = 0x40000005, .eax = 0xFFFFFFFF, .ebx = 0x40},
		};
		for (size_t i = 0; i < sizeof hv / sizeof hv[0]; i++) c->entries[j++] = hv[i];
	}
	c->nent = (uint32_t)j;
	if (ioctl(v->fd, KVM_SET_CPUID2, c) < 0) die("KVM_SET_CPUID2");
	free(c);
}

/* ------------------------------------------------------------------ loading and vCPU setup */
static uint32_t load_elf32(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) die("open %s", path);
	Elf32_Ehdr eh;
	if (fread(&eh, sizeof eh, 1, f) != 1 || memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS32)
		die("%s: not an ELF32 image", path);
	for (int i = 0; i < eh.e_phnum; i++) {
		Elf32_Phdr ph;
		fseek(f, (long)(eh.e_phoff + (uint32_t)i * eh.e_phentsize), SEEK_SET);
		if (fread(&ph, sizeof ph, 1, f) != 1) die("read phdr");
		if (ph.p_type != PT_LOAD) continue;
		uint8_t *dst = gpa(ph.p_paddr, ph.p_memsz);
		if (!dst) die("segment at 0x%x outside RAM", ph.p_paddr);
		memset(dst, 0, ph.p_memsz);
		fseek(f, (long)ph.p_offset, SEEK_SET);
		if (ph.p_filesz && fread(dst, ph.p_filesz, 1, f) != 1) die("read segment");
	}
	fclose(f);
	return eh.e_entry;
}

/* Multiboot v1 hand-off: 32-bit flat protected mode, paging off, EAX = magic, EBX = MBI. */
static void setup_bsp(struct vp *v, uint32_t entry)
{
	struct kvm_sregs s;
	if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0) die("KVM_GET_SREGS");
	struct kvm_segment code = {.base = 0, .limit = 0xffffffff, .selector = 0x10, .type = 0xb, .present = 1,
				   .dpl = 0, .db = 1, .s = 1, .l = 0, .g = 1};
	struct kvm_segment data = code;
	data.type = 0x3;
	data.selector = 0x18;
	s.cs = code;
	s.ds = s.es = s.fs = s.gs = s.ss = data;
	s.cr0 = 0x11;   /* PE | ET */
	s.cr4 = 0;
	s.efer = 0;
	if (ioctl(v->fd, KVM_SET_SREGS, &s) < 0) die("KVM_SET_SREGS");
	struct kvm_regs r = {.rip = entry, .rax = 0x2BADB002, .rbx = MBI_ADDR, .rflags = 0x2};
	if (ioctl(v->fd, KVM_SET_REGS, &r) < 0) die("KVM_SET_REGS");
}

static void setup_mbi(const char *kernel, const char *cmdline)
{
	uint32_t mbi[8] = {0};
	mbi[0] = (1u << 0) | (1u << 2);   /* mem_lower/upper, cmdline */
	mbi[1] = 640;
	mbi[2] = (uint32_t)((ram_size >> 10) - 1024);
	mbi[4] = MBI_CMDLINE;
	memcpy(ram + MBI_ADDR, mbi, sizeof mbi);
	snprintf((char *)gpa(MBI_CMDLINE, 0x800), 0x800, "%s%s%s", kernel, cmdline[0] ? " " : "", cmdline);
}

/* ------------------------------------------------------------------ run loop */
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static void *vcpu_loop(void *arg)
{
	struct vp *v = arg;
	struct kvm_run *run = v->run;
	const uint64_t sync = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS;
	for (;;) {
		if (sync_regs && run->kvm_valid_regs != sync) run->kvm_valid_regs = sync;
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) continue;
			die("KVM_RUN vcpu %d", v->index);
		}
		switch (run->exit_reason) {
		case KVM_EXIT_IO: {
			uint8_t *d = (uint8_t *)run + run->io.data_offset;
			uint16_t port = run->io.port;
			if (run->io.direction == KVM_EXIT_IO_OUT) {
				if (port == 0x3F8) {
					pthread_mutex_lock(&out_lock);
					fwrite(d, 1, run->io.count, stdout);
					fflush(stdout);
					pthread_mutex_unlock(&out_lock);
				} else if (port == 0xF4 && run->io.size == 4) {
					uint32_t code;
					memcpy(&code, d, 4);
					fflush(stdout);
					exit((int)((code << 1) | 1) & 0xff);
				} else if (port == HCALL_PORT && run->io.size == 4) {
					struct kvm_regs buf_r, *r = &buf_r;
					struct kvm_sregs buf_s, *s = &buf_s;
					bool synced = sync_regs && (run->kvm_valid_regs & sync) == sync;
					if (synced) {
						r = &run->s.regs.regs;
						s = &run->s.regs.sregs;
					} else if (ioctl(v->fd, KVM_GET_REGS, r) < 0 || ioctl(v->fd, KVM_GET_SREGS, s) < 0) die("regs");
					bool ud = (s->cs.selector & 3) != 0 || !(s->cr0 & 1);
					pthread_mutex_lock(&lock);
					uint64_t res = ud ? 0 : hypercall(v, r, &ud);
					pthread_mutex_unlock(&lock);
					if (ud) {
						struct kvm_vcpu_events ev;
						if (ioctl(v->fd, KVM_GET_VCPU_EVENTS, &ev) < 0) die("GET_VCPU_EVENTS");
						ev.exception.injected = 1;
						ev.exception.nr = 6;
						ev.exception.has_error_code = 0;
						if (ioctl(v->fd, KVM_SET_VCPU_EVENTS, &ev) < 0) die("SET_VCPU_EVENTS");
					} else {
						r->rax = res;
						if (synced) run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
						else if (ioctl(v->fd, KVM_SET_REGS, r) < 0) die("KVM_SET_REGS");
					}
				}
			} else {
				uint32_t val = 0xffffffff;
				if (port == 0x3FD) val = 0x60;   /* LSR: THR empty */
				else if (port >= 0x3F8 && port <= 0x3FF) val = 0;
				memcpy(d, &val, run->io.size);
			}
			break;
		}
		case KVM_EXIT_MMIO:
			if (!run->mmio.is_write) memset(run->mmio.data, 0xff, run->mmio.len);
			break;
		case KVM_EXIT_X86_RDMSR: {
			uint64_t val = 0;
			pthread_mutex_lock(&lock);
			int rc = msr_read(v, run->msr.index, &val);
			pthread_mutex_unlock(&lock);
			run->msr.error = rc ? 1 : 0;
			run->msr.data = val;
			break;
		}
		case KVM_EXIT_X86_WRMSR: {
			pthread_mutex_lock(&lock);
			int rc = msr_write(v, run->msr.index, run->msr.data);
			pthread_mutex_unlock(&lock);
			run->msr.error = rc ? 1 : 0;
			break;
		}
		case KVM_EXIT_HLT:
			usleep(1000);
			break;
		case KVM_EXIT_SHUTDOWN:
			fflush(stdout);
			fprintf(stderr, "mockhv: vcpu %d: shutdown (triple fault)\n", v->index);
			exit(122);
		case KVM_EXIT_INTERNAL_ERROR:
			fprintf(stderr, "mockhv: vcpu %d: internal error suberror %u\n", v->index, run->internal.suberror);
			exit(123);
		case KVM_EXIT_FAIL_ENTRY:
			fprintf(stderr, "mockhv: vcpu %d: fail entry 0x%llx\n", v->index,
				(unsigned long long)run->fail_entry.hardware_entry_failure_reason);
			exit(124);
		default:
			fprintf(stderr, "mockhv: vcpu %d: unhandled exit %u\n", v->index, run->exit_reason);
			exit(125);
		}
	}
	return NULL;
}

static void *watchdog(void *arg)
{
	sleep((unsigned)(uintptr_t)arg);
	fflush(stdout);
	fprintf(stderr, "mockhv: timeout\n");
	_exit(126);
}

int main(int argc, char **argv)
{
	const char *enl_list = "relaxed,vapic,spinlocks,vpindex,runtime,crash,time,synic,stimer,stimer-direct,"
			       "frequencies,reenlightenment,reset,tlbflush,tlbflush-ext,ipi,xmm-input";
	unsigned timeout = 60;
	int opt;
	while ((opt = getopt(argc, argv, "s:m:e:b:t:S")) != -1) {
		switch (opt) {
		case 's': ncpus = atoi(optarg); break;
		case 'm': ram_size = strtoull(optarg, NULL, 0) << 20; break;
		case 'e': enl_list = optarg; break;
		case 'b': snprintf(breakage, sizeof breakage, "%s", optarg); break;
		case 't': timeout = (unsigned)atoi(optarg); break;
		case 'S': sync_regs = true; break;
		default:
			fprintf(stderr, "usage: mockhv [-s ncpus] [-m MiB] [-e enl,...|none] [-b bug] [-t secs] [-S] kernel.elf [cmdline]\n");
			return 120;
		}
	}
	if (optind >= argc || ncpus < 1 || ncpus > MAX_VCPUS) {
		fprintf(stderr, "usage: mockhv [-s ncpus] [-m MiB] [-e enl,...|none] [-b bug] [-t secs] [-S] kernel.elf [cmdline]\n");
		return 120;
	}
	parse_enl(enl_list);
	for (int i = 0; i < E_N; i++) hv_on |= enl[i];
	const char *kernel = argv[optind], *cmdline = optind + 1 < argc ? argv[optind + 1] : "";

	pthread_t wd;
	pthread_create(&wd, NULL, watchdog, (void *)(uintptr_t)timeout);

	if ((kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC)) < 0) die("open /dev/kvm");
	if ((vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0)) < 0) die("KVM_CREATE_VM");
	ioctl(vm_fd, KVM_SET_TSS_ADDR, 0xfffbd000ul);
	uint64_t idmap = 0xfffbc000ull;
	ioctl(vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap);
	if (ioctl(vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) die("KVM_CREATE_IRQCHIP");

	/* Hyper-V MSRs exit to user space: deny 0x40000000..0x400001FF in the filter, allow the rest. */
	struct kvm_enable_cap cap = {.cap = KVM_CAP_X86_USER_SPACE_MSR,
				     .args = {KVM_MSR_EXIT_REASON_FILTER | KVM_MSR_EXIT_REASON_UNKNOWN}};
	if (ioctl(vm_fd, KVM_ENABLE_CAP, &cap) < 0) die("KVM_CAP_X86_USER_SPACE_MSR");
	static uint8_t deny[0x200 / 8];
	struct kvm_msr_filter filter = {.flags = KVM_MSR_FILTER_DEFAULT_ALLOW};
	filter.ranges[0] = (struct kvm_msr_filter_range){
		.flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE, .nmsrs = 0x200, .base = 0x40000000, .bitmap = deny};
	if (ioctl(vm_fd, KVM_X86_SET_MSR_FILTER, &filter) < 0) die("KVM_X86_SET_MSR_FILTER");

	ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (ram == MAP_FAILED) die("mmap");
	struct kvm_userspace_memory_region mr = {.slot = 0, .guest_phys_addr = 0, .memory_size = ram_size,
						 .userspace_addr = (uint64_t)ram};
	if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &mr) < 0) die("KVM_SET_USER_MEMORY_REGION");

	uint32_t entry = load_elf32(kernel);
	setup_mbi(kernel, cmdline);

	int run_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (sync_regs) {
		int caps = ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS);
		if (caps < 0 || (caps & (KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS)) != (KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS)) {
			fprintf(stderr, "mockhv: -S: KVM_CAP_SYNC_REGS = %d lacks REGS|SREGS\n", caps);
			return 120;
		}
	}
	for (int i = 0; i < ncpus; i++) {
		struct vp *v = &vps[i];
		v->index = i;
		v->scontrol = 1;
		for (int s = 0; s < 16; s++) v->sint[s] = HV_SYNIC_SINT_RESET;
		if ((v->fd = ioctl(vm_fd, KVM_CREATE_VCPU, i)) < 0) die("KVM_CREATE_VCPU");
		v->run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
		if (v->run == MAP_FAILED) die("mmap kvm_run");
		set_cpuid(v);
	}
	int khz = ioctl(vps[0].fd, KVM_GET_TSC_KHZ, 0);
	if (khz <= 0) die("KVM_GET_TSC_KHZ");
	tsc_hz = (uint64_t)khz * 1000;
	part.scale = (uint64_t)(((unsigned __int128)HV_CLOCK_HZ << 64) / tsc_hz);
	setup_bsp(&vps[0], entry);

	for (int i = 1; i < ncpus; i++) pthread_create(&vps[i].thread, NULL, vcpu_loop, &vps[i]);
	vcpu_loop(&vps[0]);
	return 0;
}
