/**
 * "No VP ever sees TIME_REF_COUNT step back", lock-free and without 64-bit atomics.
 *
 * Every VP owns one slot in its own (shared-memory) VP state holding the last value it returned:
 * the u64 `ref_last` (words lo, hi) plus a copy of the high word, `ref_last_hi_first`. A read on
 * VP k returns `max(computed, every VP's slot)` and stores that result in slot k before returning.
 *
 * **One writer per slot.** Only VP k's own exit handler writes slot k (a vCPU's exits are handled on
 * its own thread), so a slot is a single-writer, non-decreasing 64-bit value, which other threads
 * read with Lamport's rule for multi-word values ("Concurrent reading and writing", CACM 1977):
 * - write order: `ref_last_hi_first` := h, then `ref_last.lo` := l, then `ref_last.hi` := h;
 * - read order: `r1 = ref_last.hi`, then `rl = ref_last.lo`, then `r2 = ref_last_hi_first`;
 *   the value read is `(r1, rl)` when r1 = r2, else `(r2, 0)`.
 * Each word is accessed with `Atomics.load`/`Atomics.store` (sequentially consistent, so neither the
 * JIT nor the CPU reorders them). Claim: the value read is >= every value whose write completed
 * before the read began, and <= the value being written when the read ended (it never invents a
 * future value). Proof sketch, with the writer's values non-decreasing:
 * - r1 = r2 = x: `ref_last.hi` = x at the first load means an update with high word x had finished;
 *   `ref_last_hi_first` = x at the last load means no update with a higher high word had begun. So
 *   the low word loaded in between was written by an update with high word x, at or after the one
 *   seen at the first load: `(x, rl)` is a value actually written, no older than any update that
 *   completed before the read, and no newer than the writer's current one.
 * - r1 != r2: then r1 < r2 (the words only grow and `hi_first` is written first). Every update
 *   completed before the read has a high word <= r1 < r2, so `(r2, 0)` exceeds it; an update with
 *   high word r2 had begun by the last load, so `(r2, 0)` does not exceed the writer's value.
 *
 * **Monotonic everywhere.** (1) On one VP: slot k holds its previous result and is part of the max.
 * (2) Across VPs: if a read on VP j returned r before a read on VP k began, VP j stored r in slot j
 * before returning, so VP k's scan reads at least r. Nothing waits: a preempted VP never blocks
 * another (wait-free, O(number of VPs) loads per read). A slot is never decreased: the stored result
 * is a max that includes the slot itself. The result can exceed a VP's own computed value only when
 * another VP's guest TSC ran ahead (KVM synchronises vCPU TSCs). A guest that writes IA32_TSC back
 * on one VP only holds that VP's readings at the partition's last value until its TSC catches up;
 * one that writes it forward moves every VP's reference time forward. Neither moves it back.
 *
 * Exit path: no allocation once every VP has been seen (a VP is added on its first read).
 * @module
 */

/** The two VP-state words of one slot: `last` = `ref_last` (lo, hi), `hiFirst` = `ref_last_hi_first`. */
export interface LastSlot {
  readonly last: Uint32Array;
  readonly hiFirst: Uint32Array;
}

/** Stores `hi:lo` in `slot` in Lamport order (high copy, low, high). Only the slot's own VP calls it. */
export function storeLast(slot: LastSlot, lo: number, hi: number): void {
  Atomics.store(slot.hiFirst, 0, hi);
  Atomics.store(slot.last, 0, lo);
  Atomics.store(slot.last, 1, hi);
}

/**
 * Reads `slot` (any thread) into `out[at]` (lo) and `out[at + 1]` (hi): `(hi, lo)` when both high
 * words agree, else `(hi_first, 0)`, a lower bound that never exceeds the value being written.
 */
export function loadLast(slot: LastSlot, out: Uint32Array, at = 0): Uint32Array {
  const r1 = Atomics.load(slot.last, 1);
  const rl = Atomics.load(slot.last, 0);
  const r2 = Atomics.load(slot.hiFirst, 0);
  out[at] = r1 === r2 ? rl : 0;
  out[at + 1] = r2;
  return out;
}

/**
 * The partition's "last TIME_REF_COUNT returned", as the max over per-VP slots (see module doc).
 * `slotOf(key)` returns the slot of a VP (called once per VP, edge code). Keys are the VP views.
 */
export class LastReturned<K> {
  readonly #slots: LastSlot[] = [];
  readonly #index = new Map<K, number>();
  readonly #slotOf: (key: K) => LastSlot;
  readonly #scratch = new Uint32Array(2);

  constructor(slotOf: (key: K) => LastSlot) {
    this.#slotOf = slotOf;
  }

  /** Registers `key`'s slot (idempotent). Known VPs are registered up front so that every one is scanned. */
  add(key: K): number {
    const known = this.#index.get(key);
    if (known !== undefined) return known;
    const i = this.#slots.length;
    this.#slots.push(this.#slotOf(key));
    this.#index.set(key, i);
    return i;
  }

  /** Number of slots scanned per read. */
  get size(): number {
    return this.#slots.length;
  }

  /**
   * The value VP `key` returns for a computed reference time `io[at+1]:io[at]`: the max of it and
   * every slot, written back to `io` and stored in `key`'s slot. Exit path (no allocation once `key`
   * is registered).
   */
  clamp(key: K, io: Uint32Array, at = 0): Uint32Array {
    const own = this.add(key);
    let lo = io[at], hi = io[at + 1];
    const s = this.#scratch;
    const slots = this.#slots;
    for (let i = 0; i < slots.length; i++) {
      loadLast(slots[i], s, 0);
      if (s[1] > hi || (s[1] === hi && s[0] > lo)) {
        lo = s[0];
        hi = s[1];
      }
    }
    storeLast(slots[own], lo, hi);
    io[at] = lo;
    io[at + 1] = hi;
    return io;
  }
}
