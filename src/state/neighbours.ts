// Neighbours (ARP, NDP): a change is an add, a removal, or a new MAC for the same IP, nothing
// else: state churn (REACHABLE, STALE, DELAY, PROBE) and bridge FDB entries are not changes.
// Apart from them, an entry going into FAILED (resolution failed) is a failure.
// Only counts per interface and family leave this module: no series per neighbour.

import type { FamilyIndex } from '../netlink/family';

export const NEIGHBOUR_ADDED = 0;
export const NEIGHBOUR_REMOVED = 1;
export const NEIGHBOUR_LLADDR_CHANGED = 2;
export const NEIGHBOUR_ACTIONS = ['added', 'removed', 'lladdr_changed'] as const;

export interface NeighbourRecord {
  ifindex: number;
  family: FamilyIndex;
  destination: string;
  /** The last MAC seen ("" while unresolved). */
  lladdr: string;
  /** The last ndm_state seen (NUD_* bits). */
  state: number;
  seen: boolean;
}

export function neighbourKey(ifindex: number, destination: string): string {
  return `${ifindex}|${destination}`;
}
