/* layout.h: fixed addresses and sizes shared by entry.S and C (plain #defines only). */
#ifndef LAYOUT_H
#define LAYOUT_H

#define LOAD_ADDR 0x00100000        /* image is linked and loaded at 1 MiB */
#define GDT_CODE64 0x08
#define GDT_DATA 0x10
#define GDT_CODE32 0x18

#define TRAMP_BASE 0x00008000       /* AP trampoline page (SIPI vector 0x08); the MBI of QEMU is at 0x9000 */
#define MAX_APS 31                  /* APs beyond this park in the trampoline's 64-bit tail */
#define AP_STACK_SIZE 0x4000
#define BOOT_STACK_SIZE 0x8000

/* Guest pages the probe hands to the hypervisor (all in guest RAM, outside the ELF image). */
#define HV_PAGES_BASE 0x00400000
#define GPA_HYPERCALL_PAGE (HV_PAGES_BASE + 0x0000)
#define GPA_TSC_PAGE (HV_PAGES_BASE + 0x1000)
#define GPA_VP_ASSIST_PAGE (HV_PAGES_BASE + 0x2000)   /* BSP; AP n uses + 0x10000 + n*0x1000 */
#define GPA_HCALL_INPUT (HV_PAGES_BASE + 0x3000)
#define GPA_HCALL_OUTPUT (HV_PAGES_BASE + 0x4000)
#define GPA_SIMP (HV_PAGES_BASE + 0x5000)
#define GPA_SIEFP (HV_PAGES_BASE + 0x6000)
#define GPA_SELFTEST_PAGE (HV_PAGES_BASE + 0x7000)   /* selftest=1: fake hypercall stubs */
#define GPA_TLB_PD (HV_PAGES_BASE + 0x8000)        /* tlbflush.remote_no_stale: page directory for GVA 4 GiB */
#define GPA_TLB_PT (HV_PAGES_BASE + 0x9000)        /* its page table */
#define GPA_TLB_A (HV_PAGES_BASE + 0xA000)         /* the two physical pages the PTE alternates between */
#define GPA_TLB_B (HV_PAGES_BASE + 0xB000)
#define TLB_GVA 0x100000000ull                     /* PDPT[4]: outside the 0-4 GiB identity map */
#define HV_PAGES_END (HV_PAGES_BASE + 0xC000)

#endif
