import assert from "node:assert/strict";
import { Effect } from "effect";
import { parse } from "yaml";
import { builtins } from "@hv/builtins";
import { compose } from "@hv/compose";
import { profileRequest, profiles } from "@hv/profiles";
import { renderKubevirt } from "./kubevirt.ts";
import { composeNames, fixture } from "./testing.ts";

Deno.test("kubevirt: features.hyperv keys, parameters, nested child, clock timer, unsupported as comments", () => {
  assert.equal(
    renderKubevirt(fixture()),
    `spec:
  template:
    spec:
      domain:
        clock:
          timer:
            hyperv: {}
        features:
          hyperv:
            relaxed: {}
            spinlocks:
              spinlocks: 8192
            vpindex: {}
            synic: {}
            synictimer:
              direct: {}
            tlbflush: {}
            vendorid:
              vendorid: "hv-test"
            # crash (hv-crash) is not supported by KubeVirt: KubeVirt's spec.domain.features.hyperv has no key for the crash MSRs (libvirt's <panic model='hyperv'/> device is not exposed)
            # tlbflush-ext (hv-tlbflush-ext) is not supported by KubeVirt: KubeVirt's hyperv.tlbflush has no 'extended' sub-option
            # xmm-input (hv-xmm-input) is not supported by KubeVirt: KubeVirt's spec.domain.features.hyperv has no key for XMM fast hypercall input
            # syndbg (hv-syndbg) is not supported by KubeVirt: KubeVirt's spec.domain.features.hyperv has no key for the synthetic debugger
`,
  );
});

Deno.test("kubevirt: strings are quoted, a non-default version is a comment, no clock without time", () => {
  assert.equal(
    renderKubevirt(
      composeNames(["vendor-id"], { "vendor-id": 'a"b: #c' }, {
        build: 9200,
        major: 6,
        minor: 2,
        servicePack: 0,
        serviceBranch: 0,
        serviceNumber: 0,
      }),
    ),
    `spec:
  template:
    spec:
      domain:
        features:
          hyperv:
            vpindex: {}
            vendorid:
              vendorid: "a\\"b: #c"
            # hypervisor version 6.2.9200: KubeVirt has no field for it
`,
  );
});

Deno.test("kubevirt: every profile parses as YAML into the KubeVirt structure", () => {
  for (const p of profiles) {
    const r = profileRequest(p);
    const c = Effect.runSync(compose({ registry: builtins, requested: r.requested, set: r.set, version: r.version }));
    const doc = parse(renderKubevirt(c));
    const domain = doc.spec.template.spec.domain;
    const hyperv = domain.features.hyperv as Record<string, unknown>;
    for (const e of c.enlightenments) {
      const k = e.plugin.formats.kubevirt;
      if ("hyperv" in k) assert.ok(k.hyperv in hyperv, `${p.name}: ${e.name} -> ${k.hyperv}`);
      if ("clockTimer" in k) assert.deepEqual(domain.clock.timer[k.clockTimer], {});
    }
    if (r.set.spinlocks) assert.deepEqual(hyperv.spinlocks, { spinlocks: Number(r.set.spinlocks) });
  }
});
