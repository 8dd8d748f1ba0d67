/**
 * The few libc functions KVM needs, through `Deno.dlopen("libc.so.6")` (x86-64 Linux, glibc).
 *
 * - Opened lazily, once per isolate: the main thread and every vCPU Worker call {@link libc} and get
 *   their own handle (Deno isolates do not share FFI handles; file descriptors and mappings are
 *   process-wide, so they can be shared by number/address).
 * - Only `--allow-ffi` is needed. Do not scope it (`--allow-ffi=libc.so.6` is resolved against the
 *   cwd and breaks the dlopen; toolchain.md §6).
 * - `ioctl` is variadic in C; it is bound under non-variadic aliases: `ioctl_val` (u64 integer
 *   argument, a bigint), `ioctl_buf` (pointer to a JS buffer) and `ioctl_ptr` (raw pointer, for
 *   mmapped structs). The request is passed as u32: the kernel's `ioctl` syscall takes
 *   `unsigned int cmd`, so nothing is lost. Always pass the third argument: ioctls without one
 *   (KVM_RUN, KVM_GET_API_VERSION) fail with EINVAL unless it is 0.
 * - errno is thread-local: read it with {@link errno} in the same thread, right after the call that
 *   returned -1, before any other FFI call.
 * - `read`/`write` return `ssize_t`; they are bound with an `i32` result (the low half of RAX on
 *   x86-64, exact for the 8-byte eventfd transfers they serve, and -1) because Deno returns 64-bit
 *   results as BigInt, an allocation per call on the interrupt-signalling path.
 * @module
 */

/** The FFI symbol table handed to `Deno.dlopen`. */
const SYMBOLS = {
  open: { parameters: ["buffer", "i32", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  ioctl_val: { name: "ioctl", parameters: ["i32", "u32", "u64"], result: "i32" },
  ioctl_buf: { name: "ioctl", parameters: ["i32", "u32", "buffer"], result: "i32" },
  ioctl_ptr: { name: "ioctl", parameters: ["i32", "u32", "pointer"], result: "i32" },
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
  pthread_self: { parameters: [], result: "u64" },
  pthread_kill: { parameters: ["u64", "i32"], result: "i32" },
  access: { parameters: ["buffer", "i32"], result: "i32" },
  sched_yield: { parameters: [], result: "i32" },
  strerror: { parameters: ["i32"], result: "pointer" },
  gettid: { parameters: [], result: "i32" },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  write: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
} as const;

/** The bound libc functions (C signatures in comments). */
export type LibcSymbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;
let errnoView: Deno.UnsafePointerView | undefined;

/**
 * libc's symbols for the calling isolate, opened on first use:
 * `open(path, flags, mode)`, `close(fd)`, `ioctl_val(fd, req, u64 bigint)`,
 * `ioctl_buf(fd, req, buffer)`, `ioctl_ptr(fd, req, pointer)`, `mmap(addr, len, prot, flags, fd, off) -> pointer`,
 * `munmap(ptr, len)`, `__errno_location()`, `pthread_self() -> u64 (pthread_t)`,
 * `pthread_kill(pthread_t, sig) -> 0 | errno` (returns the error, does not set errno),
 * `access(path, mode)`, `sched_yield()`, `strerror(errnum) -> char*`, `gettid()`,
 * `eventfd(initval, flags) -> fd`, `read(fd, buf, n)`/`write(fd, buf, n) -> bytes | -1` (i32 result,
 * see the module doc), `poll(struct pollfd *, nfds bigint, timeout_ms) -> ready count | -1`.
 *
 * Throws `Deno.errors.NotCapable`/`PermissionDenied` without `--allow-ffi`, or an Error when libc.so.6
 * cannot be loaded (non-glibc hosts).
 */
export function libc(): LibcSymbols {
  if (!lib) lib = Deno.dlopen("libc.so.6", SYMBOLS);
  return lib.symbols;
}

/** The calling thread's current errno (reads `*__errno_location()`; the view is cached per isolate). */
export function errno(): number {
  if (!errnoView) {
    const p = libc().__errno_location();
    if (p === null) return 0;
    errnoView = new Deno.UnsafePointerView(p);
  }
  return errnoView.getInt32();
}

/** `open(2)` flags (asm-generic/fcntl.h, x86-64). */
export const O_RDONLY = 0;
/** `open(2)`: read and write. */
export const O_RDWR = 2;
/** `open(2)`: close on exec. */
export const O_CLOEXEC = 0x80000;
/** `access(2)` mode: existence only. */
export const F_OK = 0;
/** `access(2)` mode: readable. */
export const R_OK = 4;
/** `access(2)` mode: writable. */
export const W_OK = 2;
/** `mmap(2)` protection: readable. */
export const PROT_READ = 1;
/** `mmap(2)` protection: writable. */
export const PROT_WRITE = 2;
/** `mmap(2)` flag: shared mapping (changes visible to KVM and other mappings). */
export const MAP_SHARED = 0x01;
/** `mmap(2)` flag: private copy-on-write mapping. */
export const MAP_PRIVATE = 0x02;
/** `mmap(2)` flag: not backed by a file; zero-filled. */
export const MAP_ANONYMOUS = 0x20;
/** `mmap(2)` flag: do not reserve swap space (large guest RAM is committed lazily). */
export const MAP_NORESERVE = 0x4000;
/** `SIGUSR1` (10) on x86-64 Linux. Not usable for kicks: Deno, like Node, opens its inspector on SIGUSR1. */
export const SIGUSR1 = 10;
/** `SIGUSR2` (12) on x86-64 Linux: the signal used to kick a vCPU thread out of KVM_RUN. */
export const SIGUSR2 = 12;

/**
 * The errno values KVM ioctls report, by name (asm-generic/errno-base.h, errno.h; x86-64 numbers),
 * with the lower-case description used in error messages.
 */
export const ERRNO: Readonly<Record<string, readonly [number, string]>> = {
  EPERM: [1, "operation not permitted"],
  ENOENT: [2, "no such file or directory"],
  ESRCH: [3, "no such process"],
  EINTR: [4, "interrupted system call"],
  EIO: [5, "input/output error"],
  ENXIO: [6, "no such device or address"],
  E2BIG: [7, "argument list too long"],
  EBADF: [9, "bad file descriptor"],
  EAGAIN: [11, "resource temporarily unavailable"],
  ENOMEM: [12, "cannot allocate memory"],
  EACCES: [13, "permission denied"],
  EFAULT: [14, "bad address"],
  EBUSY: [16, "device or resource busy"],
  EEXIST: [17, "file exists"],
  ENODEV: [19, "no such device"],
  EINVAL: [22, "invalid argument"],
  ENFILE: [23, "too many open files in system"],
  EMFILE: [24, "too many open files"],
  ENOTTY: [25, "inappropriate ioctl for device"],
  ENOSPC: [28, "no space left on device"],
  ERANGE: [34, "numerical result out of range"],
  ENOSYS: [38, "function not implemented"],
  EOPNOTSUPP: [95, "operation not supported"],
  ETIMEDOUT: [110, "connection timed out"],
  EHWPOISON: [133, "memory page has hardware error"],
};

const byNumber = new Map<number, readonly [string, string]>(
  Object.entries(ERRNO).map(([name, [n, text]]) => [n, [name, text] as const]),
);

/** Errno number of EINTR (4): a signal interrupted the call (KVM_RUN returns it when kicked). */
export const EINTR = 4;
/** Errno number of EAGAIN (11). */
export const EAGAIN = 11;
/** Errno number of ENOENT (2). */
export const ENOENT = 2;
/** Errno number of EACCES (13). */
export const EACCES = 13;
/** Errno number of EPERM (1). */
export const EPERM = 1;

/** The symbolic name of an errno value ("EINVAL"), or `"E<n>"` when not in {@link ERRNO}. */
export function errnoName(n: number): string {
  return byNumber.get(n)?.[0] ?? `E${n}`;
}

/**
 * A lower-case description of an errno value ("invalid argument"): from {@link ERRNO}, else libc's
 * `strerror` (lower-cased), else "unknown error".
 */
export function errnoText(n: number): string {
  const known = byNumber.get(n);
  if (known) return known[1];
  try {
    const p = libc().strerror(n);
    if (p !== null) return Deno.UnsafePointerView.getCString(p).toLowerCase();
  } catch { /* no FFI: fall through */ }
  return "unknown error";
}

/** A NUL-terminated UTF-8 copy of `s`, for `buffer` path arguments. */
export function cString(s: string): Uint8Array<ArrayBuffer> {
  const enc = new TextEncoder().encode(s);
  const out = new Uint8Array(enc.byteLength + 1);
  out.set(enc);
  return out;
}

/** The address of a pointer as a number (0 for null). Addresses on x86-64 Linux are < 2^47, exact as numbers. */
export function pointerAddress(p: Deno.PointerValue): number {
  return p === null ? 0 : Number(Deno.UnsafePointer.value(p));
}

/** `MAP_FAILED`, `(void *)-1`, as `Deno.UnsafePointer.value` returns it. */
export const MAP_FAILED = 0xffff_ffff_ffff_ffffn;
