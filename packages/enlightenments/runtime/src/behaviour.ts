/**
 * Behaviour of `hv-runtime`: HV_X64_MSR_VP_RUNTIME served from the backend's per-VP run-time
 * accounting ({@link VpView.runTime}), made monotonic per VP with declared state.
 * @module
 */
import { HV_X64_MSR_VP_RUNTIME } from "@hv/tlfs";
import { defineState, MsrOutcome, type PluginHandlers, type StateViews, type VpView } from "@hv/x86";

/** The plugin's name, which is also the owner of its declared state. */
export const RUNTIME = "runtime";

const TWO_32 = 0x1_0000_0000;

/**
 * Per-VP run-time state (power-on 0, as KVM's `runtime_offset`):
 * - `last` (u64, 100 ns units): the last HV_X64_MSR_VP_RUNTIME value returned to this VP; no later
 *   read returns less.
 * - `offset` (f64, 100 ns units): added to the backend's run time. It grows only when the backend's
 *   counter is found below `last` (a restore into a fresh process, whose counter starts at 0), so
 *   that the guest's run time resumes counting from `last` instead of stalling there (KVM: a host
 *   write of VP_RUNTIME sets `runtime_offset` = value - current run time, `kvm_hv_set_msr`).
 */
export const runtimeVpState = defineState({
  version: 1,
  fields: {
    last: { type: "u64", doc: "last HV_X64_MSR_VP_RUNTIME value returned to this VP (100 ns units)" },
    offset: { type: "f64", doc: "100 ns units added to the backend's VP run time (keeps the value monotonic across restore)" },
  },
});

/** Typed views of one VP's {@link runtimeVpState}. */
export type RuntimeVpViews = StateViews<typeof runtimeVpState.spec.fields>;

/**
 * The next HV_X64_MSR_VP_RUNTIME value of a VP, in 100 ns units, and records it in `s.last`.
 *
 * - `raw`: the backend's run time of the VP ({@link VpView.runTime}, 100 ns units, may be fractional).
 * - Result: `floor(raw + offset)`, never less than the previous result (`s.last`). A `raw` that is
 *   not a finite number (a backend that cannot read that VP answers NaN) returns `s.last` unchanged.
 *   When `raw + offset` is below `s.last`, the offset is raised so that the value continues from
 *   `s.last`. A non-finite stored offset (a hostile or corrupt restore) counts as 0. The value stays
 *   below 2^53 (about 28 years of run time); beyond that `s.last` is returned.
 *
 * Exit path: no allocation.
 */
export function nextVpRuntime(raw: number, s: RuntimeVpViews): number {
  const last = s.last[1] * TWO_32 + s.last[0];
  if (!Number.isFinite(raw)) return last;
  let offset = s.offset[0];
  if (!Number.isFinite(offset)) offset = s.offset[0] = 0;
  let v = Math.floor(raw + offset);
  if (!(v >= last)) {
    s.offset[0] = last - raw;
    v = last;
  }
  if (v > Number.MAX_SAFE_INTEGER) return last;
  s.last[0] = v % TWO_32;
  s.last[1] = Math.floor(v / TWO_32);
  return v;
}

/**
 * The handlers of `hv-runtime` (built once per partition by `create`):
 * - RDMSR HV_X64_MSR_VP_RUNTIME: the VP's run time in 100 ns units ({@link nextVpRuntime}) as lo/hi.
 * - WRMSR HV_X64_MSR_VP_RUNTIME: #GP (read-only; the dispatcher already refuses it for an "ro" claim).
 * - Any other MSR: NotMine.
 * Views of each VP's state are looked up once per VP object and cached, so a read allocates nothing.
 * Source: TLFS §7.7.1; KVM `kvm_hv_get_msr` (HV_X64_MSR_VP_RUNTIME = sum_exec_runtime / 100 + offset).
 */
export function runtimeHandlers(): PluginHandlers {
  const views = new WeakMap<VpView, RuntimeVpViews>();
  const stateOf = (vp: VpView): RuntimeVpViews => {
    let s = views.get(vp);
    if (s === undefined) {
      s = vp.state(RUNTIME) as unknown as RuntimeVpViews;
      views.set(vp, s);
    }
    return s;
  };
  return {
    rdmsr(vp, msr) {
      if (msr.index !== HV_X64_MSR_VP_RUNTIME) return MsrOutcome.NotMine;
      const s = stateOf(vp);
      nextVpRuntime(vp.runTime(), s);
      msr.lo = s.last[0];
      msr.hi = s.last[1];
      return MsrOutcome.Ok;
    },
    wrmsr(_vp, msr) {
      return msr.index === HV_X64_MSR_VP_RUNTIME ? MsrOutcome.Gp : MsrOutcome.NotMine;
    },
  };
}
