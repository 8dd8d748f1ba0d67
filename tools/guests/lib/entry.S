/*
 * entry.S: multiboot v1 header, 32-bit entry, static identity page tables, GDT, 64-bit entry,
 * interrupt stubs and the AP trampoline.
 *
 * The 32-bit part runs under instruction emulation on nested PVM hosts, so it uses only
 * mov, lgdt, mov to CRn, wrmsr and ljmp. Page tables are static data (no loops in 32-bit code).
 */
#include "layout.h"

#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000003 /* bit 0: page-align modules, bit 1: memory info */

/* ------------------------------------------------------------------ multiboot header */
	.section .multiboot, "a"
	.balign 4
multiboot_header:
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)

/* ------------------------------------------------------------------ 32-bit entry */
	.section .text.boot, "ax"
	.code32
	.globl _start
_start:
	movl %eax, mb_magic
	movl %ebx, mb_info
	lgdt gdtr
	movl $0x20, %eax              /* CR4.PAE */
	movl %eax, %cr4
	movl $boot_pml4, %eax
	movl %eax, %cr3
	movl $0xC0000080, %ecx        /* IA32_EFER */
	movl $0x100, %eax             /* LME */
	movl $0, %edx
	wrmsr
	movl $0x80000011, %eax        /* PG | ET | PE */
	movl %eax, %cr0
	ljmp $GDT_CODE64, $long_entry

/* ------------------------------------------------------------------ 64-bit entry (BSP) */
	.code64
long_entry:
	movw $GDT_DATA, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	xorl %eax, %eax
	movw %ax, %fs
	movw %ax, %gs
	/* zero .bss (no stack use before this) */
	movl $__bss_start, %edi
	movl $__bss_end, %ecx
	subl %edi, %ecx
	xorl %eax, %eax
	cld
	rep stosb
	movq $boot_stack_top, %rsp
	xorl %ebp, %ebp
	call rt_start
1:	cli
	hlt
	jmp 1b

/* ------------------------------------------------------------------ 64-bit entry (APs) */
/* Reached from the trampoline with flat segments loaded. Takes a ticket, picks its stack. */
	.globl ap_long_entry
ap_long_entry:
	movl $1, %eax
	lock xaddl %eax, ap_ticket(%rip)
	cmpl $MAX_APS, %eax
	jae 2f
	movl %eax, %edi                /* arg0: ticket (0-based) */
	leaq 1(%rax), %rdx
	imulq $AP_STACK_SIZE, %rdx
	leaq ap_stacks(%rip), %rsp
	addq %rdx, %rsp
	xorl %ebp, %ebp
	call ap_c_entry
2:	cli
	hlt
	jmp 2b

/* ------------------------------------------------------------------ interrupt stubs */
/* 256 stubs, 16 bytes apart: isr_stubs + 16*vector. Each pushes a dummy error code when the
 * CPU does not, then the vector, then jumps to isr_common. */
	.text
	.balign 16
	.globl isr_stubs
isr_stubs:
	.set vec, 0
	.rept 256
	.balign 16
	.if (vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
	.else
	pushq $0
	.endif
	pushq $vec
	jmp isr_common
	.set vec, vec + 1
	.endr

isr_common:
	pushq %rax
	pushq %rcx
	pushq %rdx
	pushq %rbx
	pushq %rbp
	pushq %rsi
	pushq %rdi
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, %rdi
	movq %rsp, %rbx               /* callee-saved: realign and restore */
	andq $-16, %rsp
	cld
	call intr_dispatch
	movq %rbx, %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rdi
	popq %rsi
	popq %rbp
	popq %rbx
	popq %rdx
	popq %rcx
	popq %rax
	addq $16, %rsp
	iretq

/* ------------------------------------------------------------------ AP trampoline */
/* Copied to TRAMP_BASE (page-aligned, < 1 MiB) and entered by SIPI vector TRAMP_BASE>>12 in
 * real mode with CS = TRAMP_BASE>>4, IP = 0. Only absolute addresses: no RIP-relative code. */
#define TR(sym) (TRAMP_BASE + ((sym) - tramp_start))
	.section .rodata.tramp, "a"
	.balign 16
	.globl tramp_start, tramp_end
	.code16
tramp_start:
	movw %cs, %ax
	movw %ax, %ds
	lgdtl tr_gdtr - tramp_start
	movl $0x11, %eax              /* ET | PE */
	movl %eax, %cr0
	ljmpl $GDT_CODE32, $TR(tr_pm32)
	.code32
tr_pm32:
	movw $GDT_DATA, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movl $0x20, %eax              /* CR4.PAE */
	movl %eax, %cr4
	movl $boot_pml4, %eax
	movl %eax, %cr3
	movl $0xC0000080, %ecx
	movl $0x100, %eax
	movl $0, %edx
	wrmsr
	movl $0x80000011, %eax
	movl %eax, %cr0
	ljmp $GDT_CODE64, $TR(tr_lm64)
	.code64
tr_lm64:
	movabsq $ap_long_entry, %rax
	jmp *%rax
	.balign 8
tr_gdtr:
	.word gdt_end - gdt - 1
	.long gdt
tramp_end:

/* ------------------------------------------------------------------ data */
	.data
	.balign 16
	.globl gdt
gdt:
	.quad 0
	.quad 0x00AF9B000000FFFF      /* 0x08: 64-bit code */
	.quad 0x00CF93000000FFFF      /* 0x10: data */
	.quad 0x00CF9B000000FFFF      /* 0x18: 32-bit code */
gdt_end:
	.balign 8
	.globl gdtr
gdtr:
	.word gdt_end - gdt - 1
	.quad gdt

	.globl mb_magic, mb_info, ap_ticket
	.balign 4
mb_magic:	.long 0
mb_info:	.long 0
ap_ticket:	.long 0

/* Identity map of the first 4 GiB with 2 MiB pages; the 4th GiB (MMIO: LAPIC, IOAPIC) is UC. */
	.section .data.pagetables, "aw"
	.balign 4096
	.globl boot_pml4
boot_pml4:
	.quad boot_pdpt + 0x3
	.fill 511, 8, 0
boot_pdpt:
	.quad boot_pd + 0x0000 + 0x3
	.quad boot_pd + 0x1000 + 0x3
	.quad boot_pd + 0x2000 + 0x3
	.quad boot_pd + 0x3000 + 0x3
	.fill 508, 8, 0
boot_pd:
	.set i, 0
	.rept 2048
	.if i >= 1536
	.quad (i << 21) | 0x9B        /* P | RW | PWT | PCD | PS */
	.else
	.quad (i << 21) | 0x83        /* P | RW | PS */
	.endif
	.set i, i + 1
	.endr

	.bss
	.balign 16
boot_stack:
	.skip BOOT_STACK_SIZE
	.globl boot_stack_top
boot_stack_top:
	.balign 16
	.globl ap_stacks
ap_stacks:
	.skip AP_STACK_SIZE * (MAX_APS + 1)
