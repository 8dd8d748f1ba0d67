# Positive control for stale_tlb.ts: the guest never writes the PTE; the VMM writes X's PTE straight
# into guest memory at the OUT 0x10 exit (bypassing KVM's write tracking), so a stale read at
# OUT 0x11 shows the harness can see a cached translation, and OUT 0x12 shows whether a method
# makes KVM rebuild it.
	.code64
	.set X, 0x400000
	.globl _start
_start:
1:
	movl X, %eax
	outl %eax, $0x10
	movl X, %eax
	outl %eax, $0x11
	movl X, %eax
	outl %eax, $0x12
	jmp 1b
