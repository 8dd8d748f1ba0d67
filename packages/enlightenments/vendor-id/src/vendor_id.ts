import { Schema } from "effect";
import { HV_CPUID_VENDOR_AND_MAX_FUNCTIONS, HV_VENDOR_MICROSOFT } from "@hv/tlfs";
import { definePlugin, encodeVendor } from "@hv/x86";

/**
 * A hypervisor vendor string as written on a command line: 1 to 12 printable ASCII characters
 * (0x20..0x7E). QEMU's hv-vendor-id takes at most 12 bytes and NUL-pads shorter ones.
 */
export const VendorIdString = Schema.String.check(
  Schema.isMinLength(1),
  Schema.isMaxLength(12),
  Schema.isPattern(/^[\x20-\x7e]*$/),
);

/**
 * `hv-vendor-id=STRING`: replaces the vendor id in CPUID 0x40000000.EBX/ECX/EDX (12 bytes,
 * little-endian, NUL-padded; default "Microsoft Hv" = 0x7263694D/0x666F736F/0x76482074) with mode
 * "set". Composition writes the default first and tracks register owners among plugins only, so this
 * plugin overrides the default, and a second plugin setting those registers is a ClaimConflict.
 * Not an enlightenment in QEMU (it does not switch the leaves to Hyper-V by itself). No MSRs, no
 * hypercalls, no #GP rules. Beware: Linux and Windows recognise Hyper-V by "Microsoft Hv" only, so
 * any other value hides the enlightenments from Linux (the NVIDIA "error 43" workaround relies on
 * exactly that). Source: TLFS §2.4.1; QEMU `hv-vendor-id` (`x86_cpu_hyperv_realize`).
 */
export const vendorId = definePlugin<{ value: string }>({
  name: "vendor-id",
  summary: "Hypervisor vendor string in CPUID 0x40000000 (default \"Microsoft Hv\"); e.g. to hide Hyper-V from drivers",
  requires: [],
  params: {
    value: {
      schema: VendorIdString,
      default: HV_VENDOR_MICROSOFT,
      doc: "vendor id, 1 to 12 printable ASCII characters",
    },
  },
  primaryParam: "value",
  cpuid: ({ value }) => {
    const v = encodeVendor(value);
    return {
      registers: [
        { leaf: HV_CPUID_VENDOR_AND_MAX_FUNCTIONS, register: "ebx", value: v.ebx, mode: "set" },
        { leaf: HV_CPUID_VENDOR_AND_MAX_FUNCTIONS, register: "ecx", value: v.ecx, mode: "set" },
        { leaf: HV_CPUID_VENDOR_AND_MAX_FUNCTIONS, register: "edx", value: v.edx, mode: "set" },
      ],
    };
  },
  msrs: [],
  hypercalls: [],
  emulator: { supported: true },
  passthrough: { capabilities: [], hvCpuid: [] },
  formats: {
    qemu: { property: "hv-vendor-id", value: (p) => String(p.value) },
    libvirt: { hyperv: "vendor_id", attrs: (p) => ({ value: String(p.value) }) },
    kubevirt: { hyperv: "vendorid", value: (p) => ({ vendorid: p.value }) },
  },
  docs: {
    description: "Sets the 12-byte hypervisor vendor id in CPUID 0x40000000.EBX..EDX (default \"Microsoft Hv\").",
    guestGains: "Nothing for Hyper-V support (guests want \"Microsoft Hv\"); used to hide the hypervisor from drivers that refuse to run in a VM, e.g. older NVIDIA drivers (Proxmox: 'proxmox', Nova hide_hypervisor_id: '1234567890ab').",
    windows: "Per the TLFS a guest identifies the interface by \"Hv#1\" in 0x40000001, not by the vendor id; Linux nonetheless requires \"Microsoft Hv\" exactly (mshyperv.c ms_hyperv_platform).",
    sources: ["TLFS §2.4.1 Hypervisor CPUID Leaf Range (vendor id)", "QEMU hv-vendor-id (at most 12 characters)", "libvirt <vendor_id state='on' value=.../>; KubeVirt hyperv.vendorid"],
  },
});
