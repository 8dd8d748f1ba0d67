/**
 * `@hv/loader`: loads a guest kernel into bounds-checked guest RAM (GPA 0 up) and says how to start
 * the boot vCPU: Multiboot v1 kernels (ELF32, ELF64 or the a.out kludge, with the Multiboot
 * information structure, command line, modules and memory map) in 32-bit protected mode, and plain
 * ELF64 kernels in long mode. Kernel files are treated as hostile: a malformed one gives a
 * {@link LoadError} and leaves RAM untouched. Pure TypeScript; runs under Deno and Node.
 * @module
 */
export * from "./src/errors.ts";
export * from "./src/loader.ts";
export {
  HIGH_MEMORY,
  MBI_ADDRESS,
  MBI_LIMIT,
  MBI_MMAP_ENTRY_SIZE,
  MBI_MODULE_SIZE,
  MBI_SIZE,
  MbiOffset,
  MEM_LOWER_KIB,
  MMAP_AVAILABLE,
  MMAP_RESERVED,
  MULTIBOOT_BOOTLOADER_MAGIC,
  MULTIBOOT_HEADER_MAGIC,
  MULTIBOOT_SEARCH_BYTES,
  MULTIBOOT_SUPPORTED_REQUIREMENTS,
  MultibootHeaderFlags,
  MultibootInfoFlags,
  type PlacedModule,
} from "./src/multiboot.ts";
export { ELF_MAGIC, EM_386, EM_X86_64, PT_LOAD } from "./src/elf.ts";
