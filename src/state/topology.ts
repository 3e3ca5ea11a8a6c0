// Where an interface sits and how it is set up: its master (bridge, bond, VRF, team port), the
// parent it is stacked on (macvlan, VLAN: IFLA_LINK; vxlan: IFLA_VXLAN_LINK), its alias and alternative names,
// read from each RTM_NEWLINK; and the `setting` events when they, the MTU or an operator's
// link flags (promisc, allmulti, noarp) change. The kernel fills every attribute of a link in
// every RTM_NEWLINK it sends (rtnl_fill_ifinfo), and sends IFLA_MASTER, IFLA_IFALIAS and
// IFLA_PROP_LIST only when set: absent means none.

import { IFF_ALLMULTI, IFF_NOARP, IFF_PROMISC } from '../netlink/constants';
import type { LinkMessage } from '../netlink/types';
import type { PendingEvent, SettingFlag } from './events';

/** Alternative names kept per interface (the first ones, in the kernel's order); the rest are counted. */
export const MAX_ALTNAMES = 4;

/**
 * Kinds whose IFLA_LINK is a peer, not a lower device: a veth's other end (often in another
 * namespace: a pod's eth0). They have no parent.
 */
const PEER_KINDS: ReadonlySet<string> = new Set(['veth', 'vxcan', 'netkit']);

export interface LinkTopology {
  /** IFLA_MASTER: the master's ifindex, 0 for none. */
  readonly master: number;
  /** IFLA_INFO_SLAVE_KIND: the master's kind as the port sees it (bridge, bond, vrf, team); "" when not sent. */
  readonly masterKind: string;
  /** IFLA_LINK of a stacked device (a vxlan's IFLA_VXLAN_LINK): the parent's ifindex, 0 for none (and for a veth's peer). */
  readonly parent: number;
  /** IFLA_LINK_NETNSID: the parent is in the namespace with this id, -1 when in this one. */
  readonly parentNetnsid: number;
  /** IFLA_IFALIAS as a label value (labelText), "" for none. */
  readonly alias: string;
  /** IFLA_ALT_IFNAME, the first MAX_ALTNAMES, as label values. */
  readonly altNames: readonly string[];
  /** Alternative names past MAX_ALTNAMES: not kept, no series, counted. */
  readonly altNamesDropped: number;
}

/** The topology of most interfaces: shared, so a pod's veth costs no object of its own. */
export const NO_TOPOLOGY: LinkTopology = Object.freeze({
  master: 0,
  masterKind: '',
  parent: 0,
  parentNetnsid: -1,
  alias: '',
  altNames: Object.freeze([]) as readonly string[],
  altNamesDropped: 0,
});

/**
 * Kernel text (already decoded one to one: invalid UTF-8 as `\xNN`, a backslash as `\\`) as a
 * label value: control characters (C0, DEL, C1) as `\xNN` too, so an alias cannot break a log
 * line or a table cell. Bounded by the codec (an alias is at most 255 bytes, so at most 1020
 * characters here).
 */
export function labelText(text: string): string {
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u001f\u007f-\u009f]/.test(text)
    ? // eslint-disable-next-line no-control-regex
      text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
    : text;
}

/** The topology a RTM_NEWLINK says; `kind` is the link's kind (the message's, or the record's). */
export function readTopology(m: LinkMessage, kind: string): LinkTopology {
  const master = m.master ?? 0;
  const lower = m.vxlanLink ?? m.link;
  const parent = lower !== undefined && lower > 0 && lower !== m.ifindex && !PEER_KINDS.has(kind) ? lower : 0;
  const alias = m.alias ? labelText(m.alias) : '';
  const names = m.altNames;
  if (master === 0 && parent === 0 && alias === '' && names === undefined) return NO_TOPOLOGY;
  return {
    master,
    masterKind: master !== 0 ? (m.slaveKind ?? '') : '',
    parent,
    parentNetnsid: parent !== 0 && m.linkNetnsid !== undefined ? m.linkNetnsid : -1,
    alias,
    altNames: names ? names.slice(0, MAX_ALTNAMES).map(labelText) : NO_TOPOLOGY.altNames,
    altNamesDropped: names ? Math.max(0, names.length - MAX_ALTNAMES) : 0,
  };
}

/** The link flags an operator wants told, as SettingFlag names. */
const FLAGS: readonly [number, SettingFlag][] = [
  [IFF_PROMISC, 'promisc'],
  [IFF_ALLMULTI, 'allmulti'],
  [IFF_NOARP, 'noarp'],
];

/** What a link looked like before and after one message, for settingEvents. */
export interface SettingSnapshot {
  topology: LinkTopology;
  mtu: number;
  ifFlags: number;
}

/**
 * The `setting` events of one change of a link, in a fixed order: released, enslaved, mtu,
 * alias, altname_removed, altname_added, flag. `masterName` names a master's ifindex (the
 * model's links; `if<N>` for one it does not know).
 */
export function settingEvents(
  netns: string,
  name: string,
  ifindex: number,
  before: SettingSnapshot,
  after: SettingSnapshot,
  masterName: (ifindex: number) => string,
  emit: (event: PendingEvent) => void,
): void {
  const base = { netns, kind: 'setting', interface: name, ifindex } as const;
  const a = before.topology;
  const b = after.topology;
  if (a.master !== b.master) {
    if (a.master !== 0) emit({ ...base, action: 'released', master: masterName(a.master), masterKind: a.masterKind });
    if (b.master !== 0) emit({ ...base, action: 'enslaved', master: masterName(b.master), masterKind: b.masterKind });
  }
  if (before.mtu !== after.mtu && before.mtu !== 0 && after.mtu !== 0)
    emit({ ...base, action: 'mtu', mtu: after.mtu, oldMtu: before.mtu });
  if (a.alias !== b.alias) emit({ ...base, action: 'alias', alias: b.alias, oldAlias: a.alias });
  if (a.altNames !== b.altNames) {
    for (const altname of a.altNames)
      if (!b.altNames.includes(altname)) emit({ ...base, action: 'altname_removed', altname });
    for (const altname of b.altNames)
      if (!a.altNames.includes(altname)) emit({ ...base, action: 'altname_added', altname });
  }
  const flipped = before.ifFlags ^ after.ifFlags;
  for (const [bit, flag] of FLAGS)
    if ((flipped & bit) !== 0) emit({ ...base, action: 'flag', flag, enabled: (after.ifFlags & bit) !== 0 });
}
