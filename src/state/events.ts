// The one domain-event schema (every event has seq, time, netns, kind, action, interface and
// ifindex, then fields of its kind): what `events` mode prints (human lines or JSON), and what
// /api/v1/events, the event stream and the tracing output carry.

import type { FamilyName } from '../netlink/family';

export type EventKind =
  | 'link'
  | 'flap'
  | 'address'
  | 'address_state'
  | 'route'
  | 'rule'
  | 'nexthop'
  | 'neighbour'
  | 'vip'
  | 'bond'
  | 'netconf'
  | 'resync'
  | 'setting'
  | 'bridge_port';

export interface LinkState {
  /** IFF_UP. */
  admin: 'up' | 'down';
  /** RFC 2863 operstate name: up, down, lowerlayerdown, unknown, dormant, ... */
  oper: string;
  /** IFLA_CARRIER. */
  carrier: 'up' | 'down';
}

interface EventBase {
  /** Monotonic per process: the cursor of /api/v1/events?since=. */
  seq: number;
  /** ISO 8601 time the exporter saw the change. */
  time: string;
  /** "" for the exporter's own namespace, else the name or path given to --netns. */
  netns: string;
  kind: EventKind;
  action: string;
  /** The interface (for routes: of the first nexthop; "" when none, as for blackhole routes). */
  interface: string;
  ifindex: number;
}

/** A link appeared, disappeared, was renamed, or changed admin/oper/carrier state. */
export interface LinkEvent extends EventBase {
  kind: 'link';
  action: 'added' | 'removed' | 'changed' | 'renamed';
  state: LinkState;
  /** The state before this change (absent on `added`). */
  previous?: LinkState;
  /** On `renamed`: the name before. */
  oldName?: string;
  linkKind?: string;
  mac?: string;
}

/** The interface went operationally down `flaps` times (more than 1 when the kernel coalesced them). */
export interface FlapEvent extends EventBase {
  kind: 'flap';
  action: 'down';
  flaps: number;
  /** The state now: `up` again when the kernel coalesced the down and the up. */
  oper: string;
}

export interface AddressEvent extends EventBase {
  kind: 'address';
  /** `dadfailed`: IPv6 duplicate address detection failed: another host holds the address. */
  action: 'added' | 'removed' | 'dadfailed';
  family: FamilyName;
  address: string;
  prefixLength: number;
  scope: string;
  /** IFA_F_* names: permanent, secondary, tentative, dadfailed, nodad, deprecated, ... */
  flags: readonly string[];
  /** Seconds left of the valid lifetime (IFA_CACHEINFO) at the event; absent when forever. */
  validLifetime?: number;
  /** Seconds left of the preferred lifetime at the event; absent when forever. */
  preferredLifetime?: number;
}

/**
 * An address held changed state without coming or going (address-lifetimes.ts): `dadcomplete`,
 * duplicate address detection passed (tentative to usable); `deprecated`, its preferred
 * lifetime ran out (it stays, but new connections avoid it as their source).
 */
export interface AddressStateEvent extends EventBase {
  kind: 'address_state';
  action: 'dadcomplete' | 'deprecated';
  family: FamilyName;
  address: string;
  prefixLength: number;
  scope: string;
  /** IFA_F_* names after the change. */
  flags: readonly string[];
  /** Seconds left of the valid lifetime at the event; absent when forever. */
  validLifetime?: number;
  /** Seconds left of the preferred lifetime at the event (0 once deprecated); absent when forever. */
  preferredLifetime?: number;
}

export interface RouteEvent extends EventBase {
  kind: 'route';
  action: 'added' | 'removed' | 'replaced' | 'flushed';
  family: FamilyName;
  /** local, main, default, or the number. */
  table: string;
  protocol: string;
  /** "default" or prefix/length ("10.1.0.0/24", "2001:db8::/64"). */
  destination: string;
  gateway?: string;
  /** RTN_* name: unicast, local, broadcast, blackhole, ... */
  type: string;
  /**
   * Set on the summary of a route storm: this event stands for `count` changes of this table,
   * protocol and action within a second, beyond the first few printed one by one; destination
   * is then "*" and interface "" (routes of many devices).
   */
  count?: number;
  /** Each nexthop of a multipath route (RTA_MULTIPATH), the first 16 (route-details.ts). */
  nexthops?: RouteEventNexthop[];
  /** How many nexthops beyond those in `nexthops` the route has. */
  moreNexthops?: number;
  /** RTA_PRIORITY (`metric` in `ip route`), when not 0. */
  metric?: number;
  /** RTA_PREFSRC (`src` in `ip route`): the source address the route prefers. */
  prefsrc?: string;
  /** The route's scope (global, link, host, ...) when not the default for its type. */
  scope?: string;
  /** RTA_METRICS RTAX_MTU (`mtu` in `ip route`). */
  mtu?: number;
  /** RTA_NH_ID: the nexthop object (`ip nexthop`) the route uses. */
  nhid?: number;
}

/** One nexthop of a multipath route in a route event (`nexthop via G dev D weight W` in `ip route`). */
export interface RouteEventNexthop {
  gateway?: string;
  /** The device's name ("" when none). */
  interface: string;
  ifindex: number;
  /** rtnh_hops + 1, as `ip route` prints it. */
  weight: number;
  /** RTNH_F_* names when set: dead, linkdown, onlink, ... */
  flags?: string[];
}

/** A policy routing rule (`ip rule`) was added or removed. */
export interface RuleEvent extends EventBase {
  kind: 'rule';
  action: 'added' | 'removed';
  family: FamilyName;
  /** The table it looks up (local, main, default, or the number); "" for goto, nop, blackhole, ... */
  table: string;
  priority: number;
  /** The rule as `ip rule` prints it: `32765: from 10.1.0.0/16 lookup 100`. */
  rule: string;
}

/**
 * A nexthop object (`ip nexthop`) was added, replaced (an RTM_NEWNEXTHOP for an id held, saying
 * something else), removed, or flushed (the kernel dropped it without a notification: its device
 * went down or away, or a group it was the last member of went with it). `interface` is its
 * device ("" for groups and blackholes).
 */
export interface NexthopEvent extends EventBase {
  kind: 'nexthop';
  action: 'added' | 'replaced' | 'removed' | 'flushed';
  id: number;
  /** The object as `ip nexthop` prints it after the id: `via 192.0.2.1 dev eth0`, `group 10/11,3`, `blackhole`. */
  nexthop: string;
  gateway?: string;
  /** A group's member ids (the first 32). */
  group?: number[];
  blackhole?: true;
}

/**
 * A neighbour (ARP/NDP entry) appeared, went, answered from a new MAC address, or `failed`:
 * resolution failed (NUD_FAILED: no answer, an unreachable gateway).
 */
export interface NeighbourEvent extends EventBase {
  kind: 'neighbour';
  action: 'added' | 'removed' | 'lladdr_changed' | 'failed';
  family: FamilyName;
  destination: string;
  lladdr?: string;
  /** On `lladdr_changed`: the MAC before. */
  oldLladdr?: string;
  /** On `failed`: the NUD state before (incomplete, probe, stale, ...; "none" for an entry not seen before). */
  previousState?: string;
}

/** A watched virtual IP became held here (on `interface`), or held nowhere here any more. */
export interface VipEvent extends EventBase {
  kind: 'vip';
  action: 'acquired' | 'released';
  vip: string;
  name: string;
  /** The interfaces holding it after the change. */
  holders: string[];
}

/**
 * A bond's active slave changed (`failover`: to another slave than the last active one;
 * `active_lost`: to none), or one of its slaves was enslaved, released, or its MII status went
 * down or up (src/state/bonds.ts). `interface` is the bond on failover and active_lost, the
 * slave otherwise.
 */
export interface BondEvent extends EventBase {
  kind: 'bond';
  action: 'failover' | 'active_lost' | 'slave_added' | 'slave_removed' | 'slave_mii_down' | 'slave_mii_up';
  /** The bond's name. */
  bond: string;
  /** On failover and active_lost: the active slave before ("" for none). */
  previousActive?: string;
  /** On failover and active_lost: the active slave now ("" for none). */
  active?: string;
  /** On slave events: the slave's bond state, `active` or `backup` (`unknown` when not sent). */
  state?: string;
  /** On slave events: its MII status now: `up`, `going_down`, `down`, `going_back`. */
  mii?: string;
  /** On slave_mii_down and slave_mii_up: the MII status before. */
  previousMii?: string;
  /** On slave events: the kernel's link-failure count of the slave. */
  linkFailures?: number;
}

/** The link flags `setting` events tell: IFF_PROMISC, IFF_ALLMULTI, IFF_NOARP. */
export type SettingFlag = 'promisc' | 'allmulti' | 'noarp';

/**
 * How an interface is placed or set up changed (what `ip link set` changes): `enslaved` to a
 * master or `released` from it, its `mtu`, its `alias`, an alternative name added or removed
 * (`altname_added`, `altname_removed`), or a `flag` an operator watches turned on or off. Not
 * on the initial dump; a resync that finds a change tells it once.
 */
export interface SettingEvent extends EventBase {
  kind: 'setting';
  action: 'enslaved' | 'released' | 'mtu' | 'alias' | 'altname_added' | 'altname_removed' | 'flag';
  /** On `enslaved` and `released`: the master's name (`if<N>` when unknown). */
  master?: string;
  /** On `enslaved` and `released`: the master's kind as the port reports it (bridge, bond, vrf, team; "" when not sent). */
  masterKind?: string;
  /** On `mtu`: the MTU now and before. */
  mtu?: number;
  oldMtu?: number;
  /** On `alias`: the alias now and before ("" for none); control characters as `\xNN`. */
  alias?: string;
  oldAlias?: string;
  /** On `altname_added` and `altname_removed`. */
  altname?: string;
  /** On `flag`: which flag, and whether it is on now. */
  flag?: SettingFlag;
  enabled?: boolean;
}

/**
 * A bridge port's STP state changed (IFLA_BRPORT_STATE of an AF_BRIDGE link message): `interface`
 * is the port. States are the kernel's BR_STATE_* names: disabled, listening, learning,
 * forwarding, blocking.
 */
export interface BridgePortEvent extends EventBase {
  kind: 'bridge_port';
  action: 'changed';
  /** The bridge the port belongs to. */
  bridge: string;
  bridgeIfindex: number;
  state: string;
  previousState: string;
}

/** The netconf settings of an interface and family (`ip netconf`), as the kernel names them. */
export type NetconfSetting =
  'forwarding' | 'rp_filter' | 'mc_forwarding' | 'proxy_neigh' | 'ignore_routes_with_linkdown';

/**
 * A netconf value of one interface and family changed (`ip monitor netconf`): forwarding turned
 * on or off, rp_filter, mc_forwarding, proxy_neigh (proxy_arp / proxy_ndp),
 * ignore_routes_with_linkdown. `interface` is "all" or "default" for the namespace-wide entries
 * (ifindex -1 and -2, as the kernel numbers them).
 */
export interface NetconfEvent extends EventBase {
  kind: 'netconf';
  action: 'changed';
  family: FamilyName;
  setting: NetconfSetting;
  /** The value now as `ip netconf` prints it: on/off; for rp_filter off/strict/loose. */
  value: string;
  /** The value before, the same way. */
  oldValue: string;
}

export interface ResyncEvent extends EventBase {
  kind: 'resync';
  action: 'started' | 'completed';
  reason: string;
}

export type DomainEvent =
  | LinkEvent
  | FlapEvent
  | AddressEvent
  | AddressStateEvent
  | RouteEvent
  | RuleEvent
  | NexthopEvent
  | NeighbourEvent
  | VipEvent
  | BondEvent
  | NetconfEvent
  | ResyncEvent
  | SettingEvent
  | BridgePortEvent;

/** Domain events without the fields the event bus stamps on them. */
export type PendingEvent = DomainEvent extends infer E
  ? E extends DomainEvent
    ? Omit<E, 'seq' | 'time'>
    : never
  : never;

/**
 * Asked by the model before it builds a route event: a storm (a BGP full table) then costs a
 * counter per route, not an object and strings. Keys are the model's numeric groupKey. The event
 * bus (src/events/bus.ts, EventBus.routeGate) implements it.
 */
export interface RouteGate {
  admit(groupKey: number, action: number, routeType: number): boolean;
}
