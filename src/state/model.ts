// The per-namespace model: links, addresses, routes and nexthop objects, fed by the session
// (src/session/) with decoded messages and their origin (notifications and dump replies alike),
// turned into domain events, and read by the metrics at scrape time. Counters are plain numbers
// here; prom-client never sees an event.

import {
  AF_BRIDGE,
  AF_INET,
  AF_INET6,
  IFA_F_DADFAILED,
  IFF_LOWER_UP,
  IFF_RUNNING,
  IFF_UP,
  NLM_F_CREATE,
  NLM_F_REPLACE,
  RTM_DELADDR,
  RTM_DELLINK,
  RTM_DELNEIGH,
  RTM_DELNEXTHOP,
  RTM_DELROUTE,
  RTM_F_CLONED,
} from '../netlink/constants';
import { familyIndex, familyIndexOfName, familyNameOfIndex, FAMILY_INET, FAMILY_INET6 } from '../netlink/family';
import { ipv4Word, scopeName } from '../netlink/format';
import type {
  AddressMessage,
  LinkMessage,
  NeighbourMessage,
  NeighbourTableMessage,
  NexthopMessage,
  RouteMessage,
} from '../netlink/types';
import type { VipConfig } from '../config/config';
import type { NameMatcher } from '../config/name-pattern';
import type { MessageOrigin, SessionServices, SessionSink } from '../session/sink';
import {
  NEIGHBOUR_ADDED,
  NEIGHBOUR_LLADDR_CHANGED,
  NEIGHBOUR_REMOVED,
  neighbourKey,
  NeighbourRecord,
} from './neighbours';
import { VipState, VipWatch } from './vips';
import { addressFlagNames, addressKey, AddressRecord, newAddressRecord } from './addresses';
import type { PendingEvent, RouteGate } from './events';
import {
  ADDRESS_ADDED,
  ADDRESS_REMOVED,
  commitPendingFlaps,
  linkState,
  LinkRecord,
  newLinkRecord,
  updateLink,
} from './links';
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
import { MAX_EMPTY_ROUTE_GROUPS, RouteGroups } from './route-groups';
import { DefaultRoute, DefaultRoutes } from './default-routes';
import { NexthopObject, NexthopObjects } from './nexthops';
import { SeriesFilter } from './series-filter';
import { routeMessageEvent, routeRefEvent } from './route-events';

// The event bus and the metrics name route groups as the route events do.

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

export class NamespaceModel implements SessionSink {
  readonly netns: string;
  readonly links = new Map<number, LinkRecord>();
  /** Deleted links whose series stay for the grace period. */
  readonly deletedLinks: LinkRecord[] = [];
  readonly addresses = new Map<string, AddressRecord>();
  readonly routes4 = new RouteTable(AF_INET);
  readonly routes6 = new RouteTable(AF_INET6);
  /** netlink_routes and netlink_route_changes_total per (table, family, protocol) (route-groups.ts). */
  private readonly routeGroups: RouteGroups;
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
  private readonly defaults: DefaultRoutes;
  readonly defaultRoutes: ReadonlyMap<string, DefaultRoute>;
  /** netlink_default_route_changes_total by "table|family". */
  readonly defaultRouteChanges: ReadonlyMap<string, number>;
  /** When each defaultRouteChanges key was first seen: its `_created`. */
  readonly defaultRouteChangesCreated: ReadonlyMap<string, number>;
  /** Nexthop objects by id (nexthops.ts). */
  private readonly nexthopObjects = new NexthopObjects();
  readonly nexthops: ReadonlyMap<number, NexthopObject> = this.nexthopObjects.byId;
  vips: VipWatch;
  /** ARP and NDP entries by neighbourKey (no series per neighbour: counts only). */
  readonly neighbours = new Map<string, NeighbourRecord>();
  /** Neighbour table sizes, [inet, inet6]. */
  readonly neighbourCounts: [number, number] = [0, 0];
  /** The kernel's gc_thresh3 per family index (0 inet, 1 inet6), from the neighbour-table dump. */
  readonly neighbourLimits = new Map<0 | 1, number>();
  /** Entries of the host-wide neighbour tables (every namespace's), as of the last table dump. */
  readonly neighbourTableEntries = new Map<0 | 1, number>();

  /**
   * When the model was made (its namespace opened): the `_created` of the counters that exist
   * from then on (per-namespace counters, known message types, interfaces of the initial dump).
   */
  readonly createdAt: number;
  /** Interfaces the kernel deleted (or moved out of the namespace): not flaps, counted apart. */
  interfacesDeleted = 0;
  /** Bumped when notifications were lost: a link's next message may follow lost ones (LinkRecord.lossEpoch). */
  private lossEpoch = 0;
  /** Which interfaces get series (series-filter.ts). */
  private readonly series: SeriesFilter;

  /** The session's barrier and link probe (see SessionServices); undefined without a session. */
  private readonly session: SessionServices | undefined;
  /** Domain events go here when someone listens; none are built otherwise. */
  onEvent: ((event: PendingEvent) => void) | undefined;
  /** Asked before a route event is built: past a storm's allowance the event is only counted. */
  routeGate: RouteGate | undefined;

  /**
   * Addresses of interfaces not known yet, by ifindex: per family [held, added, removed]. The
   * socket subscribes before it dumps, so an address added meanwhile (a pod's eth0 getting its
   * address while we start) can arrive before the link dump reply that brings its interface;
   * the interface takes these counts over when it comes.
   */
  private readonly orphanAddresses = new Map<number, [number[], number[]]>();
  private options: ModelOptions;
  private readonly now: () => number;
  /** The pending expiry of deleted links (expireSoon): when it is due, in seconds since the epoch. */
  private expiry: { due: number; timer: NodeJS.Timeout } | undefined;
  private closed = false;

  constructor(options: ModelOptions) {
    this.options = options;
    this.netns = options.netns;
    this.now = options.now ?? (() => Date.now() / 1000);
    this.createdAt = this.now();
    this.vips = new VipWatch(options.vips ?? [], this.createdAt);
    this.series = new SeriesFilter(options.include, options.exclude, options.maxTracked);
    this.defaults = new DefaultRoutes(this.now);
    this.defaultRoutes = this.defaults.routes;
    this.defaultRouteChanges = this.defaults.changes;
    this.defaultRouteChangesCreated = this.defaults.changesCreated;
    this.routeGroups = new RouteGroups(
      this.now,
      () => this.options.maxEmptyRouteGroups ?? MAX_EMPTY_ROUTE_GROUPS,
      (table, family) => this.defaults.forgetChanges(table, family),
    );
    this.routeCounts = this.routeGroups.counts;
    this.routeChanges = this.routeGroups.changes;
    this.routeGroupCreated = this.routeGroups.created;
    this.session = options.session;
    this.onEvent = options.onEvent;
    this.routeGate = options.routeGate;
  }

  /** The namespace is no longer watched: stops the route tables' background work and the expiry timer. */
  close(): void {
    this.closed = true;
    if (this.expiry) clearTimeout(this.expiry.timer);
    this.expiry = undefined;
    this.routes4.close();
    this.routes6.close();
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

  /** Interfaces with series now. */
  get trackedCount(): number {
    return this.series.trackedCount;
  }

  /** Interfaces that got no series because the cap on tracked interfaces was reached. */
  get seriesLimitDropped(): number {
    return this.series.seriesLimitDropped;
  }

  /** Emptied route groups forgotten because more than maxEmptyRouteGroups were at 0. */
  get routeGroupsForgotten(): number {
    return this.routeGroups.forgotten;
  }

  /** A resync started or completed (the session's overrun repair): its domain event. */
  resyncEvent(action: 'started' | 'completed'): void {
    this.onEvent?.({ netns: this.netns, kind: 'resync', action, interface: '', ifindex: 0, reason: 'overrun' });
  }

  // ---- messages from the session ---------------------------------------------------------------

  /** Initial dump replies change state without counting or telling anyone. */
  private quiet(origin: MessageOrigin): boolean {
    return origin === 'initial-dump';
  }

  link(m: LinkMessage, origin: MessageOrigin = 'notification'): void {
    // AF_BRIDGE messages describe bridge ports, not the link itself.
    if (m.family === AF_BRIDGE) return;
    if (m.type === RTM_DELLINK) {
      this.deleteLink(m.ifindex);
      return;
    }
    const now = this.now();
    const known = this.links.get(m.ifindex);
    if (!known) {
      const record = newLinkRecord(m, now);
      // Found by the initial dump: the kernel's own counters (carrier changes) predate us.
      record.kernelCountersPredateUs = this.quiet(origin);
      record.lossEpoch = this.lossEpoch;
      this.adoptAddresses(record);
      this.buryName(record.name);
      this.links.set(m.ifindex, record);
      this.series.track(record);
      if (!this.quiet(origin) && this.onEvent) {
        this.onEvent({
          netns: this.netns,
          kind: 'link',
          action: 'added',
          interface: record.name,
          ifindex: record.ifindex,
          state: linkState(record),
          ...(record.kind ? { linkKind: record.kind } : {}),
          ...(record.mac ? { mac: record.mac } : {}),
        });
      }
      return;
    }
    known.seen = true;
    known.version++;
    const previous = this.onEvent ? linkState(known) : undefined;
    // The first message of a link since notifications were lost may follow lost ones: a
    // notification as much as the resync's dump reply.
    const afterGap = known.lossEpoch !== this.lossEpoch || origin === 'resync-dump';
    known.lossEpoch = this.lossEpoch;
    const update = updateLink(known, m, now, afterGap);
    if (update.heldFlaps > 0) this.confirmFlapsLater(known, this.quiet(origin));
    if (update.renamedFrom !== undefined) {
      this.buryName(known.name);
      this.series.retrack(known);
      this.onEvent?.({
        netns: this.netns,
        kind: 'link',
        action: 'renamed',
        interface: known.name,
        ifindex: known.ifindex,
        state: linkState(known),
        oldName: update.renamedFrom,
      });
      // Ignore lists name interfaces.
      this.vipChanged(undefined);
    }
    if (update.flaps > 0 && !this.quiet(origin)) {
      this.onEvent?.({
        netns: this.netns,
        kind: 'flap',
        action: 'down',
        interface: known.name,
        ifindex: known.ifindex,
        flaps: update.flaps,
        oper: linkState(known).oper,
      });
    }
    if (update.stateChanged && previous && !this.quiet(origin)) {
      this.onEvent?.({
        netns: this.netns,
        kind: 'link',
        action: 'changed',
        interface: known.name,
        ifindex: known.ifindex,
        state: linkState(known),
        previous,
      });
    }
    // IPv4 routes (and nexthop objects) on a device that goes admin down vanish without RTM_DELROUTE.
    if (update.adminWentDown) this.flushDevice(known.ifindex, false);
    // Nexthop objects go silently with the carrier too (neither IFF_RUNNING nor IFF_LOWER_UP),
    // and with them the IPv4 routes that use them; plain routes stay, flagged linkdown.
    else if ((known.ifFlags & (IFF_RUNNING | IFF_LOWER_UP)) === 0) this.flushNexthopsOn(known.ifindex);
    // fib_sync_up: the nexthops of multipath routes on it are alive again.
    if (update.adminWentUp) this.routes4.multipathDeviceUp(known.ifindex);
  }

  address(m: AddressMessage, origin: MessageOrigin = 'notification'): void {
    if ((m.family !== AF_INET && m.family !== AF_INET6) || m.address === undefined) return;
    const key = addressKey(m.ifindex, m.address, m.prefixLength);
    const known = this.addresses.get(key);
    const link = this.links.get(m.ifindex) ?? this.deletedLinks.find((l) => l.ifindex === m.ifindex);
    const fam = familyIndex(m.family);
    if (m.type === RTM_DELADDR) {
      if (!known) return;
      this.removeAddress(key, known, link);
      if (m.family === AF_INET) this.afterIPv4AddressRemoved(known);
      this.vipChanged(m.address);
      return;
    }
    const quiet = this.quiet(origin);
    if (known) {
      const dadFailed = (m.addressFlags & IFA_F_DADFAILED) !== 0 && (known.flags & IFA_F_DADFAILED) === 0;
      known.flags = m.addressFlags;
      known.scope = m.scope;
      known.seen = true;
      if (dadFailed && !quiet) this.dadFailed(known, link);
      this.vipChanged(m.address);
      return;
    }
    const record = newAddressRecord(m, m.address);
    this.addresses.set(key, record);
    const orphan = link ? undefined : this.orphan(m.ifindex)[fam];
    if (link) {
      link.addresses[fam]++;
      link.version++;
      // fib_sync_up: an IPv4 address on a device that is up revives its dead multipath nexthops.
      if (m.family === AF_INET && (link.ifFlags & IFF_UP) !== 0) this.routes4.multipathDeviceUp(link.ifindex);
    } else (orphan as number[])[0]++;
    if (!quiet) {
      if (link) (link.addressChanges[fam] as number[])[ADDRESS_ADDED]++;
      else (orphan as number[])[1]++;
      this.emitAddress('added', record, link);
      if ((record.flags & IFA_F_DADFAILED) !== 0) this.dadFailed(record, link);
    }
    this.vipChanged(m.address);
  }

  /** IPv6 duplicate address detection failed: another host on the link holds the address. */
  private dadFailed(record: AddressRecord, link: LinkRecord | undefined): void {
    if (link) {
      link.dadFailures++;
      link.version++;
    }
    this.emitAddress('dadfailed', record, link);
  }

  /** After a change of `address` (any of its records), or of interface names: VIPs held or released. */
  private vipChanged(address: string | undefined): void {
    if (this.vips.empty) return;
    const targets =
      address === undefined ? this.vips.vips : [this.vips.get(address)].filter((v): v is VipState => v !== undefined);
    for (const vip of targets) {
      const action = this.vips.recompute(vip, this.addresses.values(), (ifindex) => this.links.get(ifindex)?.name);
      if (!action) continue;
      this.onEvent?.({
        netns: this.netns,
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

  route(m: RouteMessage, origin: MessageOrigin = 'notification'): void {
    const isDump = origin !== 'notification';
    if ((m.family !== AF_INET && m.family !== AF_INET6) || (m.routeFlags & RTM_F_CLONED) !== 0) return;
    const table = m.family === AF_INET6 ? this.routes6 : this.routes4;
    const quiet = this.quiet(origin);
    if (m.type === RTM_DELROUTE) {
      if (!isDump) this.routeGroups.count(m.table, m.family, m.protocol, ACTION_REMOVED);
      const ref = table.applyDelete(m);
      if (ref) {
        this.routeGroups.adjust(ref.table, ref.family, ref.protocol, -1);
        if (ref.dstLength === 0) this.defaults.forget(ref, quiet);
        if (!quiet && this.onEvent) this.emitRouteMessage('removed', m);
      }
      return;
    }
    const replace = (m.flags & NLM_F_REPLACE) !== 0;
    let previousProtocol = -1;
    const result = table.applyNew(m, replace, (_ref, before) => {
      previousProtocol = before;
    });
    if (result === 'added') this.routeGroups.adjust(m.table, m.family, m.protocol, 1);
    else if (previousProtocol >= 0 && previousProtocol !== m.protocol) {
      this.routeGroups.adjust(m.table, m.family, previousProtocol, -1);
      this.routeGroups.adjust(m.table, m.family, m.protocol, 1);
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
    this.routeGroups.count(m.table, m.family, m.protocol, action);
    if (this.onEvent) this.emitRouteMessage(ROUTE_ACTIONS[action] as 'added' | 'replaced', m);
  }

  neighbour(m: NeighbourMessage, origin: MessageOrigin = 'notification'): void {
    // Bridge FDB entries (AF_BRIDGE) share the group; they are not neighbours.
    if ((m.family !== AF_INET && m.family !== AF_INET6) || m.destination === undefined) return;
    const fam = familyIndex(m.family);
    const key = neighbourKey(m.ifindex, m.destination);
    const known = this.neighbours.get(key);
    const quiet = this.quiet(origin);
    if (m.type === RTM_DELNEIGH) {
      if (!known) return;
      this.removeNeighbour(key, known);
      return;
    }
    if (!known) {
      this.neighbours.set(key, {
        ifindex: m.ifindex,
        family: fam,
        destination: m.destination,
        lladdr: m.lladdr ?? '',
        seen: true,
      });
      this.neighbourCounts[fam]++;
      if (!quiet) this.countNeighbour(m.ifindex, fam, NEIGHBOUR_ADDED, m.destination, m.lladdr, undefined);
      return;
    }
    known.seen = true;
    // A deleted entry is first re-sent FAILED without a MAC: not a change of MAC.
    if (m.lladdr === undefined || m.lladdr === known.lladdr) return;
    const before = known.lladdr;
    known.lladdr = m.lladdr;
    if (before === '' || quiet) return;
    this.countNeighbour(m.ifindex, fam, NEIGHBOUR_LLADDR_CHANGED, m.destination, m.lladdr, before);
    const vip = this.vips.get(m.destination);
    if (vip) vip.macChanges++;
  }

  neighbourTable(m: NeighbourTableMessage, _origin?: MessageOrigin): void {
    const fam = m.family === AF_INET ? FAMILY_INET : m.family === AF_INET6 ? FAMILY_INET6 : undefined;
    if (fam === undefined) return;
    if (m.thresh3 !== undefined) this.neighbourLimits.set(fam, m.thresh3);
    if (m.entries !== undefined) this.neighbourTableEntries.set(fam, m.entries);
  }

  private removeNeighbour(key: string, record: NeighbourRecord): void {
    this.neighbours.delete(key);
    this.neighbourCounts[record.family] = Math.max(0, this.neighbourCounts[record.family] - 1);
    this.countNeighbour(
      record.ifindex,
      record.family,
      NEIGHBOUR_REMOVED,
      record.destination,
      record.lladdr || undefined,
      undefined,
    );
  }

  private countNeighbour(
    ifindex: number,
    fam: 0 | 1,
    action: number,
    destination: string,
    lladdr: string | undefined,
    oldLladdr: string | undefined,
  ): void {
    const link = this.links.get(ifindex);
    if (link) {
      (link.neighbourChanges[fam] as number[])[action]++;
      link.version++;
    }
    this.onEvent?.({
      netns: this.netns,
      kind: 'neighbour',
      action: (['added', 'removed', 'lladdr_changed'] as const)[action] as 'added' | 'removed' | 'lladdr_changed',
      interface: link?.name ?? `if${ifindex}`,
      ifindex,
      family: familyNameOfIndex(fam),
      destination,
      ...(lladdr !== undefined ? { lladdr } : {}),
      ...(oldLladdr !== undefined ? { oldLladdr } : {}),
    });
  }

  nexthop(m: NexthopMessage, _origin?: MessageOrigin): void {
    if (m.type === RTM_DELNEXTHOP) {
      // The kernel drops the IPv4 routes that use it without RTM_DELROUTE (IPv6 sends one).
      this.removeNexthopObjects(new Set([m.id]));
      return;
    }
    this.nexthopObjects.set(m);
  }

  /** The socket lost notifications (an overrun): each link's next message may follow lost ones. */
  notificationsLost(): void {
    this.lossEpoch++;
  }

  // ---- links ---------------------------------------------------------------------------------

  /** A config reload's new include/exclude regexes and cap, applied to every link now (SeriesFilter.set). */
  setSeriesFilter(include: NameMatcher, exclude: NameMatcher | undefined, maxTracked: number): void {
    this.options = { ...this.options, include, exclude, maxTracked };
    this.series.set(include, exclude, maxTracked, this.links.values());
  }

  /** A config reload's VIP list: VIPs kept keep their counters; new ones start from the current addresses. */
  setVips(configs: readonly VipConfig[]): void {
    const previous = this.vips;
    this.vips = new VipWatch(configs, this.now());
    for (const vip of this.vips.vips) {
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
    this.vipChanged(undefined);
  }

  /** A new or renamed interface that takes a name in its grace period replaces the old series at once. */
  private buryName(name: string): void {
    for (let i = this.deletedLinks.length - 1; i >= 0; i--) {
      if ((this.deletedLinks[i] as LinkRecord).name === name) this.deletedLinks.splice(i, 1);
    }
  }

  private orphan(ifindex: number): [number[], number[]] {
    let counts = this.orphanAddresses.get(ifindex);
    if (!counts)
      this.orphanAddresses.set(
        ifindex,
        (counts = [
          [0, 0, 0],
          [0, 0, 0],
        ]),
      );
    return counts;
  }

  /** A new interface takes over the counts of its addresses that came before it. */
  private adoptAddresses(link: LinkRecord): void {
    const counts = this.orphanAddresses.get(link.ifindex);
    if (!counts) return;
    this.orphanAddresses.delete(link.ifindex);
    counts.forEach(([held, added, removed], fam) => {
      link.addresses[fam as 0 | 1] += held as number;
      const changes = link.addressChanges[fam as 0 | 1] as number[];
      changes[ADDRESS_ADDED] = (changes[ADDRESS_ADDED] as number) + (added as number);
      changes[ADDRESS_REMOVED] = (changes[ADDRESS_REMOVED] as number) + (removed as number);
    });
  }

  /**
   * The flaps of a close (links.ts isClose) count once the kernel has answered a probe queued
   * behind a deletion that may be under way, unless the RTM_DELLINK came first (deleteLink
   * drops them). Without a probe (no socket) they count at once; when notifications were lost
   * meanwhile, the resync's sweep counts them for links still there.
   */
  private confirmFlapsLater(record: LinkRecord, quiet: boolean): void {
    const epoch = this.lossEpoch;
    const commit = (): void => {
      // Lost notifications since may hold the RTM_DELLINK: the resync's sweep decides then.
      if (this.links.get(record.ifindex) !== record || this.lossEpoch !== epoch) return;
      const flaps = commitPendingFlaps(record);
      if (flaps > 0 && !quiet)
        this.onEvent?.({
          netns: this.netns,
          kind: 'flap',
          action: 'down',
          interface: record.name,
          ifindex: record.ifindex,
          flaps,
          oper: linkState(record).oper,
        });
    };
    if (this.session) this.session.linkProbe(record.ifindex, commit);
    else commit();
  }

  private deleteLink(ifindex: number): void {
    this.orphanAddresses.delete(ifindex);
    const record = this.links.get(ifindex);
    if (!record) return;
    this.links.delete(ifindex);
    // The close before a deletion is not an outage.
    record.pendingFlaps = 0;
    this.interfacesDeleted++;
    this.series.deleted(record);
    const deletedAt = this.now();
    record.deletedAt = deletedAt;
    record.version++;
    if (record.tracked) this.deletedLinks.push(record);
    this.flushDevice(ifindex, true);
    this.onEvent?.({
      netns: this.netns,
      kind: 'link',
      action: 'removed',
      interface: record.name,
      ifindex,
      state: linkState(record),
    });
    this.vipChanged(undefined);
    // Its series go after the grace period; the addresses and neighbours of a link without
    // series at once (as the next scrape dropped them when rendering expired links).
    this.expireSoon(record.tracked ? deletedAt + (this.options.deletedGracePeriod ?? 0) : deletedAt);
  }

  /**
   * Runs expireDeleted when `due` (seconds since the epoch) comes, on an unref'd timer: a scrape
   * only reads. One timer for the earliest due time; without a grace period (deletedGracePeriod
   * not given) nothing is scheduled and expireDeleted runs only when called.
   */
  private expireSoon(due: number): void {
    if (this.options.deletedGracePeriod === undefined || this.closed) return;
    if (this.expiry && this.expiry.due <= due) return;
    if (this.expiry) clearTimeout(this.expiry.timer);
    const timer = setTimeout(
      () => {
        this.expiry = undefined;
        this.expireDeleted();
      },
      Math.max(0, (due - this.now()) * 1000),
    );
    timer.unref();
    this.expiry = { due, timer };
  }

  /** A config reload's grace period: links deleted longer ago than that go now, the others when it ends. */
  setDeletedGracePeriod(grace: number): void {
    this.options = { ...this.options, deletedGracePeriod: grace };
    if (this.expiry) clearTimeout(this.expiry.timer);
    this.expiry = undefined;
    this.expireDeleted();
  }

  /** Drops the series of links deleted more than `grace` seconds ago, and their addresses. */
  expireDeleted(grace = this.options.deletedGracePeriod ?? 0): void {
    const limit = this.now() - grace;
    for (let i = this.deletedLinks.length - 1; i >= 0; i--) {
      const record = this.deletedLinks[i] as LinkRecord;
      if ((record.deletedAt ?? 0) <= limit) this.deletedLinks.splice(i, 1);
    }
    // A set, not a search per address: this runs once per deletion burst, not once per scrape.
    const inGrace = new Set(this.deletedLinks.map((l) => l.ifindex));
    const gone = (ifindex: number): boolean => !this.links.has(ifindex) && !inGrace.has(ifindex);
    for (const [key, address] of this.addresses) {
      if (!gone(address.ifindex)) continue;
      this.addresses.delete(key);
    }
    for (const [key, neighbour] of this.neighbours) {
      if (!gone(neighbour.ifindex)) continue;
      this.neighbours.delete(key);
      this.neighbourCounts[neighbour.family] = Math.max(0, this.neighbourCounts[neighbour.family] - 1);
    }
    // The next link to go (a timer that fired a moment early finds it still in its grace period).
    let next = Infinity;
    for (const record of this.deletedLinks) next = Math.min(next, (record.deletedAt ?? 0) + grace);
    if (next !== Infinity) this.expireSoon(next);
  }

  // ---- addresses -----------------------------------------------------------------------------

  private removeAddress(key: string, record: AddressRecord, link: LinkRecord | undefined): void {
    this.addresses.delete(key);
    const fam = familyIndexOfName(record.family);
    if (link) {
      link.addresses[fam] = Math.max(0, link.addresses[fam] - 1);
      link.version++;
      (link.addressChanges[fam] as number[])[ADDRESS_REMOVED]++;
    } else {
      const orphan = this.orphanAddresses.get(record.ifindex)?.[fam];
      if (orphan) {
        orphan[0] = Math.max(0, (orphan[0] as number) - 1);
        (orphan[2] as number)++;
      }
    }
    this.emitAddress('removed', record, link);
  }

  /**
   * When an IPv4 address goes, the kernel first sends RTM_DELADDR, then deletes the routes it
   * made for the address (local, broadcast, prefix) with notifications, and then, silently on
   * older kernels, the routes whose preferred source it was (unless the device still holds it),
   * and, with the device's last IPv4 address, all of the device's IPv4 routes. So the repair
   * waits for a barrier (a request answered after every notification already queued) and then
   * removes only what is still held.
   */
  private afterIPv4AddressRemoved(record: AddressRecord): void {
    const word = ipv4Word(record.address);
    const othersOnDevice = (): boolean => (this.links.get(record.ifindex)?.addresses[FAMILY_INET] ?? 0) > 0;
    // Nothing can go silently when the device keeps an IPv4 address and no route but the
    // kernel's own (notified) ones prefers this source: no barrier, no repair. An address burst
    // then costs no request per removal.
    if (othersOnDevice() && !this.routes4.hasNonKernelPrefsrc(word)) return;
    const repair = (): void => {
      const stillHeld = this.holdsIPv4(record.ifindex, record.address);
      if (!stillHeld) this.routes4.removePrefsrc(word, (ref) => this.routeFlushed(ref));
      if (!othersOnDevice() && this.links.has(record.ifindex)) {
        this.routes4.removeDevice(record.ifindex, true, (ref) => this.routeFlushed(ref));
        this.routes4.multipathDeviceDown(record.ifindex, (ref) => this.routeFlushed(ref));
      }
    };
    if (this.session) this.session.barrier(repair);
    else repair();
  }

  /**
   * Whether the device still holds `address` with any prefix length (10.0.0.1/24 and
   * 10.0.0.1/32 may both be configured): 33 lookups, paid only by a repair, where a count per
   * address would cost every address change two more map operations.
   */
  private holdsIPv4(ifindex: number, address: string): boolean {
    for (let prefixLength = 0; prefixLength <= 32; prefixLength++) {
      if (this.addresses.has(addressKey(ifindex, address, prefixLength))) return true;
    }
    return false;
  }

  private emitAddress(
    action: 'added' | 'removed' | 'dadfailed',
    record: AddressRecord,
    link: LinkRecord | undefined,
  ): void {
    this.onEvent?.({
      netns: this.netns,
      kind: 'address',
      action,
      interface: link?.name ?? `if${record.ifindex}`,
      ifindex: record.ifindex,
      family: record.family,
      address: record.address,
      prefixLength: record.prefixLength,
      scope: scopeName(record.scope),
      flags: addressFlagNames(record.flags),
    });
  }

  // ---- routes --------------------------------------------------------------------------------

  /** A route the kernel removed without a notification. */
  private routeFlushed(ref: RouteRef): void {
    this.routeGroups.adjust(ref.table, ref.family, ref.protocol, -1);
    this.routeGroups.count(ref.table, ref.family, ref.protocol, ACTION_FLUSHED);
    if (ref.dstLength === 0) this.defaults.forget(ref, false);
    if (this.onEvent) this.emitRouteRef('flushed', ref);
  }

  /** A route a resync found gone: a notification we lost. */
  private routeSwept(ref: RouteRef): void {
    this.routeGroups.adjust(ref.table, ref.family, ref.protocol, -1);
    this.routeGroups.count(ref.table, ref.family, ref.protocol, ACTION_REMOVED);
    if (ref.dstLength === 0) this.defaults.forget(ref, false);
    if (this.onEvent) this.emitRouteRef('removed', ref);
  }

  /**
   * A device went admin down (force false: local routes stay) or away (force true): the kernel
   * drops its IPv4 routes and the nexthop objects on it (and their IPv4 routes) without
   * notifications. IPv6 sends RTM_DELROUTE itself.
   */
  private flushDevice(ifindex: number, force: boolean): void {
    const flushed = (ref: RouteRef): void => this.routeFlushed(ref);
    this.routes4.removeDevice(ifindex, force, flushed);
    // Multipath routes over several devices: when all their nexthops are dead, or (unregister) any.
    if (force) this.routes4.multipathDeviceGone(ifindex, flushed);
    else this.routes4.multipathDeviceDown(ifindex, flushed);
    this.flushNexthopsOn(ifindex);
  }

  private flushNexthopsOn(ifindex: number): void {
    const gone = this.nexthopObjects.on(ifindex);
    if (gone.size > 0) this.removeNexthopObjects(gone);
  }

  /** Removes nexthop objects, the groups they leave empty, and the IPv4 routes that used any of them. */
  private removeNexthopObjects(ids: Set<number>): void {
    this.nexthopObjects.remove(ids);
    this.routes4.removeNexthops(ids, (ref) => this.routeFlushed(ref));
  }

  private interfaceName(ifindex: number): string {
    if (ifindex === 0) return '';
    return (
      this.links.get(ifindex)?.name ?? this.deletedLinks.find((l) => l.ifindex === ifindex)?.name ?? `if${ifindex}`
    );
  }

  private emitRouteMessage(action: 'added' | 'removed' | 'replaced', m: RouteMessage): void {
    if (
      this.routeGate &&
      !this.routeGate.admit(groupKey(m.table, m.family, m.protocol), ROUTE_ACTIONS.indexOf(action), m.routeType)
    )
      return;
    this.onEvent?.(routeMessageEvent(this.netns, action, m, this.interfaceName(m.oif)));
  }

  private emitRouteRef(action: 'removed' | 'flushed', ref: RouteRef): void {
    if (
      this.routeGate &&
      !this.routeGate.admit(groupKey(ref.table, ref.family, ref.protocol), ROUTE_ACTIONS.indexOf(action), ref.routeType)
    )
      return;
    this.onEvent?.(routeRefEvent(this.netns, action, ref, this.interfaceName(ref.oif)));
  }

  // ---- resync --------------------------------------------------------------------------------

  /** Before a resync dump: everything is unseen until the dump lists it. */
  beginSweep(): void {
    for (const link of this.links.values()) link.seen = false;
    for (const address of this.addresses.values()) address.seen = false;
    for (const neighbour of this.neighbours.values()) neighbour.seen = false;
    this.routes4.beginSweep();
    this.routes6.beginSweep();
  }

  /** After a complete resync dump: what it did not list was removed while we were not listening. */
  sweep(): void {
    for (const link of [...this.links.values()]) if (!link.seen) this.deleteLink(link.ifindex);
    // Links still here were not deleted: flaps held for a probe whose answer an overrun may have lost count now.
    for (const link of this.links.values()) if (link.pendingFlaps > 0) commitPendingFlaps(link);
    for (const [key, address] of [...this.addresses]) {
      if (!address.seen) this.removeAddress(key, address, this.links.get(address.ifindex));
    }
    for (const [key, neighbour] of [...this.neighbours]) if (!neighbour.seen) this.removeNeighbour(key, neighbour);
    this.vipChanged(undefined);
    this.routes4.sweep((ref) => this.routeSwept(ref));
    this.routes6.sweep((ref) => this.routeSwept(ref));
  }
}
