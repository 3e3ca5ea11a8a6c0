// Links by ifindex (the identity: a rename keeps the record and its counters), with the flap
// rule: one operational outage = one flap (see countFlaps below).

import {
  IF_OPER_DORMANT,
  IF_OPER_NOTPRESENT,
  IF_OPER_TESTING,
  IF_OPER_UNKNOWN,
  IF_OPER_UP,
  IFF_DORMANT,
  IFF_LOWER_UP,
  IFF_RUNNING,
  IFF_UP,
  OPERSTATE_NAMES,
} from '../netlink/constants';
import type { LinkMessage } from '../netlink/types';
import type { LinkState } from './events';
import { readTopology, type LinkTopology } from './topology';

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
  /**
   * Flaps of a close that may be the first step of a deletion (see isClose), held until the
   * kernel has answered a request queued behind that deletion: a DELLINK drops them.
   */
  pendingFlaps: number;
  /** A carrier loss counted before the kernel's counter showed it (countFlaps): its next move pays it. */
  carrierLossOwed: boolean;
  /** The model's loss epoch at this link's last message (a different one: notifications were lost since). */
  lossEpoch: number;
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
  /** Neighbour entries that went into FAILED (resolution failed), [inet, inet6]. */
  neighbourFailures: [number, number];
  /** Master, parent, alias, alternative names (topology.ts), as the last message said. */
  topology: LinkTopology;
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
    pendingFlaps: 0,
    carrierLossOwed: false,
    lossEpoch: 0,
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
    neighbourFailures: [0, 0],
    topology: readTopology(m, m.kind ?? ''),
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
  /** Flaps this message counted but held in pendingFlaps (a close that may be a deletion). */
  heldFlaps: number;
  operChanged: boolean;
  stateChanged: boolean;
  adminWentDown: boolean;
  adminWentUp: boolean;
  renamedFrom: string | undefined;
}

/** Counter delta with u32 wrap-around. */
function u32Delta(now: number, before: number): number {
  return (now - before) >>> 0;
}

/**
 * Out of service for a reason of its own that only a new message ends: dormant (IFF_DORMANT,
 * which the kernel reports live, even while the carrier is gone and the operstate says
 * LOWERLAYERDOWN; or operstate DORMANT, set from userspace), TESTING or NOTPRESENT. Other
 * operstates with carrier and IFF_UP (DOWN, LOWERLAYERDOWN) are linkwatch lagging behind a
 * carrier that just came back: the kernel reports the carrier at once but the operstate only
 * when linkwatch runs (up to a second later).
 */
function heldDown(operstate: number, ifFlags: number): boolean {
  return (
    (ifFlags & IFF_DORMANT) !== 0 ||
    operstate === IF_OPER_DORMANT ||
    operstate === IF_OPER_TESTING ||
    operstate === IF_OPER_NOTPRESENT
  );
}

/**
 * In service, for the flap count: admin up, carrier, and not held down (heldDown). Read from
 * IFF_UP and the carrier, which the kernel reports at once, rather than the operstate, which
 * lags: a bridge that loses its last port is announced first as "carrier 0, operstate UP",
 * then as "operstate DOWN"; both describe one outage, which began with the first.
 */
export function inService(operstate: number, ifFlags: number, carrier: number): boolean {
  return (ifFlags & IFF_UP) !== 0 && carrier !== 0 && !heldDown(operstate, ifFlags);
}

/**
 * A close by dev_close(): the kernel's own "down" on the way to unregistering the device (or
 * moving it to another namespace), and on stacked devices whose lower device closed. It says
 * ifi_change = IFF_UP|IFF_RUNNING, where `ip link set down` (dev_change_flags) says IFF_UP:
 * IFF_RUNNING is never in dev->flags. The RTM_DELLINK, if any, follows in the same RTNL
 * section, so a request that takes RTNL (RTM_GETLINK) is answered after it.
 */
export function isClose(m: LinkMessage): boolean {
  return m.change === (IFF_UP | IFF_RUNNING) && (m.ifFlags & IFF_UP) === 0;
}

/**
 * The flap rule: flaps = times the interface left service (inService), each counted once,
 * whatever the kernel's message order. Per RTM_NEWLINK, against the state the previous
 * message showed (P), with the kernel's IFLA_CARRIER_DOWN_COUNT and _UP_COUNT deltas since
 * then (`downs`, `ups`), which see every carrier change even when linkwatch coalesced five
 * into one message or an overrun lost the messages:
 *
 * - P admin up and not held down: every carrier loss since P ended a time in service (P had
 *   the carrier, or the loss followed a carrier up, which put it back in service), so each
 *   of the `downs` is one flap. Plus one when the message has the carrier but is out of
 *   service (admin down, DORMANT, TESTING): a leave the carrier counter does not see (ifb,
 *   tun or a bridge going admin down, keep their carrier). A veth closed loses its carrier
 *   in the same message: one flap, from the counter.
 * - P admin down, or held down: nothing since P was in service (an admin up, or leaving
 *   DORMANT, is its own message, sent at once), so losses then are no flaps. A tun brought
 *   up with no reader shows one (its creator detached while it was down): no flap. After an
 *   overrun (`afterGap`) that message may be lost: then the losses that followed a carrier
 *   up count, min(downs, ups).
 * - The kernel clears the carrier bit before it moves the counter: a message built in
 *   between shows the carrier gone with the counter still. That loss is counted at once and
 *   owed (LinkRecord.carrierLossOwed): the counter's next move pays it, not counted again.
 * - Without the counters (old kernels), a transition from in service to not counts one.
 * - A deletion is not an outage: the kernel closes the device (isClose) before it sends
 *   RTM_DELLINK; the model holds the flaps of a close until the kernel answers a request
 *   queued behind the deletion, and drops them if the RTM_DELLINK came first.
 * - A new ifindex starts from its first message; a link first seen out of service opens no outage.
 */
export function countFlaps(
  p: { operstate: number; ifFlags: number; carrier: number },
  n: { operstate: number; ifFlags: number; carrier: number },
  downs: number | undefined,
  ups: number | undefined,
  afterGap: boolean,
): number {
  const wasInService = inService(p.operstate, p.ifFlags, p.carrier);
  const isInService = inService(n.operstate, n.ifFlags, n.carrier);
  if (downs === undefined) return wasInService && !isInService ? 1 : 0;
  if ((p.ifFlags & IFF_UP) === 0 || heldDown(p.operstate, p.ifFlags))
    return afterGap ? Math.min(downs, ups ?? downs) : 0;
  return downs + (n.carrier !== 0 && !isInService ? 1 : 0);
}

/**
 * Applies a RTM_NEWLINK for a known ifindex to its record and says what changed. `afterGap`:
 * the message may follow lost notifications (an overrun since the link's last message).
 */
export function updateLink(link: LinkRecord, m: LinkMessage, now: number, afterGap = false): LinkUpdate {
  const wasUp = isOperUp(link.operstate, link.ifFlags);
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
  let downs: number | undefined;
  if (m.carrierDownCount !== undefined) {
    if (link.carrierDownCount !== undefined) downs = u32Delta(m.carrierDownCount, link.carrierDownCount);
    link.carrierDownCount = m.carrierDownCount;
  }
  if (downs !== undefined && link.carrierLossOwed && downs > 0) {
    downs--;
    link.carrierLossOwed = false;
  }
  let ups: number | undefined;
  if (m.carrierUpCount !== undefined) {
    if (link.carrierUpCount !== undefined) ups = u32Delta(m.carrierUpCount, link.carrierUpCount);
    link.carrierUpCount = m.carrierUpCount;
  }
  if (m.carrierChanges !== undefined) link.carrierChanges = m.carrierChanges;
  let counted = countFlaps(before, link, downs, ups, afterGap);
  // The carrier gone, its loss not yet counted by the kernel (see countFlaps): counted now, owed.
  if (downs === 0 && m.carrier === 0 && inService(before.operstate, before.ifFlags, before.carrier)) {
    counted++;
    link.carrierLossOwed = true;
  }
  // A close accounts for one leave at most; more were carrier losses before it.
  const held = counted > 0 && isClose(m) ? 1 : 0;
  const flaps = counted - held;
  link.flaps += flaps;
  link.pendingFlaps += held;

  const operChanged = wasUp !== isUp || before.operstate !== link.operstate || flaps > 0;
  if (operChanged) link.lastChange = now;
  return {
    flaps,
    heldFlaps: held,
    operChanged,
    stateChanged:
      operChanged || before.carrier !== link.carrier || (before.ifFlags & IFF_UP) !== (link.ifFlags & IFF_UP),
    adminWentDown: (before.ifFlags & IFF_UP) !== 0 && (link.ifFlags & IFF_UP) === 0,
    adminWentUp: (before.ifFlags & IFF_UP) === 0 && (link.ifFlags & IFF_UP) !== 0,
    renamedFrom,
  };
}

/** Counts the flaps held by a close that turned out not to be a deletion; returns them. */
export function commitPendingFlaps(link: LinkRecord): number {
  const flaps = link.pendingFlaps;
  if (flaps === 0) return 0;
  link.pendingFlaps = 0;
  link.flaps += flaps;
  link.version++;
  return flaps;
}
