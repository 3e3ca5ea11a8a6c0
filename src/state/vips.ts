// Virtual IPs: whether this namespace holds each one, on which interfaces, and how often that
// changed. The series exist for every configured VIP whether held or not, so that Prometheus
// can tell "held on two hosts" (split brain) and "held nowhere" across the fleet.

import type { VipConfig } from '../config/config';
import { IFA_F_DADFAILED, IFA_F_TENTATIVE } from '../netlink/constants';
import type { AddressRecord } from './addresses';

export interface VipState {
  readonly config: VipConfig;
  /** Interface names holding it now (ignored interfaces excluded). */
  holders: string[];
  acquired: number;
  released: number;
  /** Times a neighbour entry for the VIP changed its MAC address. */
  macChanges: number;
  /** When the VIP was first watched here (seconds since the epoch): its counters' `_created`. */
  createdAt: number;
}

/** A tentative or dadfailed address is not held: another host may have it. */
export function isHeld(record: AddressRecord): boolean {
  return (record.flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED)) === 0;
}

export class VipWatch {
  readonly vips: VipState[];
  private readonly byAddress = new Map<string, VipState>();

  /** `now`: seconds since the epoch, when these VIPs start being watched. */
  constructor(configs: readonly VipConfig[], now = Date.now() / 1000) {
    this.vips = configs.map((config) => ({
      config,
      holders: [],
      acquired: 0,
      released: 0,
      macChanges: 0,
      createdAt: now,
    }));
    for (const vip of this.vips) this.byAddress.set(vip.config.address, vip);
  }

  get empty(): boolean {
    return this.vips.length === 0;
  }

  get(address: string): VipState | undefined {
    return this.byAddress.get(address);
  }

  /**
   * Recomputes one VIP's holders from the namespace's addresses. Returns 'acquired' or
   * 'released' when it went from held nowhere to held, or back; undefined otherwise.
   */
  recompute(
    vip: VipState,
    addresses: Iterable<AddressRecord>,
    nameOf: (ifindex: number) => string | undefined,
  ): 'acquired' | 'released' | undefined {
    const wasHeld = vip.holders.length > 0;
    const holders: string[] = [];
    for (const record of addresses) {
      if (record.address !== vip.config.address || !isHeld(record)) continue;
      const name = nameOf(record.ifindex);
      if (name === undefined || vip.config.ignoreInterfaces.includes(name)) continue;
      if (!holders.includes(name)) holders.push(name);
    }
    vip.holders = holders.sort();
    const held = holders.length > 0;
    if (held === wasHeld) return undefined;
    if (held) vip.acquired++;
    else vip.released++;
    return held ? 'acquired' : 'released';
  }
}
