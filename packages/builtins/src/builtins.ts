import type { AnyPlugin } from "@hv/x86";
import { relaxed } from "@hv/relaxed";
import { vapic } from "@hv/vapic";
import { spinlocks } from "@hv/spinlocks";
import { vpindex } from "@hv/vpindex";
import { runtime } from "@hv/runtime";
import { crash } from "@hv/crash";
import { time } from "@hv/time";
import { synic } from "@hv/synic";
import { stimer } from "@hv/stimer";
import { stimerDirect } from "@hv/stimer-direct";
import { frequencies } from "@hv/frequencies";
import { reenlightenment } from "@hv/reenlightenment";
import { reset } from "@hv/reset";
import { tlbflush } from "@hv/tlbflush";
import { tlbflushExt } from "@hv/tlbflush-ext";
import { tlbflushDirect } from "@hv/tlbflush-direct";
import { ipi } from "@hv/ipi";
import { evmcs } from "@hv/evmcs";
import { emsrBitmap } from "@hv/emsr-bitmap";
import { avic } from "@hv/avic";
import { xmmInput } from "@hv/xmm-input";
import { noNonarchCoresharing } from "@hv/no-nonarch-coresharing";
import { syndbg } from "@hv/syndbg";
import { vendorId } from "@hv/vendor-id";

/**
 * Every built-in enlightenment plugin, in output order (the order composition lists them and
 * `hv list` prints them): QEMU's hv-* properties plus hv-vendor-id. Pass as `registry` to
 * `compose`; third-party plugins may be appended.
 */
export const builtins: readonly AnyPlugin[] = Object.freeze([
  relaxed,
  vapic,
  spinlocks,
  vpindex,
  runtime,
  crash,
  time,
  synic,
  stimer,
  stimerDirect,
  frequencies,
  reenlightenment,
  reset,
  tlbflush,
  tlbflushExt,
  tlbflushDirect,
  ipi,
  evmcs,
  emsrBitmap,
  avic,
  xmmInput,
  noNonarchCoresharing,
  syndbg,
  vendorId,
]);

const byName: ReadonlyMap<string, AnyPlugin> = new Map(builtins.map((p) => [p.name, p] as const));

/** The built-in plugin called `name` (QEMU's spelling without `hv-`, e.g. `stimer-direct`), or `undefined`. */
export const findBuiltin = (name: string): AnyPlugin | undefined => byName.get(name);
