/**
 * What a plugin sees of the machine: the partition and each virtual processor. Implemented by the
 * emulator (`@hv/machine`), the passthrough backend and the KVM-free testkit; plugins depend only on
 * these interfaces, never on KVM.
 * @module
 */
import type { GuestMemory } from "./guest_memory.ts";

/**
 * The partition (the VM) as plugins see it.
 * - `vpCount`: number of VPs; VP indices are 0..vpCount-1 unless a backend assigns others.
 * - `memory`: bounds-checked guest RAM.
 * - `vp(index)`: the VP with that VP index, or undefined (hostile indices are answered, not thrown).
 * - `tscHz`: the guest TSC frequency in Hz (what HV_X64_MSR_TSC_FREQUENCY reports).
 * - `state(owner)`: typed views of a plugin's per-partition state (see `StateLayout`).
 */
export interface PartitionView {
  readonly vpCount: number;
  readonly memory: GuestMemory;
  readonly tscHz: number;
  vp(index: number): VpView | undefined;
  state(owner: string): Record<string, ArrayBufferView>;
}

/**
 * One virtual processor.
 * - `index`: its VP index (HV_X64_MSR_VP_INDEX; may exceed 63, sparse VP sets address such VPs).
 * - `apicId`: its local APIC id.
 * - `partition`: the partition it belongs to.
 * - `state(owner)`: typed views of a plugin's per-VP state.
 * - `guestTsc()`: this VP's current guest TSC (cycles), as RDTSC in the guest would read it now.
 * - `requestInterrupt(vector, autoEoi)`: raise a fixed interrupt on this VP (OpenVMM's
 *   `RequestInterrupt`); `autoEoi` = the SynIC auto-EOI semantics. Vector 16..255.
 */
export interface VpView {
  readonly index: number;
  readonly apicId: number;
  readonly partition: PartitionView;
  state(owner: string): Record<string, ArrayBufferView>;
  guestTsc(): number;
  requestInterrupt(vector: number, autoEoi: boolean): void;
}
