/**
 * A simulated partition: composition, guest RAM, shared state arenas, VPs with a hand-advanced TSC,
 * and the real dispatch tables of `@hv/dispatch`, so plugin behaviour is tested exactly as the
 * emulator runs it, without KVM. Every call is synchronous and deterministic.
 *
 * It also plays the backend's part in a TSC frequency change ({@link TestPartition.changeTscFrequency},
 * `PluginHandlers.tscFrequencyChanging`/`tscFrequencyChanged`, `PartitionView.stopTscEmulation`),
 * including TSC emulation: while a plugin holds a change, the guest TSC keeps its old rate.
 * @module
 */
import { Effect } from "effect";
import { builtins } from "@hv/builtins";
import { type Composition, compose } from "@hv/compose";
import { buildDispatch, corePartitionState, CORE_OWNER, type Dispatch, hypercallStub } from "@hv/dispatch";
import type { CpuidBit } from "@hv/tlfs";
import {
  announceTscFrequencyChange,
  type AnyPlugin,
  applyTscFrequencyChange,
  CpuidTable,
  type CpuidLeaf,
  type GuestCrashReport,
  GuestMemory,
  newCpuMode,
  newGprFile,
  newHypercallInput,
  newMsrAccess,
  type PartitionEvents,
  type PartitionView,
  type SavedSlot,
  type TimerService,
  StateArena,
  type VpApic,
  type VpView,
} from "@hv/x86";

/** The port the testkit's hypercall stub names (any 8-bit port; nothing is executed). */
export const TESTKIT_HYPERCALL_PORT = 0xe4;

/**
 * Options: `registry` (default: the built-ins), `requested` enlightenment names, `set` parameters,
 * `autoResolve` dependencies (default true), `vpCount` (default 1), `vpIndices` (VP index per VP,
 * default 0..n-1; use e.g. [0, 65] to test sparse VP sets), `memoryBytes` (default 1 MiB),
 * `tscHz` (default 1 GHz; change it later with {@link TestPartition.changeTscFrequency}).
 */
export interface TestPartitionOptions {
  readonly registry?: readonly AnyPlugin[];
  readonly requested?: readonly string[];
  readonly set?: Readonly<Record<string, string>>;
  readonly autoResolve?: boolean;
  readonly vpCount?: number;
  readonly vpIndices?: readonly number[];
  readonly memoryBytes?: number;
  readonly tscHz?: number;
}

/** An interrupt a plugin requested on a VP: vector and auto-EOI flag. */
export interface RecordedInterrupt {
  readonly vector: number;
  readonly autoEoi: boolean;
}

/** One simulated VP: its view plus the reused exit-path buffers and the interrupts it received. */
export class TestVp implements VpView {
  readonly gpr = newGprFile();
  readonly mode = newCpuMode();
  readonly msr = newMsrAccess();
  readonly call = newHypercallInput();
  readonly xmm = new Uint32Array(24);
  readonly interrupts: RecordedInterrupt[] = [];
  /** VP run time in 100 ns units (set it, or advance it with {@link TestPartition.advance}). */
  runTime100ns = 0;
  /** How many times a plugin yielded this VP's CPU. */
  yields = 0;
  /**
   * The VP's local APIC as the synthetic APIC MSRs see it (`VpView.apic`); absent by default (like
   * KVM's in-kernel irqchip under the emulator). Tests of APIC-facing plugins set it, e.g. to
   * `@hv/apic`'s `vpApicOf(new LocalApic(...))`.
   */
  apic?: VpApic;
  constructor(
    readonly index: number,
    readonly apicId: number,
    readonly partition: TestPartition,
    readonly arena: StateArena,
  ) {}
  state(owner: string): Record<string, ArrayBufferView> {
    return this.arena.views(owner);
  }
  guestTsc(): number {
    return this.partition.tsc;
  }
  requestInterrupt(vector: number, autoEoi: boolean): void {
    this.interrupts.push({ vector, autoEoi });
  }
  runTime(): number {
    return this.runTime100ns;
  }
  yieldCpu(): void {
    this.yields++;
  }
}

/**
 * The testkit's host timers: a manual clock (ns) and the armed deadlines, fired in deadline order by
 * {@link TestPartition.advance} / {@link TestPartition.advanceTime}.
 */
export class TestTimers implements TimerService {
  /** Host time in ns; moves only when the test advances it. */
  nowNs = 0;
  /** Armed deadlines by `owner/vp/timer`. */
  readonly armed = new Map<string, { owner: string; vp: number; timer: number; atNs: number }>();
  now(): number {
    return this.nowNs;
  }
  arm(owner: string, vp: number, timer: number, atNs: number): void {
    this.armed.set(`${owner}/${vp}/${timer}`, { owner, vp, timer, atNs });
  }
  cancel(owner: string, vp: number, timer: number): void {
    this.armed.delete(`${owner}/${vp}/${timer}`);
  }
}

/** Every plugin's declared state of a {@link TestPartition} ({@link TestPartition.saveState}): the partition arena and each VP's, in VP order. */
export interface TestSavedState {
  readonly partition: Readonly<Record<string, SavedSlot>>;
  readonly vps: readonly Readonly<Record<string, SavedSlot>>[];
}

/** The simulated partition (see module doc). Create with {@link TestPartition.create}. */
export class TestPartition implements PartitionView {
  #tsc = 0;
  /** What HV_X64_MSR_TSC_FREQUENCY reports (Hz): the latest announced frequency. */
  #tscHz: number;
  /** The rate the guest TSC actually ticks at (Hz): `#tscHz`, or the old rate while emulated. */
  #tscRateHz: number;
  /** Whether a plugin holds a frequency change (TSC emulation in progress). */
  #emulating = false;
  /** Guest TSC in cycles (an integer), shared by all VPs; advance with {@link advance}, or set it. */
  get tsc(): number {
    return Math.round(this.#tsc);
  }
  set tsc(cycles: number) {
    this.#tsc = cycles;
  }
  readonly vps: TestVp[] = [];
  readonly arena: StateArena;
  readonly dispatch: Dispatch;
  readonly cpuid: CpuidTable;
  /** Resets the guest requested (plugin names), in order. */
  readonly resets: string[] = [];
  /** Crash reports the guest made, in order. */
  readonly crashes: GuestCrashReport[] = [];
  readonly events: PartitionEvents = {
    reset: (source) => void this.resets.push(source),
    crash: (report) => void this.crashes.push(report),
  };
  advertised(bit: CpuidBit): boolean {
    return this.cpuid.hasBit(bit);
  }
  /** Every flushTlb call: the VP indices it named, in order. */
  readonly flushes: number[][] = [];
  flushTlb(vps: Uint32Array, count: number): void {
    this.flushes.push([...vps.subarray(0, count)]);
  }
  /** Host timers with a manual clock. */
  readonly timers = new TestTimers();
  /** The APIC timer frequency plugins see (Hz); KVM's in-kernel LAPIC: 1 GHz. */
  readonly apicHz = 1e9;

  private constructor(
    readonly composition: Composition,
    readonly memory: GuestMemory,
    tscHz: number,
    vpIndices: readonly number[],
  ) {
    this.#tscHz = tscHz;
    this.#tscRateHz = tscHz;
    const slots = (which: "partition" | "vp") =>
      composition.enlightenments.flatMap((e) => {
        const layout = e.plugin.state?.[which];
        return layout ? [{ owner: e.name, layout }] : [];
      });
    this.arena = new StateArena([{ owner: CORE_OWNER, layout: corePartitionState }, ...slots("partition")]);
    const vpSlots = slots("vp");
    vpIndices.forEach((index, i) => this.vps.push(new TestVp(index, i, this, new StateArena(vpSlots))));
    this.cpuid = new CpuidTable(composition.cpuid);
    this.dispatch = buildDispatch(composition, this, {
      stub: hypercallStub(TESTKIT_HYPERCALL_PORT),
      readXmm: (vp, into) => into.set((vp as TestVp).xmm),
    });
  }

  /** Composes and builds a partition; throws the composition error's message on a bad request. */
  static create(o: TestPartitionOptions = {}): TestPartition {
    const composition = Effect.runSync(compose({
      registry: o.registry ?? builtins,
      requested: (o.requested ?? []).map((name) => ({ name, reason: "testkit" })),
      set: o.set,
      autoResolve: o.autoResolve ?? true,
    }));
    const n = o.vpCount ?? o.vpIndices?.length ?? 1;
    const indices = o.vpIndices ?? Array.from({ length: n }, (_, i) => i);
    return new TestPartition(composition, GuestMemory.allocate(o.memoryBytes ?? 1 << 20), o.tscHz ?? 1e9, indices);
  }

  get vpCount(): number {
    return this.vps.length;
  }

  /**
   * The guest TSC frequency in Hz that HV_X64_MSR_TSC_FREQUENCY reports (`PartitionView.tscHz`):
   * the `tscHz` option, then the latest {@link changeTscFrequency}, also while the old rate is
   * still emulated ({@link guestTscHz}).
   */
  get tscHz(): number {
    return this.#tscHz;
  }

  /**
   * The rate in Hz at which the guest TSC actually ticks: {@link tscHz}, except while a plugin holds
   * a frequency change ({@link tscEmulated}), when it keeps the rate the guest had before the change.
   */
  get guestTscHz(): number {
    return this.#tscRateHz;
  }

  /** Whether a plugin holds a TSC frequency change, i.e. the old rate is being emulated. */
  get tscEmulated(): boolean {
    return this.#emulating;
  }

  /**
   * Simulates what a backend does when the guest-visible TSC frequency changes to `hz` Hz (the
   * emulator: a saved VM restored onto a host with another TSC rate), at the current guest TSC:
   * 1. every plugin's `tscFrequencyChanging(tscHz, hz)` runs (`announceTscFrequencyChange`);
   * 2. {@link tscHz} (HV_X64_MSR_TSC_FREQUENCY) reports `hz`;
   * 3. if no plugin held, the guest TSC ticks at `hz` from now on and every plugin's
   *    `tscFrequencyChanged(previous rate, hz, tsc)` runs before this returns; if one held, the guest
   *    TSC keeps its rate (TSC emulation) until a plugin calls {@link stopTscEmulation}.
   * Returns whether the change is held. `hz` equal to {@link tscHz}: nothing happens (false, or
   * true while an earlier change is still held). Throws RangeError unless `hz` is a finite number >= 1
   * (before anything changes).
   */
  changeTscFrequency(hz: number): boolean {
    if (!Number.isFinite(hz) || hz < 1) throw new RangeError(`testkit: TSC frequency must be a finite number >= 1 Hz, got ${hz}`);
    if (hz === this.#tscHz) return this.#emulating;
    const hold = announceTscFrequencyChange(this.dispatch.instances.values(), this.#tscHz, hz);
    this.#tscHz = hz;
    if (hold) this.#emulating = true;
    else this.#switchTscRate();
    return hold;
  }

  /**
   * `PartitionView.stopTscEmulation`: when a change is held, the guest TSC switches to {@link tscHz}
   * at its current value and every plugin's `tscFrequencyChanged` runs; otherwise nothing happens.
   */
  stopTscEmulation(): void {
    if (this.#emulating) this.#switchTscRate();
  }

  /** Makes the guest TSC tick at the reported frequency from now on, and tells every plugin. */
  #switchTscRate(): void {
    const from = this.#tscRateHz, at = this.tsc;
    this.#tscRateHz = this.#tscHz;
    this.#emulating = false;
    applyTscFrequencyChange(this.dispatch.instances.values(), from, this.#tscHz, at);
  }

  /**
   * A VM reset as the core performs it: the partition's and every VP's state arena back to power-on
   * values, then every plugin instance's `reset()` (in composition order). The guest TSC, the host
   * clock and the recorded interrupts are left alone.
   */
  resetVm(): void {
    this.arena.reset();
    for (const vp of this.vps) vp.arena.reset();
    for (const h of this.dispatch.instances.values()) h.reset?.();
  }
  /**
   * Saves every plugin's declared state as a backend's snapshot would: the partition arena and each
   * VP's (`StateArena.save`: owner -> layout version + bytes). Guest RAM, the TSC and the host
   * clock are not part of it (a backend saves those its own way).
   */
  saveState(): TestSavedState {
    return { partition: this.arena.save(), vps: this.vps.map((v) => v.arena.save()) };
  }

  /**
   * A restore as the emulator performs it: every arena from `saved` (each checked before any byte is
   * written; `StateRestoreError` for a missing slot or another layout), then every plugin
   * instance's `restored()` (in composition order), as each vCPU thread of the emulator calls it.
   * Throws RangeError when `saved` has another number of VPs.
   */
  restoreState(saved: TestSavedState): void {
    if (saved.vps.length !== this.vps.length) throw new RangeError(`testkit: saved state has ${saved.vps.length} VPs, this partition ${this.vps.length}`);
    this.arena.restore(saved.partition);
    this.vps.forEach((v, i) => v.arena.restore(saved.vps[i]));
    for (const h of this.dispatch.instances.values()) h.restored?.();
  }

  vp(index: number): VpView | undefined {
    return this.vps.find((v) => v.index === index);
  }
  state(owner: string): Record<string, ArrayBufferView> {
    return this.arena.views(owner);
  }

  /**
   * Advances the guest TSC by `cycles`, every VP's run time and the host clock by the same span, and
   * fires the timers that fall due, in deadline order, each with the clock and TSC at its deadline.
   * The span is `cycles` at the rate the guest TSC ticks at ({@link guestTscHz}).
   */
  advance(cycles: number): void {
    this.advanceTime((cycles * 1e9) / this.#tscRateHz);
  }

  /** {@link advance} in host nanoseconds. */
  advanceTime(ns: number): void {
    const end = this.timers.nowNs + ns;
    for (;;) {
      let next: { owner: string; vp: number; timer: number; atNs: number } | undefined;
      for (const t of this.timers.armed.values()) if (t.atNs <= end && (!next || t.atNs < next.atNs)) next = t;
      if (!next) break;
      this.#moveTo(Math.max(next.atNs, this.timers.nowNs));
      this.timers.armed.delete(`${next.owner}/${next.vp}/${next.timer}`);
      const vp = this.vp(next.vp);
      const h = this.dispatch.instances.get(next.owner);
      if (vp && h?.onTimer) h.onTimer(vp, next.timer);
    }
    this.#moveTo(end);
  }

  #moveTo(ns: number): void {
    const d = ns - this.timers.nowNs;
    if (d <= 0) return;
    this.timers.nowNs = ns;
    this.#tsc += (d * this.#tscRateHz) / 1e9;
    for (const vp of this.vps) vp.runTime100ns += d / 100;
  }

  /** CPUID as the guest would see it for Hyper-V leaves (all zeros for absent leaves). */
  cpuidLeaf(fn: number, index = 0): CpuidLeaf {
    return this.cpuid.get(fn, index);
  }
}
