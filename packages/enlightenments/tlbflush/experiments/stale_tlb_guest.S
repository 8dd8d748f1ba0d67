# Guest for stale_tlb.ts (64-bit long mode, flat binary loaded at 0x10000). One iteration:
#   read X (warms the TLB/shadow entry) -> OUT 0x10
#   load the new PTE from the mailbox and store it into X's PTE, with no INVLPG / CR3 write
#   read X again -> OUT 0x11   (stale here = a translation was cached; the VMM applies a flush method now)
#   read X again -> OUT 0x12   (stale here = the method did not make KVM drop the translation)
	.code64
	.set X, 0x400000
	.set PTE_X, 0x6000
	.set MAILBOX, 0x9000
	.globl _start
_start:
1:
	movl X, %eax
	outl %eax, $0x10
	movq MAILBOX, %rcx
	movq %rcx, PTE_X
	movl X, %eax
	outl %eax, $0x11
	movl X, %eax
	outl %eax, $0x12
	jmp 1b
