// Default routes by name, the one route that alert rules care about: netlink_default_route_info
// per default route and netlink_default_route_changes_total per table and family. Part of the
// namespace's model: its routes (route-set.ts) feed it.

import { NLM_F_REPLACE, RTN_LOCAL } from '../netlink/constants';
import { routeGateway } from '../netlink/route';
import type { RouteMessage } from '../netlink/types';
import { routeFingerprint, RouteRef } from './routes';

export interface DefaultRoute {
  table: number;
  family: number;
  protocol: number;
  ifindex: number;
  gateway: string;
}

export class DefaultRoutes {
  /** By "family|table|priority|fingerprint". */
  readonly routes = new Map<string, DefaultRoute>();
  /** netlink_default_route_changes_total by "table|family". */
  readonly changes = new Map<string, number>();
  /** When each changes key was first seen: its `_created`. */
  readonly changesCreated = new Map<string, number>();

  constructor(private readonly now: () => number) {}

  private key(family: number, table: number, priority: number, fingerprint: number): string {
    return `${family}|${table}|${priority}|${fingerprint}`;
  }

  remember(m: RouteMessage, quiet: boolean): void {
    if (m.routeType === RTN_LOCAL) return;
    const key = this.key(m.family, m.table, m.priority, routeFingerprint(m));
    if (m.flags & NLM_F_REPLACE) {
      for (const [k, route] of this.routes) {
        if (
          route.family === m.family &&
          route.table === m.table &&
          k.startsWith(`${m.family}|${m.table}|${m.priority}|`)
        )
          this.routes.delete(k);
      }
    }
    this.routes.set(key, {
      table: m.table,
      family: m.family,
      protocol: m.protocol,
      ifindex: m.oif,
      gateway: routeGateway(m) ?? '',
    });
    this.changesOf(m.table, m.family);
    if (!quiet) this.countChange(m.table, m.family);
  }

  forget(ref: RouteRef, quiet: boolean): void {
    const key = this.key(ref.family, ref.table, ref.priority, ref.fingerprint);
    if (!this.routes.delete(key)) {
      // Matched by key only (its nexthops changed since): drop one with the same table and metric.
      for (const k of this.routes.keys()) {
        if (k.startsWith(`${ref.family}|${ref.table}|${ref.priority}|`)) {
          this.routes.delete(k);
          break;
        }
      }
    }
    if (!quiet) this.countChange(ref.table, ref.family);
  }

  /** A table's and family's counter goes (their last route group was forgotten). */
  forgetChanges(table: number, family: number): void {
    const key = `${table}|${family}`;
    this.changes.delete(key);
    this.changesCreated.delete(key);
  }

  private countChange(table: number, family: number): void {
    const key = this.changesOf(table, family);
    this.changes.set(key, (this.changes.get(key) as number) + 1);
  }

  /** The key of a table's and family's default route counter, made (at 0) on first use. */
  private changesOf(table: number, family: number): string {
    const key = `${table}|${family}`;
    if (!this.changes.has(key)) {
      this.changes.set(key, 0);
      this.changesCreated.set(key, this.now());
    }
    return key;
  }
}
