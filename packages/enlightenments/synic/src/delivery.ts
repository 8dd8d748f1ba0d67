/**
 * SynIC message and event delivery (TLFS §11.3-11.5, §11.8): what other plugins call to notify a
 * VP through its SIMP message slots and SIEFP event flags (stimer for HVMSG_TIMER_EXPIRED, the
 * hypercalls of this package, hyperv-testdev, later VMBus).
 *
 * Exit-path code: synchronous, no allocation after the first call per VP (typed views are cached
 * per `VpView`/`GuestMemory` in WeakMaps), no BigInt. Guest memory is touched only after a
 * `GuestMemory.contains` check of the whole 4 KiB page, through a `Uint32Array` over the same
 * buffer (little-endian host), with `Atomics` where the guest may race: the event-flag OR, the
 * message_type load, the msg_pending OR and the final message_type store that publishes a message.
 *
 * Rules (TLFS; KVM `synic_deliver_msg`/`synic_set_irq`; QEMU `cpu_post_msg`/`hyperv_set_event_flag`):
 * - A SynIC with SCONTROL.enable clear, or with the SIMP (SIEFP) disabled, takes nothing: the
 *   message (event) is dropped and "disabled" is answered (QEMU: -ENXIO; its sctl_enabled gate).
 * - A message goes into slot `sint` of the SIMP page if that slot's message_type is HVMSG_NONE;
 *   otherwise msg_pending (flags bit 0) is set in the slot, the type re-checked (TLFS order: set
 *   pending, then test the type, so a guest clearing the slot meanwhile is not missed) and the message
 *   queued (FIFO, `SYNIC_MESSAGE_QUEUE_DEPTH` per VP per SINT). Any EOM write redelivers.
 * - A SINT is raised (`vp.requestInterrupt(vector, autoEoi)`) when a message lands in a slot or an
 *   event flag goes 0 -> 1, unless the SINT is masked (the message or flag stays for a polling
 *   guest; "masked" is answered) or SCONTROL is disabled.
 * @module
 */
import {
  HV_EVENT_FLAGS_BYTE_COUNT,
  HV_EVENT_FLAGS_COUNT,
  HV_MESSAGE_PAYLOAD_BYTE_COUNT,
  HV_MESSAGE_SIZE,
  HV_OVERLAY_PAGE_GPA_MASK_LO,
  HV_SYNIC_FIRST_VALID_VECTOR,
  HV_SYNIC_SINT_COUNT,
  HVMSG_NONE,
} from "@hv/tlfs";
import type { GuestMemory, PartitionView, VpView } from "@hv/x86";
import {
  acquire,
  release,
  SYNIC_MESSAGE_QUEUE_DEPTH,
  SYNIC_MESSAGE_WORDS,
  SYNIC_OWNER,
  type SynicPartitionViews,
  type SynicVpViews,
} from "./state.ts";

/** The outcome of {@link postSynicMessage}. */
export type SynicMessageResult =
  /** Written into the SIMP slot and the SINT raised. */
  | "delivered"
  /** Written into the SIMP slot; the SINT is masked, so no interrupt (a polling guest sees it). */
  | "masked"
  /** The slot was busy: msg_pending set in it and the message queued; it is delivered after an EOM. */
  | "pending"
  /** The slot was busy and the queue full, or a message with the same non-zero tag is still queued: not taken. */
  | "busy"
  /** SCONTROL or the SIMP is disabled (or the arguments are invalid): dropped. */
  | "disabled";

/** The outcome of {@link signalSynicEvent}. */
export type SynicEventResult =
  /** The flag went 0 -> 1 and the SINT was raised. */
  | "delivered"
  /** The flag went 0 -> 1; the SINT is masked, so no interrupt. */
  | "masked"
  /** The flag was already set: nothing raised (TLFS/QEMU: only a 0 -> 1 transition interrupts). */
  | "coalesced"
  /** SCONTROL or the SIEFP is disabled (or the arguments are invalid): nothing set. */
  | "disabled";

const PAGE = 4096;
const SINT_MASKED_BIT = 0x10000;
const SINT_AUTO_EOI_BIT = 0x20000;
/** msg_pending (bit 0 of message_flags, byte 5 of the header) within header word 1. */
const MSG_PENDING_IN_WORD1 = 0x100;
const PAYLOAD_WORDS = HV_MESSAGE_PAYLOAD_BYTE_COUNT / 4;

// ---------------------------------------------------------------------------------------------
// Cached views (first use per VP / partition / memory allocates; later calls never do).

const vpViews = new WeakMap<VpView, SynicVpViews>();
const partitionViews = new WeakMap<PartitionView, SynicPartitionViews>();
const words = new WeakMap<GuestMemory, Uint32Array>();

/** The SynIC state views of `vp` (cached). */
export const synicVp = (vp: VpView): SynicVpViews => {
  let v = vpViews.get(vp);
  if (v === undefined) {
    v = vp.state(SYNIC_OWNER) as unknown as SynicVpViews;
    vpViews.set(vp, v);
  }
  return v;
};

/** The SynIC partition state views of `partition` (cached). */
export const synicPartition = (partition: PartitionView): SynicPartitionViews => {
  let v = partitionViews.get(partition);
  if (v === undefined) {
    v = partition.state(SYNIC_OWNER) as unknown as SynicPartitionViews;
    partitionViews.set(partition, v);
  }
  return v;
};

/**
 * Guest RAM as u32 words (index = GPA / 4) over the same buffer, so `Atomics` work on guest memory
 * (shared or not). RAM whose buffer offset is not a multiple of 4 (never the case for the emulator's
 * mmapped slot or `GuestMemory.allocate`) gets an empty array, so every page check fails closed.
 */
export const ramWords = (mem: GuestMemory): Uint32Array => {
  let w = words.get(mem);
  if (w === undefined) {
    const b = mem.bytes;
    w = b.byteOffset % 4 === 0
      ? new Uint32Array(b.buffer, b.byteOffset, Math.floor(b.byteLength / 4))
      : new Uint32Array(0);
    words.set(mem, w);
  }
  return w;
};

/**
 * The GPA of the page an overlay MSR (`lo`/`hi` words) names, if it is enabled and the whole page is
 * in RAM (and addressable as words); -1 otherwise. No allocation.
 */
export const enabledPage = (mem: GuestMemory, lo: number, hi: number): number => {
  if ((lo & 1) === 0) return -1;
  const gpa = (hi >>> 0) * 0x1_0000_0000 + ((lo & HV_OVERLAY_PAGE_GPA_MASK_LO) >>> 0);
  return mem.contains(gpa, PAGE) && gpa + PAGE <= ramWords(mem).length * 4 ? gpa : -1;
};

const validSint = (sint: number): boolean => Number.isInteger(sint) && sint >= 0 && sint < HV_SYNIC_SINT_COUNT;

/**
 * Raises SINT `sint` on `vp` unless its SynIC is disabled or the SINT masked (or, after a restore of
 * a hostile image, its vector is below 16). True when an interrupt was requested.
 */
export const raiseSint = (vp: VpView, s: SynicVpViews, sint: number): boolean => {
  if ((s.scontrol[0] & 1) === 0) return false;
  const lo = s.sint[2 * sint];
  if ((lo & SINT_MASKED_BIT) !== 0) return false;
  const vector = lo & 0xff;
  if (vector < HV_SYNIC_FIRST_VALID_VECTOR) return false;
  vp.requestInterrupt(vector, (lo & SINT_AUTO_EOI_BIT) !== 0);
  return true;
};

// ---------------------------------------------------------------------------------------------
// Messages.

/** Scratch for the message being posted (one per isolate; the exit path is synchronous). */
const scratch = new Uint32Array(SYNIC_MESSAGE_WORDS);

/** Builds the HV_MESSAGE image in {@link scratch}: header (sender 0, flags 0), payload, zero fill. */
const build = (messageType: number, payload: Uint32Array, payloadOffset: number, payloadBytes: number): void => {
  scratch[0] = messageType >>> 0;
  scratch[1] = payloadBytes; // payload_size u8, message_flags 0, reserved 0
  scratch[2] = 0;
  scratch[3] = 0;
  const full = payloadBytes >>> 2, rest = payloadBytes & 3;
  let i = 0;
  for (; i < full; i++) scratch[4 + i] = payload[payloadOffset + i];
  if (rest !== 0) scratch[4 + i++] = payload[payloadOffset + full] & ((1 << (8 * rest)) - 1);
  for (; i < PAYLOAD_WORDS; i++) scratch[4 + i] = 0;
};

/**
 * Copies 64 words from `src[at..]` into the slot at word index `slot`, message_type last (so a
 * polling guest never sees a half-written message), with msg_pending set when `pending`.
 */
const publish = (ram: Uint32Array, slot: number, src: Uint32Array, at: number, pending: boolean): void => {
  for (let i = 1; i < SYNIC_MESSAGE_WORDS; i++) ram[slot + i] = src[at + i];
  if (pending) ram[slot + 1] = (src[at + 1] | MSG_PENDING_IN_WORD1) >>> 0;
  Atomics.store(ram, slot, src[at]);
};

/** Moves the head of SINT `sint`'s queue into its (free) slot and raises the SINT. Lock held. */
const deliverHead = (vp: VpView, s: SynicVpViews, ram: Uint32Array, slot: number, sint: number): void => {
  const head = s.queueHead[sint] % SYNIC_MESSAGE_QUEUE_DEPTH; // % DEPTH: a restored image is not trusted
  const left = s.queueCount[sint] - 1;
  const e = sint * SYNIC_MESSAGE_QUEUE_DEPTH + head;
  const at = e * SYNIC_MESSAGE_WORDS;
  s.queueTag[e] = 0;
  s.queueHead[sint] = (head + 1) % SYNIC_MESSAGE_QUEUE_DEPTH;
  s.queueCount[sint] = left;
  if (s.queue[at] === HVMSG_NONE) return; // an empty entry (only from a doctored image): nothing to deliver
  publish(ram, slot, s.queue, at, left > 0);
  raiseSint(vp, s, sint);
};

/** Whether a message with non-zero `tag` waits in SINT `sint`'s queue. */
const tagQueued = (s: SynicVpViews, sint: number, tag: number): boolean => {
  const n = s.queueCount[sint];
  for (
    let k = 0, e = s.queueHead[sint] % SYNIC_MESSAGE_QUEUE_DEPTH;
    k < n;
    k++, e = (e + 1) % SYNIC_MESSAGE_QUEUE_DEPTH
  ) {
    if (s.queueTag[sint * SYNIC_MESSAGE_QUEUE_DEPTH + e] === tag) return true;
  }
  return false;
};

/** Posts the message in {@link scratch} to (vp, sint). Lock held; SynIC and SIMP enabled. */
const postLocked = (
  vp: VpView,
  s: SynicVpViews,
  ram: Uint32Array,
  simp: number,
  sint: number,
  tag: number,
): SynicMessageResult => {
  const slot = (simp + sint * HV_MESSAGE_SIZE) / 4;
  for (;;) {
    if (Atomics.load(ram, slot) === HVMSG_NONE) {
      if (s.queueCount[sint] > 0) {
        // Older messages first: the guest freed the slot but has not written EOM yet.
        deliverHead(vp, s, ram, slot, sint);
        continue;
      }
      publish(ram, slot, scratch, 0, false);
      return raiseSint(vp, s, sint) ? "delivered" : "masked";
    }
    // Busy: flag it (the guest writes EOM after freeing the slot), then look again.
    Atomics.or(ram, slot + 1, MSG_PENDING_IN_WORD1);
    if (Atomics.load(ram, slot) !== HVMSG_NONE) break;
  }
  const n = s.queueCount[sint];
  if (n >= SYNIC_MESSAGE_QUEUE_DEPTH || (tag !== 0 && tagQueued(s, sint, tag))) return "busy";
  const e = sint * SYNIC_MESSAGE_QUEUE_DEPTH +
    (s.queueHead[sint] % SYNIC_MESSAGE_QUEUE_DEPTH + n) % SYNIC_MESSAGE_QUEUE_DEPTH;
  s.queue.set(scratch, e * SYNIC_MESSAGE_WORDS);
  s.queueTag[e] = tag >>> 0;
  s.queueCount[sint] = n + 1;
  return "pending";
};

/** {@link postSynicMessage} with the payload at `payload[payloadOffset..]`. */
export const postSynicMessageAt = (
  vp: VpView,
  sint: number,
  messageType: number,
  payload: Uint32Array,
  payloadOffset: number,
  payloadBytes: number,
  tag: number,
): SynicMessageResult => {
  if (
    !validSint(sint) || !Number.isInteger(payloadBytes) || payloadBytes < 0 ||
    payloadBytes > HV_MESSAGE_PAYLOAD_BYTE_COUNT
  ) {
    return "disabled";
  }
  const s = synicVp(vp);
  if ((s.scontrol[0] & 1) === 0) return "disabled";
  const mem = vp.partition.memory;
  acquire(s.lock);
  try {
    const simp = enabledPage(mem, s.simp[0], s.simp[1]);
    if (simp < 0) return "disabled";
    build(messageType, payload, payloadOffset, payloadBytes);
    return postLocked(vp, s, ramWords(mem), simp, sint, tag);
  } finally {
    release(s.lock);
  }
};

/**
 * Posts a message to SINT `sint` of `vp` (TLFS §11.3 "Message Delivery"): a 256-byte HV_MESSAGE of
 * type `messageType`, `payloadBytes` (0..240) bytes of payload from the little-endian words
 * `payload[0..]`, sender 0. See {@link SynicMessageResult} for the outcomes.
 *
 * `tag` (optional, non-zero) names the poster: at most one message per tag waits in the queue, a
 * second post while it waits answers "busy" (KVM: a synthetic timer does not expire again while its
 * message is pending; QEMU: one staged message per connection). stimer passes `timer index + 1`
 * and can ask {@link synicMessageQueued}. Exit-path safe.
 */
export const postSynicMessage = (
  vp: VpView,
  sint: number,
  messageType: number,
  payload: Uint32Array,
  payloadBytes: number,
  tag = 0,
): SynicMessageResult => postSynicMessageAt(vp, sint, messageType, payload, 0, payloadBytes, tag);

/** Whether a message posted with non-zero `tag` still waits for SINT `sint`'s slot on `vp`. */
export const synicMessageQueued = (vp: VpView, sint: number, tag: number): boolean => {
  if (!validSint(sint) || tag === 0) return false;
  const s = synicVp(vp);
  acquire(s.lock);
  try {
    return tagQueued(s, sint, tag >>> 0);
  } finally {
    release(s.lock);
  }
};

/** Messages waiting for SINT `sint`'s slot on `vp` (diagnostics, tests). */
export const synicQueuedMessages = (
  vp: VpView,
  sint: number,
): number => (validSint(sint) ? synicVp(vp).queueCount[sint] : 0);

/** Listeners told of every EOM write, by partition (see {@link addSynicEomListener}). */
const eomListeners = new WeakMap<PartitionView, ((vp: VpView) => void)[]>();

/**
 * Registers `listener` to run (on the exit path of the VP that wrote HV_X64_MSR_EOM, after the
 * SynIC redelivered its queued messages) for a plugin that keeps its own pending state, as KVM's
 * stimers do (`kvm_hv_notify_acked_sint`). Call from `create` (edge code); the listener must follow
 * the exit-path rules.
 */
export const addSynicEomListener = (partition: PartitionView, listener: (vp: VpView) => void): void => {
  let l = eomListeners.get(partition);
  if (l === undefined) {
    l = [];
    eomListeners.set(partition, l);
  }
  l.push(listener);
};

/**
 * End of message (WRMSR HV_X64_MSR_EOM, any value): for every SINT whose slot the guest freed, the
 * oldest queued message moves in (with msg_pending set if more wait) and the SINT is raised; then
 * the EOM listeners run. KVM `kvm_hv_notify_acked_sint` on every SINT.
 */
export const synicEndOfMessage = (vp: VpView): void => {
  const s = synicVp(vp);
  const mem = vp.partition.memory;
  acquire(s.lock);
  try {
    const simp = (s.scontrol[0] & 1) !== 0 ? enabledPage(mem, s.simp[0], s.simp[1]) : -1;
    if (simp >= 0) {
      const ram = ramWords(mem);
      for (let sint = 0; sint < HV_SYNIC_SINT_COUNT; sint++) {
        const slot = (simp + sint * HV_MESSAGE_SIZE) / 4;
        while (s.queueCount[sint] > 0 && Atomics.load(ram, slot) === HVMSG_NONE) deliverHead(vp, s, ram, slot, sint);
      }
    }
  } finally {
    release(s.lock);
  }
  const l = eomListeners.get(vp.partition);
  if (l !== undefined) { for (let i = 0; i < l.length; i++) l[i](vp); }
};

// ---------------------------------------------------------------------------------------------
// Events.

/**
 * Sets event flag `flag` (0..2047) of SINT `sint` in `vp`'s SIEFP page (TLFS §11.5 "Event Flags":
 * bit `flag` of the 256-byte area at `sint * 256`) with an atomic OR on guest memory, and raises the
 * SINT only when the flag went 0 -> 1 (QEMU `hyperv_set_event_flag`). Exit-path safe; needs no
 * lock (the OR is the only write).
 */
export const signalSynicEvent = (vp: VpView, sint: number, flag: number): SynicEventResult => {
  if (!validSint(sint) || !Number.isInteger(flag) || flag < 0 || flag >= HV_EVENT_FLAGS_COUNT) return "disabled";
  const s = synicVp(vp);
  if ((s.scontrol[0] & 1) === 0) return "disabled";
  const mem = vp.partition.memory;
  const page = enabledPage(mem, s.siefp[0], s.siefp[1]);
  if (page < 0) return "disabled";
  const bit = 1 << (flag & 31);
  const old = Atomics.or(ramWords(mem), (page + sint * HV_EVENT_FLAGS_BYTE_COUNT) / 4 + (flag >>> 5), bit);
  if ((old & bit) !== 0) return "coalesced";
  return raiseSint(vp, s, sint) ? "delivered" : "masked";
};
