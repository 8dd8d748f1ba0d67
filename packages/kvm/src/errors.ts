/**
 * The tagged errors of `@hv/kvm`. Both are `Schema.TaggedError`s: plain `throw`-able `Error`s on the
 * exit path (no Effect there), and typed failures in the Effect wrappers at the edge
 * (`openKvmEffect`). Each carries a `message` written for the person at the command line.
 * @module
 */
import { Schema } from "effect";
import { errnoName, errnoText } from "./libc.ts";

/**
 * A KVM ioctl (or the libc call behind it: open, mmap) returned -1.
 * - `ioctl`: KVM's name of the request ("KVM_SET_CPUID2"), or the libc function ("mmap").
 * - `errno`: the errno number; `errnoName`: its symbolic name ("EINVAL").
 * - `message`: "KVM_SET_CPUID2 failed: EINVAL (invalid argument)", plus context when given.
 */
export class KvmIoctlError extends Schema.TaggedError<KvmIoctlError>()("KvmIoctlError", {
  ioctl: Schema.String,
  errno: Schema.Number,
  errnoName: Schema.String,
  message: Schema.String,
}) {
  /** Builds the error for `ioctl` failing with `errno`; `context` (e.g. "vCPU 0") is appended to the message. */
  static of(ioctl: string, errno: number, context?: string): KvmIoctlError {
    const name = errnoName(errno);
    const text = `${ioctl} failed: ${name} (${errnoText(errno)})${context ? `: ${context}` : ""}`;
    return new KvmIoctlError({ ioctl, errno, errnoName: name, message: text });
  }
}

/**
 * Why KVM cannot be used here:
 * - `"no /dev/kvm"`: the device node is absent (module not loaded, no virtualization, container without the device);
 * - `"permission denied"`: it exists but this user cannot open it read-write;
 * - `"API version N != 12"`: KVM_GET_API_VERSION answered something else;
 * - `"open failed: EXXX"`: another open error (ENXIO/ENODEV: the module is loaded but not usable);
 * - `"FFI not permitted"`: Deno was started without `--allow-ffi` (or libc.so.6 could not be loaded).
 *
 * `message` says what to do about it.
 */
export class KvmUnavailable extends Schema.TaggedError<KvmUnavailable>()("KvmUnavailable", {
  reason: Schema.String,
  message: Schema.String,
}) {
  /** The device node is absent. */
  static noDevice(): KvmUnavailable {
    return new KvmUnavailable({
      reason: "no /dev/kvm",
      message: "KVM is unavailable: /dev/kvm does not exist. Load the module (`modprobe kvm_intel` or " +
        "`modprobe kvm_amd`), enable VT-x/AMD-V in the firmware, or, inside a VM, enable nested " +
        "virtualization on the host (kvm_intel nested=1 / kvm_amd nested=1); in a container, pass --device /dev/kvm.",
    });
  }

  /** The node exists but cannot be opened read-write. */
  static permissionDenied(): KvmUnavailable {
    return new KvmUnavailable({
      reason: "permission denied",
      message: "KVM is unavailable: permission denied opening /dev/kvm. Add this user to the `kvm` group " +
        "(`sudo usermod -aG kvm $USER`, then log in again) or run as root.",
    });
  }

  /** KVM_GET_API_VERSION returned something other than 12. */
  static apiVersion(version: number): KvmUnavailable {
    return new KvmUnavailable({
      reason: `API version ${version} != 12`,
      message: `KVM is unavailable: KVM_GET_API_VERSION returned ${version}, this VMM speaks version 12. ` +
        "Use a kernel with the stable KVM API (2.6.22 or newer).",
    });
  }

  /** open(/dev/kvm) failed with another errno. */
  static openFailed(errno: number): KvmUnavailable {
    const name = errnoName(errno);
    return new KvmUnavailable({
      reason: `open failed: ${name}`,
      message: `KVM is unavailable: opening /dev/kvm failed with ${name} (${errnoText(errno)}). Check that ` +
        "kvm_intel/kvm_amd is loaded and that virtualization is enabled (nested virtualization inside a VM).",
    });
  }

  /** No FFI (no `--allow-ffi`, or no glibc). */
  static noFfi(detail: string): KvmUnavailable {
    return new KvmUnavailable({
      reason: "FFI not permitted",
      message:
        `KVM is unavailable: cannot call libc through Deno FFI (${detail}). Run Deno with --allow-ffi on glibc Linux.`,
    });
  }
}
