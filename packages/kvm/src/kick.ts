/**
 * Kicking a vCPU thread out of KVM_RUN.
 *
 * Each vCPU runs KVM_RUN synchronously in its own Deno Worker (an OS thread). To make it return, the
 * kicker sets `kvm_run.immediate_exit = 1` through its own mapping of the vCPU (the page is shared)
 * and sends {@link KICK_SIGNAL} (SIGUSR2) to the vCPU thread with `pthread_kill`:
 * - if the thread is inside KVM_RUN, the pending signal makes KVM_RUN fail with EINTR at once;
 * - if it is in JS between two KVM_RUNs, the signal is consumed by the (no-op) handler, but the next
 *   KVM_RUN sees immediate_exit and fails with EINTR without entering the guest.
 * `Vcpu.run()` reports both as `KVM_RUN_INTERRUPTED` and clears immediate_exit. Kicks coalesce: after
 * an interrupted run the vCPU loop must look at all of its pending requests.
 *
 * SIGUSR2's default action terminates the process, so {@link installKickHandler} must be called
 * (once, in any thread; Deno installs one process-wide handler) before the first kick.
 * SIGUSR1 is not used: Deno starts its inspector ("Debugger listening on ws://127.0.0.1:9229") when
 * it receives SIGUSR1, even with a listener installed (seen with Deno 2.9.6).
 * @module
 */
import { libc, SIGUSR2 } from "./libc.ts";

/** The kick signal: SIGUSR2 (number 12 on x86-64 Linux). */
export const KICK_SIGNAL = SIGUSR2;
/** {@link KICK_SIGNAL}'s name for `Deno.addSignalListener`. */
export const KICK_SIGNAL_NAME = "SIGUSR2";

const noop = () => {};
let installed = 0;

/** A handle that removes what {@link installKickHandler} installed when disposed. */
export interface KickHandler extends Disposable {
  /** Removes this installation's listener (the handler stays while other installations remain). */
  remove(): void;
}

/**
 * Installs a no-op SIGUSR2 listener (`Deno.addSignalListener`) so kicks interrupt KVM_RUN instead of
 * killing the process. Reference-counted per isolate; call `remove()` (or `using`) when the VM stops,
 * since a signal listener keeps the Deno event loop alive.
 */
export function installKickHandler(): KickHandler {
  if (installed++ === 0) Deno.addSignalListener(KICK_SIGNAL_NAME, noop);
  let live = true;
  const remove = () => {
    if (!live) return;
    live = false;
    if (--installed === 0) Deno.removeSignalListener(KICK_SIGNAL_NAME, noop);
  };
  return { remove, [Symbol.dispose]: remove };
}

/** The calling OS thread's `pthread_t` (glibc: the thread's TCB address), to hand to the kicker. */
export function currentThread(): bigint {
  return BigInt(libc().pthread_self());
}

/** The calling thread's kernel thread id (`gettid`), for logs. */
export function currentTid(): number {
  return libc().gettid();
}

/**
 * `pthread_kill(thread, signal)` ({@link KICK_SIGNAL} by default): interrupts a blocking syscall (KVM_RUN) in
 * that thread. Throws Error when pthread_kill fails (ESRCH: the thread is gone; EINVAL: bad signal).
 */
export function kickThread(thread: bigint | number, signal: number = KICK_SIGNAL): void {
  // Deno FFI takes a number or a bigint for a u64 argument (its typings say bigint only).
  const r = libc().pthread_kill(thread as bigint, signal);
  if (r !== 0) throw new Error(`pthread_kill(${thread}, ${signal}) failed with errno ${r}`);
}
