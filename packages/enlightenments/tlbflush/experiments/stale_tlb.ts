/**
 * Experiment: which userspace action makes KVM drop a vCPU's cached guest translations before it
 * next runs guest code? (Input for `PartitionView.flushTlb` on the KVM machine.) Not part of the
 * package build or tests. Run from the repository root:
 *
 *   npx deno run -A packages/enlightenments/tlbflush/experiments/stale_tlb.ts [iterations]
 *
 * One vCPU in long mode runs `stale_tlb_guest.S` (bytes below): it reads GVA X (0x400000, a 4 KiB
 * page whose PTE lives at GPA 0x6000), swaps X's PTE itself between page A and page B with no INVLPG,
 * reads X again (OUT 0x11: a stale value proves a translation was cached across the PTE write), and,
 * after the VMM applied a candidate flush at that exit, reads X once more (OUT 0x12: a stale value
 * means the method is not a flush). Each method runs `iterations` times, with non-global and with
 * global (PTE.G + CR4.PGE) mappings; it reports stale counts and the method's cost. Variants:
 * `stale_tlb_guest_inline.S` (the second read right after the PTE store, no exit in between) and
 * `stale_tlb_guest_hostwrite.S` (positive control: the VMM rewrites the PTE behind KVM's back).
 *
 * Results on this host (Linux 6.18.44-fc, KVM with kvm_pvm, i.e. PVM shadow paging inside a VM on
 * AMD EPYC; 1000 iterations each): **no stale read in any configuration**, not even with
 * method "none" or in the positive control. A guest's PTE store is trapped and resynced at once,
 * and an exit to userspace leaves the vCPU with fresh translations. So this host cannot tell the
 * methods apart; it only gives their costs: KVM_SET_SREGS x2 (CR4.PGE toggle) ~16 us, the same with a
 * CR3 round trip ~16 us, KVM_SET_REGS/SREGS unchanged ~10 us, a dirty-logging round trip on the
 * memslot 18-125 us (it grows with RAM and flushes the whole VM). On VMX/SVM with EPT/NPT the
 * hardware keeps guest-linear translations (tagged by VPID/ASID/EPTP) across exits, so the
 * machine must flush explicitly; the CR4 toggle is what KVM's source guarantees to be a full flush
 * (`__set_sregs_common`: a changed CR0/CR3/CR4/EFER sets mmu_reset_needed -> `kvm_mmu_reset_context`;
 * the next entry's `kvm_mmu_load` runs `kvm_mmu_sync_roots` and `flush_tlb_current`, i.e. INVEPT
 * single-context / INVVPID / an ASID flush, which drops every guest translation of that vCPU).
 * @module
 */
import {
  KVM_EXIT_IO,
  KVM_MEM_LOG_DIRTY_PAGES,
  Kvm,
  type Vcpu,
  type Vm,
} from "@hv/kvm";
import { CR4_PGE, GuestMemory, longModeSregs, PTE_P, PTE_RW, writeGdt, writeIdentityPageTables } from "@hv/x86";

// as --64 <file>.S && objcopy -O binary -j .text: stale_tlb_guest.S (an exit between the PTE store and
// the second read) and stale_tlb_guest_inline.S (the second read right after the store, no exit).
// stale_tlb_guest_hostwrite.S: the positive control (the VMM writes the PTE behind KVM's back).
const HOST_WRITES = "positive control: the VMM writes the PTE at OUT 0x10";
const GUESTS: Record<string, Uint8Array> = {
  "exit between store and read": new Uint8Array([
    0x8b, 0x04, 0x25, 0x00, 0x00, 0x40, 0x00, 0xe7, 0x10, 0x48, 0x8b, 0x0c, 0x25, 0x00, 0x90, 0x00,
    0x00, 0x48, 0x89, 0x0c, 0x25, 0x00, 0x60, 0x00, 0x00, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x40, 0x00,
    0xe7, 0x11, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x40, 0x00, 0xe7, 0x12, 0xeb, 0xd3,
  ]),
  "read right after the store": new Uint8Array([
    0x8b, 0x04, 0x25, 0x00, 0x00, 0x40, 0x00, 0x48, 0x8b, 0x0c, 0x25, 0x00, 0x90, 0x00, 0x00, 0x48,
    0x89, 0x0c, 0x25, 0x00, 0x60, 0x00, 0x00, 0x8b, 0x1c, 0x25, 0x00, 0x00, 0x40, 0x00, 0xe7, 0x10,
    0x89, 0xd8, 0xe7, 0x11, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x40, 0x00, 0xe7, 0x12, 0xeb, 0xd1,
  ]),
  [HOST_WRITES]: new Uint8Array([
    0x8b, 0x04, 0x25, 0x00, 0x00, 0x40, 0x00, 0xe7, 0x10, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x40, 0x00,
    0xe7, 0x11, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x40, 0x00, 0xe7, 0x12, 0xeb, 0xe3,
  ]),
};

const RAM = 4 << 20;
const GDT_AT = 0x1000, PT_AT = 0x2000; // PML4 0x2000, PDPT 0x3000, PD 0x4000 (identity, 2 MiB pages)
const PD_AT = 0x4000, PT_X = 0x6000, ALT_PML4 = 0x7000, MAILBOX = 0x9000, CODE = 0x10000;
const PAGE_A = 0x20000, PAGE_B = 0x21000, VALUE_A = 0xaaaa0001, VALUE_B = 0xbbbb0002;
const PTE_G = 1 << 8;

type Method = { name: string; apply: (vm: Vm, vcpu: Vcpu, ramAddress: number) => void };
const methods: Method[] = [
  { name: "none (exit to userspace and re-enter)", apply: () => {} },
  { name: "KVM_SET_REGS (unchanged)", apply: (_vm, v) => (v.getRegs(), v.setRegs()) },
  { name: "KVM_SET_SREGS (unchanged)", apply: (_vm, v) => (v.getSregs(), v.setSregs()) },
  {
    name: "KVM_SET_SREGS x2: CR4.PGE toggled and restored",
    apply: (_vm, v) => {
      const s = v.getSregs();
      const cr4 = s.cr4;
      s.cr4 = cr4 ^ CR4_PGE;
      v.setSregs();
      s.cr4 = cr4;
      v.setSregs();
    },
  },
  {
    name: "KVM_SET_SREGS x2: CR3 to a copy of the PML4 and back",
    apply: (_vm, v) => {
      const s = v.getSregs();
      const cr3 = s.cr3;
      s.cr3 = ALT_PML4;
      v.setSregs();
      s.cr3 = cr3;
      v.setSregs();
    },
  },
  {
    name: "KVM_SET_USER_MEMORY_REGION x2: dirty logging on and off (whole VM)",
    apply: (vm, _v, addr) => {
      vm.setUserMemoryRegion(0, 0, RAM, addr, KVM_MEM_LOG_DIRTY_PAGES);
      vm.setUserMemoryRegion(0, 0, RAM, addr, 0);
    },
  },
];

function setup(kvm: Kvm, global: boolean, guest: Uint8Array) {
  const vm = kvm.createVm();
  vm.setTssAddr(0xfffbd000);
  vm.setIdentityMapAddr(0xfffbc000);
  const ram = vm.addRam(0, 0, RAM);
  const mem = new GuestMemory(ram.bytes);
  const vcpu = vm.createVcpu(0);
  vcpu.setCpuid2(kvm.supportedCpuid());
  const gdt = writeGdt(mem, GDT_AT);
  const cr3 = writeIdentityPageTables(mem, PT_AT, 1 << 30);
  // GVA 0x400000..0x5fffff through a 4 KiB page table; X = 0x400000 -> page A.
  mem.writeU64(PD_AT + 2 * 8, PT_X | PTE_P | PTE_RW, 0);
  mem.writeU64(PT_X, PAGE_A | PTE_P | PTE_RW | (global ? PTE_G : 0), 0);
  for (let i = 0; i < 8; i += 4) mem.writeU32(ALT_PML4 + i, mem.readU32(cr3 + i)); // PML4[0] copy
  mem.writeU32(PAGE_A, VALUE_A);
  mem.writeU32(PAGE_B, VALUE_B);
  mem.write(CODE, guest);
  const s = vcpu.getSregs();
  s.apply(longModeSregs({ gdt, cr3 }));
  if (global) s.cr4 = s.cr4 | CR4_PGE;
  vcpu.setSregs();
  const r = vcpu.regs;
  r.clear();
  r.rflags = 2;
  r.rip = CODE;
  r.rsp = 0x8ff0;
  vcpu.setRegs();
  return { vm, vcpu, mem, ramAddress: ram.address };
}

/** Runs to the next OUT and returns [port, value]. */
function runToOut(vcpu: Vcpu): [number, number] {
  for (;;) {
    const r = vcpu.run();
    if (r === KVM_EXIT_IO) return [vcpu.kvmRun.ioPort, vcpu.kvmRun.ioData >>> 0];
    if (r < 0) continue;
    throw new Error(`unexpected exit ${r}`);
  }
}

const iterations = Number(Deno.args[0] ?? 200);
const kvm = Kvm.open();
console.log(`host: ${Deno.osRelease()}; ${iterations} iterations per method; stale = the guest read the old page`);
for (const [guestName, guest] of Object.entries(GUESTS)) for (const global of [false, true]) {
  console.log(`\n${guestName}; ${global ? "global mapping (PTE.G, CR4.PGE=1)" : "non-global mapping (CR4.PGE=0)"}`);
  for (const m of methods) {
    const { vm, vcpu, mem, ramAddress } = setup(kvm, global, guest);
    let staleBefore = 0, staleAfter = 0, ns = 0;
    for (let i = 0; i < iterations; i++) {
      const [target, value] = i % 2 === 0 ? [PAGE_B, VALUE_B] : [PAGE_A, VALUE_A];
      mem.writeU64(MAILBOX, target | PTE_P | PTE_RW | (global ? PTE_G : 0), 0);
      let [port] = runToOut(vcpu);
      if (port !== 0x10) throw new Error(`expected OUT 0x10, got 0x${port.toString(16)}`);
      if (guestName === HOST_WRITES) mem.writeU64(PT_X, target | PTE_P | PTE_RW | (global ? PTE_G : 0), 0);
      let v: number;
      [port, v] = runToOut(vcpu);
      if (port !== 0x11) throw new Error(`expected OUT 0x11, got 0x${port.toString(16)}`);
      if (v !== value) staleBefore++;
      const t0 = performance.now();
      m.apply(vm, vcpu, ramAddress);
      ns += (performance.now() - t0) * 1e6;
      [port, v] = runToOut(vcpu);
      if (port !== 0x12) throw new Error(`expected OUT 0x12, got 0x${port.toString(16)}`);
      if (v !== value) staleAfter++;
    }
    console.log(
      `  ${m.name.padEnd(70)} stale before: ${String(staleBefore).padStart(4)}  after: ${String(staleAfter).padStart(4)}  cost ${(ns / iterations / 1000).toFixed(1)} us`,
    );
    vm.close();
  }
}
kvm.close();
