/**
 * The Hyper-V side of a vCPU worker: re-composes the partition's enlightenments from the
 * serialisable {@link HypervSpec}, maps the shared state arenas, and builds the dispatch tables
 * with this worker's view of the partition. Edge code (once per worker).
 * @module
 */
import { Effect } from "effect";
import { type Composition, compose } from "@hv/compose";
import { buildDispatch, corePartitionState, CORE_OWNER, type Dispatch, hypercallStub } from "@hv/dispatch";
import type { CpuidBit } from "@hv/tlfs";
import { type AnyPlugin, CpuidTable, type GuestMemory, type PartitionEvents, type PartitionView, type TimerService, type StateLayout, StateArena, type VpView } from "@hv/x86";
import type { HypervSpec } from "./protocol.ts";

/** Loads the plugin registry named by `spec.registryModules` (default `@hv/builtins`). */
export async function loadRegistry(spec: HypervSpec): Promise<AnyPlugin[]> {
  const out: AnyPlugin[] = [];
  for (const m of spec.registryModules ?? ["@hv/builtins"]) {
    const mod = await import(m);
    out.push(...((mod.registry ?? mod.builtins) as AnyPlugin[]));
  }
  return out;
}

/** Composes `spec` over `registry` (throws the composition error's message: the machine validated it already). */
export function composeSpec(spec: HypervSpec, registry: readonly AnyPlugin[]): Composition {
  return Effect.runSync(
    compose({ registry, requested: spec.requested, set: spec.set, version: spec.version }).pipe(
      Effect.mapError((e) => new Error(e.message)),
    ),
  );
}

/** Partition-arena and VP-arena entries for a composition, in a fixed order (every thread computes the same). */
export function arenaEntries(c: Composition, which: "partition" | "vp"): { owner: string; layout: StateLayout }[] {
  const core = which === "partition" ? [{ owner: CORE_OWNER, layout: corePartitionState as StateLayout }] : [];
  return [
    ...core,
    ...c.enlightenments.flatMap((e) => (e.plugin.state?.[which] ? [{ owner: e.name, layout: e.plugin.state[which]! }] : [])),
  ];
}

/** Bytes an arena for `entries` needs (so the machine can allocate the SharedArrayBuffers up front). */
export const arenaBytes = (entries: { owner: string; layout: StateLayout }[]): number =>
  Math.max(8, entries.reduce((n, e) => n + e.layout.byteLength, 0));

/** A shared Float64[1] holding a guest TSC frequency in Hz (`WorkerInit.tscFrequency`, {@link WorkerPartition}). */
export function tscFrequencyCell(hz: number): SharedArrayBuffer {
  const b = new SharedArrayBuffer(8);
  new Float64Array(b)[0] = hz;
  return b;
}

/**
 * A worker's partition: memory, shared arenas, and VP views. `own` is this worker's VP (with a real
 * guest TSC and interrupt delivery); the others are remote views over their shared arenas.
 */
export class WorkerPartition implements PartitionView {
  /** KVM's in-kernel LAPIC timer ticks at 1 ns (arch/x86/kvm/lapic.h APIC_BUS_CYCLE_NS). */
  readonly apicHz = 1e9;
  readonly #arena: StateArena;
  readonly #vps: VpView[] = [];
  readonly #tscHz: Float64Array;
  constructor(
    readonly memory: GuestMemory,
    /** Float64[1] shared by every thread: the guest TSC frequency in Hz (see {@link tscHz}). */
    tscFrequency: SharedArrayBuffer,
    arena: StateArena,
    makeVp: (index: number, partition: WorkerPartition) => VpView,
    readonly vpCount: number,
    readonly events: PartitionEvents,
    readonly timers: TimerService,
    /** Whether the composition advertises a CPUID bit. */
    readonly advertised: (bit: CpuidBit) => boolean = () => false,
    /** The backend's remote TLB flush (see `PartitionView.flushTlb`); the default refuses loudly rather than pretend. */
    readonly flushTlb: (vps: Uint32Array, count: number) => void = () => {
      throw new Error("remote TLB flush is not implemented on this thread");
    },
  ) {
    this.#arena = arena;
    this.#tscHz = new Float64Array(tscFrequency);
    for (let i = 0; i < vpCount; i++) this.#vps.push(makeVp(i, this));
  }
  /** `PartitionView.tscHz`: the guest TSC frequency in Hz, as every thread sees it now (a restore may change it once). */
  get tscHz(): number {
    return this.#tscHz[0];
  }
  /** Sets {@link tscHz} for every thread (the machine's announcement of a TSC frequency change). */
  set tscHz(hz: number) {
    this.#tscHz[0] = hz;
  }
  vp(index: number): VpView | undefined {
    return Number.isInteger(index) && index >= 0 && index < this.#vps.length ? this.#vps[index] : undefined;
  }
  state(owner: string): Record<string, ArrayBufferView> {
    return this.#arena.views(owner);
  }
}

/** Builds the dispatch tables for this worker. */
/** `advertised(bit)` for a composition (built once; each call is a table lookup). */
export function advertisedIn(c: Composition): (bit: CpuidBit) => boolean {
  const t = new CpuidTable(c.cpuid);
  return (bit) => t.hasBit(bit);
}

export function workerDispatch(c: Composition, partition: PartitionView, port: number, readXmm: (vp: VpView, into: Uint32Array) => void): Dispatch {
  return buildDispatch(c, partition, { stub: hypercallStub(port), readXmm });
}
