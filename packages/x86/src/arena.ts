/**
 * A state arena: the per-partition (or per-VP) `SharedArrayBuffer` holding every composed plugin's
 * declared state back to back. Save, restore, reset and inspection of the whole arena come from the
 * plugins' {@link StateLayout}s; nothing here is plugin-specific.
 * @module
 */
import type { StateLayout } from "./state.ts";

/** One plugin's place in the arena: its name, layout and byte offset. */
export interface ArenaSlot {
  readonly owner: string;
  readonly layout: StateLayout;
  readonly offset: number;
}

/** Saved state of one slot: layout version and the raw bytes (little-endian, as held in memory). */
export interface SavedSlot {
  readonly version: number;
  readonly bytes: Uint8Array;
}

/** Why a restore was refused: a slot missing from the saved image, or saved with another layout version or size. */
export class StateRestoreError extends Error {
  constructor(readonly owner: string, readonly reason: string) {
    super(`cannot restore state of ${owner}: ${reason}`);
    this.name = "StateRestoreError";
  }
}

/** Places layouts in one shared buffer (8-byte aligned slots) and manages the whole buffer. */
export class StateArena {
  /** The shared bytes; hand this buffer to vCPU workers and rebuild views there with {@link views}. */
  readonly buffer: SharedArrayBuffer;
  /** Slots by owner name, in placement order. */
  readonly slots: ReadonlyMap<string, ArenaSlot>;

  constructor(entries: readonly { owner: string; layout: StateLayout }[], buffer?: SharedArrayBuffer) {
    const slots = new Map<string, ArenaSlot>();
    let off = 0;
    for (const { owner, layout } of entries) {
      if (slots.has(owner)) throw new RangeError(`state arena: ${owner} placed twice`);
      slots.set(owner, { owner, layout, offset: off });
      off += layout.byteLength;
    }
    this.slots = slots;
    this.buffer = buffer ?? new SharedArrayBuffer(Math.max(off, 8));
    if (this.buffer.byteLength < off) throw new RangeError(`state arena needs ${off} bytes, buffer has ${this.buffer.byteLength}`);
    if (!buffer) this.reset();
  }

  readonly #views = new Map<string, Record<string, ArrayBufferView>>();

  /**
   * Typed views of `owner`'s state (see {@link StateLayout.views}), built once per owner and then
   * returned as the same object: safe to call on the exit path (no allocation after the first call).
   */
  views(owner: string): Record<string, ArrayBufferView> {
    let v = this.#views.get(owner);
    if (v === undefined) {
      const s = this.#slot(owner);
      v = s.layout.views(this.buffer, s.offset) as Record<string, ArrayBufferView>;
      this.#views.set(owner, v);
    }
    return v;
  }

  /** Puts every slot back to its power-on values. */
  reset(): void {
    for (const s of this.slots.values()) s.layout.reset(this.buffer, s.offset);
  }

  /** Decodes every slot by field name (for `hv inspect`, crash reports and tests). */
  inspect(): Record<string, Record<string, unknown>> {
    const out: Record<string, Record<string, unknown>> = {};
    for (const s of this.slots.values()) out[s.owner] = s.layout.inspect(this.buffer, s.offset);
    return out;
  }

  /** Copies every slot's bytes out, tagged with its layout version. */
  save(): Record<string, SavedSlot> {
    const out: Record<string, SavedSlot> = {};
    for (const s of this.slots.values()) {
      out[s.owner] = { version: s.layout.version, bytes: new Uint8Array(this.buffer, s.offset, s.layout.byteLength).slice() };
    }
    return out;
  }

  /**
   * Restores every slot from `saved`. All slots are checked before any byte is written, so a refused
   * restore leaves the arena untouched. Throws {@link StateRestoreError}.
   */
  restore(saved: Readonly<Record<string, SavedSlot>>): void {
    for (const s of this.slots.values()) {
      const img = saved[s.owner];
      if (!img) throw new StateRestoreError(s.owner, "not in the saved state");
      if (img.version !== s.layout.version) throw new StateRestoreError(s.owner, `layout version ${img.version}, expected ${s.layout.version}`);
      if (img.bytes.byteLength !== s.layout.byteLength) throw new StateRestoreError(s.owner, `${img.bytes.byteLength} bytes, expected ${s.layout.byteLength}`);
    }
    for (const s of this.slots.values()) new Uint8Array(this.buffer, s.offset, s.layout.byteLength).set(saved[s.owner].bytes);
  }

  #slot(owner: string): ArenaSlot {
    const s = this.slots.get(owner);
    if (!s) throw new RangeError(`state arena: no slot for ${owner}`);
    return s;
  }
}
