// The namespace's links by ifindex: RTM_NEWLINK/DELLINK applied with the flap rule (links.ts),
// the link events, deleted links whose series stay for the grace period (and the timer that
// expires them), flaps held until a probe confirms them, addresses that came before their
// interface, and which interfaces get series (series-filter.ts). Part of the namespace's model
// (model.ts), which wires what a link's change sets off elsewhere (LinkHooks).

import { IFF_LOWER_UP, IFF_RUNNING, RTM_DELLINK } from '../netlink/constants';
import type { LinkMessage } from '../netlink/types';
import type { NameMatcher } from '../config/name-pattern';
import type { MessageOrigin, SessionServices } from '../session/sink';
import {
  ADDRESS_ADDED,
  ADDRESS_REMOVED,
  commitPendingFlaps,
  linkState,
  LinkRecord,
  newLinkRecord,
  updateLink,
} from './links';
import { isQuiet, type EventOutlet } from './outlet';
import { SeriesFilter } from './series-filter';
import { readTopology, settingEvents } from './topology';

/** What a link's change sets off in the rest of the model (model.ts wires it). */
export interface LinkHooks {
  /** Admin down (force false) or gone (force true): its IPv4 routes and nexthop objects go silently. */
  deviceDown(ifindex: number, force: boolean): void;
  /** Carrier lost: the nexthop objects on it go silently (plain routes stay, flagged linkdown). */
  carrierLost(ifindex: number): void;
  /** Admin up: the nexthops of multipath routes on it are alive again. */
  deviceUp(ifindex: number): void;
  /** Interface names changed: VIP holders are recomputed. */
  namesChanged(): void;
  /** Drops the addresses and neighbours of interfaces `gone` says are neither here nor in their grace period. */
  forget(gone: (ifindex: number) => boolean): void;
}

/** Which interfaces get series, and for how long a deleted one keeps them. */
export interface LinkOptions {
  include: NameMatcher;
  exclude: NameMatcher | undefined;
  maxTracked: number;
  /** Seconds; without it deleted links go only when expireDeleted() is called. */
  deletedGracePeriod?: number;
}

export class LinkSet {
  readonly live = new Map<number, LinkRecord>();
  /** Deleted links whose series stay for the grace period. */
  readonly deleted: LinkRecord[] = [];
  /** Interfaces the kernel deleted (or moved out of the namespace): not flaps, counted apart. */
  interfacesDeleted = 0;
  /** Which interfaces get series (series-filter.ts). */
  readonly series: SeriesFilter;
  /** Bumped when notifications were lost: a link's next message may follow lost ones (LinkRecord.lossEpoch). */
  private lossEpoch = 0;
  /**
   * Addresses of interfaces not known yet, by ifindex: per family [held, added, removed]. The
   * socket subscribes before it dumps, so an address added meanwhile (a pod's eth0 getting its
   * address while we start) can arrive before the link dump reply that brings its interface;
   * the interface takes these counts over when it comes.
   */
  private readonly orphanAddresses = new Map<number, [number[], number[]]>();
  private deletedGracePeriod: number | undefined;
  /** The pending expiry of deleted links (expireSoon): when it is due, in seconds since the epoch. */
  private expiry: { due: number; timer: NodeJS.Timeout } | undefined;
  private closed = false;

  /** `session`: the link probe of the session that feeds the model; without one, held flaps count at once. */
  constructor(
    private readonly out: EventOutlet,
    private readonly hooks: LinkHooks,
    private readonly now: () => number,
    options: LinkOptions,
    private readonly session: SessionServices | undefined,
  ) {
    this.series = new SeriesFilter(options.include, options.exclude, options.maxTracked);
    this.deletedGracePeriod = options.deletedGracePeriod;
  }

  /** Stops the expiry timer. */
  close(): void {
    this.closed = true;
    if (this.expiry) clearTimeout(this.expiry.timer);
    this.expiry = undefined;
  }

  /** A live link, or one deleted but still in its grace period. */
  find(ifindex: number): LinkRecord | undefined {
    return this.live.get(ifindex) ?? this.deleted.find((l) => l.ifindex === ifindex);
  }

  /** The name a route event carries for its device ("" for none, if<N> for one we never knew). */
  interfaceName(ifindex: number): string {
    if (ifindex === 0) return '';
    return this.find(ifindex)?.name ?? `if${ifindex}`;
  }

  /** A master's name for a `setting` event: the link's, also in its grace period (`if<N>` for one never known). */
  private readonly masterName = (ifindex: number): string => this.interfaceName(ifindex);

  link(m: LinkMessage, origin: MessageOrigin): void {
    if (m.type === RTM_DELLINK) {
      this.delete(m.ifindex);
      return;
    }
    const now = this.now();
    const quiet = isQuiet(origin);
    const known = this.live.get(m.ifindex);
    if (!known) {
      const record = newLinkRecord(m, now);
      // Found by the initial dump: the kernel's own counters (carrier changes) predate us.
      record.kernelCountersPredateUs = quiet;
      record.lossEpoch = this.lossEpoch;
      this.adoptAddresses(record);
      this.buryName(record.name);
      this.live.set(m.ifindex, record);
      this.series.track(record);
      if (!quiet && this.out.onEvent) {
        this.out.onEvent({
          netns: this.out.netns,
          kind: 'link',
          action: 'added',
          interface: record.name,
          ifindex: record.ifindex,
          state: linkState(record),
          ...(record.kind ? { linkKind: record.kind } : {}),
          ...(record.mac ? { mac: record.mac } : {}),
        });
        // Created as a port (`ip link add ... master br0`): its enslavement is told too.
        const t = record.topology;
        if (t.master !== 0)
          this.out.onEvent?.({
            netns: this.out.netns,
            kind: 'setting',
            action: 'enslaved',
            interface: record.name,
            ifindex: record.ifindex,
            master: this.masterName(t.master),
            masterKind: t.masterKind,
          });
      }
      return;
    }
    known.seen = true;
    known.version++;
    const previous = this.out.onEvent ? linkState(known) : undefined;
    // The first message of a link since notifications were lost may follow lost ones: a
    // notification as much as the resync's dump reply.
    const afterGap = known.lossEpoch !== this.lossEpoch || origin === 'resync-dump';
    known.lossEpoch = this.lossEpoch;
    const before = { topology: known.topology, mtu: known.mtu, ifFlags: known.ifFlags };
    const update = updateLink(known, m, now, afterGap);
    known.topology = readTopology(m, known.kind);
    if (update.heldFlaps > 0) this.confirmFlapsLater(known, quiet);
    if (update.renamedFrom !== undefined) {
      this.buryName(known.name);
      this.series.retrack(known);
      this.out.onEvent?.({
        netns: this.out.netns,
        kind: 'link',
        action: 'renamed',
        interface: known.name,
        ifindex: known.ifindex,
        state: linkState(known),
        oldName: update.renamedFrom,
      });
      // Ignore lists name interfaces.
      this.hooks.namesChanged();
    }
    if (update.flaps > 0 && !quiet) {
      this.out.onEvent?.({
        netns: this.out.netns,
        kind: 'flap',
        action: 'down',
        interface: known.name,
        ifindex: known.ifindex,
        flaps: update.flaps,
        oper: linkState(known).oper,
      });
    }
    if (update.stateChanged && previous && !quiet) {
      this.out.onEvent?.({
        netns: this.out.netns,
        kind: 'link',
        action: 'changed',
        interface: known.name,
        ifindex: known.ifindex,
        state: linkState(known),
        previous,
      });
    }
    if (!quiet && this.out.onEvent) {
      const after = { topology: known.topology, mtu: known.mtu, ifFlags: known.ifFlags };
      settingEvents(this.out.netns, known.name, known.ifindex, before, after, this.masterName, (e) =>
        this.out.onEvent?.(e),
      );
    }
    // IPv4 routes (and nexthop objects) on a device that goes admin down vanish without RTM_DELROUTE.
    if (update.adminWentDown) this.hooks.deviceDown(known.ifindex, false);
    // Nexthop objects go silently with the carrier too (neither IFF_RUNNING nor IFF_LOWER_UP),
    // and with them the IPv4 routes that use them; plain routes stay, flagged linkdown.
    else if ((known.ifFlags & (IFF_RUNNING | IFF_LOWER_UP)) === 0) this.hooks.carrierLost(known.ifindex);
    // fib_sync_up: the nexthops of multipath routes on it are alive again.
    if (update.adminWentUp) this.hooks.deviceUp(known.ifindex);
  }

  /** The socket lost notifications (an overrun): each link's next message may follow lost ones. */
  notificationsLost(): void {
    this.lossEpoch++;
  }

  /** A config reload's new include/exclude regexes and cap, applied to every link now (SeriesFilter.set). */
  setSeriesFilter(include: NameMatcher, exclude: NameMatcher | undefined, maxTracked: number): void {
    this.series.set(include, exclude, maxTracked, this.live.values());
  }

  /** A new or renamed interface that takes a name in its grace period replaces the old series at once. */
  private buryName(name: string): void {
    for (let i = this.deleted.length - 1; i >= 0; i--) {
      if ((this.deleted[i] as LinkRecord).name === name) this.deleted.splice(i, 1);
    }
  }

  /** The address counts, per family [held, added, removed], of an interface not known yet. */
  orphan(ifindex: number): [number[], number[]] {
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

  /** The address counts of an interface not known yet, if any of its addresses came. */
  orphanOf(ifindex: number): [number[], number[]] | undefined {
    return this.orphanAddresses.get(ifindex);
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
   * behind a deletion that may be under way, unless the RTM_DELLINK came first (delete drops
   * them). Without a probe (no socket) they count at once; when notifications were lost
   * meanwhile, the resync's sweep counts them for links still there.
   */
  private confirmFlapsLater(record: LinkRecord, quiet: boolean): void {
    const epoch = this.lossEpoch;
    const commit = (): void => {
      // Lost notifications since may hold the RTM_DELLINK: the resync's sweep decides then.
      if (this.live.get(record.ifindex) !== record || this.lossEpoch !== epoch) return;
      const flaps = commitPendingFlaps(record);
      if (flaps > 0 && !quiet)
        this.out.onEvent?.({
          netns: this.out.netns,
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

  private delete(ifindex: number): void {
    this.orphanAddresses.delete(ifindex);
    const record = this.live.get(ifindex);
    if (!record) return;
    this.live.delete(ifindex);
    // The close before a deletion is not an outage.
    record.pendingFlaps = 0;
    this.interfacesDeleted++;
    this.series.deleted(record);
    const deletedAt = this.now();
    record.deletedAt = deletedAt;
    record.version++;
    if (record.tracked) this.deleted.push(record);
    this.hooks.deviceDown(ifindex, true);
    this.out.onEvent?.({
      netns: this.out.netns,
      kind: 'link',
      action: 'removed',
      interface: record.name,
      ifindex,
      state: linkState(record),
    });
    this.hooks.namesChanged();
    // Its series go after the grace period; the addresses and neighbours of a link without
    // series at once (as the next scrape dropped them when rendering expired links).
    this.expireSoon(record.tracked ? deletedAt + (this.deletedGracePeriod ?? 0) : deletedAt);
  }

  /**
   * Runs expireDeleted when `due` (seconds since the epoch) comes, on an unref'd timer: a scrape
   * only reads. One timer for the earliest due time; without a grace period (deletedGracePeriod
   * not given) nothing is scheduled and expireDeleted runs only when called.
   */
  private expireSoon(due: number): void {
    if (this.deletedGracePeriod === undefined || this.closed) return;
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
    this.deletedGracePeriod = grace;
    if (this.expiry) clearTimeout(this.expiry.timer);
    this.expiry = undefined;
    this.expireDeleted();
  }

  /** Drops the series of links deleted more than `grace` seconds ago, and their addresses and neighbours. */
  expireDeleted(grace = this.deletedGracePeriod ?? 0): void {
    const limit = this.now() - grace;
    for (let i = this.deleted.length - 1; i >= 0; i--) {
      const record = this.deleted[i] as LinkRecord;
      if ((record.deletedAt ?? 0) <= limit) this.deleted.splice(i, 1);
    }
    // A set, not a search per address: this runs once per deletion burst, not once per scrape.
    const inGrace = new Set(this.deleted.map((l) => l.ifindex));
    this.hooks.forget((ifindex: number): boolean => !this.live.has(ifindex) && !inGrace.has(ifindex));
    // The next link to go (a timer that fired a moment early finds it still in its grace period).
    let next = Infinity;
    for (const record of this.deleted) next = Math.min(next, (record.deletedAt ?? 0) + grace);
    if (next !== Infinity) this.expireSoon(next);
  }

  /** Before a resync dump: every link is unseen until the dump lists it. */
  beginSweep(): void {
    for (const link of this.live.values()) link.seen = false;
  }

  /** After a complete resync dump: the links it did not list were deleted while we were not listening. */
  sweep(): void {
    for (const link of [...this.live.values()]) if (!link.seen) this.delete(link.ifindex);
    // Links still here were not deleted: flaps held for a probe whose answer an overrun may have lost count now.
    for (const link of this.live.values()) if (link.pendingFlaps > 0) commitPendingFlaps(link);
  }
}
