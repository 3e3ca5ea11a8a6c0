// Links by ifindex (the identity: a rename keeps the record and its counters), with the flap
// arithmetic of design.md: per message, flaps += max(observed up->down, carrier_down_count delta).

import { IF_OPER_UNKNOWN, IF_OPER_UP, IFF_LOWER_UP, IFF_UP, OPERSTATE_NAMES } from '../netlink/constants';
import type { LinkMessage } from '../netlink/types';
import type { LinkState } from './events';

export const FAMILY_INET = 0;
export const FAMILY_INET6 = 1;
export const ADDRESS_ADDED = 0;
export const ADDRESS_REMOVED = 1;

export interface LinkRecord {
  ifindex: number;
  name: string;
  kind: string;
  mac: string;
  mtu: number;
  ifFlags: number;
  operstate: number;
  /** IFLA_CARRIER, or IFF_LOWER_UP when the kernel does not send it. */
  carrier: number;
  /** The kernel's counters as last seen (undefined until a message carries them). */
  carrierChanges: number | undefined;
  carrierUpCount: number | undefined;
  carrierDownCount: number | undefined;
  /** Our flap counter (never decreases while the ifindex lives). */
  flaps: number;
  /** Seconds since the epoch of the last operational state change (start time if none seen). */
  lastChange: number;
  /** Addresses held now, [inet, inet6]. */
  addresses: [number, number];
  /** Address transitions, [family][added, removed]. */
  addressChanges: [[number, number], [number, number]];
  /** IPv6 duplicate address detection failures seen on it. */
  dadFailures: number;
  /** Neighbour changes, [family][added, removed, lladdr_changed]. */
  neighbourChanges: [[number, number, number], [number, number, number]];
  /** Whether the interface gets series (include/exclude regexes and the cap). */
  tracked: boolean;
  /** Seconds since the epoch the kernel deleted it; series stay for the grace period. */
  deletedAt: number | undefined;
  /** Set by a resync dump; records a dump did not list are gone. */
  seen: boolean;
  /** Bumped on every change of what the record's series show (their rendered text is cached by it). */
  version: number;
  /** When we first saw the ifindex (seconds since the epoch): the `_created` of its counters. */
  firstSeen: number;
  /**
   * Found by the initial dump: the kernel's carrier counters counted before we watched, since a
   * creation time we cannot know, so they get no `_created` (a guess would make increase() count
   * their whole history at every restart of the exporter).
   */
  kernelCountersPredateUs: boolean;
}

/** Operationally up: operstate UP, or UNKNOWN with IFF_UP and IFF_LOWER_UP (lo, tun). */
export function isOperUp(operstate: number, ifFlags: number): boolean {
  if (operstate === IF_OPER_UP) return true;
  return operstate === IF_OPER_UNKNOWN && (ifFlags & IFF_UP) !== 0 && (ifFlags & IFF_LOWER_UP) !== 0;
}

export function linkState(link: LinkRecord): LinkState {
  return {
    admin: (link.ifFlags & IFF_UP) !== 0 ? 'up' : 'down',
    oper: OPERSTATE_NAMES[link.operstate] ?? String(link.operstate),
    carrier: link.carrier ? 'up' : 'down',
  };
}

export function newLinkRecord(m: LinkMessage, now: number): LinkRecord {
  return {
    ifindex: m.ifindex,
    name: m.name ?? `if${m.ifindex}`,
    kind: m.kind ?? '',
    mac: m.mac ?? '',
    mtu: m.mtu ?? 0,
    ifFlags: m.ifFlags,
    operstate: m.operstate ?? IF_OPER_UNKNOWN,
    carrier: m.carrier ?? ((m.ifFlags & IFF_LOWER_UP) !== 0 ? 1 : 0),
    carrierChanges: m.carrierChanges,
    carrierUpCount: m.carrierUpCount,
    carrierDownCount: m.carrierDownCount,
    flaps: 0,
    lastChange: now,
    addresses: [0, 0],
    addressChanges: [
      [0, 0],
      [0, 0],
    ],
    dadFailures: 0,
    neighbourChanges: [
      [0, 0, 0],
      [0, 0, 0],
    ],
    tracked: false,
    deletedAt: undefined,
    seen: true,
    version: 0,
    firstSeen: now,
    kernelCountersPredateUs: false,
  };
}

export interface LinkUpdate {
  /** Down transitions counted by this message (0 when none). */
  flaps: number;
  operChanged: boolean;
  stateChanged: boolean;
  adminWentDown: boolean;
  renamedFrom: string | undefined;
}

/** Counter delta with u32 wrap-around. */
function u32Delta(now: number, before: number): number {
  return (now - before) >>> 0;
}

/**
 * Applies a RTM_NEWLINK for a known ifindex to its record and says what changed.
 * The kernel coalesces carrier notifications (linkwatch), so five flaps may arrive as one
 * message: the carrier_down_count delta recovers them.
 */
export function updateLink(link: LinkRecord, m: LinkMessage, now: number): LinkUpdate {
  const wasUp = isOperUp(link.operstate, link.ifFlags);
  const wasAdminUp = (link.ifFlags & IFF_UP) !== 0;
  const before = { operstate: link.operstate, carrier: link.carrier, ifFlags: link.ifFlags };
  let renamedFrom: string | undefined;
  if (m.name !== undefined && m.name !== link.name) {
    renamedFrom = link.name;
    link.name = m.name;
  }
  if (m.kind !== undefined) link.kind = m.kind;
  if (m.mac !== undefined) link.mac = m.mac;
  if (m.mtu !== undefined) link.mtu = m.mtu;
  link.ifFlags = m.ifFlags;
  if (m.operstate !== undefined) link.operstate = m.operstate;
  link.carrier = m.carrier ?? ((m.ifFlags & IFF_LOWER_UP) !== 0 ? 1 : 0);

  const isUp = isOperUp(link.operstate, link.ifFlags);
  let counted = 0;
  if (m.carrierDownCount !== undefined) {
    if (link.carrierDownCount !== undefined) counted = u32Delta(m.carrierDownCount, link.carrierDownCount);
    link.carrierDownCount = m.carrierDownCount;
  }
  if (m.carrierChanges !== undefined) link.carrierChanges = m.carrierChanges;
  if (m.carrierUpCount !== undefined) link.carrierUpCount = m.carrierUpCount;
  const observed = wasUp && !isUp ? 1 : 0;
  const flaps = Math.max(observed, counted);
  link.flaps += flaps;

  const operChanged = wasUp !== isUp || before.operstate !== link.operstate || flaps > 0;
  if (operChanged) link.lastChange = now;
  return {
    flaps,
    operChanged,
    stateChanged: operChanged || before.carrier !== link.carrier || (before.ifFlags & IFF_UP) !== (link.ifFlags & IFF_UP),
    adminWentDown: wasAdminUp && (link.ifFlags & IFF_UP) === 0,
    renamedFrom,
  };
}
