/**
 * Local APIC architectural constants (Intel SDM vol. 3A chapter 11 "Advanced Programmable Interrupt
 * Controller"): register offsets in the xAPIC page, x2APIC MSR numbers, ICR/LVT fields, ESR bits.
 * @module
 */

/** Default physical address of the xAPIC MMIO page (IA32_APIC_BASE[35:12] after reset). */
export const APIC_DEFAULT_BASE = 0xfee00000;
/** The version register KVM reports: version 0x14, max LVT entry 5 (six LVTs, no CMCI), no EOI-broadcast suppression. */
export const APIC_VERSION = 0x50014;
/** IA32_APIC_BASE. */
export const MSR_IA32_APIC_BASE = 0x1b;
/** IA32_TSC_DEADLINE. */
export const MSR_IA32_TSC_DEADLINE = 0x6e0;
/** First and last x2APIC MSR (register offset = (msr - 0x800) << 4). */
export const X2APIC_MSR_FIRST = 0x800;
export const X2APIC_MSR_LAST = 0x8ff;

/** IA32_APIC_BASE bits (low word). */
export const ApicBaseBit = { Bsp: 0x100, Extd: 0x400, Enable: 0x800 } as const;

/** Register offsets in the xAPIC page (each 32-bit register at a 16-byte slot). */
export const ApicReg = {
  ID: 0x20,
  VERSION: 0x30,
  TPR: 0x80,
  APR: 0x90,
  PPR: 0xa0,
  EOI: 0xb0,
  RRD: 0xc0,
  LDR: 0xd0,
  DFR: 0xe0,
  SVR: 0xf0,
  ISR: 0x100,
  TMR: 0x180,
  IRR: 0x200,
  ESR: 0x280,
  CMCI: 0x2f0,
  ICR_LOW: 0x300,
  ICR_HIGH: 0x310,
  LVT_TIMER: 0x320,
  LVT_THERMAL: 0x330,
  LVT_PERF: 0x340,
  LVT_LINT0: 0x350,
  LVT_LINT1: 0x360,
  LVT_ERROR: 0x370,
  TIMER_INITIAL: 0x380,
  TIMER_CURRENT: 0x390,
  TIMER_DIVIDE: 0x3e0,
  SELF_IPI: 0x3f0,
} as const;

/** Index of each LVT in the state's `lvt` array (register offset = 0x320 + 0x10 * index). */
export const Lvt = { Timer: 0, Thermal: 1, Perf: 2, Lint0: 3, Lint1: 4, Error: 5 } as const;

/** ICR / LVT delivery modes (bits 10:8). 3 is reserved; ExtINT only in LVT LINT0/1. */
export const DeliveryMode = { Fixed: 0, LowestPriority: 1, Smi: 2, Nmi: 4, Init: 5, StartUp: 6, ExtInt: 7 } as const;
/** One of {@link DeliveryMode}'s values. */
export type DeliveryMode = typeof DeliveryMode[keyof typeof DeliveryMode];

/** ICR destination shorthand (bits 19:18). */
export const Shorthand = { None: 0, Self: 1, AllIncludingSelf: 2, AllExcludingSelf: 3 } as const;

/** ICR / LVT bits. */
export const ApicBit = {
  DeliveryStatus: 0x1000,
  LogicalDest: 0x800,
  Level: 0x4000,
  RemoteIrr: 0x4000,
  TriggerLevel: 0x8000,
  Masked: 0x10000,
  SvrEnable: 0x100,
} as const;

/** LVT timer modes (bits 18:17). */
export const TimerMode = { OneShot: 0, Periodic: 1, TscDeadline: 2 } as const;

/** ESR bits (SDM figure 11-9). */
export const Esr = {
  SendChecksum: 0x01,
  ReceiveChecksum: 0x02,
  SendAccept: 0x04,
  ReceiveAccept: 0x08,
  RedirectableIpi: 0x10,
  SendIllegalVector: 0x20,
  ReceiveIllegalVector: 0x40,
  IllegalRegister: 0x80,
} as const;

/**
 * Events posted to a VP that its vCPU thread handles itself ({@link LocalApic.takeEvents}), as bits:
 * NMI (inject with KVM_NMI), INIT (reset the vCPU), SIPI (start at `startupVector << 12`), SMI.
 */
export const ApicEvent = { Nmi: 1, Init: 2, Sipi: 4, Smi: 8 } as const;

/** Multiprocessor state of a VP as the INIT/SIPI protocol sees it. */
export const MpState = { Runnable: 0, WaitForSipi: 1 } as const;
