// Bonds and VRFs of the namespace, from the kind data of their link messages
// (src/netlink/link-kind-data.ts): per bond its mode, its active slave, its failovers and, in
// 802.3ad, its active aggregator; per slave its state, MII status, the kernel's link-failure
// count and its aggregator; per VRF its table. The `bond` events come from here.
//
// Identity is the ifindex (a rename keeps the record; the name is the one of the last message).
// A slave is a link whose message says slave kind "bond" with a master and slave data; a link
// message of that ifindex without them releases it. RTM_DELLINK forgets the bond, the slave or
// the VRF. Everything is bounded (MAX_BONDS, MAX_BOND_SLAVES, MAX_VRFS): past a cap a new one
// is dropped and counted (netlink_bonds_dropped_total), never kept.
//
// Exact after a resync: the dump's replies set the state (a change they show against the model,
// such as another active slave, happened in the gap and is counted once), and the sweep forgets
// the bonds, slaves and VRFs the dump no longer listed as such. The kernel's link-failure count
// is shown as the kernel gives it; when it goes down (the slave was released and enslaved again
// in the gap: the kernel's count starts again at 0) the counter's `_created` moves to now, so
// Prometheus's rate() and increase() see a counter reset.
//
// The kernel on the machines this was written on has no bond or vrf driver: this is tested from
// synthetic fixtures built from the UAPI layout (test/fixtures/bonds/), not on a live kernel.

import { AF_UNSPEC, RTM_DELLINK } from '../netlink/constants';
import { tableName } from '../netlink/format';
import { BOND_LINK_UP, BOND_STATE_ACTIVE, bondMiiName } from '../netlink/link-kind-data';
import type { BondAdInfo, BondSlaveInfo, LinkMessage } from '../netlink/types';
import type { MessageOrigin } from '../session/sink';
import type { BondEvent } from './events';
import { isQuiet, type EventOutlet } from './outlet';

/** Bonds held per namespace; past this a new bond is dropped and counted. */
export const MAX_BONDS = 1024;
/** Bond slaves held per namespace. */
export const MAX_BOND_SLAVES = 4096;
/** VRFs held per namespace. */
export const MAX_VRFS = 4096;

export interface BondRecord {
  ifindex: number;
  name: string;
  /** BOND_MODE_*, undefined when the message did not say. */
  mode: number | undefined;
  /** IFLA_BOND_ACTIVE_SLAVE: the active slave's ifindex, 0 for none (or a mode without one). */
  activeSlave: number;
  /** The last active slave that was not "none": a failover is a change away from it. */
  lastActive: number;
  /** netlink_bond_failovers_total: the active slave became another slave than the last one. */
  failovers: number;
  /** When the bond was first seen: its failover counter's `_created`. */
  created: number;
  /** The 802.3ad active aggregator (IFLA_BOND_AD_INFO), undefined in other modes. */
  ad: BondAdInfo | undefined;
  seen: boolean;
}

export interface BondSlaveRecord {
  ifindex: number;
  name: string;
  /** The bond's ifindex (IFLA_MASTER). */
  bond: number;
  /** BOND_STATE_*: 0 active, 1 backup. */
  state: number | undefined;
  /** BOND_LINK_*: 0 up, 1 going down, 2 down, 3 going back. */
  mii: number | undefined;
  /** IFLA_BOND_SLAVE_LINK_FAILURE_COUNT as the kernel last gave it. */
  linkFailures: number;
  /**
   * `_created` of netlink_bond_slave_link_failures_total: when the kernel's count started at 0
   * (enslaved while we listened, or reset); undefined when it counted before we watched.
   */
  failuresCreated: number | undefined;
  /** IFLA_BOND_SLAVE_AD_AGGREGATOR_ID (802.3ad). */
  aggregator: number | undefined;
  seen: boolean;
}

export interface VrfRecord {
  ifindex: number;
  name: string;
  /** IFLA_VRF_TABLE as the route series' `table` label writes it (tableName). */
  table: string;
  seen: boolean;
}

export class BondSet {
  readonly bonds = new Map<number, BondRecord>();
  readonly slaves = new Map<number, BondSlaveRecord>();
  readonly vrfs = new Map<number, VrfRecord>();
  /** Bonds, slaves and VRFs not held because their cap was reached (netlink_bonds_dropped_total). */
  dropped = 0;
  /** When the first was dropped: that counter is born then. */
  droppedCreated = 0;

  constructor(
    private readonly outlet: EventOutlet,
    private readonly now: () => number,
    /** The current name of any link of the namespace (the link set's), for events naming a slave not held. */
    private readonly linkName: (ifindex: number) => string | undefined,
    private readonly limits = { bonds: MAX_BONDS, slaves: MAX_BOND_SLAVES, vrfs: MAX_VRFS },
  ) {}

  /** Whether the namespace holds any bond, slave or VRF (a scrape of a namespace without skips them). */
  get empty(): boolean {
    return this.bonds.size === 0 && this.slaves.size === 0 && this.vrfs.size === 0;
  }

  /** The name of an ifindex: a slave's or bond's as held, else the link's; "" for 0. */
  nameOf(ifindex: number): string {
    if (ifindex === 0) return '';
    return this.slaves.get(ifindex)?.name ?? this.bonds.get(ifindex)?.name ?? this.linkName(ifindex) ?? `if${ifindex}`;
  }

  link(m: LinkMessage, origin: MessageOrigin): void {
    if (m.family !== AF_UNSPEC) return; // bridge port messages (AF_BRIDGE) say nothing of bonds
    // Most link messages, in most namespaces: nothing to hold and nothing held to release.
    if (m.bond === undefined && m.bondSlave === undefined && m.vrfTable === undefined && this.empty) return;
    const ifindex = m.ifindex;
    if (m.type === RTM_DELLINK) {
      this.forget(ifindex);
      return;
    }
    const quiet = isQuiet(origin);
    if (m.kind === 'bond' && m.bond !== undefined) this.bond(m, quiet);
    else this.bonds.delete(ifindex);
    if (m.kind === 'vrf' && m.vrfTable !== undefined) this.vrf(m);
    else this.vrfs.delete(ifindex);
    if (m.slaveKind === 'bond' && m.bondSlave !== undefined && m.master !== undefined && m.master !== 0)
      this.slave(m, m.master, m.bondSlave, quiet);
    else {
      const gone = this.slaves.get(ifindex);
      if (gone !== undefined) {
        this.slaves.delete(ifindex);
        if (!quiet) this.slaveEvent(gone, 'slave_removed', undefined);
      }
    }
  }

  /** Before a resync dump: nothing is seen until the dump lists it. */
  beginSweep(): void {
    for (const r of this.bonds.values()) r.seen = false;
    for (const r of this.slaves.values()) r.seen = false;
    for (const r of this.vrfs.values()) r.seen = false;
  }

  /** After a complete resync dump: bonds, slaves and VRFs it did not list as such went in the gap. */
  sweep(): void {
    for (const [ifindex, r] of this.slaves) {
      if (r.seen) continue;
      this.slaves.delete(ifindex);
      this.slaveEvent(r, 'slave_removed', undefined);
    }
    for (const [ifindex, r] of this.bonds) if (!r.seen) this.bonds.delete(ifindex);
    for (const [ifindex, r] of this.vrfs) if (!r.seen) this.vrfs.delete(ifindex);
  }

  private forget(ifindex: number): void {
    this.bonds.delete(ifindex);
    this.vrfs.delete(ifindex);
    this.slaves.delete(ifindex);
    // A deleted bond's slaves were released first (the kernel sends their messages before the
    // RTM_DELLINK); any left over go with it.
    for (const [slave, r] of this.slaves) if (r.bond === ifindex) this.slaves.delete(slave);
  }

  private drop(): void {
    if (this.dropped === 0) this.droppedCreated = this.now();
    this.dropped++;
  }

  private bond(m: LinkMessage, quiet: boolean): void {
    const info = m.bond!;
    const active = info.activeSlave ?? 0;
    let r = this.bonds.get(m.ifindex);
    if (r === undefined) {
      if (this.bonds.size >= this.limits.bonds) {
        this.drop();
        return;
      }
      r = {
        ifindex: m.ifindex,
        name: m.name ?? `if${m.ifindex}`,
        mode: info.mode,
        activeSlave: active,
        lastActive: active,
        failovers: 0,
        created: this.now(),
        ad: info.ad,
        seen: true,
      };
      this.bonds.set(m.ifindex, r);
      return;
    }
    r.seen = true;
    if (m.name !== undefined) r.name = m.name;
    r.mode = info.mode;
    r.ad = info.ad;
    if (active === r.activeSlave) return;
    const before = r.activeSlave;
    r.activeSlave = active;
    if (active === 0) {
      if (!quiet) this.bondEvent(r, 'active_lost', before, 0);
      return;
    }
    const from = r.lastActive;
    r.lastActive = active;
    // The first active slave a bond ever has, and the old one coming back after none, are no failover.
    if (from === 0 || from === active || quiet) return;
    r.failovers++;
    this.bondEvent(r, 'failover', from, active);
  }

  private slave(m: LinkMessage, bond: number, info: BondSlaveInfo, quiet: boolean): void {
    let r = this.slaves.get(m.ifindex);
    const failures = info.linkFailureCount ?? 0;
    if (r !== undefined && r.bond !== bond) {
      // Moved to another bond in the gap (or between two messages): released, then enslaved.
      this.slaves.delete(m.ifindex);
      if (!quiet) this.slaveEvent(r, 'slave_removed', undefined);
      r = undefined;
    }
    if (r === undefined) {
      if (this.slaves.size >= this.limits.slaves) {
        this.drop();
        return;
      }
      r = {
        ifindex: m.ifindex,
        name: m.name ?? `if${m.ifindex}`,
        bond,
        state: info.state,
        mii: info.miiStatus,
        linkFailures: failures,
        // Enslaved while we listened: the kernel's count started at 0 now. Found by a dump: it
        // counted since a time we cannot know.
        failuresCreated: quiet || failures !== 0 ? undefined : this.now(),
        aggregator: info.adAggregatorId,
        seen: true,
      };
      this.slaves.set(m.ifindex, r);
      if (!quiet) this.slaveEvent(r, 'slave_added', undefined);
      return;
    }
    r.seen = true;
    if (m.name !== undefined) r.name = m.name;
    if (failures < r.linkFailures) r.failuresCreated = this.now(); // the kernel's count started again
    r.linkFailures = failures;
    r.state = info.state;
    r.aggregator = info.adAggregatorId;
    const before = r.mii;
    r.mii = info.miiStatus;
    const wasUp = before === BOND_LINK_UP;
    const isUp = r.mii === BOND_LINK_UP;
    if (quiet || wasUp === isUp || before === undefined) return;
    this.slaveEvent(r, isUp ? 'slave_mii_up' : 'slave_mii_down', before);
  }

  private vrf(m: LinkMessage): void {
    const r = this.vrfs.get(m.ifindex);
    const table = tableName(m.vrfTable!);
    if (r !== undefined) {
      r.seen = true;
      r.table = table;
      if (m.name !== undefined) r.name = m.name;
      return;
    }
    if (this.vrfs.size >= this.limits.vrfs) {
      this.drop();
      return;
    }
    this.vrfs.set(m.ifindex, { ifindex: m.ifindex, name: m.name ?? `if${m.ifindex}`, table, seen: true });
  }

  private bondEvent(r: BondRecord, action: 'failover' | 'active_lost', from: number, to: number): void {
    const emit = this.outlet.onEvent;
    if (emit === undefined) return;
    const event: Omit<BondEvent, 'seq' | 'time'> = {
      netns: this.outlet.netns,
      kind: 'bond',
      action,
      interface: r.name,
      ifindex: r.ifindex,
      bond: r.name,
      previousActive: this.nameOf(from),
      active: this.nameOf(to),
    };
    emit(event);
  }

  private slaveEvent(
    r: BondSlaveRecord,
    action: 'slave_added' | 'slave_removed' | 'slave_mii_up' | 'slave_mii_down',
    previousMii: number | undefined,
  ): void {
    const emit = this.outlet.onEvent;
    if (emit === undefined) return;
    const event: Omit<BondEvent, 'seq' | 'time'> = {
      netns: this.outlet.netns,
      kind: 'bond',
      action,
      interface: r.name,
      ifindex: r.ifindex,
      bond: this.nameOf(r.bond),
      state: r.state === undefined ? 'unknown' : r.state === BOND_STATE_ACTIVE ? 'active' : 'backup',
      mii: bondMiiName(r.mii),
      linkFailures: r.linkFailures,
    };
    if (previousMii !== undefined) event.previousMii = bondMiiName(previousMii);
    emit(event);
  }
}
