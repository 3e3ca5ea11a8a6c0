// The per-namespace model: links, addresses, routes and nexthop objects, fed by the session
// (src/session/) with decoded messages and their origin (notifications and dump replies alike),
// turned into domain events, and read by the metrics at scrape time. Counters are plain numbers
// here; prom-client never sees an event.
//
// NamespaceModel is the one entry point: it wires one part per concern, each owning its maps
// (link-set.ts, address-set.ts, route-set.ts, neighbour-set.ts, vip-set.ts), forwards the
// session's calls to them, and is the outlet of their events (outlet.ts).

import type {
  AddressMessage,
  LinkMessage,
  NeighbourMessage,
  NeighbourTableMessage,
  NetconfMessage,
  NexthopMessage,
  RouteMessage,
  RuleMessage,
} from '../netlink/types';
import type { VipConfig } from '../config/config';
import type { NameMatcher } from '../config/name-pattern';
import type { MessageOrigin, SessionServices, SessionSink } from '../session/sink';
import type { NeighbourRecord } from './neighbours';
import type { VipWatch } from './vips';
import type { AddressRecord } from './addresses';
import type { PendingEvent, RouteGate } from './events';
import type { LinkRecord } from './links';
import type { RouteTable } from './routes';
import { MAX_EMPTY_ROUTE_GROUPS } from './route-groups';
import type { DefaultRoute } from './default-routes';
import type { NexthopObject } from './nexthops';
import type { EventOutlet } from './outlet';
import { LinkSet } from './link-set';
import { AddressSet } from './address-set';
import { RouteSet } from './route-set';
import { NeighbourSet } from './neighbour-set';
import { VipSet } from './vip-set';
import { RuleSet } from './rule-set';
import { BondSet } from './bonds';
import { BridgePortSet } from './bridge-ports';
import { AF_BRIDGE, RTM_DELLINK } from '../netlink/constants';
import { NetconfSet } from './netconf-set';

export interface ModelOptions {
  /** The `netns` label. */
  netns: string;
  /** Which interfaces get series (anchored patterns); the rest are still modelled. */
  include: NameMatcher;
  exclude: NameMatcher | undefined;
  /** Cap on interfaces with series. */
  maxTracked: number;
  /** Seconds since the epoch. */
  now?: () => number;
  /** Virtual IPs to watch. */
  vips?: readonly VipConfig[];
  /** How many emptied route groups keep their series at 0 (default MAX_EMPTY_ROUTE_GROUPS). */
  maxEmptyRouteGroups?: number;
  /**
   * Seconds a deleted interface's series stay: the model then drops them on a timer of its own
   * (never at scrape time). Without it, only expireDeleted() drops them.
   */
  deletedGracePeriod?: number;
  /** The barrier and link probe of the session that feeds the model; without one, repairs and held flaps apply at once. */
  session?: SessionServices;
  /** Domain events go here when someone listens. */
  onEvent?: (event: PendingEvent) => void;
  /** Route-storm coalescing, asked before a route event is built (EventBus.routeGate). */
  routeGate?: RouteGate;
}

export class NamespaceModel implements SessionSink, EventOutlet {
  readonly netns: string;
  /** Links by ifindex, deleted links, orphan addresses, series filter, expiry (link-set.ts). */
  private readonly linkSet: LinkSet;
  /** Addresses and the IPv4 silent-removal repair (address-set.ts). */
  private readonly addressSet: AddressSet;
  /** Route tables, route groups, default routes, nexthop objects (route-set.ts). */
  private readonly routeSet: RouteSet;
  /** ARP and NDP entries and the neighbour tables (neighbour-set.ts). */
  private readonly neighbourSet: NeighbourSet;
  /** The VIP watch (vip-set.ts). */
  private readonly vipSet: VipSet;
  /** Policy routing rules, both families (rule-set.ts). */
  readonly rules: RuleSet;
  /** Bonds, their slaves, and VRFs (bonds.ts). */
  readonly bonds: BondSet;
  /** Bridge ports' STP state, from the AF_BRIDGE link messages (bridge-ports.ts). */
  readonly bridgePorts: BridgePortSet;
  /** Forwarding, rp_filter and the other netconf values per family and interface (netconf-set.ts). */
  readonly netconfSet: NetconfSet;

  readonly links: Map<number, LinkRecord>;
  /** Deleted links whose series stay for the grace period. */
  readonly deletedLinks: LinkRecord[];
  readonly addresses: Map<string, AddressRecord>;
  readonly routes4: RouteTable;
  readonly routes6: RouteTable;
  /**
   * netlink_routes by groupKey(table, family, protocol). A group stays, at 0, after its last
   * route goes (up to maxEmptyRouteGroups of them): same keys as routeChanges.
   */
  readonly routeCounts: ReadonlyMap<number, number>;
  /** netlink_route_changes_total by groupKey, one number per ROUTE_ACTIONS entry. */
  readonly routeChanges: ReadonlyMap<number, readonly number[]>;
  /** When each route group was first seen (seconds since the epoch): its counters' `_created`. */
  readonly routeGroupCreated: ReadonlyMap<number, number>;
  /** The default routes by name (default-routes.ts). */
  readonly defaultRoutes: ReadonlyMap<string, DefaultRoute>;
  /** netlink_default_route_changes_total by "table|family". */
  readonly defaultRouteChanges: ReadonlyMap<string, number>;
  /** When each defaultRouteChanges key was first seen: its `_created`. */
  readonly defaultRouteChangesCreated: ReadonlyMap<string, number>;
  /** Nexthop objects by id (nexthops.ts). */
  readonly nexthops: ReadonlyMap<number, NexthopObject>;
  /** netlink_nexthop_changes_total, one number per NEXTHOP_ACTIONS entry (nexthops.ts). */
  readonly nexthopChanges: readonly number[];
  /** ARP and NDP entries by neighbourKey (no series per neighbour: counts only). */
  readonly neighbours: Map<string, NeighbourRecord>;
  /** Neighbour table sizes, [inet, inet6]. */
  readonly neighbourCounts: [number, number];
  /** The kernel's gc_thresh3 per family index (0 inet, 1 inet6), from the neighbour-table dump. */
  readonly neighbourLimits: Map<0 | 1, number>;
  /** Entries of the host-wide neighbour tables (every namespace's), as of the last table dump. */
  readonly neighbourTableEntries: Map<0 | 1, number>;

  /**
   * When the model was made (its namespace opened): the `_created` of the counters that exist
   * from then on (per-namespace counters, known message types, interfaces of the initial dump).
   */
  readonly createdAt: number;
  /** Domain events go here when someone listens; none are built otherwise. */
  onEvent: ((event: PendingEvent) => void) | undefined;
  /** Asked before a route event is built: past a storm's allowance the event is only counted. */
  routeGate: RouteGate | undefined;

  private readonly now: () => number;

  constructor(options: ModelOptions) {
    this.netns = options.netns;
    this.now = options.now ?? (() => Date.now() / 1000);
    this.createdAt = this.now();
    this.onEvent = options.onEvent;
    this.routeGate = options.routeGate;
    // The links come first: what a link's change sets off in the parts built after them (LinkHooks)
    // reaches them through these arrows, made once here and called only once messages come.
    this.linkSet = new LinkSet(
      this,
      {
        deviceDown: (ifindex, force) => this.routeSet.flushDevice(ifindex, force),
        carrierLost: (ifindex) => this.routeSet.flushNexthopsOn(ifindex),
        deviceUp: (ifindex) => this.routeSet.routes4.multipathDeviceUp(ifindex),
        namesChanged: () => this.vipSet.changed(undefined, this.addressSet.records),
        forget: (gone) => {
          this.addressSet.forget(gone);
          this.neighbourSet.forget(gone);
        },
      },
      this.now,
      options,
      options.session,
    );
    this.routeSet = new RouteSet(this, this.linkSet, this.now, options.maxEmptyRouteGroups ?? MAX_EMPTY_ROUTE_GROUPS);
    this.vipSet = new VipSet(this, this.linkSet.live, options.vips ?? [], this.createdAt);
    this.addressSet = new AddressSet(this, this.linkSet, this.routeSet, options.session, this.vipSet, this.now);
    this.neighbourSet = new NeighbourSet(this, this.linkSet.live, this.vipSet);
    this.rules = new RuleSet(this);
    this.bonds = new BondSet(this, this.now, (ifindex) => this.linkSet.live.get(ifindex)?.name);
    this.bridgePorts = new BridgePortSet(this, this.linkSet, this.now);
    this.netconfSet = new NetconfSet(this, this.linkSet.live);

    this.links = this.linkSet.live;
    this.deletedLinks = this.linkSet.deleted;
    this.addresses = this.addressSet.records;
    this.routes4 = this.routeSet.routes4;
    this.routes6 = this.routeSet.routes6;
    this.routeCounts = this.routeSet.groups.counts;
    this.routeChanges = this.routeSet.groups.changes;
    this.routeGroupCreated = this.routeSet.groups.created;
    this.defaultRoutes = this.routeSet.defaults.routes;
    this.defaultRouteChanges = this.routeSet.defaults.changes;
    this.defaultRouteChangesCreated = this.routeSet.defaults.changesCreated;
    this.nexthops = this.routeSet.nexthopObjects.byId;
    this.nexthopChanges = this.routeSet.nexthopObjects.changes;
    this.neighbours = this.neighbourSet.records;
    this.neighbourCounts = this.neighbourSet.counts;
    this.neighbourLimits = this.neighbourSet.limits;
    this.neighbourTableEntries = this.neighbourSet.tableEntries;
  }

  /** The namespace is no longer watched: stops the route tables' background work and the expiry timer. */
  close(): void {
    this.linkSet.close();
    this.routeSet.close();
  }

  /** What the model holds (SessionSink): for the session's log line and the memory it releases at close. */
  holdings(): { links: number; addresses: number; routes: number; routeBytes: number } {
    return {
      links: this.links.size,
      addresses: this.addresses.size,
      routes: this.routes4.count + this.routes6.count,
      routeBytes: this.routes4.bytes + this.routes6.bytes,
    };
  }

  /** The VIPs watched now (a config reload replaces them: setVips). */
  get vips(): VipWatch {
    return this.vipSet.watch;
  }

  /** Interfaces the kernel deleted (or moved out of the namespace): not flaps, counted apart. */
  get interfacesDeleted(): number {
    return this.linkSet.interfacesDeleted;
  }

  /** Interfaces with series now. */
  get trackedCount(): number {
    return this.linkSet.series.trackedCount;
  }

  /** Interfaces that got no series because the cap on tracked interfaces was reached. */
  get seriesLimitDropped(): number {
    return this.linkSet.series.seriesLimitDropped;
  }

  /** Emptied route groups forgotten because more than maxEmptyRouteGroups were at 0. */
  get routeGroupsForgotten(): number {
    return this.routeSet.groups.forgotten;
  }

  /** A resync started or completed (the session's overrun repair): its domain event. */
  resyncEvent(action: 'started' | 'completed'): void {
    this.onEvent?.({ netns: this.netns, kind: 'resync', action, interface: '', ifindex: 0, reason: 'overrun' });
  }

  // ---- messages from the session ---------------------------------------------------------------

  link(m: LinkMessage, origin: MessageOrigin = 'notification'): void {
    // AF_BRIDGE messages describe bridge ports (bridge-ports.ts), never the link itself: the one
    // place they are told apart, so the link set and the bonds see only the links' own messages.
    if (m.family === AF_BRIDGE) {
      this.bridgePorts.port(m, origin);
      return;
    }
    this.linkSet.link(m, origin);
    this.bonds.link(m, origin);
    if (m.type === RTM_DELLINK) this.bridgePorts.linkGone(m.ifindex);
  }

  address(m: AddressMessage, origin: MessageOrigin = 'notification'): void {
    this.addressSet.address(m, origin);
  }

  route(m: RouteMessage, origin: MessageOrigin = 'notification'): void {
    this.routeSet.route(m, origin);
  }

  neighbour(m: NeighbourMessage, origin: MessageOrigin = 'notification'): void {
    this.neighbourSet.neighbour(m, origin);
  }

  neighbourTable(m: NeighbourTableMessage, _origin?: MessageOrigin): void {
    this.neighbourSet.neighbourTable(m);
  }

  nexthop(m: NexthopMessage, origin: MessageOrigin = 'notification'): void {
    this.routeSet.nexthop(m, origin);
  }

  rule(m: RuleMessage, origin: MessageOrigin = 'notification'): void {
    this.rules.rule(m, origin);
  }

  netconf(m: NetconfMessage, origin: MessageOrigin = 'notification'): void {
    this.netconfSet.netconf(m, origin);
  }

  /** The socket lost notifications (an overrun): each link's next message may follow lost ones. */
  notificationsLost(): void {
    this.linkSet.notificationsLost();
  }

  // ---- config reloads and expiry -------------------------------------------------------------

  /** A config reload's new include/exclude regexes and cap, applied to every link now (SeriesFilter.set). */
  setSeriesFilter(include: NameMatcher, exclude: NameMatcher | undefined, maxTracked: number): void {
    this.linkSet.setSeriesFilter(include, exclude, maxTracked);
  }

  /** A config reload's VIP list: VIPs kept keep their counters; new ones start from the current addresses. */
  setVips(configs: readonly VipConfig[]): void {
    this.vipSet.reload(configs, this.now(), this.addresses);
  }

  /** A config reload's grace period: links deleted longer ago than that go now, the others when it ends. */
  setDeletedGracePeriod(grace: number): void {
    this.linkSet.setDeletedGracePeriod(grace);
  }

  /** Drops the series of links deleted more than `grace` seconds ago (default: the grace period), and their addresses. */
  expireDeleted(grace?: number): void {
    this.linkSet.expireDeleted(grace);
  }

  // ---- resync --------------------------------------------------------------------------------

  /** Before a resync dump: everything is unseen until the dump lists it. */
  beginSweep(): void {
    this.linkSet.beginSweep();
    this.addressSet.beginSweep();
    this.neighbourSet.beginSweep();
    this.routeSet.beginSweep();
    this.rules.beginSweep();
    this.bonds.beginSweep();
    this.bridgePorts.beginSweep();
    this.netconfSet.beginSweep();
  }

  /** After a complete resync dump: what it did not list was removed while we were not listening. */
  sweep(): void {
    this.linkSet.sweep();
    this.addressSet.sweep();
    this.neighbourSet.sweep();
    this.vipSet.changed(undefined, this.addresses);
    this.routeSet.sweep();
    this.rules.sweep();
    this.bonds.sweep();
    this.bridgePorts.sweep();
    this.netconfSet.sweep();
  }
}
