/**
 * `struct kvm_sregs` (arch/x86/include/uapi/asm/kvm.h), 312 bytes: eight `struct kvm_segment`s
 * (cs, ds, es, fs, gs, ss, tr, ldt; 24 bytes each), two `struct kvm_dtable`s (gdt, idt; 16 bytes),
 * cr0, cr2, cr3, cr4, cr8, efer, apic_base (`__u64`) and the 256-bit `interrupt_bitmap`.
 * Used with KVM_GET_SREGS / KVM_SET_SREGS (api.rst §4.13, §4.14).
 * @module
 */
import type { BootSregs, DescriptorTable, SegmentState } from "@hv/x86";
import { getU64, KvmStruct, setU64 } from "./struct.ts";

/** Segment numbers in `struct kvm_sregs` order (byte offset = n * 24). */
export const Seg = { cs: 0, ds: 1, es: 2, fs: 3, gs: 4, ss: 5, tr: 6, ldt: 7 } as const;
/** One of {@link Seg}'s values. */
export type Seg = typeof Seg[keyof typeof Seg];

/** Byte offsets of the `__u8` flag fields inside `struct kvm_segment`. */
export const SegField = { type: 14, present: 15, dpl: 16, db: 17, s: 18, l: 19, g: 20, avl: 21, unusable: 22 } as const;
/** One of {@link SegField}'s values. */
export type SegField = typeof SegField[keyof typeof SegField];

/** sizeof(struct kvm_sregs). */
export const KVM_SREGS_SIZE = 312;
/** sizeof(struct kvm_segment). */
export const KVM_SEGMENT_SIZE = 24;

const GDT = 192;
const IDT = 208;
const CR0 = 224;
const CR2 = 232;
const CR3 = 240;
const CR4 = 248;
const CR8 = 256;
const EFER = 264;
const APIC_BASE = 272;
const BITMAP = 280;

/** A segment as read back from KVM: {@link SegmentState} plus KVM's `unusable` flag. */
export interface KvmSegment extends SegmentState {
  readonly unusable: number;
}

/**
 * A preallocated `struct kvm_sregs`. Segment fields by segment number without allocation
 * (`selector(Seg.cs)`, `field(Seg.cs, SegField.l)`, `base(Seg.fs)`), control registers as numbers
 * (exact below 2^53), {@link cpl} and {@link longMode} for the exit path; {@link apply} and
 * {@link segment} for edge code.
 */
export class KvmSregs extends KvmStruct {
  /** Allocates a zeroed struct, or wraps `bytes` (at least 312 bytes): e.g. `kvm_run.s.regs.sregs` ({@link KvmRun.syncSregs}). */
  constructor(bytes?: Uint8Array<ArrayBuffer>) {
    super(KVM_SREGS_SIZE, bytes);
  }

  /** Segment `s`'s selector. */
  selector(s: Seg): number {
    return this.view.getUint16(s * 24 + 12, true);
  }
  /** Segment `s`'s base (number). */
  base(s: Seg): number {
    return getU64(this.view, s * 24);
  }
  /** Segment `s`'s limit in bytes. */
  limit(s: Seg): number {
    return this.view.getUint32(s * 24 + 8, true);
  }
  /** A `__u8` field of segment `s` ({@link SegField}). */
  field(s: Seg, f: SegField): number {
    return this.bytes[s * 24 + f];
  }
  /** Sets a `__u8` field of segment `s`. */
  setField(s: Seg, f: SegField, value: number): void {
    this.bytes[s * 24 + f] = value;
  }

  /** Segment `s` as an object (allocates: edge code). */
  segment(s: Seg): KvmSegment {
    const o = s * 24;
    const b = this.bytes;
    return {
      selector: this.selector(s),
      base: this.base(s),
      limit: this.limit(s),
      type: b[o + 14],
      present: b[o + 15],
      dpl: b[o + 16],
      db: b[o + 17],
      s: b[o + 18],
      l: b[o + 19],
      g: b[o + 20],
      avl: b[o + 21],
      unusable: b[o + 22],
    };
  }

  /** Writes segment `s`; `unusable` defaults to `!present` (what KVM derives on VMX). */
  setSegment(s: Seg, seg: SegmentState & { readonly unusable?: number }): void {
    const o = s * 24;
    setU64(this.view, o, seg.base);
    this.view.setUint32(o + 8, seg.limit >>> 0, true);
    this.view.setUint16(o + 12, seg.selector, true);
    const b = this.bytes;
    b[o + 14] = seg.type;
    b[o + 15] = seg.present;
    b[o + 16] = seg.dpl;
    b[o + 17] = seg.db;
    b[o + 18] = seg.s;
    b[o + 19] = seg.l;
    b[o + 20] = seg.g;
    b[o + 21] = seg.avl;
    b[o + 22] = seg.unusable ?? (seg.present ? 0 : 1);
    b[o + 23] = 0;
  }

  /** GDTR as an object (allocates). */
  get gdt(): DescriptorTable {
    return { base: getU64(this.view, GDT), limit: this.view.getUint16(GDT + 8, true) };
  }
  set gdt(t: DescriptorTable) {
    setU64(this.view, GDT, t.base);
    this.view.setUint16(GDT + 8, t.limit, true);
  }
  /** IDTR as an object (allocates). */
  get idt(): DescriptorTable {
    return { base: getU64(this.view, IDT), limit: this.view.getUint16(IDT + 8, true) };
  }
  set idt(t: DescriptorTable) {
    setU64(this.view, IDT, t.base);
    this.view.setUint16(IDT + 8, t.limit, true);
  }

  /** CR0. */
  get cr0(): number {
    return getU64(this.view, CR0);
  }
  set cr0(v: number) {
    setU64(this.view, CR0, v);
  }
  /** CR2 (page-fault linear address). */
  get cr2(): number {
    return getU64(this.view, CR2);
  }
  set cr2(v: number) {
    setU64(this.view, CR2, v);
  }
  /** CR3 (page-table root). */
  get cr3(): number {
    return getU64(this.view, CR3);
  }
  set cr3(v: number) {
    setU64(this.view, CR3, v);
  }
  /** CR4. */
  get cr4(): number {
    return getU64(this.view, CR4);
  }
  set cr4(v: number) {
    setU64(this.view, CR4, v);
  }
  /** CR8 (TPR, 4 bits). */
  get cr8(): number {
    return getU64(this.view, CR8);
  }
  set cr8(v: number) {
    setU64(this.view, CR8, v);
  }
  /** IA32_EFER. */
  get efer(): number {
    return getU64(this.view, EFER);
  }
  set efer(v: number) {
    setU64(this.view, EFER, v);
  }
  /** IA32_APIC_BASE. */
  get apicBase(): number {
    return getU64(this.view, APIC_BASE);
  }
  set apicBase(v: number) {
    setU64(this.view, APIC_BASE, v);
  }

  /** Whether bit `vector` of `interrupt_bitmap` is set (a pending external interrupt without in-kernel irqchip). */
  interruptPending(vector: number): boolean {
    return ((this.bytes[BITMAP + (vector >>> 3)] >>> (vector & 7)) & 1) === 1;
  }

  /** CR0 bit 0 (PE): protected mode. No allocation, exact (CR0 bits 63:32 are reserved). */
  get protectedMode(): boolean {
    return (this.bytes[CR0] & 1) !== 0;
  }

  /** Current privilege level: CS.selector RPL (equal to CS.DPL and SS.DPL in a consistent state). */
  get cpl(): number {
    return this.view.getUint16(12, true) & 3;
  }

  /** 64-bit mode: EFER.LMA (bit 10) and CS.L. */
  get longMode(): boolean {
    return (this.view.getUint32(EFER, true) & 0x400) !== 0 && this.bytes[19] === 1;
  }

  /**
   * Writes a boot state ({@link BootSregs} of `@hv/x86`: `longModeSregs`, `protectedModeSregs`) over
   * the current contents: all eight segments, GDTR, IDTR, CR0, CR3, CR4 and EFER. CR2, CR8,
   * APIC base and the interrupt bitmap keep their values, so read the vCPU's sregs first
   * (KVM_GET_SREGS) to keep KVM's APIC base.
   */
  apply(state: BootSregs): void {
    this.setSegment(Seg.cs, state.cs);
    this.setSegment(Seg.ds, state.ds);
    this.setSegment(Seg.es, state.es);
    this.setSegment(Seg.fs, state.fs);
    this.setSegment(Seg.gs, state.gs);
    this.setSegment(Seg.ss, state.ss);
    this.setSegment(Seg.tr, state.tr);
    this.setSegment(Seg.ldt, state.ldt);
    this.gdt = state.gdt;
    this.idt = state.idt;
    this.cr0 = state.cr0;
    this.cr3 = state.cr3;
    this.cr4 = state.cr4;
    this.efer = state.efer;
  }
}
