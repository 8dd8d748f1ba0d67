/**
 * {@link PeerBus}: an {@link ApicBus} that delivers ICR messages straight into the target APICs'
 * shared state (the usual machine wiring when every VP has a userspace {@link LocalApic}).
 * @module
 */
import type { ApicBus, LocalApic } from "./apic.ts";
import { DeliveryMode } from "./consts.ts";

/** Delivers to peer APICs by id; level-triggered EOIs go to `onEoi` (the IO-APIC). */
export class PeerBus implements ApicBus {
  #byId = new Map<number, LocalApic>();

  constructor(private readonly onEoi: (vector: number) => void = () => {}) {}

  /** Registers the machine's APICs (edge code) and connects each to all of them. */
  attach(apics: readonly LocalApic[]): void {
    this.#byId = new Map(apics.map((a) => [a.apicId, a]));
    for (const a of apics) a.connect(apics);
  }

  /** The APIC with that id, if any. */
  get(apicId: number): LocalApic | undefined {
    return this.#byId.get(apicId);
  }

  deliver(ids: Uint32Array, count: number, vector: number, mode: number, level: boolean): void {
    for (let i = 0; i < count; i++) {
      const t = this.#byId.get(ids[i]);
      if (t === undefined) continue;
      switch (mode) {
        case DeliveryMode.Fixed:
        case DeliveryMode.LowestPriority:
          t.accept(vector, level, false);
          break;
        case DeliveryMode.Nmi: t.postNmi(); break;
        case DeliveryMode.Smi: t.postSmi(); break;
        case DeliveryMode.Init: t.postInit(); break;
        case DeliveryMode.StartUp: t.postSipi(vector); break;
      }
    }
  }

  eoi(vector: number): void {
    this.onEoi(vector);
  }
}
