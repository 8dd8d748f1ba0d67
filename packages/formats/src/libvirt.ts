/**
 * `--format libvirt`: domain XML fragments. `<features><hyperv mode='custom'>` with one element per
 * enlightenment in the order of libvirt's schema (`domaincommon.rng`, define `hyperv`) and
 * children (`<stimer><direct/></stimer>`, `<tlbflush><direct/><extended/></tlbflush>`) merged
 * under one parent; `<clock>` with the `hypervclock` timer; `<devices><panic model='hyperv'/>`;
 * enlightenments libvirt cannot express as XML comments.
 * @module
 */
import type { Composition } from "@hv/compose";
import type { AnyPlugin } from "@hv/x86";
import { isDefaultVersion, qemuProperty, versionText, xmlAttr, xmlCommentText } from "./util.ts";

/**
 * The `<hyperv>` children in libvirt's order: the schema's `hyperv` define (libvirt 9.0) followed by
 * the elements added since (emsr_bitmap, xmm_input; libvirt 9.1). Unknown elements (third-party
 * plugins) follow in composition order.
 */
export const LIBVIRT_HYPERV_ORDER: readonly string[] = [
  "relaxed",
  "vapic",
  "spinlocks",
  "vpindex",
  "runtime",
  "synic",
  "stimer",
  "reset",
  "vendor_id",
  "frequencies",
  "reenlightenment",
  "tlbflush",
  "ipi",
  "evmcs",
  "avic",
  "emsr_bitmap",
  "xmm_input",
];

/**
 * `<hyperv>` elements (and `parent/child` pairs) newer than libvirt 9.0's schema (Debian 12): with
 * `schema: "9.0"` these become comments instead of elements, so the XML validates there.
 */
export const LIBVIRT_AFTER_9_0: ReadonlySet<string> = new Set([
  "emsr_bitmap",
  "xmm_input",
  "tlbflush/direct",
  "tlbflush/extended",
]);

/**
 * Options: `schema` is the libvirt schema to target, `"latest"` (default; every element libvirt
 * knows) or `"9.0"` (leaves out {@link LIBVIRT_AFTER_9_0}).
 */
export interface LibvirtOptions {
  readonly schema?: "latest" | "9.0";
}

/** Child order inside a parent element (libvirt: `<stimer><direct/>`, `<tlbflush><direct/><extended/>`). */
const CHILD_ORDER: Readonly<Record<string, readonly string[]>> = {
  stimer: ["direct"],
  tlbflush: ["direct", "extended"],
};

const attrText = (attrs: Readonly<Record<string, string>>) =>
  Object.entries(attrs).map(([k, v]) => ` ${k}='${xmlAttr(v)}'`).join("");

/** One element as libvirt spells the plugin on its own, with `params` (for `hv explain`). */
export const libvirtSpelling = (plugin: AnyPlugin, params: Readonly<Record<string, unknown>>): string => {
  const l = plugin.formats.libvirt;
  if ("unsupported" in l) return `none (${l.unsupported})`;
  if ("clockTimer" in l) return `<clock><timer name='${xmlAttr(l.clockTimer)}' present='yes'/></clock>`;
  if ("panicModel" in l) return `<devices><panic model='${xmlAttr(l.panicModel)}'/></devices>`;
  const attrs = attrText(l.attrs ? l.attrs(params) : {});
  return l.child
    ? `<hyperv><${l.hyperv} state='on'><${l.child} state='on'${attrs}/></${l.hyperv}></hyperv>`
    : `<hyperv><${l.hyperv} state='on'${attrs}/></hyperv>`;
};

interface HypervElement {
  /** The plugin that enables the element itself (no `child`), if composed. */
  self?: { name: string; attrs: string };
  /** Children by child name: the composing plugin and its attributes. */
  children: Map<string, { name: string; attrs: string }>;
  /** First position in composition order (ordering of unknown elements). */
  seen: number;
}

/** The three fragments, each "" when empty; what libvirt cannot express is an XML comment inside `<hyperv>`. */
export interface LibvirtFragments {
  readonly features: string;
  readonly clock: string;
  readonly devices: string;
}

/** Renders the fragments separately, each indented by `indent` spaces (see {@link renderLibvirt}). */
export const libvirtFragments = (c: Composition, options: LibvirtOptions = {}, indent = 0): LibvirtFragments => {
  const pad = " ".repeat(indent);
  const old = options.schema === "9.0";
  const elements = new Map<string, HypervElement>();
  const comments: string[] = [];
  const timers: string[] = [];
  const panics: string[] = [];
  c.enlightenments.forEach((e, i) => {
    const l = e.plugin.formats.libvirt;
    if ("unsupported" in l) {
      comments.push(`${e.name} (${qemuProperty(e.plugin, e.params)}) is not supported by libvirt: ${l.unsupported}`);
      return;
    }
    if ("clockTimer" in l) return void timers.push(l.clockTimer);
    if ("panicModel" in l) return void panics.push(l.panicModel);
    const path = l.child ? `${l.hyperv}/${l.child}` : l.hyperv;
    if (old && LIBVIRT_AFTER_9_0.has(path)) {
      const spelled = l.child ? `<${l.hyperv}><${l.child} state='on'/></${l.hyperv}>` : `<${l.hyperv} state='on'/>`;
      comments.push(`${e.name}: libvirt 9.0 has no element for it (newer libvirt spells it ${spelled})`);
      return;
    }
    const el: HypervElement = elements.get(l.hyperv) ?? { children: new Map(), seen: i };
    elements.set(l.hyperv, el);
    const attrs = attrText(l.attrs ? l.attrs(e.params) : {});
    if (l.child) el.children.set(l.child, { name: e.name, attrs });
    else el.self = { name: e.name, attrs };
  });

  const rank = (name: string) => {
    const i = LIBVIRT_HYPERV_ORDER.indexOf(name);
    return i < 0 ? LIBVIRT_HYPERV_ORDER.length + elements.get(name)!.seen : i;
  };
  const inner: string[] = [];
  for (const name of [...elements.keys()].sort((a, b) => rank(a) - rank(b))) {
    const el = elements.get(name)!;
    const order = CHILD_ORDER[name] ?? [];
    const childNames = [...el.children.keys()].sort((a, b) => {
      const ra = order.indexOf(a), rb = order.indexOf(b);
      return (ra < 0 ? order.length : ra) - (rb < 0 ? order.length : rb);
    });
    if (!el.self) {
      // libvirt only turns children on under an enabled parent (<tlbflush state='on'><direct/>).
      for (const ch of childNames) {
        const who = el.children.get(ch)!.name;
        comments.push(
          `${who} cannot be expressed alone: libvirt spells it <${name} state='on'><${ch} state='on'/></${name}>, which also enables ${name}`,
        );
      }
      continue;
    }
    if (childNames.length === 0) {
      inner.push(`<${name} state='on'${el.self.attrs}/>`);
      continue;
    }
    inner.push(`<${name} state='on'${el.self.attrs}>`);
    for (const ch of childNames) inner.push(`  <${ch} state='on'${el.children.get(ch)!.attrs}/>`);
    inner.push(`</${name}>`);
  }
  if (!isDefaultVersion(c.version)) {
    comments.push(
      `hypervisor version ${
        versionText(c.version)
      }: libvirt has no element for it; pass QEMU's hv-version-id-* properties (e.g. through <qemu:commandline>)`,
    );
  }
  inner.push(...comments.map((t) => `<!-- ${xmlCommentText(t)} -->`));

  const features = inner.length === 0 ? "" : [
    `${pad}<features>`,
    `${pad}  <hyperv mode='custom'>`,
    ...inner.map((l) => `${pad}    ${l}`),
    `${pad}  </hyperv>`,
    `${pad}</features>`,
  ].join("\n");
  const clock = timers.length === 0 ? "" : [
    `${pad}<clock offset='localtime'>`,
    ...timers.map((t) => `${pad}  <timer name='${xmlAttr(t)}' present='yes'/>`),
    `${pad}</clock>`,
  ].join("\n");
  const devices = panics.length === 0 ? "" : [
    `${pad}<devices>`,
    ...panics.map((m) => `${pad}  <panic model='${xmlAttr(m)}'/>`),
    `${pad}</devices>`,
  ].join("\n");
  return { features, clock, devices };
};

/** The `<features>`, `<clock>` and `<devices>` fragments to paste into a domain, newline-terminated. */
export const renderLibvirt = (c: Composition, options: LibvirtOptions = {}): string => {
  const f = libvirtFragments(c, options);
  return [f.features, f.clock, f.devices].filter((s) => s !== "").join("\n") + "\n";
};

/** Options for {@link renderLibvirtDomain}. */
export interface LibvirtDomainOptions extends LibvirtOptions {
  readonly name: string;
  /** Memory in MiB (default 2048). */
  readonly memoryMiB?: number;
  /** vCPUs (default 2). */
  readonly vcpus?: number;
}

/**
 * A minimal complete `<domain type='kvm'>` carrying the fragments (what the schema test validates
 * with `virt-xml-validate`): name, memory, vcpus, `os type hvm`, features, `cpu mode='host-passthrough'`,
 * clock, devices.
 */
export const renderLibvirtDomain = (c: Composition, options: LibvirtDomainOptions): string => {
  const f = libvirtFragments(c, options, 2);
  const devices = f.devices || "  <devices>\n  </devices>";
  return [
    `<domain type='kvm'>`,
    `  <name>${xmlAttr(options.name)}</name>`,
    `  <memory unit='MiB'>${options.memoryMiB ?? 2048}</memory>`,
    `  <vcpu>${options.vcpus ?? 2}</vcpu>`,
    `  <os>`,
    `    <type arch='x86_64'>hvm</type>`,
    `  </os>`,
    ...(f.features ? [f.features] : []),
    `  <cpu mode='host-passthrough'/>`,
    ...(f.clock ? [f.clock] : []),
    devices,
    `</domain>`,
  ].join("\n") + "\n";
};
