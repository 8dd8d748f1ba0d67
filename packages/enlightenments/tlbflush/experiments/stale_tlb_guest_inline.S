# Variant of stale_tlb_guest.S without an exit between the PTE store and the second read:
#   read X (warm), store the new PTE (no INVLPG), read X into EBX at once, then report both:
#   OUT 0x10 = first read, OUT 0x11 = the read right after the store (the VMM applies the method
#   here), OUT 0x12 = read after the method.
	.code64
	.set X, 0x400000
	.set PTE_X, 0x6000
	.set MAILBOX, 0x9000
	.globl _start
_start:
1:
	movl X, %eax
	movq MAILBOX, %rcx
	movq %rcx, PTE_X
	movl X, %ebx
	outl %eax, $0x10
	movl %ebx, %eax
	outl %eax, $0x11
	movl X, %eax
	outl %eax, $0x12
	jmp 1b
