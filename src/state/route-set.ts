// The namespace's routes: both families' route tables (routes/), the per-group counts and
// counters (route-groups.ts), the default routes (default-routes.ts) and the nexthop objects
// (nexthops.ts), fed with RTM_NEWROUTE/DELROUTE and RTM_NEWNEXTHOP/DELNEXTHOP, and repaired
// where the kernel removes routes without a notification (flushes) or a resync finds them gone
// (sweeps). Part of the namespace's model (model.ts), which tells it when a device goes.

import {
  AF_INET,
  AF_INET6,
  NLM_F_CREATE,
  NLM_F_REPLACE,
  RTM_DELNEXTHOP,
  RTM_DELROUTE,
  RTM_F_CLONED,
} from '../netlink/constants';
import type { NexthopMessage, RouteMessage } from '../netlink/types';
import type { MessageOrigin } from '../session/sink';
import { isQuiet, type EventOutlet } from './outlet';
import {
  ACTION_ADDED,
  ACTION_FLUSHED,
  ACTION_REMOVED,
  ACTION_REPLACED,
  groupKey,
  ROUTE_ACTIONS,
  RouteRef,
  RouteTable,
} from './routes';
import { RouteGroups } from './route-groups';
import { DefaultRoutes } from './default-routes';
import {
  describeNexthop,
  NEXTHOP_ACTIONS,
  NEXTHOP_ADDED,
  NEXTHOP_FLUSHED,
  NEXTHOP_REMOVED,
  NEXTHOP_REPLACED,
  NexthopObject,
  NexthopObjects,
} from './nexthops';
import { routeMessageEvent, routeRefEvent } from './route-events';

/** Group members a nexthop event's `group` field lists at most. */
const MAX_EVENT_MEMBERS = 32;

/** The interface name a route event carries (the links part answers it). */
export interface InterfaceNames {
  interfaceName(ifindex: number): string;
}

export class RouteSet {
  readonly routes4 = new RouteTable(AF_INET);
  readonly routes6 = new RouteTable(AF_INET6);
  /** netlink_routes and netlink_route_changes_total per (table, family, protocol) (route-groups.ts). */
  readonly groups: RouteGroups;
  /** The default routes by name (default-routes.ts). */
  readonly defaults: DefaultRoutes;
  /** Nexthop objects by id (nexthops.ts). */
  readonly nexthopObjects = new NexthopObjects();

  /** A route the kernel removed without a notification (made once: the tables call it back per route). */
  readonly flushed = (ref: RouteRef): void => {
    this.groups.adjust(ref.table, ref.family, ref.protocol, -1);
    this.groups.count(ref.table, ref.family, ref.protocol, ACTION_FLUSHED);
    if (ref.dstLength === 0) this.defaults.forget(ref, false);
    if (this.out.onEvent) this.emitRouteRef('flushed', ref);
  };

  /** A route a resync found gone: a notification we lost. */
  private readonly swept = (ref: RouteRef): void => {
    this.groups.adjust(ref.table, ref.family, ref.protocol, -1);
    this.groups.count(ref.table, ref.family, ref.protocol, ACTION_REMOVED);
    if (ref.dstLength === 0) this.defaults.forget(ref, false);
    if (this.out.onEvent) this.emitRouteRef('removed', ref);
  };

  /** A device's name for route events (made once). */
  private readonly deviceName = (ifindex: number): string => this.names.interfaceName(ifindex);

  /** `maxEmptyRouteGroups`: how many emptied route groups keep their series at 0. */
  constructor(
    private readonly out: EventOutlet,
    private readonly names: InterfaceNames,
    now: () => number,
    maxEmptyRouteGroups: number,
  ) {
    this.defaults = new DefaultRoutes(now);
    this.groups = new RouteGroups(
      now,
      () => maxEmptyRouteGroups,
      (table, family) => this.defaults.forgetChanges(table, family),
    );
  }

  /** Stops the route tables' background work. */
  close(): void {
    this.routes4.close();
    this.routes6.close();
  }

  route(m: RouteMessage, origin: MessageOrigin): void {
    const isDump = origin !== 'notification';
    if ((m.family !== AF_INET && m.family !== AF_INET6) || (m.routeFlags & RTM_F_CLONED) !== 0) return;
    const table = m.family === AF_INET6 ? this.routes6 : this.routes4;
    const quiet = isQuiet(origin);
    if (m.type === RTM_DELROUTE) {
      if (!isDump) this.groups.count(m.table, m.family, m.protocol, ACTION_REMOVED);
      const ref = table.applyDelete(m);
      if (ref) {
        this.groups.adjust(ref.table, ref.family, ref.protocol, -1);
        if (ref.dstLength === 0) this.defaults.forget(ref, quiet);
        if (!quiet && this.out.onEvent) this.emitRouteMessage('removed', m);
      }
      return;
    }
    const replace = (m.flags & NLM_F_REPLACE) !== 0;
    let previousProtocol = -1;
    const result = table.applyNew(m, replace, (_ref, before) => {
      previousProtocol = before;
    });
    if (result === 'added') this.groups.adjust(m.table, m.family, m.protocol, 1);
    else if (previousProtocol >= 0 && previousProtocol !== m.protocol) {
      this.groups.adjust(m.table, m.family, previousProtocol, -1);
      this.groups.adjust(m.table, m.family, m.protocol, 1);
    }
    if (m.dstLength === 0) this.defaults.remember(m, quiet || result === 'same');
    if (quiet) return;
    // A resync's dump reply counts only what it repairs: a route we did not hold.
    if (isDump && result !== 'added') return;
    const action = isDump
      ? ACTION_ADDED
      : replace
        ? ACTION_REPLACED
        : (m.flags & NLM_F_CREATE) !== 0 || result === 'added'
          ? ACTION_ADDED
          : ACTION_REPLACED;
    this.groups.count(m.table, m.family, m.protocol, action);
    if (this.out.onEvent) this.emitRouteMessage(ROUTE_ACTIONS[action] as 'added' | 'replaced', m);
  }

  nexthop(m: NexthopMessage, origin: MessageOrigin): void {
    if (m.type === RTM_DELNEXTHOP) {
      // The kernel drops the IPv4 routes that use it without RTM_DELROUTE (IPv6 sends one).
      this.removeNexthopObjects(new Set([m.id]), isQuiet(origin) ? -1 : NEXTHOP_REMOVED);
      return;
    }
    const result = this.nexthopObjects.set(m);
    // Initial dump replies are quiet; a resync's reply counts only what it repairs (an id not held).
    if (isQuiet(origin) || result === 'same' || (origin !== 'notification' && result !== 'added')) return;
    const action = result === 'added' ? NEXTHOP_ADDED : NEXTHOP_REPLACED;
    this.nexthopChanged(action, m.id, this.nexthopObjects.byId.get(m.id) as NexthopObject);
  }

  /**
   * A device went admin down (force false: local routes stay) or away (force true): the kernel
   * drops its IPv4 routes and the nexthop objects on it (and their IPv4 routes) without
   * notifications. IPv6 sends RTM_DELROUTE itself.
   */
  flushDevice(ifindex: number, force: boolean): void {
    this.routes4.removeDevice(ifindex, force, this.flushed);
    // Multipath routes over several devices: when all their nexthops are dead, or (unregister) any.
    if (force) this.routes4.multipathDeviceGone(ifindex, this.flushed);
    else this.routes4.multipathDeviceDown(ifindex, this.flushed);
    this.flushNexthopsOn(ifindex);
  }

  flushNexthopsOn(ifindex: number): void {
    const gone = this.nexthopObjects.on(ifindex);
    if (gone.size > 0) this.removeNexthopObjects(gone, NEXTHOP_FLUSHED);
  }

  /**
   * Removes nexthop objects, the groups they leave empty, and the IPv4 routes that used any of
   * them; each object removed is counted and told as `action` (-1: quietly).
   */
  private removeNexthopObjects(ids: Set<number>, action: number): void {
    this.nexthopObjects.remove(ids, action < 0 ? undefined : (id, nh) => this.nexthopChanged(action, id, nh));
    this.routes4.removeNexthops(ids, this.flushed);
  }

  private nexthopChanged(action: number, id: number, nh: NexthopObject): void {
    this.nexthopObjects.changes[action]++;
    if (!this.out.onEvent) return;
    const name = (ifindex: number): string => this.names.interfaceName(ifindex);
    this.out.onEvent({
      netns: this.out.netns,
      kind: 'nexthop',
      action: NEXTHOP_ACTIONS[action] as (typeof NEXTHOP_ACTIONS)[number],
      interface: nh.oif === 0 ? '' : name(nh.oif),
      ifindex: nh.oif,
      id,
      nexthop: describeNexthop(nh, name),
      ...(nh.gateway !== undefined ? { gateway: nh.gateway } : {}),
      ...(nh.group ? { group: nh.group.slice(0, MAX_EVENT_MEMBERS) } : {}),
      ...(nh.blackhole ? { blackhole: true } : {}),
    });
  }

  private emitRouteMessage(action: 'added' | 'removed' | 'replaced', m: RouteMessage): void {
    const gate = this.out.routeGate;
    if (gate && !gate.admit(groupKey(m.table, m.family, m.protocol), ROUTE_ACTIONS.indexOf(action), m.routeType))
      return;
    this.out.onEvent?.(routeMessageEvent(this.out.netns, action, m, this.deviceName));
  }

  private emitRouteRef(action: 'removed' | 'flushed', ref: RouteRef): void {
    const gate = this.out.routeGate;
    if (
      gate &&
      !gate.admit(groupKey(ref.table, ref.family, ref.protocol), ROUTE_ACTIONS.indexOf(action), ref.routeType)
    )
      return;
    this.out.onEvent?.(routeRefEvent(this.out.netns, action, ref, this.names.interfaceName(ref.oif)));
  }

  /** Before a resync dump: every route is unseen until the dump lists it. */
  beginSweep(): void {
    this.routes4.beginSweep();
    this.routes6.beginSweep();
    this.nexthopObjects.beginSweep();
  }

  /** After a complete resync dump: the routes it did not list were removed while we were not listening. */
  sweep(): void {
    this.routes4.sweep(this.swept);
    this.routes6.sweep(this.swept);
    // Nexthop objects the dump did not list: deletions we lost (counted and told as removed).
    const gone = this.nexthopObjects.unseen();
    if (gone.size > 0) this.removeNexthopObjects(gone, NEXTHOP_REMOVED);
  }
}
