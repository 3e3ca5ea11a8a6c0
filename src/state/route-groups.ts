// netlink_routes and netlink_route_changes_total per route group (table, family, protocol): the
// counts and counters of each group, when it was first seen, and the forgetting of groups that
// stay at 0 routes past a cap. Part of the namespace's model: its routes (route-set.ts) feed it.

import { groupKey, splitGroupKey } from './routes';

/**
 * Route groups (table, family, protocol) whose last route went keep their series at 0, so that
 * `netlink_routes{protocol="bgp"} < 1000` fires when BGP withdraws everything. A routing daemon
 * that cycles table numbers would make that unbounded: past this many emptied groups in a
 * namespace, the one emptied longest ago is forgotten (counted in RouteGroups.forgotten).
 */
export const MAX_EMPTY_ROUTE_GROUPS = 1024;

export class RouteGroups {
  /**
   * netlink_routes by groupKey(table, family, protocol). A group stays, at 0, after its last
   * route goes (up to the cap of them): same keys as changes.
   */
  readonly counts = new Map<number, number>();
  /** netlink_route_changes_total by groupKey, one number per ROUTE_ACTIONS entry. */
  readonly changes = new Map<number, number[]>();
  /** When each route group was first seen (seconds since the epoch): its counters' `_created`. */
  readonly created = new Map<number, number>();
  /** Groups at 0 routes, the one emptied longest ago first. */
  private readonly empty = new Set<number>();
  /** Emptied route groups forgotten because more than the cap were at 0. */
  forgotten = 0;

  constructor(
    private readonly now: () => number,
    /** How many emptied groups keep their series (read at each emptying: MAX_EMPTY_ROUTE_GROUPS by default). */
    private readonly cap: () => number,
    /** A forgotten group was the last of its table and family: their default-route counter may go too. */
    private readonly onTableFamilyForgotten: (table: number, family: number) => void,
  ) {}

  adjust(table: number, family: number, protocol: number, delta: number): void {
    const key = groupKey(table, family, protocol);
    this.group(key);
    const before = this.counts.get(key) as number;
    const next = Math.max(0, before + delta);
    this.counts.set(key, next);
    if (next === 0) this.emptied(key);
    // Only a group that was at 0 is in the set (a route burst pays no set operation per route).
    else if (before === 0) this.empty.delete(key);
  }

  count(table: number, family: number, protocol: number, action: number): void {
    const key = groupKey(table, family, protocol);
    (this.group(key)[action] as number)++;
  }

  /**
   * A group's series, made at its first route or change: the gauge and every change counter
   * at 0, so the first change is a rate and the group's count can later read 0.
   */
  private group(key: number): number[] {
    let counts = this.changes.get(key);
    if (counts) return counts;
    this.changes.set(key, (counts = [0, 0, 0, 0]));
    this.counts.set(key, 0);
    this.created.set(key, this.now());
    this.emptied(key);
    return counts;
  }

  /** A group at 0 routes keeps its series; past the cap the one emptied longest ago goes. */
  private emptied(key: number): void {
    this.empty.delete(key);
    this.empty.add(key);
    const cap = Math.max(1, this.cap());
    while (this.empty.size > cap) {
      const oldest = this.empty.values().next().value as number;
      this.empty.delete(oldest);
      this.counts.delete(oldest);
      this.changes.delete(oldest);
      this.created.delete(oldest);
      this.forgotten++;
      this.forgetTableFamily(oldest);
    }
  }

  /** netlink_default_route_changes_total of a forgotten group's table and family goes when nothing else uses them. */
  private forgetTableFamily(forgotten: number): void {
    const { table, family } = splitGroupKey(forgotten);
    for (const key of this.counts.keys()) {
      const g = splitGroupKey(key);
      if (g.table === table && g.family === family) return;
    }
    this.onTableFamilyForgotten(table, family);
  }
}
