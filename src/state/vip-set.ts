// The namespace's VIP watch as the model keeps it: which configured VIPs its addresses hold,
// recomputed after each change of an address or of interface names, with the vip events, and a
// config reload's new list (vips.ts holds the per-VIP state). Part of the namespace's model
// (model.ts).

import type { VipConfig } from '../config/config';
import type { AddressRecord } from './addresses';
import type { LinkRecord } from './links';
import type { EventOutlet } from './outlet';
import { VipState, VipWatch } from './vips';

export class VipSet {
  /** The VIPs watched now (a config reload replaces it). */
  watch: VipWatch;

  /** `links`: the namespace's live links, whose names hold a VIP. */
  constructor(
    private readonly out: EventOutlet,
    private readonly links: ReadonlyMap<number, LinkRecord>,
    configs: readonly VipConfig[],
    createdAt: number,
  ) {
    this.watch = new VipWatch(configs, createdAt);
  }

  /** The VIP watched at `address`, if any. */
  get(address: string): VipState | undefined {
    return this.watch.get(address);
  }

  /**
   * After a change of `address` (any of its records), or of interface names (undefined): VIPs
   * held or released, recomputed from the namespace's `addresses`.
   */
  changed(address: string | undefined, addresses: ReadonlyMap<string, AddressRecord>): void {
    const vips = this.watch;
    if (vips.empty) return;
    const targets =
      address === undefined ? vips.vips : [vips.get(address)].filter((v): v is VipState => v !== undefined);
    for (const vip of targets) {
      const action = vips.recompute(vip, addresses.values(), (ifindex) => this.links.get(ifindex)?.name);
      if (!action) continue;
      this.out.onEvent?.({
        netns: this.out.netns,
        kind: 'vip',
        action,
        interface: vip.holders[0] ?? '',
        ifindex: 0,
        vip: vip.config.address,
        name: vip.config.name,
        holders: [...vip.holders],
      });
    }
  }

  /** A config reload's VIP list: VIPs kept keep their counters; new ones start from the current addresses. */
  reload(configs: readonly VipConfig[], now: number, addresses: ReadonlyMap<string, AddressRecord>): void {
    const previous = this.watch;
    this.watch = new VipWatch(configs, now);
    for (const vip of this.watch.vips) {
      const old = previous.get(vip.config.address);
      if (old)
        Object.assign(vip, {
          holders: old.holders,
          acquired: old.acquired,
          released: old.released,
          macChanges: old.macChanges,
          createdAt: old.createdAt,
        });
    }
    this.changed(undefined, addresses);
  }
}
