/**
 * The SynIC's declared state: everything mutable lives here, in the shared arenas the core
 * allocates, resets, saves, restores and inspects. Plugin instances are built once per vCPU worker,
 * so nothing may be kept in a closure: a message posted by one worker and redelivered by another
 * (the target VP's EOM) goes through these words only.
 * @module
 */
import { HV_SYNIC_SINT_COUNT, HV_SYNIC_SINT_RESET, HV_SYNIC_STIMER_COUNT } from "@hv/tlfs";
import { defineState, type StateViews } from "@hv/x86";

/** The owner name of the SynIC's state (`vp.state(SYNIC_OWNER)`, `partition.state(SYNIC_OWNER)`). */
export const SYNIC_OWNER = "synic";

/**
 * Messages that can wait per VP per SINT while the SIMP slot is busy (KVM keeps one per synthetic
 * timer; QEMU one per message connection, its "staging area"): one per synthetic timer plus one,
 * so the four stimers of a VP and one HvPostMessage connection fit on one SINT at once.
 */
export const SYNIC_MESSAGE_QUEUE_DEPTH = HV_SYNIC_STIMER_COUNT + 1;

/** 32-bit words in one queued message (a whole 256-byte `HV_MESSAGE`, header included). */
export const SYNIC_MESSAGE_WORDS = 64;

/**
 * Entries in the per-partition connection table (message and event connections together).
 * kvm-unit-tests' hyperv_connections uses two per vCPU (up to 64 vCPUs); QEMU's testdev ids are 8-bit.
 */
export const SYNIC_CONNECTION_CAPACITY = 256;

/** `connKind` values. */
export const ConnectionKind = { Free: 0, Message: 1, Event: 2 } as const;

/**
 * Per-VP SynIC state, every MSR as the guest wrote it (u64 as lo/hi words):
 * - `scontrol`: SCONTROL, bit 0 enable; 1 at power-on (KVM sets it when SynIC is activated);
 * - `siefp`/`simp`: event flags / message page, bit 0 enable, bits 63:12 GPA page number; 0;
 * - `sint[n]`: SINTn, [7:0] vector, bit 16 masked, bit 17 auto-EOI, bit 18 polling; 0x10000 (masked);
 * - `lock`: 0 free / 1 held, a spinlock (Atomics) serialising message delivery to this VP between
 *   vCPU workers (a PostMessage from another VP against this VP's EOM);
 * - `queueHead[n]`/`queueCount[n]`: the FIFO ring of messages waiting for SINT n's slot;
 * - `queue`: the ring entries, `SYNIC_MESSAGE_QUEUE_DEPTH` per SINT, each the 64 words of the
 *   HV_MESSAGE to copy into the slot (entry e of SINT n at word `(n * DEPTH + e) * 64`);
 * - `queueTag`: per entry, the poster's tag (0 = none; at most one queued message per non-zero tag);
 * - `routes[n]`: hyperv-testdev SINT routes to (this VP, n) (QEMU `hyperv_sint_route_new` count).
 * SVERSION is a constant (1) and EOM reads 0, so neither is stored.
 */
export const synicVpState = defineState({
  version: 2,
  fields: {
    scontrol: { type: "u64", reset: 1, doc: "HV_X64_MSR_SCONTROL: bit 0 enable" },
    siefp: { type: "u64", doc: "HV_X64_MSR_SIEFP: bit 0 enable, bits 63:12 GPA page number" },
    simp: { type: "u64", doc: "HV_X64_MSR_SIMP: bit 0 enable, bits 63:12 GPA page number" },
    sint: {
      type: "u64",
      count: HV_SYNIC_SINT_COUNT,
      reset: HV_SYNIC_SINT_RESET,
      doc: "HV_X64_MSR_SINTn: [7:0] vector, bit 16 masked, bit 17 auto-EOI, bit 18 polling",
    },
    lock: { type: "u32", doc: "delivery spinlock (0 free, 1 held)" },
    queueHead: { type: "u8", count: HV_SYNIC_SINT_COUNT, doc: "first queued message per SINT (ring index)" },
    queueCount: { type: "u8", count: HV_SYNIC_SINT_COUNT, doc: "messages waiting for the SINT's SIMP slot" },
    queueTag: {
      type: "u32",
      count: HV_SYNIC_SINT_COUNT * SYNIC_MESSAGE_QUEUE_DEPTH,
      doc: "tag of each queued message (0 none)",
    },
    queue: {
      type: "u32",
      count: HV_SYNIC_SINT_COUNT * SYNIC_MESSAGE_QUEUE_DEPTH * SYNIC_MESSAGE_WORDS,
      doc: "queued HV_MESSAGE images, 64 words each",
    },
    routes: { type: "u16", count: HV_SYNIC_SINT_COUNT, doc: "hyperv-testdev SINT routes to this VP" },
  },
});

/**
 * Per-partition SynIC state: the connection table (QEMU `hyperv_set_msg_handler` /
 * `hyperv_set_event_flag_handler`; KVM `conn_to_evt`), `SYNIC_CONNECTION_CAPACITY` entries:
 * - `connKind[i]`: 0 free, 1 message connection, 2 event connection;
 * - `connId[i]`: the connection id (bits 23:0, `HV_CONNECTION_ID`);
 * - `connVp[i]`/`connSint[i]`: the target VP index and SINT;
 * - `connFlag[i]`: for event connections, the event flag HvSignalEvent sets (testdev: the id);
 * - `lock`: spinlock serialising table changes between vCPU workers (lookups are lock-free).
 */
export const synicPartitionState = defineState({
  version: 1,
  fields: {
    lock: { type: "u32", doc: "connection-table spinlock (0 free, 1 held)" },
    connId: { type: "u32", count: SYNIC_CONNECTION_CAPACITY, doc: "connection id (23:0)" },
    connVp: { type: "u32", count: SYNIC_CONNECTION_CAPACITY, doc: "target VP index" },
    connFlag: { type: "u16", count: SYNIC_CONNECTION_CAPACITY, doc: "event flag number (event connections)" },
    connKind: { type: "u8", count: SYNIC_CONNECTION_CAPACITY, doc: "0 free, 1 message, 2 event" },
    connSint: { type: "u8", count: SYNIC_CONNECTION_CAPACITY, doc: "target SINT" },
  },
});

/** Typed views of one VP's SynIC state. */
export type SynicVpViews = StateViews<typeof synicVpState.spec.fields>;
/** Typed views of the partition's SynIC state. */
export type SynicPartitionViews = StateViews<typeof synicPartitionState.spec.fields>;

/** Takes the spinlock in word 0 of `lock` (Atomics; held only for a few hundred instructions). */
export const acquire = (lock: Uint32Array): void => {
  while (Atomics.compareExchange(lock, 0, 0, 1) !== 0) { /* spin: the holder never blocks */ }
};

/** Releases the spinlock in word 0 of `lock`. */
export const release = (lock: Uint32Array): void => {
  Atomics.store(lock, 0, 0);
};
