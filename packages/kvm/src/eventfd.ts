/**
 * eventfd(2) for KVM's irqfd (api.rst "KVM_IRQFD") and Hyper-V eventfd (api.rst
 * "KVM_HYPERV_EVENTFD") paths: an 8-byte counter the kernel and userspace signal each other through.
 *
 * - Signalling (`write` of a u64) is what raises an interrupt through an irqfd; it is on the exit
 *   path, so {@link eventfdSignal} uses one preallocated 8-byte buffer per isolate, no BigInt, no
 *   throw: it answers true/false.
 * - Reading ({@link eventfdRead}) takes the counter and resets it (non-semaphore mode); on an
 *   `EFD_NONBLOCK` eventfd with a zero counter it answers 0 instead of blocking (EAGAIN).
 * - {@link EventFdPoller} waits on several eventfds with poll(2) (a host thread's loop, e.g. for
 *   irqfd resample notifications), with a preallocated `struct pollfd` array.
 *
 * File descriptors are process-wide: an eventfd created on the main thread is signalled from a vCPU
 * Worker by its number (`eventfdSignal(fd)`); only the FFI handle is per isolate.
 * @module
 */
import { KvmIoctlError } from "./errors.ts";
import { EAGAIN, errno, libc } from "./libc.ts";
import { closeFd } from "./sys.ts";

/** `EFD_CLOEXEC` (= O_CLOEXEC, 0x80000): close on exec. */
export const EFD_CLOEXEC = 0x80000;
/** `EFD_NONBLOCK` (= O_NONBLOCK, 0x800): `read` of a zero counter fails with EAGAIN instead of blocking. */
export const EFD_NONBLOCK = 0x800;
/** `EFD_SEMAPHORE` (1): each `read` takes 1 from the counter instead of all of it. */
export const EFD_SEMAPHORE = 1;
/** `POLLIN` (1): data to read (an eventfd with a non-zero counter). */
export const POLLIN = 1;
/** Bytes per `struct pollfd` (int fd; short events; short revents). */
export const POLLFD_SIZE = 8;

// One scratch buffer per isolate for the u64 moved by read/write (the exit path is synchronous).
const wbuf = new Uint8Array(8);
const wview = new DataView(wbuf.buffer);
const rbuf = new Uint8Array(8);
const rview = new DataView(rbuf.buffer);
const TWO_32 = 0x1_0000_0000;
/** The byte count for read/write, as the `size_t` bigint FFI wants (allocated once, here). */
const EIGHT = 8n;

/**
 * Adds `n` (1..2^32-1, default 1) to eventfd `fd`'s counter: `write(fd, &u64, 8)` from a
 * preallocated buffer. True when written; false when the write failed (EAGAIN: the counter would
 * overflow 2^64-2 on a non-blocking eventfd; EBADF: not an open fd). No allocation, no throw
 * (exit-path safe); read {@link errno} right after a false answer for the reason.
 * Source: eventfd(2); QEMU `event_notifier_set`.
 */
export function eventfdSignal(fd: number, n = 1): boolean {
  wview.setUint32(0, n >>> 0, true);
  wview.setUint32(4, 0, true);
  return libc().write(fd, wbuf, EIGHT) === 8;
}

/**
 * Takes eventfd `fd`'s counter: `read(fd, &u64, 8)` into a preallocated buffer. Returns the counter
 * (a number: exact below 2^53), or 0 when it was zero on an `EFD_NONBLOCK` eventfd (EAGAIN). With
 * `EFD_SEMAPHORE`, returns 1 and decrements. Throws {@link KvmIoctlError} ("read failed: EBADF ...")
 * on any other error. No allocation on success. Source: eventfd(2); QEMU `event_notifier_test_and_clear`.
 */
export function eventfdRead(fd: number): number {
  const r = libc().read(fd, rbuf, EIGHT);
  if (r === 8) return rview.getUint32(0, true) + rview.getUint32(4, true) * TWO_32;
  const e = errno();
  if (r < 0 && e === EAGAIN) return 0;
  throw KvmIoctlError.of("read", r < 0 ? e : 5, `eventfd ${fd}`); // a short read is EIO
}

/**
 * An eventfd this process owns: `EventFd.create()` (default `EFD_CLOEXEC | EFD_NONBLOCK`, the flags
 * QEMU's `event_notifier_init` uses), {@link signal}, {@link read}, {@link close}. Give its
 * {@link fd} to KVM_IRQFD / KVM_HYPERV_EVENTFD, or to another thread by number.
 */
export class EventFd implements Disposable {
  /** The file descriptor (process-wide). */
  readonly fd: number;
  #closed = false;

  private constructor(fd: number) {
    this.fd = fd;
  }

  /**
   * `eventfd(initial, flags)`: a new eventfd. Throws {@link KvmIoctlError} ("eventfd failed:
   * EMFILE (too many open files)") when the kernel refuses.
   */
  static create(flags = EFD_CLOEXEC | EFD_NONBLOCK, initial = 0): EventFd {
    const fd = libc().eventfd(initial >>> 0, flags);
    if (fd < 0) throw KvmIoctlError.of("eventfd", errno());
    return new EventFd(fd);
  }

  /** {@link eventfdSignal} on this fd: true when `n` was added. No allocation. */
  signal(n = 1): boolean {
    return eventfdSignal(this.fd, n);
  }

  /** {@link eventfdRead} on this fd: the counter taken (0 when none, non-blocking). */
  read(): number {
    return eventfdRead(this.fd);
  }

  /** Closes the fd (KVM drops an irqfd whose eventfd is closed). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeFd(this.fd);
  }

  /** Same as {@link close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * poll(2) over a fixed set of fds for `POLLIN` (a host thread waiting for irqfd resample or
 * KVM_HYPERV_EVENTFD notifications). The `struct pollfd` array is allocated once; {@link wait}
 * allocates nothing. After `wait` returns n > 0, {@link ready}(i) tells which entries are readable;
 * the caller then reads (drains) them with {@link eventfdRead}.
 */
export class EventFdPoller {
  /** The fds, in the order given. */
  readonly fds: readonly number[];
  readonly #buf: Uint8Array<ArrayBuffer>;
  readonly #view: DataView<ArrayBuffer>;
  readonly #nfds: bigint;

  /** A poller over `fds` (each polled for POLLIN). */
  constructor(fds: readonly number[]) {
    this.fds = [...fds];
    this.#nfds = BigInt(fds.length);
    this.#buf = new Uint8Array(Math.max(1, fds.length) * POLLFD_SIZE);
    this.#view = new DataView(this.#buf.buffer);
    fds.forEach((fd, i) => {
      this.#view.setInt32(i * POLLFD_SIZE, fd, true);
      this.#view.setInt16(i * POLLFD_SIZE + 4, POLLIN, true);
    });
  }

  /**
   * Blocks up to `timeoutMs` (-1: forever, 0: just look) until an fd is readable. Returns how many
   * are (0 on timeout); EINTR (a signal) also answers 0. Throws {@link KvmIoctlError} ("poll
   * failed: ...") on other errors.
   */
  wait(timeoutMs: number): number {
    for (let i = 0; i < this.fds.length; i++) this.#view.setInt16(i * POLLFD_SIZE + 6, 0, true);
    const r = libc().poll(this.#buf, this.#nfds, timeoutMs | 0);
    if (r >= 0) return r;
    const e = errno();
    if (e === 4) return 0; // EINTR
    throw KvmIoctlError.of("poll", e);
  }

  /** Whether entry `i` was readable (POLLIN in `revents`) at the last {@link wait}. */
  ready(i: number): boolean {
    return (this.#view.getInt16(i * POLLFD_SIZE + 6, true) & POLLIN) !== 0;
  }
}
