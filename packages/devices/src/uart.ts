/**
 * A 16550A UART as QEMU's `isa-serial` presents it on COM1 (hw/char/serial.c): enough for guest
 * consoles (Linux's 8250 probe, kvm-unit-tests' `serial_outb`, firmware debug output).
 * Transmission is instantaneous, so the transmitter always looks empty.
 * @module
 */
import type { IoDevice } from "./bus.ts";

/** COM1's base port. The UART occupies 8 ports: base..base+7. */
export const COM1_BASE = 0x3f8;
/** Ports a 16550 occupies. */
export const UART_PORT_COUNT = 8;

/** Register offsets from the base port (DLAB = LCR bit 7 selects DLL/DLM at offsets 0/1). */
export const UartReg = {
  /** Read: receiver buffer (RBR). Write: transmitter holding (THR). DLAB=1: divisor latch low (DLL). */
  Data: 0,
  /** Interrupt enable (IER, low 4 bits). DLAB=1: divisor latch high (DLM). */
  Ier: 1,
  /** Read: interrupt identification (IIR). Write: FIFO control (FCR). */
  IirFcr: 2,
  /** Line control (LCR); bit 7 is DLAB. */
  Lcr: 3,
  /** Modem control (MCR, low 5 bits; bit 4 is loopback). */
  Mcr: 4,
  /** Line status (LSR), read-only. */
  Lsr: 5,
  /** Modem status (MSR), read-only. */
  Msr: 6,
  /** Scratch (SCR). */
  Scr: 7,
} as const;

/** LSR bits (16550 datasheet; QEMU's `UART_LSR_*`). */
export const UartLsr = {
  /** Data ready: a received byte is waiting in RBR. */
  DR: 0x01,
  /** Overrun: a received byte was dropped because the input queue was full (cleared by reading LSR). */
  OE: 0x02,
  /** Transmitter holding register empty. */
  THRE: 0x20,
  /** Transmitter empty. */
  TEMT: 0x40,
} as const;

/** IIR values: nothing pending (0x01), THR empty (0x02), received data available (0x04); 0xC0 is ORed in while FIFOs are enabled. */
export const UartIir = { NoInterrupt: 0x01, ThrEmpty: 0x02, RxData: 0x04, FifoEnabled: 0xc0 } as const;

/** Construction options for {@link Uart16550}. */
export interface Uart16550Options {
  /**
   * Receives each byte (0..255) the guest transmits through THR (not in loopback mode). Called
   * synchronously on the exit path: buffer, don't block (the machine buffers and writes to stdout
   * or a file).
   */
  readonly sink: (byte: number) => void;
  /** Base port; default {@link COM1_BASE} (0x3F8). */
  readonly base?: number;
  /**
   * Interrupt hook, called with the new level of the UART's interrupt output whenever it changes
   * (QEMU `serial_update_irq`: RX data with IER.ERBFI, THR empty with IER.ETBEI). Unused for now:
   * no IRQ is wired; the machine may connect it to an IOAPIC/PIC line later.
   */
  readonly irq?: (level: boolean) => void;
  /** Capacity of the input queue in bytes (default 4096); bytes beyond it are dropped and set LSR.OE. */
  readonly inputCapacity?: number;
}

/**
 * A 16550A UART with QEMU's register behaviour:
 * - THR writes go to the `sink` (in loopback, MCR bit 4, they are received instead).
 * - RBR reads pop the input queue ({@link pushInput}); 0 when empty.
 * - LSR = THRE|TEMT (0x60), plus DR (0x01) while input is pending and OE (0x02) after an overrun.
 * - IER (low 4 bits), LCR, MCR (low 5 bits), SCR read back what was written; DLL/DLM when LCR.DLAB.
 * - IIR is 0x01 (no interrupt pending) unless an enabled interrupt is pending, with 0xC0 while the
 *   FIFOs are enabled (FCR bit 0). FCR bit 1 clears the input queue.
 * - MSR reads DCD|DSR|CTS (0xB0) as QEMU's does with no modem lines; in loopback it mirrors MCR
 *   (OUT2→DCD, OUT1→RI, RTS→CTS, DTR→DSR), which Linux's 8250 probe checks.
 * Register accesses wider than a byte use the low byte (QEMU's serial ops are byte-wide).
 */
export class Uart16550 implements IoDevice {
  /** Base port (first of 8). */
  readonly base: number;
  readonly #sink: (byte: number) => void;
  readonly #irq: ((level: boolean) => void) | undefined;
  readonly #queue: Uint8Array;
  #head = 0;
  #count = 0;
  #ier = 0;
  #lcr = 0;
  #mcr = 0;
  #scr = 0;
  #dll = 0;
  #dlm = 0;
  #fcr = 0;
  #overrun = false;
  #thrPending = false;
  #irqLevel = false;
  /** Bytes dropped because the input queue was full. */
  droppedInput = 0;

  /** Creates the UART; register it with `bus.register(uart.base, UART_PORT_COUNT, uart, "COM1")`. */
  constructor(options: Uart16550Options) {
    this.base = options.base ?? COM1_BASE;
    this.#sink = options.sink;
    this.#irq = options.irq;
    this.#queue = new Uint8Array(Math.max(1, options.inputCapacity ?? 4096));
  }

  /** Whether received bytes are waiting (LSR.DR). */
  get inputPending(): boolean {
    return this.#count > 0;
  }

  /** The divisor latch (DLM<<8 | DLL) the guest programmed; 0 until it does. */
  get divisor(): number {
    return (this.#dlm << 8) | this.#dll;
  }

  /** Queues a received byte for the guest (host input). False, setting LSR.OE, when the queue is full. */
  pushInput(byte: number): boolean {
    if (this.#count === this.#queue.length) {
      this.#overrun = true;
      this.droppedInput++;
      return false;
    }
    this.#queue[(this.#head + this.#count) % this.#queue.length] = byte & 0xff;
    this.#count++;
    this.#update();
    return true;
  }

  /** See {@link IoDevice.read}. */
  read(port: number, _size: number): number {
    switch (port - this.base) {
      case UartReg.Data: {
        if (this.#lcr & 0x80) return this.#dll;
        if (this.#count === 0) return 0;
        const b = this.#queue[this.#head];
        this.#head = (this.#head + 1) % this.#queue.length;
        this.#count--;
        this.#update();
        return b;
      }
      case UartReg.Ier:
        return this.#lcr & 0x80 ? this.#dlm : this.#ier;
      case UartReg.IirFcr: {
        const iir = this.#iir();
        if (iir === UartIir.ThrEmpty) {
          this.#thrPending = false;
          this.#update();
        }
        return iir | (this.#fcr & 1 ? UartIir.FifoEnabled : 0);
      }
      case UartReg.Lcr:
        return this.#lcr;
      case UartReg.Mcr:
        return this.#mcr;
      case UartReg.Lsr: {
        const lsr = UartLsr.THRE | UartLsr.TEMT | (this.#count > 0 ? UartLsr.DR : 0) | (this.#overrun ? UartLsr.OE : 0);
        this.#overrun = false;
        return lsr;
      }
      case UartReg.Msr: {
        if (this.#mcr & 0x10) {
          const m = this.#mcr;
          return ((m & 0x08) << 4) | ((m & 0x04) << 4) | ((m & 0x01) << 5) | ((m & 0x02) << 3);
        }
        return 0xb0;
      }
      case UartReg.Scr:
        return this.#scr;
      default:
        return 0xff;
    }
  }

  /** See {@link IoDevice.write}. */
  write(port: number, _size: number, value: number): void {
    const v = value & 0xff;
    switch (port - this.base) {
      case UartReg.Data:
        if (this.#lcr & 0x80) {
          this.#dll = v;
        } else if (this.#mcr & 0x10) {
          this.pushInput(v);
          this.#thrPending = true;
          this.#update();
        } else {
          this.#sink(v);
          this.#thrPending = true;
          this.#update();
        }
        return;
      case UartReg.Ier:
        if (this.#lcr & 0x80) {
          this.#dlm = v;
        } else {
          const changed = (this.#ier ^ v) & 0x0f;
          this.#ier = v & 0x0f;
          // QEMU: enabling ETBEI while THR is empty raises the THR-empty interrupt at once.
          if (changed & 0x02 && this.#ier & 0x02) this.#thrPending = true;
          this.#update();
        }
        return;
      case UartReg.IirFcr:
        this.#fcr = v & 0xc9;
        if (v & 0x02) {
          this.#head = 0;
          this.#count = 0;
          this.#update();
        }
        return;
      case UartReg.Lcr:
        this.#lcr = v;
        return;
      case UartReg.Mcr:
        this.#mcr = v & 0x1f;
        return;
      case UartReg.Scr:
        this.#scr = v;
        return;
      default:
        return; // LSR, MSR: read-only
    }
  }

  #iir(): number {
    if (this.#ier & 0x01 && this.#count > 0) return UartIir.RxData;
    if (this.#ier & 0x02 && this.#thrPending) return UartIir.ThrEmpty;
    return UartIir.NoInterrupt;
  }

  #update(): void {
    const level = this.#iir() !== UartIir.NoInterrupt;
    if (level !== this.#irqLevel) {
      this.#irqLevel = level;
      this.#irq?.(level);
    }
  }
}
