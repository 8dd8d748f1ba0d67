/**
 * Exit-less EOI through Hyper-V's VP assist page (TLFS §7.8.7 "Virtual Processor Assist Page":
 * `apic_assist` bit 0, "no EOI required"), the same protocol as KVM's PV EOI
 * (`apic_sync_pv_eoi_to_guest` / `apic_sync_pv_eoi_from_guest` in arch/x86/kvm/lapic.c, which KVM
 * points at the assist page when HV_X64_MSR_VP_ASSIST_PAGE is enabled):
 * - before entering the guest, when exactly one edge-triggered vector is in service and nothing is
 *   waiting in IRR ({@link LocalApic.canSkipEoi}), the backend sets the bit;
 * - the guest's EOI routine atomically clears the bit and, when it was set, skips the EOI write
 *   (Linux `hv_apic_eoi_write`: `xchg(&hvp->apic_assist, 0) & 1`);
 * - after the next exit, before that exit is handled, the backend reads the bit: cleared means the
 *   guest skipped its EOI, so the backend performs it ({@link LocalApic.eoi}) and counts it; still
 *   set means the guest has not reached its EOI yet: the backend clears it (so a later ordinary EOI
 *   is not doubled) and may set it again before the next entry.
 * Owning vCPU thread only. Exit-path safe: no allocation.
 * @module
 */
import type { GuestMemory } from "@hv/x86";
import type { LocalApic } from "./apic.ts";

/** The exit-less EOI state of one VP: the assist page and whether the flag is currently set by us. */
export class PvEoi {
  #gpa = -1;
  #armed = false;
  /** EOIs the guest skipped (flag cleared instead of an EOI write) that this side completed. */
  completed = 0;

  constructor(readonly apic: LocalApic, readonly memory: GuestMemory) {}

  /**
   * HV_X64_MSR_VP_ASSIST_PAGE changed: `gpa` is the page's guest physical address (4 KiB aligned;
   * its first u32 holds the flag). Disabling (or a page outside guest RAM) turns exit-less EOI off.
   */
  setPage(gpa: number, enabled: boolean): void {
    this.#armed = false;
    this.#gpa = enabled && this.memory.contains(gpa, 4) ? gpa : -1;
  }

  /** Whether exit-less EOI is on (an assist page in RAM is enabled). */
  get enabled(): boolean {
    return this.#gpa >= 0;
  }

  /** Whether the flag is set by us and not yet seen cleared. */
  get armed(): boolean {
    return this.#armed;
  }

  /** Call after every exit, before handling it: completes an EOI the guest skipped. */
  afterExit(): void {
    if (!this.#armed) return;
    this.#armed = false;
    const w = this.memory.readU32(this.#gpa);
    if ((w & 1) !== 0) {
      this.memory.writeU32(this.#gpa, (w & ~1) >>> 0);
      return;
    }
    this.apic.eoi();
    this.completed++;
  }

  /** Call right before entering the guest (after any injection): sets the flag when the EOI may be skipped. */
  beforeEntry(): void {
    if (this.#armed || this.#gpa < 0 || !this.apic.canSkipEoi()) return;
    const w = this.memory.readU32(this.#gpa);
    this.memory.writeU32(this.#gpa, (w | 1) >>> 0);
    this.#armed = true;
  }
}
