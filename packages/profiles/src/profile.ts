/**
 * The {@link Profile} schema: one guest OS profile as plain, JSON-representable data, and the
 * accessor that turns its GUEST_OS_ID string into the u64 the guest writes.
 * @module
 */
import { Schema } from "effect";
import { HV_SPINLOCK_RETRIES_NEVER_NOTIFY } from "@hv/tlfs";
import { HvVersion } from "@hv/compose";

/** A lower-case name in QEMU's spelling without `hv-` (`stimer-direct`), or a profile name/alias (`win2012r2`). */
const LowerName = Schema.String.check(Schema.isPattern(/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/));

/**
 * One enlightenment in a profile.
 * - `name`: the plugin name, QEMU's property without `hv-` (`relaxed`, `stimer-direct`).
 * - `why`: what this guest gains from it (or why it is needed), one sentence.
 * - `source`: where the choice comes from (e.g. `Proxmox CPUConfig.pm (winversion >= 7, machine >= 2.12)`).
 */
export const ProfileEnlightenment = Schema.Struct({
  name: LowerName,
  why: Schema.String.check(Schema.isMinLength(1)),
  source: Schema.String.check(Schema.isMinLength(1)),
});
/** See {@link ProfileEnlightenment}. */
export type ProfileEnlightenment = typeof ProfileEnlightenment.Type;

/**
 * HV_X64_MSR_GUEST_OS_ID (MSR 0x40000000) as a string: `0x` and exactly 16 hex digits, since JSON
 * has no u64. Encoding: TLFS "Reporting the Guest OS Identity" (see `profiles.md` section d).
 */
export const GuestOsIdString = Schema.String.check(Schema.isPattern(/^0x[0-9A-Fa-f]{16}$/));

/**
 * Spinlock retry count reported in 0x40000004.EBX: an integer from 0xFFF (libvirt's minimum, 4095)
 * to 0xFFFFFFFF (never notify).
 */
export const SpinlockRetryCount = Schema.Int.check(Schema.isBetween({ minimum: 0xfff, maximum: HV_SPINLOCK_RETRIES_NEVER_NOTIFY }));

/**
 * A guest OS profile.
 * - `name`: canonical name (`win10`), lower case.
 * - `aliases`: other names that select it (`win2016`, `win2019`), lower case; lookup is case-insensitive.
 * - `title`: the OS versions it covers, for humans.
 * - `enlightenments`: what the profile requests, each with why and a source; no duplicates.
 * - `spinlockRetries`: 0x40000004.EBX spin count when `spinlocks` is in the set (present exactly
 *   then), a number of spin iterations.
 * - `version`: what CPUID 0x40000002 reports (build, major.minor, service pack/branch/number).
 * - `guestOsId`: the HV_X64_MSR_GUEST_OS_ID value a representative release of this OS writes, as
 *   `0x` + 16 hex digits (use {@link guestOsIdOf} for the bigint); absent when the profile is not
 *   one OS (`max`). Informational: the guest writes it, hv never sets it.
 * - `notes`: where this profile differs from Proxmox, virt-install or Nova, and why.
 */
export const Profile = Schema.Struct({
  name: LowerName,
  aliases: Schema.Array(LowerName),
  title: Schema.String.check(Schema.isMinLength(1)),
  enlightenments: Schema.Array(ProfileEnlightenment),
  spinlockRetries: Schema.optionalKey(SpinlockRetryCount),
  version: HvVersion,
  guestOsId: Schema.optionalKey(GuestOsIdString),
  notes: Schema.Array(Schema.String),
}).check(
  Schema.makeFilter((p) => {
    const issues: Schema.FilterIssue[] = [];
    const names = p.enlightenments.map((e) => e.name);
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup !== undefined) issues.push({ path: ["enlightenments"], issue: `enlightenment '${dup}' appears twice` });
    const hasSpinlocks = names.includes("spinlocks");
    if (hasSpinlocks && p.spinlockRetries === undefined) {
      issues.push({ path: ["spinlockRetries"], issue: "spinlocks is in the set, so spinlockRetries is required" });
    }
    if (!hasSpinlocks && p.spinlockRetries !== undefined) {
      issues.push({ path: ["spinlockRetries"], issue: "spinlockRetries is set but spinlocks is not in the set" });
    }
    if (p.aliases.includes(p.name)) issues.push({ path: ["aliases"], issue: `alias '${p.name}' repeats the name` });
    return issues;
  }),
);
/** See {@link Profile}. */
export type Profile = typeof Profile.Type;

/**
 * The GUEST_OS_ID of `p` as the u64 the guest writes to MSR 0x40000000, or `undefined` when the
 * profile has none (`max`).
 */
export const guestOsIdOf = (p: Profile): bigint | undefined => (p.guestOsId === undefined ? undefined : BigInt(p.guestOsId));
