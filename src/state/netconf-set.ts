// The namespace's netconf entries (`ip netconf`, RTM_NEWNETCONF / RTM_DELNETCONF): per family
// (inet, inet6) and per interface, or the namespace-wide "all" and "default" entries, the
// values the kernel announces: forwarding, rp_filter (inet), mc_forwarding, proxy_neigh
// (proxy_arp / proxy_ndp), ignore_routes_with_linkdown. What netlink_forwarding_enabled and
// its sibling gauges show, what netlink_netconf_changes_total counts, and the `netconf` events.
//
// The kernel sends a whole entry when one appears (an interface registered, a dump reply) and,
// on a sysctl write that changed a value, the entry's ifindex with that one value: a message
// updates the values it carries and leaves the others. An RTM_DELNETCONF (the interface went,
// or IPv6 went off on it) takes the entry away. A value changes, and is counted and told, only
// when a message says something else than the value held: the first sight of an entry (the
// initial dump, a new interface) is quiet. After an overrun the resync dump's replies are
// compared the same way (what changed unheard is counted and told once) and the sweep takes
// away the entries the dump did not list: the values are exact again.

import {
  AF_INET,
  AF_INET6,
  NETCONFA_IFINDEX_ALL,
  NETCONFA_IFINDEX_DEFAULT,
  RTM_DELNETCONF,
} from '../netlink/constants';
import { FAMILY_NAMES, familyIndex, type FamilyIndex } from '../netlink/family';
import type { NetconfMessage } from '../netlink/types';
import type { MessageOrigin } from '../session/sink';
import type { NetconfSetting } from './events';
import type { LinkRecord } from './links';
import { isQuiet, type EventOutlet } from './outlet';

/** Entries held per namespace (both families): past this, new entries are dropped and counted. */
export const MAX_NETCONF_ENTRIES = 65_536;

/** The settings in the order of NetconfEntry.values and of the changes counters. */
export const NETCONF_SETTINGS: readonly NetconfSetting[] = [
  'forwarding',
  'rp_filter',
  'mc_forwarding',
  'proxy_neigh',
  'ignore_routes_with_linkdown',
];
export const SETTING_FORWARDING = 0;
export const SETTING_RP_FILTER = 1;

/** The settings a family's entries carry: IPv6 has no rp_filter. */
export const FAMILY_SETTINGS: readonly (readonly number[])[] = [
  [0, 1, 2, 3, 4],
  [0, 2, 3, 4],
];

export interface NetconfEntry {
  family: FamilyIndex;
  /** The interface, or NETCONFA_IFINDEX_ALL (-1) / NETCONFA_IFINDEX_DEFAULT (-2). */
  ifindex: number;
  /** The kernel's values by NETCONF_SETTINGS index; undefined where the kernel has not announced one. */
  values: (number | undefined)[];
  /** Set by any message during a resync: entries still unset at the sweep were gone. */
  seen: boolean;
}

/** A value as `ip netconf` prints it: on/off, and rp_filter's off/strict/loose. */
export function settingText(setting: number, value: number): string {
  if (setting === SETTING_RP_FILTER)
    return value === 0 ? 'off' : value === 1 ? 'strict' : value === 2 ? 'loose' : `${value}`;
  return value === 0 ? 'off' : 'on';
}

/** The `interface` of an entry: "all", "default", or the link's name (`if<N>` while the model has none). */
export function entryInterface(ifindex: number, links: ReadonlyMap<number, LinkRecord>): string {
  if (ifindex === NETCONFA_IFINDEX_ALL) return 'all';
  if (ifindex === NETCONFA_IFINDEX_DEFAULT) return 'default';
  return links.get(ifindex)?.name ?? `if${ifindex}`;
}

function valuesOf(m: NetconfMessage): (number | undefined)[] {
  return [m.forwarding, m.rpFilter, m.mcForwarding, m.proxyNeigh, m.ignoreRoutesWithLinkdown];
}

export class NetconfSet {
  /** Entries by ifindex * 2 + family index (ifindex may be -1 or -2: the key is still unique). */
  readonly entries = new Map<number, NetconfEntry>();
  /** netlink_netconf_changes_total: per family index, one number per NETCONF_SETTINGS entry. */
  readonly changes: [number[], number[]] = [
    [0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0],
  ];
  /** Entries not held because MAX_NETCONF_ENTRIES were (netlink_netconf_dropped_total). */
  dropped = 0;
  private sweeping = false;

  constructor(
    private readonly outlet: EventOutlet,
    private readonly links: ReadonlyMap<number, LinkRecord>,
    private readonly maxEntries = MAX_NETCONF_ENTRIES,
  ) {}

  netconf(m: NetconfMessage, origin: MessageOrigin): void {
    // AF_MPLS (its one value is `input`) and anything else: not ours.
    if (m.family !== AF_INET && m.family !== AF_INET6) return;
    // A message without an ifindex names no entry (the kernel always sends one).
    if (m.ifindex === undefined) return;
    const family = familyIndex(m.family);
    const key = m.ifindex * 2 + family;
    const entry = this.entries.get(key);
    if (m.type === RTM_DELNETCONF) {
      this.entries.delete(key);
      return;
    }
    const values = valuesOf(m);
    if (entry === undefined) {
      if (this.entries.size >= this.maxEntries) {
        this.dropped++;
        return;
      }
      // First sight (a dump reply, a new interface, IPv6 back on an interface): the baseline.
      this.entries.set(key, { family, ifindex: m.ifindex, values, seen: true });
      return;
    }
    if (this.sweeping) entry.seen = true;
    for (let s = 0; s < values.length; s++) {
      const value = values[s];
      if (value === undefined) continue;
      const previous = entry.values[s];
      entry.values[s] = value;
      if (previous === undefined || previous === value || isQuiet(origin)) continue;
      this.changes[family]![s]!++;
      this.emit(entry, s, previous, value);
    }
  }

  /** Before a resync dump: nothing is seen until the dump (or a notification) lists it. */
  beginSweep(): void {
    for (const e of this.entries.values()) e.seen = false;
    this.sweeping = true;
  }

  /** After a complete resync dump: entries it did not list went while we were not listening (quietly: their interface went). */
  sweep(): void {
    if (!this.sweeping) return;
    this.sweeping = false;
    for (const [key, e] of this.entries) if (!e.seen) this.entries.delete(key);
  }

  private emit(e: NetconfEntry, setting: number, previous: number, value: number): void {
    const onEvent = this.outlet.onEvent;
    if (onEvent === undefined) return;
    onEvent({
      netns: this.outlet.netns,
      kind: 'netconf',
      action: 'changed',
      interface: entryInterface(e.ifindex, this.links),
      ifindex: e.ifindex,
      family: FAMILY_NAMES[e.family],
      setting: NETCONF_SETTINGS[setting]!,
      value: settingText(setting, value),
      oldValue: settingText(setting, previous),
    });
  }
}
