/**
 * The passthrough preflight: before anything is created, decide whether this host's KVM can give the
 * guest exactly the composed Hyper-V interface in-kernel, and either return the plan the setup
 * follows or refuse with one message that names every missing capability and CPUID bit and says
 * "use --backend emulator".
 *
 * Two layers of checks:
 * 1. `@hv/host`'s verdicts, reused as they are: `backendVerdicts` (KVM_CAP_HYPERV) and, per composed
 *    enlightenment, `pluginVerdicts` with the live capabilities and `KVM_GET_SUPPORTED_HV_CPUID`
 *    (the plugin's `passthrough.capabilities` and `passthrough.hvCpuid`), evaluated for each plugin
 *    on its own so the message lists every missing capability, not only KVM_CAP_HYPERV.
 * 2. The composed CPUID leaves themselves against `KVM_GET_SUPPORTED_HV_CPUID` (the cyberus
 *    VirtualBox-on-KVM `AssertRelease((uBaseFeat & ~uKvmBaseFeat) == 0)`, QEMU
 *    `hv_feature_supported` per hv-* flag): every bit set in 0x40000003 (EAX..EDX), 0x40000004
 *    (EAX, ECX, EDX; EBX is the spinlock retry count) and 0x4000000A (EAX[31:16], EBX..EDX) must be
 *    one KVM reports, unless no owner asks KVM for it (see {@link UncheckedBit}); the eVMCS version
 *    range in 0x4000000A.EAX[15:0] must lie within KVM's. This catches what the plugins' defaults
 *    do not: resolved parameters, the base's bits, register contributions.
 * Plus the backend's own needs, {@link PASSTHROUGH_BACKEND_CAPS}, and with synic composed the SINT
 * route capabilities, {@link SYNIC_ROUTE_CAPS}.
 * @module
 */
import { Effect, Schema } from "effect";
import { BASE_CPUID, BASE_OWNER, type Composition } from "@hv/compose";
import { backendVerdicts, PASSTHROUGH_CAPS, pluginVerdicts } from "@hv/host";
import { KVM_CAPS, type KvmCapName } from "@hv/kvm";
import {
  type CpuidBit,
  type CpuidRegister,
  HV_CPUID_ENLIGHTMENT_INFO,
  HV_CPUID_FEATURES,
  HV_CPUID_NESTED_FEATURES,
  HvFeatureEdx,
  HvNestedEax,
  HvPrivilegeEax,
  HvPrivilegeEbx,
  HvRecommendationEax,
} from "@hv/tlfs";
import { SYNIC_OWNER } from "@hv/synic";
import { cpuidOf, type CpuidLeaf, CpuidTable } from "@hv/x86";
import { type KvmService, serviceCapabilities } from "./kvm_service.ts";

/**
 * Capabilities the passthrough backend itself needs beyond `@hv/host`'s PASSTHROUGH_CAPS
 * (KVM_CAP_HYPERV):
 * - KVM_CAP_SYS_HYPERV_CPUID (Linux 5.11): `KVM_GET_SUPPORTED_HV_CPUID` on the system fd, so the
 *   preflight can check the CPUID bits without creating a vCPU (the vCPU ioctl of KVM_CAP_HYPERV_CPUID
 *   would need a VM first);
 * - KVM_CAP_HYPERV_ENFORCE_CPUID (Linux 5.14): enabled per vCPU so the guest reaches only the
 *   features its CPUID shows (QEMU hv-enforce-cpuid; without it KVM serves every Hyper-V MSR and
 *   hypercall it implements whatever CPUID says).
 */
export const PASSTHROUGH_BACKEND_CAPS: readonly KvmCapName[] = ["KVM_CAP_SYS_HYPERV_CPUID", "KVM_CAP_HYPERV_ENFORCE_CPUID"];

/**
 * Capabilities the SynIC interrupt routes need when `synic` is composed (`sint_routes.ts`; QEMU
 * `hyperv_sint_route_new`): KVM_SET_GSI_ROUTING with KVM_IRQ_ROUTING_HV_SINT entries
 * (KVM_CAP_IRQ_ROUTING), KVM_IRQFD (KVM_CAP_IRQFD) with a resamplefd for EOM notifications
 * (KVM_CAP_IRQFD_RESAMPLE). Listed as needed by "synic" when missing. KVM_CAP_HYPERV_EVENTFD is
 * optional: used when present (`PassthroughPlan.hypervEventfd`).
 */
export const SYNIC_ROUTE_CAPS: readonly KvmCapName[] = ["KVM_CAP_IRQ_ROUTING", "KVM_CAP_IRQFD", "KVM_CAP_IRQFD_RESAMPLE"];

/**
 * Composed bits KVM is never asked for, because QEMU sets them itself in `hyperv_fill_cpuids` for any
 * Hyper-V guest without consulting KVM, and KVM attaches no behaviour to them:
 * 0x40000003.EDX[3] CpuDynamicPartitioningAvailable (part of hv's base, as in QEMU).
 */
export const QEMU_SET_BITS: readonly CpuidBit[] = [HvFeatureEdx.CpuDynamicPartitioningAvailable];

/** The registers whose bits are checked, each with the mask of bits that are features. */
export const CHECKED_REGISTERS: readonly { readonly leaf: number; readonly register: CpuidRegister; readonly mask: number }[] = [
  { leaf: HV_CPUID_FEATURES, register: "eax", mask: 0xffffffff },
  { leaf: HV_CPUID_FEATURES, register: "ebx", mask: 0xffffffff },
  { leaf: HV_CPUID_FEATURES, register: "ecx", mask: 0xffffffff },
  { leaf: HV_CPUID_FEATURES, register: "edx", mask: 0xffffffff },
  { leaf: HV_CPUID_ENLIGHTMENT_INFO, register: "eax", mask: 0xffffffff },
  { leaf: HV_CPUID_ENLIGHTMENT_INFO, register: "ecx", mask: 0xffffffff },
  { leaf: HV_CPUID_ENLIGHTMENT_INFO, register: "edx", mask: 0xffffffff },
  { leaf: HV_CPUID_NESTED_FEATURES, register: "eax", mask: 0xffff0000 },
  { leaf: HV_CPUID_NESTED_FEATURES, register: "ebx", mask: 0xffffffff },
  { leaf: HV_CPUID_NESTED_FEATURES, register: "ecx", mask: 0xffffffff },
  { leaf: HV_CPUID_NESTED_FEATURES, register: "edx", mask: 0xffffffff },
];

/** 0x4000000A.EAX[15:0]: the eVMCS version range, low byte the lowest version, high byte the highest. */
const EVMCS_VERSION_MASK = 0xffff;

const KNOWN_BITS: readonly CpuidBit[] = [
  ...Object.values(HvPrivilegeEax),
  ...Object.values(HvPrivilegeEbx),
  ...Object.values(HvFeatureEdx),
  ...Object.values(HvRecommendationEax),
  ...Object.values(HvNestedEax),
];

/** The TLFS bit at (leaf, register, bit), or an unnamed one. */
export function cpuidBitAt(leaf: number, register: CpuidRegister, bit: number): CpuidBit {
  return KNOWN_BITS.find((b) => b.leaf === leaf && b.register === register && b.bit === bit) ??
    { leaf, register, bit, name: `bit${bit}` };
}

/** "0x40000003.EDX[19] DirectSyntheticTimers". */
export const bitLabel = (b: CpuidBit): string => `0x${b.leaf.toString(16)}.${b.register.toUpperCase()}[${b.bit}] ${b.name}`;

/** A capability KVM lacks and who needs it ("backend" for the passthrough backend itself). */
export interface MissingCapability {
  readonly capability: string;
  readonly neededBy: readonly string[];
}

/**
 * A composed CPUID bit (or the eVMCS version range) KVM cannot honour: `label` as printed, the bit,
 * and the owners that need KVM to implement it.
 */
export interface UnsupportedBit {
  readonly label: string;
  readonly leaf: number;
  readonly register: string;
  readonly bit: number;
  readonly name: string;
  readonly enlightenments: readonly string[];
}

/**
 * A composed bit deliberately not checked against KVM: its owners either declare
 * `passthrough.hvCpuid` without it (a guest hint QEMU sets without asking KVM, e.g.
 * no-nonarch-coresharing=on, which KVM reports only when SMT is impossible) or it is one of
 * {@link QEMU_SET_BITS}. Listed in the plan so nothing is skipped silently.
 */
export interface UncheckedBit {
  readonly label: string;
  readonly owners: readonly string[];
  readonly why: string;
}

/**
 * The refusal (a `Schema.TaggedError`, thrown-able and an Effect failure):
 * - `kvm`: why /dev/kvm cannot be used at all, when that is the problem;
 * - `missingCapabilities`: every `KVM_CAP_*` KVM_CHECK_EXTENSION answered 0 for, with who needs it;
 * - `hvCpuidUnavailable`: KVM_GET_SUPPORTED_HV_CPUID cannot be asked (no KVM_CAP_SYS_HYPERV_CPUID);
 * - `unsupportedBits`: composed bits KVM_GET_SUPPORTED_HV_CPUID lacks, naming bit and enlightenment;
 * - `refused`: each enlightenment `@hv/host`'s `pluginVerdicts` refused, with its reason;
 * - `message`: one line for stderr listing all of it, ending "use --backend emulator".
 */
export class PassthroughUnavailable extends Schema.TaggedError<PassthroughUnavailable>()("PassthroughUnavailable", {
  kvm: Schema.optional(Schema.String),
  missingCapabilities: Schema.Array(Schema.Struct({ capability: Schema.String, neededBy: Schema.Array(Schema.String) })),
  hvCpuidUnavailable: Schema.Boolean,
  unsupportedBits: Schema.Array(
    Schema.Struct({
      label: Schema.String,
      leaf: Schema.Number,
      register: Schema.String,
      bit: Schema.Number,
      name: Schema.String,
      enlightenments: Schema.Array(Schema.String),
    }),
  ),
  refused: Schema.Array(Schema.Struct({ name: Schema.String, reason: Schema.String })),
  message: Schema.String,
}) {}

/**
 * What the setup does, decided by the preflight:
 * - `composition`: what the guest is shown (its CPUID leaves go into KVM_SET_CPUID2);
 * - `caps`, `supportedHvCpuid`: what KVM answered;
 * - `vcpuCapabilities`: the `KVM_ENABLE_CAP`s for every vCPU, in order: each composed
 *   enlightenment's `passthrough.enableCapabilities` (synic: KVM_CAP_HYPERV_SYNIC2, evmcs:
 *   KVM_CAP_HYPERV_ENLIGHTENED_VMCS), then KVM_CAP_HYPERV_ENFORCE_CPUID (QEMU `hyperv_init_vcpu` order);
 * - `evmcsVersion`: the composed 0x4000000A.EAX[15:0] (0x0101 with evmcs; 0 without);
 * - `crash`: the composition advertises the crash MSRs, so CRASH_CTL is host-set to CrashNotify
 *   (QEMU `kvm_put_msrs`) and crashes are read back with KVM_GET_MSRS;
 * - `sintRoutes`: synic is composed, so the setup builds the SINT route table (one
 *   KVM_IRQ_ROUTING_HV_SINT route + irqfd per VP per SINT, `sint_routes.ts`) after the vCPUs;
 * - `maxRoutes`: KVM_CAP_IRQ_ROUTING's answer (KVM_MAX_IRQ_ROUTES), the table's limit;
 * - `hypervEventfd`: synic is composed and KVM has KVM_CAP_HYPERV_EVENTFD, so event connections can
 *   be bound with KVM_HYPERV_EVENTFD (HvSignalEvent without an exit);
 * - `unchecked`: composed bits not checked against KVM, and why.
 */
export interface PassthroughPlan {
  readonly composition: Composition;
  readonly caps: Readonly<Record<string, number>>;
  readonly supportedHvCpuid: readonly CpuidLeaf[];
  readonly vcpuCapabilities: readonly KvmCapName[];
  readonly evmcsVersion: number;
  readonly crash: boolean;
  readonly sintRoutes: boolean;
  readonly maxRoutes: number;
  readonly hypervEventfd: boolean;
  readonly unchecked: readonly UncheckedBit[];
}

/**
 * What the host offers, as the preflight needs it (from a live {@link KvmService}, or from an
 * `hv doctor --json` report: `kvm.available`, `kvm.reason`, `kvm.caps`, `supportedHvCpuid`).
 */
export interface PassthroughHost {
  readonly available: boolean;
  readonly reason?: string;
  readonly caps: Readonly<Record<string, number>>;
  readonly hvCpuid?: readonly CpuidLeaf[];
}

const BACKEND = "backend";
const has = (caps: Readonly<Record<string, number>>, name: string) => (caps[name] ?? 0) > 0;

/** Per contribution: its owner, the bits it sets, and the bits it needs KVM to report. */
interface Contribution {
  readonly owner: string;
  readonly bits: Map<string, { leaf: number; register: CpuidRegister; value: number }>;
  readonly required: (leaf: number, register: CpuidRegister, bit: number) => boolean;
  readonly explicit: boolean;
}

const regKey = (leaf: number, register: string) => `${leaf}:${register}`;

function contributions(c: Composition): Contribution[] {
  const out: Contribution[] = [];
  const make = (owner: string, set: readonly CpuidBit[], registers: readonly { leaf: number; register: CpuidRegister; value: number }[], need: readonly CpuidBit[] | undefined, exempt: readonly CpuidBit[] = []) => {
    const bits = new Map<string, { leaf: number; register: CpuidRegister; value: number }>();
    const add = (leaf: number, register: CpuidRegister, value: number) => {
      const k = regKey(leaf, register);
      const prev = bits.get(k);
      bits.set(k, { leaf, register, value: ((prev?.value ?? 0) | value) >>> 0 });
    };
    for (const b of set) add(b.leaf, b.register, 1 << b.bit);
    for (const r of registers) add(r.leaf, r.register, r.value);
    const isExempt = (leaf: number, register: CpuidRegister, bit: number) =>
      exempt.some((e) => e.leaf === leaf && e.register === register && e.bit === bit);
    const required = need === undefined
      ? (leaf: number, register: CpuidRegister, bit: number) => !isExempt(leaf, register, bit) && (((bits.get(regKey(leaf, register))?.value ?? 0) >>> bit) & 1) === 1
      : (leaf: number, register: CpuidRegister, bit: number) => need.some((b) => b.leaf === leaf && b.register === register && b.bit === bit);
    out.push({ owner, bits, required, explicit: need !== undefined });
  };
  make(BASE_OWNER, BASE_CPUID.set ?? [], [], undefined, QEMU_SET_BITS);
  for (const e of c.enlightenments) {
    const contrib = cpuidOf(e.plugin, e.params as Record<string, unknown>);
    const registers = (contrib.registers ?? []).map((r) => ({ leaf: r.leaf, register: r.register, value: r.value }));
    make(e.name, contrib.set ?? [], registers, e.plugin.passthrough.hvCpuid);
  }
  return out;
}

/**
 * The pure check (see the module doc) of `composition` against `host`: the plan, or the refusal.
 * Usable with a live host ({@link preflight}) or with an `hv doctor --json` report.
 */
export function checkPassthrough(composition: Composition, host: PassthroughHost): PassthroughPlan | PassthroughUnavailable {
  if (!host.available) {
    const kvm = host.reason ?? "/dev/kvm cannot be opened";
    return new PassthroughUnavailable({
      kvm,
      missingCapabilities: [],
      hvCpuidUnavailable: true,
      unsupportedBits: [],
      refused: [],
      message: `the passthrough backend cannot run here: ${kvm}; nothing was created; use --backend emulator (which needs /dev/kvm as well)`,
    });
  }
  const caps = host.caps;
  const hv = host.hvCpuid;
  const missing = new Map<string, string[]>();
  const need = (cap: string, who: string) => {
    const l = missing.get(cap) ?? [];
    if (!l.includes(who)) l.push(who);
    missing.set(cap, l);
  };

  // 1. @hv/host's verdicts: the backend, then each composed enlightenment on its own.
  const backends = backendVerdicts(true, undefined, caps);
  if (!backends.passthrough.ok) for (const cap of PASSTHROUGH_CAPS) if (!has(caps, cap)) need(cap, BACKEND);
  for (const cap of PASSTHROUGH_BACKEND_CAPS) if (!has(caps, cap)) need(cap, BACKEND);
  const own = { emulator: backends.emulator, passthrough: { ok: true } };
  const refused: { name: string; reason: string }[] = [];
  for (const e of composition.enlightenments) {
    const v = pluginVerdicts(e.plugin, own, caps, hv).passthrough;
    if (!v.ok) {
      refused.push({ name: e.name, reason: v.reason ?? "refused" });
      for (const cap of e.plugin.passthrough.capabilities) if (!has(caps, cap)) need(cap, e.name);
    }
    // A capability enabled per vCPU must exist too (a plugin listing it only there is a plugin bug, caught here, not at KVM_ENABLE_CAP).
    for (const cap of e.plugin.passthrough.enableCapabilities ?? []) if (!has(caps, cap) || !(cap in KVM_CAPS)) need(cap, e.name);
  }
  // The SynIC's interrupts go through KVM's SINT routes (irqfd), so synic needs the routing capabilities.
  const synic = composition.enlightenments.some((e) => e.name === SYNIC_OWNER);
  if (synic) for (const cap of SYNIC_ROUTE_CAPS) if (!has(caps, cap)) need(cap, SYNIC_OWNER);

  // 2. The composed leaves against KVM_GET_SUPPORTED_HV_CPUID.
  const unsupportedBits: UnsupportedBit[] = [];
  const unchecked: UncheckedBit[] = [];
  const composed = new CpuidTable(composition.cpuid);
  const contribs = contributions(composition);
  const supported = hv ? new CpuidTable(hv) : undefined;
  let needsHvCpuid = false;
  for (const { leaf, register, mask } of CHECKED_REGISTERS) {
    const value = composed.get(leaf)[register] & mask;
    for (let bit = 0; bit < 32; bit++) {
      if (((value >>> bit) & 1) === 0) continue;
      const b = cpuidBitAt(leaf, register, bit);
      const owners = contribs.filter((c) => (((c.bits.get(regKey(leaf, register))?.value ?? 0) >>> bit) & 1) === 1);
      const requiredBy = owners.filter((c) => c.required(leaf, register, bit)).map((c) => c.owner);
      if (requiredBy.length === 0) {
        unchecked.push({
          label: bitLabel(b),
          owners: owners.map((c) => c.owner),
          why: owners.some((c) => c.owner === BASE_OWNER)
            ? "QEMU sets it for every Hyper-V guest without asking KVM (hyperv_fill_cpuids)"
            : "its owner's passthrough.hvCpuid does not ask KVM for it (a guest hint)",
        });
        continue;
      }
      needsHvCpuid = true;
      if (supported && ((supported.get(leaf)[register] >>> bit) & 1) === 1) continue;
      if (supported) {
        unsupportedBits.push({ label: bitLabel(b), leaf, register: register.toUpperCase(), bit, name: b.name, enlightenments: requiredBy });
      }
    }
  }
  const evmcsVersion = composed.get(HV_CPUID_NESTED_FEATURES).eax & EVMCS_VERSION_MASK;
  if (evmcsVersion !== 0) {
    needsHvCpuid = true;
    const owners = contribs.filter((c) => ((c.bits.get(regKey(HV_CPUID_NESTED_FEATURES, "eax"))?.value ?? 0) & EVMCS_VERSION_MASK) !== 0).map((c) => c.owner);
    const kvm = supported ? supported.get(HV_CPUID_NESTED_FEATURES).eax & EVMCS_VERSION_MASK : undefined;
    const [lo, hi] = [evmcsVersion & 0xff, evmcsVersion >>> 8];
    if (kvm !== undefined && !(kvm !== 0 && (kvm & 0xff) <= lo && hi <= kvm >>> 8)) {
      unsupportedBits.push({
        label: `0x4000000a.EAX[15:0] eVMCS versions ${lo}..${hi} (KVM offers ${kvm === 0 ? "none" : `${kvm & 0xff}..${kvm >>> 8}`})`,
        leaf: HV_CPUID_NESTED_FEATURES,
        register: "EAX",
        bit: 0,
        name: "EnlightenedVmcsVersion",
        enlightenments: owners,
      });
    }
  }
  const hvCpuidUnavailable = hv === undefined && (needsHvCpuid || refused.length > 0);

  if (missing.size === 0 && unsupportedBits.length === 0 && !hvCpuidUnavailable && refused.length === 0) {
    const vcpuCapabilities: KvmCapName[] = [];
    for (const e of composition.enlightenments) {
      for (const cap of e.plugin.passthrough.enableCapabilities ?? []) {
        if (!vcpuCapabilities.includes(cap as KvmCapName)) vcpuCapabilities.push(cap as KvmCapName);
      }
    }
    vcpuCapabilities.push("KVM_CAP_HYPERV_ENFORCE_CPUID");
    return {
      composition,
      caps,
      supportedHvCpuid: hv!,
      vcpuCapabilities,
      evmcsVersion,
      crash: composed.hasBit(HvFeatureEdx.GuestCrashRegsAvailable),
      sintRoutes: synic,
      maxRoutes: caps.KVM_CAP_IRQ_ROUTING ?? 0,
      hypervEventfd: synic && has(caps, "KVM_CAP_HYPERV_EVENTFD"),
      unchecked,
    };
  }

  // The refusal, in one line.
  const missingCapabilities = [...missing].map(([capability, neededBy]) => ({ capability, neededBy }));
  const parts: string[] = [];
  if (missingCapabilities.length > 0) {
    const list = missingCapabilities.map((m) => `${m.capability} (${m.neededBy.join(", ")})`).join(", ");
    parts.push(
      missing.has("KVM_CAP_HYPERV")
        ? `this KVM has no in-kernel Hyper-V (a kernel built without CONFIG_KVM_HYPERV); it lacks ${list}`
        : `KVM lacks ${list}`,
    );
  }
  if (hvCpuidUnavailable && !missing.has("KVM_CAP_SYS_HYPERV_CPUID")) {
    parts.push("KVM_GET_SUPPORTED_HV_CPUID is unavailable, so no Hyper-V CPUID bit can be checked");
  }
  if (unsupportedBits.length > 0) {
    parts.push(`KVM_GET_SUPPORTED_HV_CPUID lacks ${unsupportedBits.map((b) => `${b.label} (${b.enlightenments.join(", ")})`).join(", ")}`);
  }
  if (parts.length === 0) parts.push(refused.map((r) => `${r.name}: ${r.reason}`).join("; "));
  return new PassthroughUnavailable({
    missingCapabilities,
    hvCpuidUnavailable,
    unsupportedBits,
    refused,
    message: `the passthrough backend cannot give this guest its Hyper-V interface here: ${parts.join("; ")}; nothing was created; use --backend emulator`,
  });
}

/**
 * Asks `service` what the host offers (opening /dev/kvm, KVM_CHECK_EXTENSION for every capability
 * of `@hv/kvm`'s table, and KVM_GET_SUPPORTED_HV_CPUID on the system fd when KVM_CAP_SYS_HYPERV_CPUID
 * is there). Creates nothing: no VM, no vCPU.
 */
export function probePassthroughHost(service: KvmService): PassthroughHost {
  const reason = service.unavailable();
  if (reason !== undefined) return { available: false, reason, caps: {} };
  const caps = serviceCapabilities(service);
  const hvCpuid = has(caps, "KVM_CAP_SYS_HYPERV_CPUID") ? service.supportedHvCpuid() : undefined;
  return { available: true, caps, ...(hvCpuid ? { hvCpuid } : {}) };
}

/**
 * The preflight: {@link probePassthroughHost} then {@link checkPassthrough}. Succeeds with the
 * {@link PassthroughPlan}; fails with {@link PassthroughUnavailable}. Runs before any VM exists
 * (the simulated kernel's log shows no KVM_CREATE_VM on refusal). An ioctl failing while probing
 * (a broken fd) is a defect, not a refusal.
 */
export const preflight = (composition: Composition, service: KvmService): Effect.Effect<PassthroughPlan, PassthroughUnavailable> =>
  Effect.suspend(() => {
    const r = checkPassthrough(composition, probePassthroughHost(service));
    return r instanceof PassthroughUnavailable ? Effect.fail(r) : Effect.succeed(r);
  });
