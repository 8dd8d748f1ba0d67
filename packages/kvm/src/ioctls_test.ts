import assert from "node:assert/strict";
import {
  _IOR,
  _IOW,
  IOCTL_NAME,
  IOCTLS,
  KVM_CHECK_EXTENSION,
  KVM_CREATE_VCPU,
  KVM_CREATE_VM,
  KVM_ENABLE_CAP,
  KVM_GET_API_VERSION,
  KVM_GET_DEBUGREGS,
  KVM_GET_MSRS,
  KVM_GET_REGS,
  KVM_GET_SREGS,
  KVM_GET_SUPPORTED_CPUID,
  KVM_GET_TSC_KHZ,
  KVM_GET_VCPU_EVENTS,
  KVM_GET_XSAVE,
  KVM_GET_XSAVE2,
  KVM_RUN,
  KVM_SET_CPUID2,
  KVM_SET_DEBUGREGS,
  KVM_SET_REGS,
  KVM_SET_SREGS,
  KVM_SET_USER_MEMORY_REGION,
  KVM_SET_VCPU_EVENTS,
  KVM_SET_XSAVE,
  KVM_SIGNAL_MSI,
  KVM_X86_SET_MSR_FILTER,
  KVMIO,
  STRUCT_SIZE,
} from "../mod.ts";

Deno.test("ioctl numbers match the ones measured in toolchain.md §6", () => {
  assert.equal(KVM_SET_USER_MEMORY_REGION, 0x4020ae46);
  assert.equal(KVM_GET_SREGS, 0x8138ae83);
  assert.equal(KVM_SET_SREGS, 0x4138ae84);
  assert.equal(KVM_SET_REGS, 0x4090ae82);
  assert.equal(KVM_RUN, 0xae80);
  assert.equal(KVM_CREATE_VCPU, 0xae41);
  assert.equal(KVM_GET_API_VERSION, 0xae00);
  assert.equal(KVM_CREATE_VM, 0xae01);
});

Deno.test("ioctl numbers as <linux/kvm.h> defines them on x86-64", () => {
  assert.equal(KVMIO, 0xae);
  assert.equal(KVM_CHECK_EXTENSION, 0xae03);
  assert.equal(KVM_GET_REGS, 0x8090ae81);
  assert.equal(KVM_GET_SUPPORTED_CPUID, 0xc008ae05);
  assert.equal(KVM_SET_CPUID2, 0x4008ae90);
  assert.equal(KVM_GET_MSRS, 0xc008ae88);
  assert.equal(KVM_ENABLE_CAP, 0x4068aea3);
  assert.equal(KVM_GET_TSC_KHZ, 0xaea3);
  assert.equal(KVM_SIGNAL_MSI, 0x4020aea5);
  assert.equal(KVM_X86_SET_MSR_FILTER, 0x4188aec6);
  assert.equal(_IOR(KVMIO, 0x8e, STRUCT_SIZE.kvm_lapic_state), 0x8400ae8e);
  assert.equal(_IOW(KVMIO, 0x8d, STRUCT_SIZE.kvm_fpu), 0x41a0ae8d);
  // State save/restore: struct kvm_xsave is 4096 bytes (KVM_GET_XSAVE2 encodes it too), kvm_debugregs 128, kvm_vcpu_events 64.
  assert.equal(KVM_GET_XSAVE, 0x9000aea4);
  assert.equal(KVM_SET_XSAVE, 0x5000aea5);
  assert.equal(KVM_GET_XSAVE2, 0x9000aecf);
  assert.equal(KVM_GET_DEBUGREGS, 0x8080aea1);
  assert.equal(KVM_SET_DEBUGREGS, 0x4080aea2);
  assert.equal(KVM_GET_VCPU_EVENTS, 0x8040ae9f);
  assert.equal(KVM_SET_VCPU_EVENTS, 0x4040aea0);
});

Deno.test("every ioctl number is unique and named back", () => {
  const values = Object.values(IOCTLS);
  assert.equal(new Set(values).size, values.length);
  for (const [name, n] of Object.entries(IOCTLS)) assert.equal(IOCTL_NAME.get(n), name);
  assert.ok(values.length >= 40);
});
