/**
 * QEMU's firmware configuration device, traditional I/O interface only (hw/nvram/fw_cfg.c,
 * docs/specs/fw_cfg.rst): a 16-bit selector and a byte-wide data port. kvm-unit-tests reads the CPU
 * count and RAM size here (lib/x86/fwcfg.c `fwcfg_get_u`: `outw(0x510, key)` then `inb(0x511)` per
 * byte, little-endian).
 * @module
 */
import type { IoDevice } from "./bus.ts";

/** The selector port (16-bit writes). The data port is {@link FW_CFG_PORT_SEL} + 1. */
export const FW_CFG_PORT_SEL = 0x510;
/** The data port (byte reads advance the offset). */
export const FW_CFG_PORT_DATA = 0x511;
/** Ports the traditional interface occupies (0x510..0x511, QEMU's "comb" region). */
export const FW_CFG_PORT_COUNT = 2;

/**
 * Selector keys (QEMU include/standard-headers/linux/qemu_fw_cfg.h and kvm-unit-tests
 * lib/x86/fwcfg.h). Only those this device serves are listed; others read as 0.
 */
export const FwCfgKey = {
  /** "QEMU" (4 bytes). */
  Signature: 0x00,
  /** Interface revision/features, u32 LE: bit 0 traditional interface, bit 1 DMA. Here 1. */
  Id: 0x01,
  /** Guest RAM size in bytes, u64 LE. */
  RamSize: 0x03,
  /** Boot CPU count, u16 LE (kvm-unit-tests `fwcfg_get_nb_cpus`). */
  NbCpus: 0x05,
  /** Maximum CPU count, u16 LE. */
  MaxCpus: 0x0f,
  /**
   * kvm-unit-tests' `FW_CFG_MAX_RAM` (lib/x86/fwcfg.h, `#define FW_CFG_MAX_RAM 0x11` under
   * "Dummy entries used when running on bare metal", kvm-unit-tests commit "fw_cfg: avoid index
   * out of bounds", Paolo Bonzini, July 2020): u64 LE, the highest RAM address the tests may use;
   * 0 means no limit (`find_highmem` on x86_64). Not a QEMU key: in QEMU 0x11 is
   * `FW_CFG_KERNEL_DATA`, so under QEMU with `-kernel` the tests read the kernel's first 8 bytes.
   */
  KvmUnitTestsMaxRam: 0x11,
  /** File directory: u32 big-endian count, then 64-byte entries. Here the count is 0. */
  FileDir: 0x19,
} as const;

/** First key of the file slots (QEMU `FW_CFG_FILE_FIRST`). */
export const FW_CFG_FILE_FIRST = 0x20;
/** File slots QEMU provides by default (`FW_CFG_FILE_SLOTS_DFLT`); keys at or above 0x20 + 0x20 select nothing. */
export const FW_CFG_FILE_SLOTS = 0x20;
/** Architecture-local key bit (keys 0x8000.. select the arch table; this device has no arch items). */
export const FW_CFG_ARCH_LOCAL = 0x8000;
/** `FW_CFG_ENTRY_MASK`: the key without the write-channel (0x4000) and arch-local (0x8000) bits. */
export const FW_CFG_ENTRY_MASK = 0x3fff;

/** Construction options for {@link FwCfg}. */
export interface FwCfgOptions {
  /** Guest RAM in bytes (a non-negative integer below 2^53), served at `FwCfgKey.RamSize`. */
  readonly ramSize: number;
  /** Boot CPUs (1..0xFFFF), served at `FwCfgKey.NbCpus`. */
  readonly cpus: number;
  /** Maximum CPUs (default `cpus`), served at `FwCfgKey.MaxCpus`. */
  readonly maxCpus?: number;
  /** kvm-unit-tests' MAX_RAM (default `ramSize`; 0 = no limit), served at `FwCfgKey.KvmUnitTestsMaxRam`. */
  readonly maxRam?: number;
  /** Base port; default {@link FW_CFG_PORT_SEL} (0x510). */
  readonly base?: number;
}

const MAX_ENTRY = FW_CFG_FILE_FIRST + FW_CFG_FILE_SLOTS;

const u16le = (n: number) => Uint8Array.of(n & 0xff, (n >>> 8) & 0xff);
const u32le = (n: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, true);
  return b;
};
const u64le = (n: number) => {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint32(0, n % 0x100000000, true);
  v.setUint32(4, Math.floor(n / 0x100000000), true);
  return b;
};

/**
 * The fw_cfg traditional interface, mirroring QEMU's `fw_cfg_io` "comb" region at 0x510..0x511:
 * - A 2-byte write to either port selects a key and resets the read offset (QEMU `fw_cfg_select`).
 *   A key whose `key & 0x3FFF` is at or above 0x40 (0x20 well-known + 0x20 file slots) selects
 *   nothing; arch-local keys (0x8000..) select an empty item. Either way reads give 0.
 * - A 1-byte read of either port returns the selected item's next byte and advances; past the
 *   item's end, or with nothing selected, it reads 0 (QEMU `fw_cfg_data_read`).
 * - 1-byte writes are ignored (write support was removed in QEMU 2.4); 4-byte writes and 2- or
 *   4-byte reads are invalid on this region and read 0 / are ignored (QEMU `fw_cfg_comb_valid`,
 *   `unassigned_mem_read`).
 * Items: signature "QEMU", id 1, RAM size, CPU counts, kvm-unit-tests' MAX_RAM, an empty file
 * directory, plus any set with {@link setItem}. All item bytes are built at setup; reads allocate nothing.
 */
export class FwCfg implements IoDevice {
  /** First port (selector). */
  readonly base: number;
  readonly #items: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(MAX_ENTRY).fill(undefined);
  #current: Uint8Array | undefined = undefined;
  #offset = 0;

  /** Builds the items from `options`. Throws a RangeError for counts or sizes out of range (setup error). */
  constructor(options: FwCfgOptions) {
    const { ramSize, cpus } = options;
    const maxCpus = options.maxCpus ?? cpus;
    const maxRam = options.maxRam ?? ramSize;
    for (
      const [name, v, max] of [["ramSize", ramSize, 2 ** 53 - 1], ["maxRam", maxRam, 2 ** 53 - 1], [
        "cpus",
        cpus,
        0xffff,
      ], [
        "maxCpus",
        maxCpus,
        0xffff,
      ]] as const
    ) {
      if (!Number.isInteger(v) || v < 0 || v > max) {
        throw new RangeError(`fw_cfg ${name} must be an integer in 0..${max}, got ${v}`);
      }
    }
    if (cpus < 1 || maxCpus < cpus) throw new RangeError(`fw_cfg needs 1 <= cpus (${cpus}) <= maxCpus (${maxCpus})`);
    this.base = options.base ?? FW_CFG_PORT_SEL;
    this.setItem(FwCfgKey.Signature, Uint8Array.of(0x51, 0x45, 0x4d, 0x55)); // "QEMU"
    this.setItem(FwCfgKey.Id, u32le(1));
    this.setItem(FwCfgKey.RamSize, u64le(ramSize));
    this.setItem(FwCfgKey.NbCpus, u16le(cpus));
    this.setItem(FwCfgKey.MaxCpus, u16le(maxCpus));
    this.setItem(FwCfgKey.KvmUnitTestsMaxRam, u64le(maxRam));
    this.setItem(FwCfgKey.FileDir, new Uint8Array(4)); // count 0, big-endian
  }

  /**
   * Sets (or with `undefined` removes) the item at `key` (0..0x3F, not arch-local), at setup time.
   * The bytes are used as given (not copied). Throws a RangeError for other keys.
   */
  setItem(key: number, data: Uint8Array | undefined): void {
    if (!Number.isInteger(key) || key < 0 || key >= MAX_ENTRY) {
      throw new RangeError(`fw_cfg key must be in 0x00..0x${(MAX_ENTRY - 1).toString(16)}, got ${key}`);
    }
    this.#items[key] = data;
  }

  /** The selected key's remaining byte count (0 when nothing is selected or the item is exhausted). */
  get remaining(): number {
    return this.#current === undefined ? 0 : Math.max(0, this.#current.length - this.#offset);
  }

  /** Selects `key` (0..0xFFFF) as a 16-bit selector write would. */
  select(key: number): void {
    const k = key & 0xffff;
    this.#offset = 0;
    this.#current = (k & FW_CFG_ENTRY_MASK) >= MAX_ENTRY || k & FW_CFG_ARCH_LOCAL
      ? undefined
      : this.#items[k & FW_CFG_ENTRY_MASK];
  }

  /** See the class description: 1-byte reads give the next data byte, others 0. */
  read(_port: number, size: number): number {
    if (size !== 1) return 0;
    const item = this.#current;
    if (item === undefined || this.#offset >= item.length) return 0;
    return item[this.#offset++];
  }

  /** See the class description: 2-byte writes select, others are ignored. */
  write(_port: number, size: number, value: number): void {
    if (size === 2) this.select(value);
  }
}
