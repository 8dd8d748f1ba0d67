/**
 * Host memory for guests: anonymous shared mappings (guest RAM, registered with
 * KVM_SET_USER_MEMORY_REGION) and views of mappings by address, so a vCPU Worker can see the same
 * RAM as the main thread (`attachHostMemory(ram.address, ram.size)`). Wrap `bytes` in
 * `new GuestMemory(bytes)` of `@hv/x86` for bounds-checked access.
 * @module
 */
import { KvmIoctlError } from "./errors.ts";
import {
  errno,
  libc,
  MAP_ANONYMOUS,
  MAP_FAILED,
  MAP_NORESERVE,
  MAP_SHARED,
  pointerAddress,
  PROT_READ,
  PROT_WRITE,
} from "./libc.ts";

/**
 * A host mapping: `pointer`/`address` (host virtual address, a number: x86-64 user addresses are
 * below 2^47), `size` in bytes and `bytes`, a zero-copy Uint8Array over it.
 * Using `bytes` after {@link unmapHostMemory} crashes the process (it is not a JS-owned buffer).
 */
export interface HostMemory {
  readonly pointer: Deno.PointerObject;
  readonly address: number;
  readonly size: number;
  readonly bytes: Uint8Array<ArrayBuffer>;
}

/**
 * `mmap(NULL, size, PROT_READ|PROT_WRITE, MAP_SHARED|MAP_ANONYMOUS|MAP_NORESERVE, -1, 0)`: zeroed
 * memory, committed on first touch. `size` must be a positive multiple of 4096. Throws RangeError on a
 * bad size, KvmIoctlError ("mmap") when the kernel refuses.
 */
export function allocateHostMemory(size: number): HostMemory {
  if (!Number.isInteger(size) || size <= 0 || size % 4096 !== 0) {
    throw new RangeError(`memory size must be a positive multiple of 4096, got ${size}`);
  }
  const p = libc().mmap(null, BigInt(size), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0n);
  if (p === null || Deno.UnsafePointer.value(p) === MAP_FAILED) {
    throw KvmIoctlError.of("mmap", errno(), `${size} bytes of guest RAM`);
  }
  return {
    pointer: p,
    address: pointerAddress(p),
    size,
    bytes: new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(p, size)),
  };
}

/**
 * A view of an existing mapping at `address` (from another thread's {@link HostMemory.address}).
 * Nothing is mapped: the caller guarantees [address, address + size) stays mapped while used.
 */
export function attachHostMemory(address: number, size: number): HostMemory {
  const p = Deno.UnsafePointer.create(BigInt(address));
  if (p === null) throw new RangeError("attachHostMemory: null address");
  return { pointer: p, address, size, bytes: new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(p, size)) };
}

/** `munmap` of a mapping from {@link allocateHostMemory}. Every view of it becomes invalid. */
export function unmapHostMemory(m: HostMemory): void {
  libc().munmap(m.pointer, BigInt(m.size));
}
