/**
 * Checked ioctl calls: run the ioctl through libc and turn -1 into a {@link KvmIoctlError} naming
 * the request (KVM's name from the ioctl table) and errno, read right after the call.
 * @module
 */
import { KvmIoctlError } from "./errors.ts";
import { IOCTL_NAME } from "./ioctls.ts";
import { errno, libc } from "./libc.ts";

/** KVM's name of ioctl request `req`, or its hex number when not in the table. */
export function ioctlName(req: number): string {
  return IOCTL_NAME.get(req) ?? `ioctl 0x${req.toString(16)}`;
}

/** `ioctl(fd, req, arg)` with an integer argument (number below 2^53 or bigint); returns the (non-negative) result or throws KvmIoctlError. */
export function ioctlVal(fd: number, req: number, arg: number | bigint = 0, context?: string): number {
  const r = libc().ioctl_val(fd, req, BigInt(arg));
  if (r < 0) throw KvmIoctlError.of(ioctlName(req), errno(), context);
  return r;
}

/** `ioctl(fd, req, buf)` with a pointer to `buf`; returns the (non-negative) result or throws KvmIoctlError. */
export function ioctlBuf(fd: number, req: number, buf: Uint8Array<ArrayBuffer>, context?: string): number {
  const r = libc().ioctl_buf(fd, req, buf);
  if (r < 0) throw KvmIoctlError.of(ioctlName(req), errno(), context);
  return r;
}

/** Like {@link ioctlBuf}, but returns `-errno` instead of throwing (for calls where some errnos are expected, e.g. E2BIG). */
export function ioctlBufErrno(fd: number, req: number, buf: Uint8Array<ArrayBuffer>): number {
  const r = libc().ioctl_buf(fd, req, buf);
  return r < 0 ? -errno() : r;
}

/** `close(fd)`, ignoring errors (EBADF on double close). */
export function closeFd(fd: number): void {
  if (fd >= 0) libc().close(fd);
}
