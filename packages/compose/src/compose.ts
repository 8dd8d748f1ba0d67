/**
 * Resolves a requested set of enlightenments into a valid composition: dependencies (error, or
 * added when `autoResolve`), `--without` edits, parameters, claim conflicts, the base, and the
 * Hyper-V CPUID leaves the guest will see (equal to QEMU's `hyperv_fill_cpuids` for the same set).
 * Edge code: runs once per VM or CLI call.
 * @module
 */
import { Cause, Effect, Exit, Schema } from "effect";
import {
  HV_CPUID_ENLIGHTMENT_INFO,
  HV_CPUID_FEATURES,
  HV_CPUID_IMPLEMENT_LIMITS,
  HV_CPUID_INTERFACE,
  HV_CPUID_MIN_MAX_LEAF,
  HV_CPUID_SIGNATURE_HV1,
  HV_CPUID_SYNDBG_VENDOR_AND_MAX_FUNCTIONS,
  HV_CPUID_VENDOR_AND_MAX_FUNCTIONS,
  HV_CPUID_VERSION,
  HV_DEFAULT_MAX_LPS,
  HV_DEFAULT_MAX_VPS,
  HV_FORBIDDEN_PRIVILEGES,
  HV_SPINLOCK_RETRIES_NEVER_NOTIFY,
  HV_VENDOR_MICROSOFT,
} from "@hv/tlfs";
import { type AnyPlugin, type CpuidLeaf, CpuidTable, cpuidOf, encodeVendor, type HypercallClaim, type MsrClaim } from "@hv/x86";
import { BASE_CPUID, BASE_MSRS, BASE_OWNER, BASE_PLUGINS } from "./base.ts";
import {
  ClaimConflict,
  type ComposeError,
  ForbiddenPrivilege,
  InvalidParameter,
  MissingDependency,
  UnknownEnlightenment,
} from "./errors.ts";
import { type HvVersion, QEMU_DEFAULT_VERSION, versionLeaf } from "./version.ts";

/**
 * What to compose.
 * - `registry`: every known plugin (built-in and third-party), in output order.
 * - `requested`: names to include, each with why (`"profile win2012: ..."`, `"--with"`).
 * - `without`: names to remove after `requested` (a removed name that something still needs is an error).
 * - `set`: raw parameter strings by `name` (primary parameter) or `name.param`.
 * - `autoResolve`: add missing dependencies instead of failing.
 * - `version`: what 0x40000002 reports (default: QEMU's, 10.0.14393).
 */
export interface ComposeRequest {
  readonly registry: readonly AnyPlugin[];
  readonly requested: readonly { readonly name: string; readonly reason: string }[];
  readonly without?: readonly string[];
  readonly set?: Readonly<Record<string, string>>;
  readonly autoResolve?: boolean;
  readonly version?: HvVersion;
}

/** One composed enlightenment: the plugin, its resolved parameters, and why it is in the set. */
export interface ComposedEnlightenment {
  readonly name: string;
  readonly plugin: AnyPlugin;
  readonly params: Readonly<Record<string, unknown>>;
  readonly reason: string;
}

/**
 * The result: the enlightenments in registry order, the Hyper-V CPUID leaves (0x40000000..max and
 * any extra leaves such as syndbg's), the MSR and hypercall claim tables (owner by index/code, base
 * included), and the reported version.
 */
export interface Composition {
  readonly enlightenments: readonly ComposedEnlightenment[];
  readonly cpuid: readonly CpuidLeaf[];
  readonly msrs: ReadonlyMap<number, { readonly owner: string; readonly claim: MsrClaim }>;
  readonly hypercalls: ReadonlyMap<number, { readonly owner: string; readonly claim: HypercallClaim }>;
  readonly version: HvVersion;
}

const hex = (n: number) => `0x${n.toString(16)}`;

/** Resolves `request` (see {@link ComposeRequest}); fails with a {@link ComposeError}. */
export const compose = Effect.fnUntraced(function* (request: ComposeRequest) {
  const byName = new Map(request.registry.map((p) => [p.name, p] as const));
  const valid = request.registry.map((p) => p.name);
  const known = (name: string, what: string) =>
    byName.has(name) ? Effect.void : Effect.fail(
      new UnknownEnlightenment({
        name,
        valid,
        message: `unknown enlightenment '${name}' in ${what}; valid: ${valid.join(", ")}`,
      }),
    );

  // 1. the requested set plus the base, minus --without
  const reasons = new Map<string, string>();
  for (const b of BASE_PLUGINS) if (byName.has(b)) reasons.set(b, "base: required by every Hv#1 guest (Requirements for Implementing the Microsoft Hypervisor Interface)");
  for (const r of request.requested) {
    yield* known(r.name, "the requested set");
    if (!reasons.has(r.name)) reasons.set(r.name, r.reason);
  }
  const removed = new Set<string>();
  for (const w of request.without ?? []) {
    yield* known(w, "--without");
    if (BASE_PLUGINS.includes(w)) {
      return yield* Effect.fail(
        new MissingDependency({
          name: BASE_OWNER,
          missing: w,
          removed: true,
          message: `'${w}' is part of the base every Hyper-V guest needs and cannot be removed (the Requirements for Implementing the Microsoft Hypervisor Interface demand AccessVpIndex)`,
        }),
      );
    }
    reasons.delete(w);
    removed.add(w);
  }

  // 2. dependencies
  for (let changed = true; changed;) {
    changed = false;
    for (const name of [...reasons.keys()]) {
      for (const dep of byName.get(name)!.requires) {
        if (reasons.has(dep)) continue;
        if (!byName.has(dep)) yield* known(dep, `the dependencies of '${name}'`);
        if (request.autoResolve && !removed.has(dep)) {
          reasons.set(dep, `dependency of ${name}`);
          changed = true;
          continue;
        }
        const wasRemoved = removed.has(dep);
        return yield* Effect.fail(
          new MissingDependency({
            name,
            missing: dep,
            removed: wasRemoved,
            message: wasRemoved
              ? `--without ${dep} breaks '${name}', which requires '${dep}'; also remove '${name}' (--without ${name}) or keep '${dep}'`
              : `'${name}' requires '${dep}'; add it (--with ${dep}) or pass --auto-deps to add dependencies automatically`,
          }),
        );
      }
    }
  }

  // 3. parameters
  const rawParams = new Map<string, Map<string, string>>();
  for (const [k, v] of Object.entries(request.set ?? {})) {
    const [name, param] = k.split(".", 2) as [string, string | undefined];
    yield* known(name, "--set");
    const plugin = byName.get(name)!;
    const key = param ?? plugin.primaryParam;
    if (!plugin.params || key === undefined || !(key in plugin.params)) {
      const names = Object.keys(plugin.params ?? {});
      return yield* Effect.fail(
        new InvalidParameter({
          name,
          param: key ?? "",
          value: v,
          message: names.length === 0
            ? `'${name}' takes no parameters`
            : `'${name}' has no parameter '${key}'; it takes: ${names.join(", ")}`,
        }),
      );
    }
    if (!reasons.has(name)) {
      return yield* Effect.fail(
        new InvalidParameter({ name, param: key, value: v, message: `--set ${k}: '${name}' is not in the composed set; add it with --with ${name}` }),
      );
    }
    if (!rawParams.has(name)) rawParams.set(name, new Map());
    rawParams.get(name)!.set(key, v);
  }

  const enlightenments: ComposedEnlightenment[] = [];
  for (const plugin of request.registry) {
    if (!reasons.has(plugin.name)) continue;
    const params: Record<string, unknown> = {};
    for (const [key, spec] of Object.entries(plugin.params ?? {})) {
      const raw = rawParams.get(plugin.name)?.get(key);
      if (raw === undefined) {
        params[key] = spec.default;
        continue;
      }
      const exit = Schema.decodeUnknownExit(spec.schema)(raw);
      if (Exit.isFailure(exit)) {
        return yield* Effect.fail(
          new InvalidParameter({
            name: plugin.name,
            param: key,
            value: raw,
            message: `invalid value '${raw}' for ${plugin.name}.${key} (${spec.doc}): ${(Cause.squash(exit.cause) as Error).message}`,
          }),
        );
      }
      params[key] = exit.value;
    }
    enlightenments.push({ name: plugin.name, plugin, params, reason: reasons.get(plugin.name)! });
  }

  // 4. claims
  const msrs = new Map<number, { owner: string; claim: MsrClaim }>();
  const hypercalls = new Map<number, { owner: string; claim: HypercallClaim }>();
  const claimMsr = (owner: string, claim: MsrClaim) => {
    const prev = msrs.get(claim.index);
    if (prev) {
      return Effect.fail(
        new ClaimConflict({
          what: `MSR ${claim.name} (${hex(claim.index)})`,
          first: prev.owner,
          second: owner,
          message: `'${prev.owner}' and '${owner}' both claim MSR ${claim.name} (${hex(claim.index)}); compose only one of them`,
        }),
      );
    }
    msrs.set(claim.index, { owner, claim });
    return Effect.void;
  };
  for (const c of BASE_MSRS) yield* claimMsr(BASE_OWNER, c);
  for (const e of enlightenments) {
    for (const c of e.plugin.msrs) yield* claimMsr(e.name, c);
    for (const c of e.plugin.hypercalls) {
      const prev = hypercalls.get(c.code);
      if (prev) {
        return yield* Effect.fail(
          new ClaimConflict({
            what: `hypercall ${c.name} (${hex(c.code)})`,
            first: prev.owner,
            second: e.name,
            message: `'${prev.owner}' and '${e.name}' both claim hypercall ${c.name} (${hex(c.code)}); compose only one of them`,
          }),
        );
      }
      hypercalls.set(c.code, { owner: e.name, claim: c });
    }
  }

  // 5. CPUID
  const version = request.version ?? QEMU_DEFAULT_VERSION;
  const table = new CpuidTable();
  const vendor = encodeVendor(HV_VENDOR_MICROSOFT);
  table.setRegister(HV_CPUID_VENDOR_AND_MAX_FUNCTIONS, "ebx", vendor.ebx);
  table.setRegister(HV_CPUID_VENDOR_AND_MAX_FUNCTIONS, "ecx", vendor.ecx);
  table.setRegister(HV_CPUID_VENDOR_AND_MAX_FUNCTIONS, "edx", vendor.edx);
  table.setRegister(HV_CPUID_INTERFACE, "eax", HV_CPUID_SIGNATURE_HV1);
  const v = versionLeaf(version);
  for (const r of ["eax", "ebx", "ecx", "edx"] as const) table.setRegister(HV_CPUID_VERSION, r, v[r]);
  table.touch(HV_CPUID_FEATURES);
  table.setRegister(HV_CPUID_ENLIGHTMENT_INFO, "ebx", HV_SPINLOCK_RETRIES_NEVER_NOTIFY);
  table.setRegister(HV_CPUID_IMPLEMENT_LIMITS, "eax", HV_DEFAULT_MAX_VPS);
  table.setRegister(HV_CPUID_IMPLEMENT_LIMITS, "ebx", HV_DEFAULT_MAX_LPS);

  const bitOwners = new Map<string, string>();
  const contributions = [
    { owner: BASE_OWNER, c: BASE_CPUID },
    ...enlightenments.map((e) => ({ owner: e.name, c: cpuidOf(e.plugin, e.params) })),
  ];
  const registerOwners = new Map<string, string>();
  // maxLeaf bounds the standard leaves (zero-filled up to it); reportedMax is what 0x40000000.EAX says,
  // raised by extra leaves such as syndbg's 0x40000080..82 (QEMU `hyperv_fill_cpuids`, KVM `kvm_get_hv_cpuid`).
  let maxLeaf = HV_CPUID_MIN_MAX_LEAF;
  let reportedMax = maxLeaf;
  const noteLeaf = (fn: number) => {
    if (fn < HV_CPUID_SYNDBG_VENDOR_AND_MAX_FUNCTIONS) maxLeaf = Math.max(maxLeaf, fn);
    reportedMax = Math.max(reportedMax, fn);
  };
  const leafOwners = new Map<number, string>();
  for (const { owner, c } of contributions) {
    for (const b of c.set ?? []) {
      table.setBit(b);
      noteLeaf(b.leaf);
      if (!bitOwners.has(b.name)) bitOwners.set(b.name, owner);
    }
    for (const r of c.registers ?? []) {
      noteLeaf(r.leaf);
      if (r.mode === "or") {
        const cur = table.get(r.leaf)[r.register];
        table.setRegister(r.leaf, r.register, cur | r.value);
        continue;
      }
      const k = `${hex(r.leaf)}.${r.register.toUpperCase()}`;
      const prev = registerOwners.get(k);
      if (prev) {
        return yield* Effect.fail(
          new ClaimConflict({
            what: `CPUID ${k}`,
            first: prev,
            second: owner,
            message: `'${prev}' and '${owner}' both set CPUID ${k}; compose only one of them`,
          }),
        );
      }
      registerOwners.set(k, owner);
      table.setRegister(r.leaf, r.register, r.value);
    }
    for (const l of c.leaves ?? []) {
      const prev = leafOwners.get(l.function);
      if (prev || table.has(l.function)) {
        return yield* Effect.fail(
          new ClaimConflict({
            what: `CPUID leaf ${hex(l.function)}`,
            first: prev ?? "another plugin's bits",
            second: owner,
            message: `'${prev ?? "another plugin"}' and '${owner}' both define CPUID leaf ${hex(l.function)}; compose only one of them`,
          }),
        );
      }
      leafOwners.set(l.function, owner);
      noteLeaf(l.function);
      for (const r of ["eax", "ebx", "ecx", "edx"] as const) table.setRegister(l.function, r, l[r]);
    }
  }
  for (const { c } of contributions) for (const b of c.clear ?? []) table.clearBit(b);
  for (const p of HV_FORBIDDEN_PRIVILEGES) {
    if (table.hasBit(p)) {
      const owner = bitOwners.get(p.name) ?? "unknown";
      return yield* Effect.fail(
        new ForbiddenPrivilege({
          privilege: p.name,
          owner,
          message: `'${owner}' would advertise the ${p.name} privilege, which a guest partition must never see (root-partition code paths)`,
        }),
      );
    }
  }
  for (let fn = HV_CPUID_VENDOR_AND_MAX_FUNCTIONS + 1; fn <= maxLeaf; fn++) table.touch(fn);
  table.setRegister(HV_CPUID_VENDOR_AND_MAX_FUNCTIONS, "eax", Math.max(maxLeaf, reportedMax));
  const cpuid = table.leaves();

  return { enlightenments, cpuid, msrs, hypercalls, version } satisfies Composition as Composition;
}) as (request: ComposeRequest) => Effect.Effect<Composition, ComposeError>;
