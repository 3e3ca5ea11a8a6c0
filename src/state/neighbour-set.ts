// The namespace's neighbours (ARP, NDP) by neighbourKey (neighbours.ts): RTM_NEWNEIGH/DELNEIGH
// applied as adds, removals and MAC changes, counted on their interface and per family, with
// the neighbour events, and the kernel's neighbour-table sizes and limits. Part of the
// namespace's model (model.ts).

import { AF_INET, AF_INET6, NUD_FAILED, RTM_DELNEIGH } from '../netlink/constants';
import { nudStateName } from '../netlink/format';
import { familyIndex, familyNameOfIndex, FAMILY_INET, FAMILY_INET6 } from '../netlink/family';
import type { NeighbourMessage, NeighbourTableMessage } from '../netlink/types';
import type { MessageOrigin } from '../session/sink';
import type { LinkRecord } from './links';
import {
  NEIGHBOUR_ADDED,
  NEIGHBOUR_LLADDR_CHANGED,
  NEIGHBOUR_REMOVED,
  neighbourKey,
  NeighbourRecord,
} from './neighbours';
import { isQuiet, type EventOutlet } from './outlet';
import type { VipSet } from './vip-set';

export class NeighbourSet {
  /** ARP and NDP entries by neighbourKey (no series per neighbour: counts only). */
  readonly records = new Map<string, NeighbourRecord>();
  /** Neighbour table sizes, [inet, inet6]. */
  readonly counts: [number, number] = [0, 0];
  /** The kernel's gc_thresh3 per family index (0 inet, 1 inet6), from the neighbour-table dump. */
  readonly limits = new Map<0 | 1, number>();
  /** Entries of the host-wide neighbour tables (every namespace's), as of the last table dump. */
  readonly tableEntries = new Map<0 | 1, number>();

  /** `links`: the live links, counted on; `vips`: a VIP's neighbour changing its MAC is counted on the VIP. */
  constructor(
    private readonly out: EventOutlet,
    private readonly links: ReadonlyMap<number, LinkRecord>,
    private readonly vips: VipSet,
  ) {}

  neighbour(m: NeighbourMessage, origin: MessageOrigin): void {
    // Bridge FDB entries (AF_BRIDGE) share the group; they are not neighbours.
    if ((m.family !== AF_INET && m.family !== AF_INET6) || m.destination === undefined) return;
    const fam = familyIndex(m.family);
    const key = neighbourKey(m.ifindex, m.destination);
    const known = this.records.get(key);
    const quiet = isQuiet(origin);
    if (m.type === RTM_DELNEIGH) {
      if (!known) return;
      this.remove(key, known);
      return;
    }
    // Resolution failed: the kernel's timer moved the entry into FAILED and says so with port id 0.
    // A FAILED sent for a process (nlmsg_pid set: `ip neigh del` first re-sends the entry FAILED,
    // `ip neigh change ... nud failed`) is not a failure of the network.
    const failed = (m.state & NUD_FAILED) !== 0 && m.pid === 0 && !quiet;
    if (!known) {
      this.records.set(key, {
        ifindex: m.ifindex,
        family: fam,
        destination: m.destination,
        lladdr: m.lladdr ?? '',
        state: m.state,
        seen: true,
      });
      this.counts[fam]++;
      if (!quiet) this.count(m.ifindex, fam, NEIGHBOUR_ADDED, m.destination, m.lladdr, undefined);
      if (failed) this.failed(m.ifindex, fam, m.destination, 0);
      return;
    }
    known.seen = true;
    const previousState = known.state;
    known.state = m.state;
    // Into FAILED only: a FAILED entry re-sent FAILED (a re-probe that failed again, without a
    // notification of the states between) is the same failure.
    if (failed && (previousState & NUD_FAILED) === 0) this.failed(m.ifindex, fam, m.destination, previousState);
    // A deleted entry is first re-sent FAILED without a MAC: not a change of MAC.
    if (m.lladdr === undefined || m.lladdr === known.lladdr) return;
    const before = known.lladdr;
    known.lladdr = m.lladdr;
    if (before === '' || quiet) return;
    this.count(m.ifindex, fam, NEIGHBOUR_LLADDR_CHANGED, m.destination, m.lladdr, before);
    const vip = this.vips.get(m.destination);
    if (vip) vip.macChanges++;
  }

  neighbourTable(m: NeighbourTableMessage): void {
    const fam = m.family === AF_INET ? FAMILY_INET : m.family === AF_INET6 ? FAMILY_INET6 : undefined;
    if (fam === undefined) return;
    if (m.thresh3 !== undefined) this.limits.set(fam, m.thresh3);
    if (m.entries !== undefined) this.tableEntries.set(fam, m.entries);
  }

  private failed(ifindex: number, fam: 0 | 1, destination: string, previousState: number): void {
    const link = this.links.get(ifindex);
    if (link) {
      link.neighbourFailures[fam]++;
      link.version++;
    }
    this.out.onEvent?.({
      netns: this.out.netns,
      kind: 'neighbour',
      action: 'failed',
      interface: link?.name ?? `if${ifindex}`,
      ifindex,
      family: familyNameOfIndex(fam),
      destination,
      previousState: nudStateName(previousState),
    });
  }

  private remove(key: string, record: NeighbourRecord): void {
    this.records.delete(key);
    this.counts[record.family] = Math.max(0, this.counts[record.family] - 1);
    this.count(
      record.ifindex,
      record.family,
      NEIGHBOUR_REMOVED,
      record.destination,
      record.lladdr || undefined,
      undefined,
    );
  }

  private count(
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
    this.out.onEvent?.({
      netns: this.out.netns,
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

  /** Drops the neighbours of interfaces that are gone (LinkSet.expireDeleted). */
  forget(gone: (ifindex: number) => boolean): void {
    for (const [key, neighbour] of this.records) {
      if (!gone(neighbour.ifindex)) continue;
      this.records.delete(key);
      this.counts[neighbour.family] = Math.max(0, this.counts[neighbour.family] - 1);
    }
  }

  /** Before a resync dump: every neighbour is unseen until the dump lists it. */
  beginSweep(): void {
    for (const neighbour of this.records.values()) neighbour.seen = false;
  }

  /** After a complete resync dump: the neighbours it did not list were removed while we were not listening. */
  sweep(): void {
    for (const [key, neighbour] of [...this.records]) if (!neighbour.seen) this.remove(key, neighbour);
  }
}
