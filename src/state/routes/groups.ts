// What the route counters are keyed by: a group (table, family, protocol) as one number, and
// the actions of netlink_route_changes_total.

import { AF_INET6 } from '../../netlink/constants';

export const ACTION_ADDED = 0;
export const ACTION_REMOVED = 1;
export const ACTION_REPLACED = 2;
export const ACTION_FLUSHED = 3;
export const ROUTE_ACTIONS = ['added', 'removed', 'replaced', 'flushed'] as const;

/** Counts keyed by (table, family, protocol), one number per group. */
export function groupKey(table: number, family: number, protocol: number): number {
  return (table * 2 + (family === AF_INET6 ? 1 : 0)) * 256 + protocol;
}

export function splitGroupKey(key: number): { table: number; family: number; protocol: number } {
  const protocol = key % 256;
  const rest = (key - protocol) / 256;
  return { table: Math.floor(rest / 2), family: rest % 2 === 1 ? AF_INET6 : 2, protocol };
}
