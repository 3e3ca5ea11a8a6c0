// Nexthop objects (RTM_NEWNEXTHOP: an id with a device and a gateway, a blackhole, or a group of
// other ids) as the kernel holds them: so that the IPv4 routes using one can be repaired when it
// goes silently, for netlink_nexthop_objects and netlink_nexthop_changes_total, and for the
// `nexthop` events, which print an object as `ip nexthop` does. Part of the namespace's model:
// its routes (route-set.ts) feed it and flush the routes.

import { AF_INET6 } from '../netlink/constants';
import type { NexthopMessage } from '../netlink/types';

export const NEXTHOP_ADDED = 0;
export const NEXTHOP_REPLACED = 1;
export const NEXTHOP_REMOVED = 2;
/** Objects the kernel dropped without RTM_DELNEXTHOP (their device went down or away, a group left empty). */
export const NEXTHOP_FLUSHED = 3;
export const NEXTHOP_ACTIONS = ['added', 'replaced', 'removed', 'flushed'] as const;
export type NexthopAction = (typeof NEXTHOP_ACTIONS)[number];

/** Group members printed in an event past this many are summed as `+N` (a group may hold thousands). */
export const MAX_PRINTED_MEMBERS = 32;

export interface NexthopObject {
  oif: number;
  group: number[] | undefined;
  /** The weight of each group member (1 when the kernel sent none). */
  weights: number[] | undefined;
  family: number;
  gateway: string | undefined;
  blackhole: boolean;
  fdb: boolean;
}

/** True when the kernel's new copy of an object says what the one held says. */
function same(a: NexthopObject, b: NexthopObject): boolean {
  return (
    a.oif === b.oif &&
    a.family === b.family &&
    a.gateway === b.gateway &&
    a.blackhole === b.blackhole &&
    a.fdb === b.fdb &&
    String(a.group) === String(b.group) &&
    String(a.weights) === String(b.weights)
  );
}

/**
 * The object as `ip nexthop` prints it, after the id: `via 192.0.2.1 dev eth0`, `dev eth0`,
 * `group 10/11,3`, `blackhole`; `name` gives the interface name of an ifindex.
 */
export function describeNexthop(nh: NexthopObject, name: (ifindex: number) => string): string {
  if (nh.group) {
    const shown = nh.group.slice(0, MAX_PRINTED_MEMBERS).map((id, i) => {
      const weight = nh.weights?.[i] ?? 1;
      return weight === 1 ? String(id) : `${id},${weight}`;
    });
    const more = nh.group.length - shown.length;
    return `group ${shown.join('/')}${more > 0 ? `/+${more}` : ''}${nh.fdb ? ' fdb' : ''}`;
  }
  if (nh.blackhole) return 'blackhole';
  const parts: string[] = [];
  if (nh.gateway !== undefined) parts.push(`via ${nh.gateway}`);
  if (nh.oif !== 0) parts.push(`dev ${name(nh.oif)}`);
  if (nh.fdb) parts.push('fdb');
  if (parts.length === 0) parts.push(nh.family === AF_INET6 ? 'inet6' : 'inet');
  return parts.join(' ');
}

export class NexthopObjects {
  readonly byId = new Map<number, NexthopObject>();
  /** During a resync: the ids its dump listed so far (undefined otherwise). */
  private seen: Set<number> | undefined;
  /** netlink_nexthop_changes_total, one number per NEXTHOP_ACTIONS entry. */
  readonly changes: [number, number, number, number] = [0, 0, 0, 0];

  /**
   * Holds the kernel's copy of an object: 'added' (an id not held), 'replaced' (held, and it
   * changed) or 'same'. `previous` is called with the copy it replaces.
   */
  set(m: NexthopMessage, previous?: (before: NexthopObject) => void): 'added' | 'replaced' | 'same' {
    const nh: NexthopObject = {
      oif: m.oif ?? 0,
      group: m.group,
      weights: m.groupWeights,
      family: m.family,
      gateway: m.gateway,
      blackhole: m.blackhole,
      fdb: m.fdb,
    };
    const before = this.byId.get(m.id);
    this.byId.set(m.id, nh);
    this.seen?.add(m.id);
    if (!before) return 'added';
    previous?.(before);
    return same(before, nh) ? 'same' : 'replaced';
  }

  /** Before a resync dump: every object is unseen until the dump lists it. */
  beginSweep(): void {
    this.seen = new Set();
  }

  /** After a complete resync dump: the ids of the objects it did not list (removed while we were not listening). */
  unseen(): Set<number> {
    const ids = new Set<number>();
    if (this.seen) for (const id of this.byId.keys()) if (!this.seen.has(id)) ids.add(id);
    this.seen = undefined;
    return ids;
  }

  /** The ids of the objects on a device. */
  on(ifindex: number): Set<number> {
    const ids = new Set<number>();
    for (const [id, nh] of this.byId) if (nh.oif === ifindex) ids.add(id);
    return ids;
  }

  /**
   * Removes the objects and the groups they leave empty; `ids` gains the emptied groups (every
   * id gone). `gone` is called with each object removed, held ones only.
   */
  remove(ids: Set<number>, gone?: (id: number, nh: NexthopObject) => void): void {
    for (const id of ids) {
      const nh = this.byId.get(id);
      if (!nh) continue;
      this.byId.delete(id);
      gone?.(id, nh);
    }
    let emptied = true;
    while (emptied) {
      emptied = false;
      for (const [id, nh] of this.byId) {
        if (!nh.group) continue;
        const kept: number[] = [];
        const weights: number[] = [];
        nh.group.forEach((member, i) => {
          if (ids.has(member)) return;
          kept.push(member);
          weights.push(nh.weights?.[i] ?? 1);
        });
        if (kept.length === nh.group.length) continue;
        if (kept.length === 0) {
          // Told as it was (its last members), not as an empty group.
          this.byId.delete(id);
          ids.add(id);
          gone?.(id, nh);
          emptied = true;
          continue;
        }
        nh.group = kept;
        nh.weights = weights;
      }
    }
  }
}
