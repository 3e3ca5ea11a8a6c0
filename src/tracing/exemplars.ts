// The trace id of the span behind the last move of a counter, for OpenMetrics exemplars on
// netlink_interface_flaps_total and netlink_address_changes_total. Keyed by (netns, ifindex):
// the ifindex is the interface's identity (a rename keeps its counters, so it keeps its
// exemplar). Bounded: past MAX_ENTRIES the entry updated longest ago goes.

import type { FamilyName } from '../netlink/family';

export interface Exemplar {
  traceId: string;
  spanId: string;
  /** The counter's increment this event stands for (flaps coalesced by the kernel: more than 1). */
  value: number;
  /** Seconds since the epoch (the event's time). */
  timestamp: number;
}

export type AddressFamily = FamilyName;
export type AddressAction = 'added' | 'removed';

/** What the OpenMetrics rendering asks for. */
export interface ExemplarLookup {
  flap(netns: string, ifindex: number): Exemplar | undefined;
  addressChange(netns: string, ifindex: number, family: AddressFamily, action: AddressAction): Exemplar | undefined;
}

/** 10,000 interfaces x (1 flap + 4 address series) at most, about 2 MB. */
const MAX_ENTRIES = 50_000;

const flapKey = (netns: string, ifindex: number): string => `f\0${netns}\0${ifindex}`;
const addressKey = (netns: string, ifindex: number, family: AddressFamily, action: AddressAction): string =>
  `a\0${netns}\0${ifindex}\0${family}\0${action}`;

export class ExemplarStore implements ExemplarLookup {
  private readonly entries = new Map<string, Exemplar>();

  constructor(private readonly maxEntries = MAX_ENTRIES) {}

  get size(): number {
    return this.entries.size;
  }

  private put(key: string, exemplar: Exemplar | undefined): void {
    // Delete first, so that a Map's insertion order is the order of the last update.
    this.entries.delete(key);
    if (!exemplar) return;
    this.entries.set(key, exemplar);
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }

  /** The counter moved with this span behind it; `undefined`: it moved with no span (dropped), so no stale exemplar stays. */
  setFlap(netns: string, ifindex: number, exemplar: Exemplar | undefined): void {
    this.put(flapKey(netns, ifindex), exemplar);
  }

  setAddressChange(
    netns: string,
    ifindex: number,
    family: AddressFamily,
    action: AddressAction,
    exemplar: Exemplar | undefined,
  ): void {
    this.put(addressKey(netns, ifindex, family, action), exemplar);
  }

  flap(netns: string, ifindex: number): Exemplar | undefined {
    return this.entries.get(flapKey(netns, ifindex));
  }

  addressChange(netns: string, ifindex: number, family: AddressFamily, action: AddressAction): Exemplar | undefined {
    return this.entries.get(addressKey(netns, ifindex, family, action));
  }
}
