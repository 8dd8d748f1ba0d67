/**
 * The hv plugin contract: one value per enlightenment, declaring everything composition, the
 * emulator, the passthrough backend and the CLI need. Built from the best of OpenVMM (per-hypercall
 * descriptors, MSR error chaining), Propolis (one trait per feature: CPUID, rdmsr, wrmsr) and Xen
 * viridian (named groups with implications). See `docs/plugin-authoring.md`.
 * @module
 */
import type { Schema } from "effect";
import type { CpuidBit, CpuidRegister } from "@hv/tlfs";
import type { StateLayout } from "./state.ts";
import type { HypercallInput, MsrAccess, MsrOutcome } from "./exit.ts";
import type { PartitionView, VpView } from "./views.ts";

/**
 * A plugin's CPUID contribution, applied by composition over the base leaves:
 * - `set`: bits ORed in (two plugins may set the same bit);
 * - `clear`: bits cleared after every plugin's `set` (QEMU: hv-avic clears hv-vapic's 0x40000004.EAX[3]);
 * - `registers`: whole registers this plugin owns (e.g. 0x40000004.EBX spinlock retries, the vendor
 *   id in 0x40000000.EBX..EDX, the eVMCS version in 0x4000000A.EAX[15:0] as `or` values);
 *   `mode: "set"` replaces (two plugins setting one register is a conflict), `mode: "or"` ORs.
 * - `leaves`: extra whole leaves the plugin adds (syndbg's 0x40000080..82).
 */
export interface CpuidContribution {
  readonly set?: readonly CpuidBit[];
  readonly clear?: readonly CpuidBit[];
  readonly registers?: readonly {
    readonly leaf: number;
    readonly register: CpuidRegister;
    readonly value: number;
    readonly mode: "set" | "or";
  }[];
  readonly leaves?: readonly { readonly function: number; readonly eax: number; readonly ebx: number; readonly ecx: number; readonly edx: number }[];
}

/**
 * A synthetic MSR a plugin owns: its index and TLFS name, whether the guest may read/write it,
 * and the CPUID bit that gates access (TLFS/KVM `hv_check_msr_access`). Two plugins claiming one
 * index is a composition conflict.
 */
export interface MsrClaim {
  readonly index: number;
  readonly name: string;
  readonly access: "rw" | "ro" | "wo";
  readonly gate?: CpuidBit;
}

/**
 * A hypercall a plugin serves, as an OpenVMM-style descriptor. The core validates the call against
 * it before the handler runs:
 * - `kind`: "simple" (rep count and variable header must be 0, else HV_STATUS_INVALID_HYPERCALL_INPUT),
 *   "rep" (rep count >= 1 required), "variable" (variable header allowed, no rep), "variable-rep";
 * - `fast`: "never" (slow only), "allowed" (register-fast too), "xmm" (fast with XMM input, needs hv-xmm-input);
 * - `inputBytes`/`outputBytes`: fixed header sizes in bytes (slow calls: GPA ranges checked to lie in RAM, 8-byte aligned, not crossing a page);
 * - `repInputBytes`: bytes per rep element;
 * - `gate`: the CPUID bit that must be advertised (HV_STATUS_ACCESS_DENIED otherwise).
 */
export interface HypercallClaim {
  readonly code: number;
  readonly name: string;
  readonly kind: "simple" | "rep" | "variable" | "variable-rep";
  readonly fast: "never" | "allowed" | "xmm";
  readonly inputBytes: number;
  readonly outputBytes: number;
  readonly repInputBytes?: number;
  readonly gate?: CpuidBit;
}

/**
 * One typed parameter (e.g. spinlock retries, vendor id), parsed from its command-line/config
 * string by an Effect `Schema` codec (string -> value), with its default and a one-line doc.
 */
export interface ParamSpec<A = unknown> {
  readonly schema: Schema.Codec<A, string>;
  readonly default: A;
  readonly doc: string;
  /** Renders the value as QEMU/libvirt expect it (e.g. `0x1fff`). Defaults to `String(value)`. */
  readonly format?: (value: A) => string;
}

/**
 * How the enlightenment is spelled in each VMM's configuration.
 * - `qemu`: the `-cpu` property (`hv-relaxed`) and, with a parameter, its value;
 * - `libvirt`: an element in `<features><hyperv>` (`{hyperv: "stimer", child: "direct"}` ->
 *   `<stimer state='on'><direct state='on'/></stimer>`), a `<clock><timer>` or a `<devices><panic>`; or why none exists;
 * - `kubevirt`: a key of `spec.domain.features.hyperv` (with an optional nested key), or a clock timer, or why none exists.
 * `attrs`/`value` receive the plugin's resolved parameters.
 */
export interface FormatSpec {
  readonly qemu: { readonly property: string; readonly value?: (params: Readonly<Record<string, unknown>>) => string };
  readonly libvirt:
    | { readonly hyperv: string; readonly child?: string; readonly attrs?: (params: Readonly<Record<string, unknown>>) => Readonly<Record<string, string>> }
    | { readonly clockTimer: string }
    | { readonly panicModel: string }
    | { readonly unsupported: string };
  readonly kubevirt:
    | { readonly hyperv: string; readonly child?: string; readonly value?: (params: Readonly<Record<string, unknown>>) => Readonly<Record<string, unknown>> }
    | { readonly clockTimer: string }
    | { readonly unsupported: string };
}

/**
 * What the passthrough KVM backend needs for this enlightenment:
 * - `capabilities`: `KVM_CAP_*` names that must be present (`KVM_CHECK_EXTENSION` > 0);
 * - `enableCapabilities`: `KVM_CAP_*` names enabled per vCPU with `KVM_ENABLE_CAP` (SynIC2, eVMCS);
 * - `hvCpuid`: bits that must appear in `KVM_GET_SUPPORTED_HV_CPUID` (defaults to the plugin's own `cpuid.set`).
 */
export interface PassthroughNeeds {
  readonly capabilities: readonly string[];
  readonly enableCapabilities?: readonly string[];
  readonly hvCpuid?: readonly CpuidBit[];
}

/**
 * Documentation shown by `hv explain`: what it does, what the guest gains, which Windows versions
 * use it, and where the facts come from (TLFS section, KVM/QEMU behaviour mirrored).
 */
export interface PluginDocs {
  readonly description: string;
  readonly guestGains: string;
  readonly windows: string;
  readonly sources: readonly string[];
}

/** Per-VP exit-path handlers a plugin instance provides; every one is optional. */
export interface PluginHandlers {
  /** RDMSR of a claimed MSR: set `msr.lo`/`msr.hi`, answer Ok, NotMine or Gp. */
  rdmsr?(vp: VpView, msr: MsrAccess): MsrOutcome;
  /** WRMSR of a claimed MSR: read `msr.lo`/`msr.hi`, answer Ok, NotMine or Gp. */
  wrmsr?(vp: VpView, msr: MsrAccess): MsrOutcome;
  /** A claimed hypercall, already validated against its descriptor: answer an HV_STATUS_* or HYPERCALL_NOT_MINE. */
  hypercall?(vp: VpView, call: HypercallInput): number;
  /** After the core put this plugin's state back to power-on values (VM reset); for host resources such as timers. */
  reset?(): void;
  /**
   * Timer `timer` of VP `vp` (see `PartitionView.timers`) reached its deadline. Runs on the backend's
   * timer thread: deliver through shared state and `vp.requestInterrupt`, re-arm periodic timers.
   */
  onTimer?(vp: VpView, timer: number): void;
  /** After the core restored this plugin's state from a saved image: re-arm host timers and the like. */
  restored?(): void;
  /**
   * TSC frequency change, step 1 of 2 (announced). The backend is about to make the guest TSC tick
   * at `newHz` instead of `oldHz` (both Hz; e.g. the emulator after restoring a saved VM onto a host
   * whose TSC runs at another rate and cannot be scaled back, or `TestPartition.changeTscFrequency`).
   * `oldHz` is what `PartitionView.tscHz` reports now (HV_X64_MSR_TSC_FREQUENCY), `newHz` what it
   * reports once this step is over.
   *
   * Return `true` to **hold** the old rate: the backend then keeps the guest-visible TSC ticking at
   * the rate it ticks at now (TSC emulation, TLFS "Reenlightenment": the hypervisor emulates the old
   * frequency until the guest has reenlightened) until some plugin calls
   * `PartitionView.stopTscEmulation()`; `false` (or no answer) lets the change take effect at once.
   * hv-reenlightenment holds when the guest enabled both REENLIGHTENMENT_CONTROL and
   * TSC_EMULATION_CONTROL and the notification interrupt was raised; hv-time never holds, but pins
   * its current reference-time parameters so that they follow the TSC the guest actually sees.
   * Every plugin is called, even after one has held (see {@link announceTscFrequencyChange}).
   *
   * Called by the backend, once per change, before any partition view reports `newHz`; never on a
   * vCPU's exit path. May allocate. Must not throw.
   */
  tscFrequencyChanging?(oldHz: number, newHz: number): boolean;
  /**
   * TSC frequency change, step 2 of 2 (took effect): from guest TSC value `atTsc` (cycles) on, the
   * guest TSC ticks at `toHz` instead of `fromHz` (Hz); its value does not jump. `fromHz` is the
   * rate the guest saw until now: the old frequency, also after an emulation that lasted across
   * several announced changes. Called at once after step 1 when nobody held, otherwise from inside
   * `PartitionView.stopTscEmulation()` (on the exit path of the guest's acknowledging WRMSR), before
   * the guest runs again on any VP. hv-time republishes the reference TSC page with the new scale
   * and an offset that keeps reference time continuous at `atTsc`. Rare: may allocate (BigInt
   * arithmetic, once per change). Must not throw.
   *
   * `sinceTsc` (default `atTsc`): the guest TSC value the clock had reached under the old rate when
   * the change took effect at `atTsc`; it differs only when the guest TSC *value* jumped, e.g. the
   * emulator restoring a saved VM on a host where KVM cannot set the guest TSC (`atTsc - sinceTsc`
   * cycles jumped). Reference time at `atTsc` then equals the old reference time at `sinceTsc`. The
   * backend may also call this step alone with `fromHz === toHz`, for such a jump without a rate change.
   */
  tscFrequencyChanged?(fromHz: number, toHz: number, atTsc: number, sinceTsc?: number): void;
}

/**
 * Backend helper, step 1 of a TSC frequency change (see {@link PluginHandlers.tscFrequencyChanging}):
 * calls `tscFrequencyChanging(oldHz, newHz)` on every instance in `instances` (the partition's
 * plugin instances, in composition order, e.g. `Dispatch.instances.values()`), none skipped, and
 * returns whether any of them holds the old rate. The caller then makes its partition views report
 * `newHz`, and either switches the guest TSC at once and calls {@link applyTscFrequencyChange}
 * (nobody held) or keeps emulating the old rate until `PartitionView.stopTscEmulation()`.
 */
export function announceTscFrequencyChange(instances: Iterable<PluginHandlers>, oldHz: number, newHz: number): boolean {
  let hold = false;
  for (const h of instances) if (h.tscFrequencyChanging?.(oldHz, newHz) === true) hold = true;
  return hold;
}

/**
 * Backend helper, step 2 of a TSC frequency change (see {@link PluginHandlers.tscFrequencyChanged}):
 * after the backend switched the guest TSC from `fromHz` to `toHz` at guest TSC value `atTsc`
 * (cycles), calls `tscFrequencyChanged(fromHz, toHz, atTsc, sinceTsc)` on every instance, in order
 * (`sinceTsc`, default `atTsc`: where the old clock had got to, when the TSC value jumped).
 */
export function applyTscFrequencyChange(instances: Iterable<PluginHandlers>, fromHz: number, toHz: number, atTsc: number, sinceTsc: number = atTsc): void {
  for (const h of instances) h.tscFrequencyChanged?.(fromHz, toHz, atTsc, sinceTsc);
}

/** What a plugin's `create` receives: its resolved parameters and the partition. */
export interface PluginContext<P> {
  readonly params: P;
  readonly partition: PartitionView;
}

/**
 * An enlightenment plugin.
 *
 * - `name`: QEMU's property name without `hv-` (`stimer-direct`), lower-case, unique.
 * - `summary`: one line for `hv list`.
 * - `requires`: hard dependencies by name (QEMU `hv_feature_check_deps`).
 * - `params`: named typed parameters; `primaryParam` is the one `--set name=value` sets.
 * - `cpuid`: the contribution, possibly computed from the resolved parameters.
 * - `msrs`/`hypercalls`: what it claims (the dispatch tables are built from these at compose time).
 * - `state`: per-partition and per-VP layouts; the core allocates, resets, saves, restores and inspects them.
 * - `timers`: how many host timers the plugin owns per VP (`PartitionView.timers`, `onTimer`).
 * - `emulator`: whether hv's userspace emulator can serve it, and why not; `userspaceApic` says it
 *   needs hv's userspace local APIC (its behaviour acts on the APIC: vapic's EOI/ICR/TPR and
 *   exit-less EOI, synic's auto-EOI), so the emulator refuses it with KVM's in-kernel irqchip.
 * - `passthrough`: its needs on the KVM passthrough backend.
 * - `formats`: its spelling in QEMU, libvirt and KubeVirt.
 * - `create`: builds the handlers once per partition (the next issues' behaviour); absent for CPUID-only plugins.
 */
export interface Plugin<P extends Record<string, unknown> = Record<string, unknown>> {
  readonly name: string;
  readonly summary: string;
  readonly requires: readonly string[];
  readonly params?: { readonly [K in keyof P]: ParamSpec<P[K]> };
  readonly primaryParam?: keyof P & string;
  readonly cpuid: CpuidContribution | ((params: P) => CpuidContribution);
  readonly msrs: readonly MsrClaim[];
  readonly hypercalls: readonly HypercallClaim[];
  readonly state?: { readonly partition?: StateLayout; readonly vp?: StateLayout };
  readonly timers?: { readonly perVp: number };
  readonly emulator: { readonly supported: true; readonly userspaceApic?: boolean } | { readonly supported: false; readonly reason: string };
  readonly passthrough: PassthroughNeeds;
  readonly formats: FormatSpec;
  readonly docs: PluginDocs;
  readonly create?: (ctx: PluginContext<P>) => PluginHandlers;
}

/** Any plugin, whatever its parameter type (for registries and composition). */
// deno-lint-ignore no-explicit-any
export type AnyPlugin = Plugin<any>;

/**
 * Declares a plugin; returns it frozen, after checking what can be checked without composition
 * (name spelling, a `primaryParam` that names a declared parameter). Throws TypeError on a
 * malformed definition: that is a plugin author's bug, found at import time.
 */
export function definePlugin<P extends Record<string, unknown> = Record<string, never>>(plugin: Plugin<P>): Plugin<P> {
  if (!/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/.test(plugin.name)) {
    throw new TypeError(`plugin name ${JSON.stringify(plugin.name)} must be lower-case words joined by '-' (QEMU's spelling without 'hv-')`);
  }
  if (plugin.primaryParam !== undefined && !(plugin.params && plugin.primaryParam in plugin.params)) {
    throw new TypeError(`plugin ${plugin.name}: primaryParam ${plugin.primaryParam} is not among its params`);
  }
  return Object.freeze(plugin);
}

/** The plugin's CPUID contribution for resolved parameters `params`. */
export const cpuidOf = <P extends Record<string, unknown>>(plugin: Plugin<P>, params: P): CpuidContribution =>
  typeof plugin.cpuid === "function" ? plugin.cpuid(params) : plugin.cpuid;
