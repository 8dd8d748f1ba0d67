/**
 * Remote TLB flush across vCPU threads (`PartitionView.flushTlb`): complete on every target before
 * the hypercall returns, as the TLFS requires for HvCallFlushVirtualAddressSpace/List(Ex).
 *
 * Shared words per VP: REQ (flushes asked of it) and DONE (flushes it has performed), plus one
 * doorbell. A requester bumps REQ of each target, kicks targets that are inside KVM_RUN, and waits
 * on the doorbell until each DONE reaches the value it asked for; while waiting it serves requests
 * aimed at itself, so two VPs flushing each other cannot deadlock. A target serves before every
 * KVM_RUN (and after every kick): it makes KVM drop its translations by toggling CR4.PGE through
 * KVM_SET_SREGS (a changed CR4 makes KVM reset the MMU context, and the next entry flushes the
 * vCPU's TLB: `__set_sregs_common` -> `kvm_mmu_reset_context`). A target whose worker is not in its
 * run loop has nothing cached that it could use before it next serves, so it counts as done.
 * No allocation after construction.
 * @module
 */
import { Control } from "./protocol.ts";

/** Bytes of the shared flush block for `n` VPs. */
export const flushBytes = (n: number): number => 4 * (2 * n + 2);

/** One vCPU thread's side of the protocol. */
export class RemoteFlush {
  readonly #req: Int32Array;
  readonly #done: Int32Array;
  readonly #bell: Int32Array;
  readonly #wanted: Int32Array;
  readonly #asked: Uint8Array;

  /**
   * `self` is this thread's VP index; `controls[v]` each VP's control words (RUNNING); `kick(v)`
   * interrupts VP v's KVM_RUN; `flushSelf()` makes KVM drop this vCPU's translations (called only on
   * this VP's own thread, outside KVM_RUN).
   */
  constructor(
    buffer: SharedArrayBuffer,
    readonly n: number,
    readonly self: number,
    readonly controls: readonly Int32Array[],
    readonly kick: (vp: number) => void,
    readonly flushSelf: () => void,
  ) {
    this.#req = new Int32Array(buffer, 0, n);
    this.#done = new Int32Array(buffer, 4 * n, n);
    this.#bell = new Int32Array(buffer, 8 * n, 1);
    this.#wanted = new Int32Array(n);
    this.#asked = new Uint8Array(n);
  }

  /** Performs a pending flush aimed at this VP, if any. Call before every KVM_RUN. */
  service(): void {
    const r = Atomics.load(this.#req, this.self);
    if (r === Atomics.load(this.#done, this.self)) return;
    this.flushSelf();
    Atomics.store(this.#done, this.self, r);
    Atomics.add(this.#bell, 0, 1);
    Atomics.notify(this.#bell, 0);
  }

  /** Flushes VPs `vps[0..count)` (indices >= n ignored) and returns when all are done. */
  request(vps: Uint32Array, count: number): void {
    let self = false;
    for (let i = 0; i < count; i++) {
      const v = vps[i];
      if (v >= this.n) continue;
      if (v === this.self) {
        self = true;
        continue;
      }
      if (this.#asked[v]) continue;
      this.#asked[v] = 1;
      this.#wanted[v] = Atomics.add(this.#req, v, 1) + 1;
      if (Atomics.load(this.controls[v], Control.RUNNING) === 1) this.kick(v);
    }
    if (self) this.flushSelf();
    for (;;) {
      const bell = Atomics.load(this.#bell, 0);
      let pending = false;
      for (let v = 0; v < this.n; v++) {
        if (!this.#asked[v]) continue;
        const behind = ((Atomics.load(this.#done, v) - this.#wanted[v]) | 0) < 0;
        if (behind && Atomics.load(this.controls[v], Control.RUNNING) === 1) pending = true;
        else this.#asked[v] = 0;
      }
      if (!pending) return;
      this.service();
      Atomics.wait(this.#bell, 0, bell, 1);
    }
  }
}
