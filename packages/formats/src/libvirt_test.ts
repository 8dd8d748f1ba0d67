import assert from "node:assert/strict";
import { Effect } from "effect";
import { builtins } from "@hv/builtins";
import { compose } from "@hv/compose";
import { profileRequest, profiles } from "@hv/profiles";
import { LIBVIRT_HYPERV_ORDER, type LibvirtOptions, renderLibvirt, renderLibvirtDomain } from "./libvirt.ts";
import { composeNames, fixture } from "./testing.ts";
import { xmlCommentText } from "./util.ts";

Deno.test("libvirt: elements in schema order, children merged, clock, panic, unsupported as comment", () => {
  assert.equal(
    renderLibvirt(fixture()),
    `<features>
  <hyperv mode='custom'>
    <relaxed state='on'/>
    <spinlocks state='on' retries='8192'/>
    <vpindex state='on'/>
    <synic state='on'/>
    <stimer state='on'>
      <direct state='on'/>
    </stimer>
    <vendor_id state='on' value='hv-test'/>
    <tlbflush state='on'>
      <extended state='on'/>
    </tlbflush>
    <xmm_input state='on'/>
    <!-- syndbg (hv-syndbg) is not supported by libvirt: libvirt has no <hyperv> element for hv-syndbg (it also needs -device vmbus-bridge); pass both through <qemu:commandline> -->
  </hyperv>
</features>
<clock offset='localtime'>
  <timer name='hypervclock' present='yes'/>
</clock>
<devices>
  <panic model='hyperv'/>
</devices>
`,
  );
});

Deno.test("libvirt: schema 9.0 turns newer elements into comments", () => {
  assert.equal(
    renderLibvirt(fixture(), { schema: "9.0" }),
    `<features>
  <hyperv mode='custom'>
    <relaxed state='on'/>
    <spinlocks state='on' retries='8192'/>
    <vpindex state='on'/>
    <synic state='on'/>
    <stimer state='on'>
      <direct state='on'/>
    </stimer>
    <vendor_id state='on' value='hv-test'/>
    <tlbflush state='on'/>
    <!-- tlbflush-ext: libvirt 9.0 has no element for it (newer libvirt spells it <tlbflush><extended state='on'/></tlbflush>) -->
    <!-- xmm-input: libvirt 9.0 has no element for it (newer libvirt spells it <xmm_input state='on'/>) -->
    <!-- syndbg (hv-syndbg) is not supported by libvirt: libvirt has no <hyperv> element for hv-syndbg (it also needs -device vmbus-bridge); pass both through <qemu:commandline> -->
  </hyperv>
</features>
<clock offset='localtime'>
  <timer name='hypervclock' present='yes'/>
</clock>
<devices>
  <panic model='hyperv'/>
</devices>
`,
  );
});

Deno.test("libvirt: a child without its parent, a non-default version", () => {
  const c = composeNames(["tlbflush-direct", "no-nonarch-coresharing"], {}, {
    build: 9200,
    major: 6,
    minor: 2,
    servicePack: 0,
    serviceBranch: 0,
    serviceNumber: 0,
  });
  assert.equal(
    renderLibvirt(c),
    `<features>
  <hyperv mode='custom'>
    <vapic state='on'/>
    <vpindex state='on'/>
    <!-- no-nonarch-coresharing (hv-no-nonarch-coresharing=on) is not supported by libvirt: libvirt has no <hyperv> element for hv-no-nonarch-coresharing; pass it through <qemu:commandline> -->
    <!-- tlbflush-direct cannot be expressed alone: libvirt spells it <tlbflush state='on'><direct state='on'/></tlbflush>, which also enables tlbflush -->
    <!-- hypervisor version 6.2.9200: libvirt has no element for it; pass QEMU's hv-version-id-* properties (e.g. through <qemu:commandline>) -->
  </hyperv>
</features>
`,
  );
});

Deno.test("libvirt: the order list matches the installed schema's <hyperv> define", () => {
  let rng: string;
  try {
    rng = Deno.readTextFileSync("/usr/share/libvirt/schemas/domaincommon.rng");
  } catch (e) {
    console.log(`skipped: cannot read libvirt's domaincommon.rng (${e instanceof Error ? e.message : e})`);
    return;
  }
  const start = rng.indexOf('<define name="hyperv">');
  const end = rng.indexOf("</define>", start);
  const names = [...rng.slice(start, end).matchAll(/<element name="([a-z_]+)">/g)].map((m) => m[1]).filter((n) =>
    n !== "hyperv"
  );
  assert.deepEqual(names, LIBVIRT_HYPERV_ORDER.slice(0, names.length));
});

/** Runs `virt-xml-validate <file> domain`; undefined when the tool is not on PATH. */
const validate = async (xml: string): Promise<{ ok: boolean; output: string } | undefined> => {
  const file = await Deno.makeTempFile({ suffix: ".xml" });
  try {
    await Deno.writeTextFile(file, xml);
    const out = await new Deno.Command("virt-xml-validate", {
      args: [file, "domain"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    return { ok: out.success, output: dec.decode(out.stdout) + dec.decode(out.stderr) };
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  } finally {
    await Deno.remove(file);
  }
};

/** "9.0" when the installed schema predates xmm_input (libvirt 9.0, Debian 12), else "latest". */
const installedSchema = (): LibvirtOptions["schema"] => {
  try {
    return Deno.readTextFileSync("/usr/share/libvirt/schemas/domaincommon.rng").includes('<element name="xmm_input">')
      ? "latest"
      : "9.0";
  } catch {
    return "latest";
  }
};

Deno.test("libvirt: every profile, and every enlightenment libvirt knows, validates with virt-xml-validate", async () => {
  const probe = await validate("<domain/>");
  if (probe === undefined) {
    console.log("skipped: virt-xml-validate is not on PATH (Debian: apt-get install libvirt-clients libxml2-utils)");
    return;
  }
  const schema = installedSchema();
  console.log(`validating against the installed libvirt schema (rendered for schema "${schema}")`);
  const cases = profiles.map((p) => {
    const r = profileRequest(p);
    return {
      name: `profile-${p.name}`,
      c: Effect.runSync(compose({ registry: builtins, requested: r.requested, set: r.set, version: r.version })),
    };
  });
  const everything = builtins.filter((p) => !("unsupported" in p.formats.libvirt)).map((p) => p.name);
  cases.push({ name: "all-libvirt", c: composeNames(everything, { "vendor-id": "hv<&'>test" }) });
  cases.push({ name: "fixture", c: fixture() });
  for (const { name, c } of cases) {
    const xml = renderLibvirtDomain(c, { name, schema });
    const res = (await validate(xml))!;
    assert.ok(res.ok, `${name} does not validate:\n${res.output}\n${xml}`);
  }
  // The validator does look inside <hyperv>: an unknown element fails.
  const bad = renderLibvirtDomain(composeNames(["relaxed"]), { name: "bad" }).replace(
    "<relaxed state='on'/>",
    "<relaxd state='on'/>",
  );
  assert.equal((await validate(bad))!.ok, false, "an unknown <hyperv> element must fail validation");
});

Deno.test("libvirt: comment text never contains '--' (XML forbids it)", () => {
  assert.equal(xmlCommentText("use --with x-"), "use - -with x- ");
});

Deno.test("libvirt: the full domain", () => {
  assert.equal(
    renderLibvirtDomain(composeNames(["relaxed", "time", "crash"]), { name: "win", memoryMiB: 4096, vcpus: 4 }),
    `<domain type='kvm'>
  <name>win</name>
  <memory unit='MiB'>4096</memory>
  <vcpu>4</vcpu>
  <os>
    <type arch='x86_64'>hvm</type>
  </os>
  <features>
    <hyperv mode='custom'>
      <relaxed state='on'/>
      <vpindex state='on'/>
    </hyperv>
  </features>
  <cpu mode='host-passthrough'/>
  <clock offset='localtime'>
    <timer name='hypervclock' present='yes'/>
  </clock>
  <devices>
    <panic model='hyperv'/>
  </devices>
</domain>
`,
  );
});
