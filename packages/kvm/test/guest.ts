/**
 * Test support: a minimal 64-bit long-mode VM (no real mode) built with `@hv/x86` boot state, and the
 * machine code of the tiny guests the tests run. Memory map (GPA):
 * - 0x0500 GDT (+ TSS at 0x0530), 0x1000 IDT (256 gates), 0x2000 page tables (identity, 1 GiB),
 * - 0x8000.. guest code, 0x9000 #GP handler, 0x7_0000 stack top; RAM is `ramSize` bytes at GPA 0.
 * MMIO_GPA (256 MiB) is mapped by the page tables but has no memory slot: accesses exit as KVM_EXIT_MMIO.
 * @module
 */
import { GuestMemory, longModeSregs, writeGdt, writeIdentityPageTables, writeIdtGate64 } from "@hv/x86";
import { type Kvm, RFLAGS_FIXED, type Vcpu, type Vm } from "../mod.ts";

/** Where the guests' code goes. */
export const CODE = 0x8000;
/** The #GP handler: `mov al, 13; mov dx, GP_PORT; out dx, al; hlt`. */
export const GP_HANDLER = 0x9000;
/** The port the #GP handler writes 13 to. */
export const GP_PORT = 0x510;
/** A GPA inside the identity map but outside every memory slot. */
export const MMIO_GPA = 0x1000_0000;
/** Initial RSP. */
export const STACK_TOP = 0x7_0000;

/** Machine code of the test guests (64-bit mode). */
export const GUEST = {
  /** mov al, 'H'; mov dx, 0x3f8; out dx, al; hlt */
  out: [0xb0, 0x48, 0x66, 0xba, 0xf8, 0x03, 0xee, 0xf4],
  /** mov eax, 0xdeadbeef; mov [MMIO_GPA], eax; hlt */
  mmio: [0xb8, 0xef, 0xbe, 0xad, 0xde, 0x89, 0x04, 0x25, 0x00, 0x00, 0x00, 0x10, 0xf4],
  /** mov ecx, 0x40000000; rdmsr; hlt */
  rdmsr: [0xb9, 0x00, 0x00, 0x00, 0x40, 0x0f, 0x32, 0xf4],
  /** mov ecx, 0x40000001; mov eax, 1; xor edx, edx; wrmsr; hlt */
  wrmsr: [0xb9, 0x01, 0x00, 0x00, 0x40, 0xb8, 0x01, 0x00, 0x00, 0x00, 0x31, 0xd2, 0x0f, 0x30, 0xf4],
  /** hlt */
  hlt: [0xf4],
  /** L: jmp L */
  spin: [0xeb, 0xfe],
  /** mov dx, 0x3f8; mov al, 'A'; mov ecx, 100000; L: out dx, al; dec ecx; jnz L; hlt */
  outLoop: [0x66, 0xba, 0xf8, 0x03, 0xb0, 0x41, 0xb9, 0xa0, 0x86, 0x01, 0x00, 0xee, 0xff, 0xc9, 0x75, 0xfb, 0xf4],
  /** #GP handler: mov al, 13; mov dx, GP_PORT; out dx, al; hlt */
  gpHandler: [0xb0, 0x0d, 0x66, 0xba, GP_PORT & 0xff, GP_PORT >> 8, 0xee, 0xf4],
} as const;

/** A VM with one long-mode vCPU ready to run code at {@link CODE}. */
export interface LongModeVm extends Disposable {
  readonly vm: Vm;
  readonly vcpu: Vcpu;
  readonly memory: GuestMemory;
  /** Copies `code` to `at` (default {@link CODE}) and points RIP there (RSP = STACK_TOP, RFLAGS = 2). */
  load(code: readonly number[], at?: number): void;
}

/**
 * Creates a VM with `ramSize` bytes of RAM, KVM's supported CPUID on vCPU 0 (long mode needs CPUID.LM),
 * GDT/TSS, an IDT whose vector 13 (#GP) goes to {@link GP_HANDLER}, identity page tables for 1 GiB,
 * and long-mode sregs; no in-kernel irqchip (so HLT exits to userspace).
 */
export function longModeVm(kvm: Kvm, ramSize = 4 << 20): LongModeVm {
  const vm = kvm.createVm();
  try {
    const ram = vm.addRam(0, 0, ramSize);
    const memory = new GuestMemory(ram.bytes);
    const gdt = writeGdt(memory, 0x500);
    for (let v = 0; v < 32; v++) writeIdtGate64(memory, 0x1000, v, GP_HANDLER); // any exception ends up visible
    const cr3 = writeIdentityPageTables(memory, 0x2000, 1 << 30);
    memory.write(GP_HANDLER, Uint8Array.from(GUEST.gpHandler));
    const vcpu = vm.createVcpu(0);
    vcpu.setCpuid2(kvm.supportedCpuid());
    const sregs = vcpu.getSregs();
    sregs.apply(longModeSregs({ gdt, cr3, idt: { base: 0x1000, limit: 256 * 16 - 1 } }));
    vcpu.setSregs();
    const load = (code: readonly number[], at = CODE) => {
      memory.write(at, Uint8Array.from(code));
      const regs = vcpu.regs;
      regs.clear();
      regs.rip = at;
      regs.rsp = STACK_TOP;
      regs.rflags = RFLAGS_FIXED;
      vcpu.setRegs();
    };
    return { vm, vcpu, memory, load, [Symbol.dispose]: () => vm.close() };
  } catch (e) {
    vm.close();
    throw e;
  }
}
