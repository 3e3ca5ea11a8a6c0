// netlink_address_valid_until_timestamp_seconds and netlink_address_preferred_until_timestamp_seconds:
// the absolute deadlines of addresses with finite lifetimes (state/address-lifetimes.ts), under
// the bounds of netlink_address_info (the same switch, tracked interfaces only, link-local ones
// only when those are on) and its identity labels. An address with infinite lifetimes (every
// address configured without valid_lft/preferred_lft, IPv6 link-local ones) has no series: a
// plain pod namespace gains none.

import { NO_DEADLINE } from '../../state/address-lifetimes';
import { isLinkLocal } from '../../state/addresses';
import { METRICS as M } from '../contract';
import type { SampleSink } from '../sink';
import type { CollectorOptions } from './options';
import type { NamespaceSource } from '../source';

export function addressLifetimes(w: SampleSink, sources: readonly NamespaceSource[], options: CollectorOptions): void {
  for (const [def, field] of [
    [M.addressValidUntil, 'validUntil'],
    [M.addressPreferredUntil, 'preferredUntil'],
  ] as const) {
    w.family(def);
    if (!options.addressInfo) continue;
    for (const source of sources) {
      const model = source.model;
      for (const address of model.addresses.values()) {
        const until = address[field];
        if (until === NO_DEADLINE) continue;
        const link = model.links.get(address.ifindex);
        if (!link?.tracked) continue;
        if (!options.addressInfoLinkLocal && isLinkLocal(address)) continue;
        w.sample(def, [model.netns, link.name, address.family, address.address, String(address.prefixLength)], until);
      }
    }
  }
}
