// Typed netlink messages as the codec hands them to the state model.
// Absent attributes are `undefined` (or -1/0 where the field says so), never a guessed value.
//
// Each decoder creates its message with every field, optional ones set to undefined, in one
// object literal: every message of a kind then has one hidden class whatever attributes it
// carried. The code that handles messages stays monomorphic, and the hidden class lives as long
// as the literal's boilerplate does. With fields added per attribute instead, each attribute set
// had a class of its own, which died with the last message of that shape at a full collection
// after a burst; V8 then threw away the optimised code that checked for it, and the next burst
// after an idle spell started cold again.

/** The fields of struct nlmsghdr every message carries. */
export interface MessageHeader {
  /** nlmsg_type: RTM_* or NLMSG_*. */
  type: number;
  /** nlmsg_flags: NLM_F_*. On notifications, the flags of the request that caused them (CREATE, REPLACE, ...). */
  flags: number;
  seq: number;
  /** nlmsg_pid: our port id on dump replies; the requester's on notifications. */
  pid: number;
}

/** RTM_NEWLINK / RTM_DELLINK (ifinfomsg + IFLA_*). */
export interface LinkMessage extends MessageHeader {
  /** ifi_family: AF_UNSPEC for the link itself, AF_BRIDGE for bridge-port messages. */
  family: number;
  /** ifi_type: ARPHRD_*. */
  deviceType: number;
  ifindex: number;
  /** ifi_flags: IFF_*. */
  ifFlags: number;
  change: number;
  name?: string;
  mtu?: number;
  /** IF_OPER_* (0..6). */
  operstate?: number;
  /** IFLA_CARRIER, 0 or 1. */
  carrier?: number;
  carrierChanges?: number;
  carrierUpCount?: number;
  carrierDownCount?: number;
  /** IFLA_ADDRESS formatted as lower-case colon hex ("02:00:5e:00:01:01"). */
  mac?: string;
  /** IFLA_LINKINFO -> IFLA_INFO_KIND ("veth", "bridge", ...). */
  kind?: string;
  /** IFLA_LINKINFO -> IFLA_INFO_SLAVE_KIND. */
  slaveKind?: string;
  master?: number;
  /** IFLA_LINK: the peer/lower device ifindex. */
  link?: number;
  /** A vxlan's lower device (IFLA_INFO_DATA -> IFLA_VXLAN_LINK; vxlan sends no IFLA_LINK); 0 for none. */
  vxlanLink?: number;
  /** IFLA_LINK_NETNSID: IFLA_LINK names an ifindex of the namespace with this id (as this namespace numbers its peers). */
  linkNetnsid?: number;
  alias?: string;
  /** IFLA_PROP_LIST -> IFLA_ALT_IFNAME. */
  altNames?: string[];
  protoDown?: number;
  /** IFLA_INFO_DATA of a bond (kind "bond"): link-kind-data.ts. */
  bond?: BondInfo;
  /** IFLA_INFO_SLAVE_DATA of a bond's slave (slave kind "bond"). */
  bondSlave?: BondSlaveInfo;
  /** IFLA_INFO_DATA -> IFLA_VRF_TABLE of a VRF (kind "vrf"). */
  vrfTable?: number;
  /** IFLA_INFO_SLAVE_DATA -> IFLA_VRF_PORT_TABLE of a VRF's port (slave kind "vrf"). */
  vrfPortTable?: number;
  /** AF_BRIDGE messages only: IFLA_PROTINFO -> IFLA_BRPORT_STATE, the port's STP state (BR_STATE_*, 0..4). */
  bridgePortState?: number;
}

/** A bond's IFLA_INFO_DATA (linux/if_link.h IFLA_BOND_*), the attributes read; absent ones undefined. */
export interface BondInfo {
  /** IFLA_BOND_MODE (u8): BOND_MODE_* of linux/if_bonding.h. */
  mode: number | undefined;
  /** IFLA_BOND_ACTIVE_SLAVE (u32 ifindex): only in modes with an active slave (active-backup, tlb, alb). */
  activeSlave: number | undefined;
  /** IFLA_BOND_MIIMON (u32, ms). */
  miimon: number | undefined;
  /** IFLA_BOND_AD_INFO (802.3ad only: the active aggregator). */
  ad: BondAdInfo | undefined;
  /** IFLA_BOND_AD_ACTOR_SYSTEM (the LACP system MAC), lower-case colon hex. */
  adActorSystem: string | undefined;
}

/** IFLA_BOND_AD_INFO: the bond's active 802.3ad aggregator. */
export interface BondAdInfo {
  aggregator: number | undefined;
  numPorts: number | undefined;
  actorKey: number | undefined;
  partnerKey: number | undefined;
  partnerMac: string | undefined;
}

/** A bond slave's IFLA_INFO_SLAVE_DATA (IFLA_BOND_SLAVE_*). */
export interface BondSlaveInfo {
  /** IFLA_BOND_SLAVE_STATE (u8): 0 active, 1 backup (BOND_STATE_*). */
  state: number | undefined;
  /** IFLA_BOND_SLAVE_MII_STATUS (u8): 0 up, 1 going down, 2 down, 3 going back (BOND_LINK_*). */
  miiStatus: number | undefined;
  /** IFLA_BOND_SLAVE_LINK_FAILURE_COUNT (u32): the kernel's count since the slave was enslaved. */
  linkFailureCount: number | undefined;
  /** IFLA_BOND_SLAVE_PERM_HWADDR: the slave's own MAC (the bond may have overwritten it). */
  permHwaddr: string | undefined;
  queueId: number | undefined;
  /** IFLA_BOND_SLAVE_AD_AGGREGATOR_ID (u16, 802.3ad only). */
  adAggregatorId: number | undefined;
  /** IFLA_BOND_SLAVE_AD_ACTOR_OPER_PORT_STATE (u8, LACP port state bits). */
  adActorOperPortState: number | undefined;
  /** IFLA_BOND_SLAVE_AD_PARTNER_OPER_PORT_STATE (u16 in the kernel's message, LACP port state bits). */
  adPartnerOperPortState: number | undefined;
}

/** RTM_NEWADDR / RTM_DELADDR (ifaddrmsg + IFA_*). */
export interface AddressMessage extends MessageHeader {
  family: number;
  prefixLength: number;
  /** ifa_flags, widened by IFA_FLAGS (u32) when present. */
  addressFlags: number;
  scope: number;
  ifindex: number;
  /** The address held: IFA_LOCAL for IPv4 when present, else IFA_ADDRESS. */
  address?: string;
  /** IFA_ADDRESS when it differs from IFA_LOCAL: the peer of a point-to-point link. */
  peer?: string;
  label?: string;
  broadcast?: string;
  /** IFA_CACHEINFO lifetimes, seconds (0xffffffff = forever). */
  preferredLifetime?: number;
  validLifetime?: number;
  protocol?: number;
}

/**
 * RTM_NEWROUTE / RTM_DELROUTE (rtmsg + RTA_*).
 * Addresses are not formatted here: this is the hot path of a million-route burst.
 * The *Offset fields index into `buf` (the payload of the attribute), -1 when absent;
 * route.ts has helpers that format them.
 */
export interface RouteMessage extends MessageHeader {
  family: number;
  dstLength: number;
  srcLength: number;
  tos: number;
  /** RTA_TABLE (u32) when present, else rtm_table. */
  table: number;
  protocol: number;
  scope: number;
  /** rtm_type: RTN_*. */
  routeType: number;
  /** rtm_flags: RTM_F_*, RTNH_F_*. */
  routeFlags: number;
  /** RTA_OIF, 0 when absent. */
  oif: number;
  /** RTA_PRIORITY (the metric), 0 when absent. */
  priority: number;
  /** RTA_NH_ID, 0 when absent. */
  nhId: number;
  buf: Buffer;
  dstOffset: number;
  srcOffset: number;
  gatewayOffset: number;
  prefsrcOffset: number;
  /** RTA_MULTIPATH payload (a run of rtnexthop: walk it with nexthops.ts' NexthopCursor), -1 when absent. */
  multipathOffset: number;
  multipathLength: number;
  /** RTA_METRICS payload (nested RTAX_* attributes: route.ts' routeMtu reads it), -1 when absent. */
  metricsOffset: number;
  metricsLength: number;
}

/** One nexthop of a route, decoded from RTA_OIF/RTA_GATEWAY or one rtnexthop of RTA_MULTIPATH. */
export interface RouteNexthop {
  ifindex: number;
  gateway?: string;
  /** rtnh_flags (RTNH_F_DEAD, RTNH_F_LINKDOWN, ...). */
  flags: number;
  /** rtnh_hops + 1. */
  weight: number;
}

/** RTM_NEWNEIGH / RTM_DELNEIGH (ndmsg + NDA_*). */
export interface NeighbourMessage extends MessageHeader {
  /** AF_INET, AF_INET6, or AF_BRIDGE for FDB entries. */
  family: number;
  ifindex: number;
  /** ndm_state: NUD_*. */
  state: number;
  neighbourFlags: number;
  neighbourType: number;
  destination?: string;
  lladdr?: string;
  vlan?: number;
  master?: number;
}

/** RTM_NEWNEXTHOP / RTM_DELNEXTHOP (nhmsg + NHA_*). */
export interface NexthopMessage extends MessageHeader {
  family: number;
  scope: number;
  protocol: number;
  nexthopFlags: number;
  id: number;
  oif?: number;
  gateway?: string;
  blackhole: boolean;
  /** NHA_GROUP: member ids (struct nexthop_grp: id u32, weight u8, ...). */
  group?: number[];
  /** The weight of each member of `group` (1..256: struct nexthop_grp's weight + 1, as `ip nexthop` prints it). */
  groupWeights?: number[];
  fdb: boolean;
}

/**
 * RTM_NEWRULE / RTM_DELRULE (fib_rule_hdr + FRA_*): a policy routing rule, as `ip rule` lists it.
 * Addresses are formatted; absent selectors are undefined.
 */
export interface RuleMessage extends MessageHeader {
  /** AF_INET or AF_INET6 (other families, such as the multicast routing rules, are the model's to drop). */
  family: number;
  dstLength: number;
  srcLength: number;
  tos: number;
  /** FRA_TABLE (u32) when present, else the header's 8-bit table. */
  table: number;
  /** FR_ACT_*: 1 lookup, 2 goto, 3 nop, 6 blackhole, 7 unreachable, 8 prohibit. */
  action: number;
  /** FIB_RULE_* (FIB_RULE_INVERT: `not`). */
  ruleFlags: number;
  /** FRA_PRIORITY, 0 when absent (the kernel omits it for priority 0). */
  priority: number;
  dst?: string;
  src?: string;
  iifName?: string;
  oifName?: string;
  fwmark?: number;
  fwmask?: number;
  /** FRA_GOTO: the priority a goto rule jumps to. */
  goto?: number;
  suppressPrefixLength?: number;
  l3mdev?: number;
  protocol?: number;
  ipProto?: number;
  /** FRA_SPORT_RANGE / FRA_DPORT_RANGE as [start, end]. */
  sportRange?: [number, number];
  dportRange?: [number, number];
}

/** RTM_NEWNEIGHTBL (ndtmsg + NDTA_*): a neighbour table's garbage-collection thresholds. */
export interface NeighbourTableMessage extends MessageHeader {
  family: number;
  /** "arp_cache", "ndisc_cache". */
  name?: string;
  /** gc_thresh3: the hard limit of the table's entries. */
  thresh3?: number;
  /** Entries in the table now (NDTA_CONFIG ndtc_entries): the table is shared by every namespace. */
  entries?: number;
}

/**
 * RTM_NEWNETCONF / RTM_DELNETCONF (netconfmsg + NETCONFA_*): one family's settings of one
 * interface, or of the namespace-wide entries. Each value is the kernel's s32; an attribute
 * the message lacks is undefined (a sysctl write announces only the value it changed).
 */
export interface NetconfMessage extends MessageHeader {
  /** AF_INET, AF_INET6 (AF_MPLS and others are the model's to drop). */
  family: number;
  /** NETCONFA_IFINDEX: an interface, NETCONFA_IFINDEX_ALL (-1) or NETCONFA_IFINDEX_DEFAULT (-2). */
  ifindex: number | undefined;
  forwarding: number | undefined;
  /** IPv4 only: 0 off, 1 strict, 2 loose. */
  rpFilter: number | undefined;
  mcForwarding: number | undefined;
  /** proxy_arp (IPv4) or proxy_ndp (IPv6). */
  proxyNeigh: number | undefined;
  ignoreRoutesWithLinkdown: number | undefined;
  /** MPLS only. */
  input: number | undefined;
  /** IPv4 bc_forwarding. */
  bcForwarding: number | undefined;
}

/** A message the codec does not decode further (unknown types). */
export interface OtherMessage extends MessageHeader {
  length: number;
}

/**
 * Receives the messages of a datagram in order. One bad message is reported
 * through decodeError and skipped; the rest of the datagram still parses.
 */
export interface MessageSink {
  link(message: LinkMessage): void;
  address(message: AddressMessage): void;
  route(message: RouteMessage): void;
  neighbour(message: NeighbourMessage): void;
  nexthop(message: NexthopMessage): void;
  rule(message: RuleMessage): void;
  /** Neighbour table parameters; sinks without it get them as `other`. */
  neighbourTable?(message: NeighbourTableMessage): void;
  /** Per-interface and per-family settings (forwarding, rp_filter, ...); sinks without it get them as `other`. */
  netconf?(message: NetconfMessage): void;
  /** NLMSG_DONE ending a dump (flags carry NLM_F_DUMP_INTR when the dump was interrupted). */
  done(header: MessageHeader): void;
  /** NLMSG_ERROR: errno is positive (0 = ACK). */
  error(header: MessageHeader, errno: number): void;
  other(message: OtherMessage): void;
  decodeError(error: Error): void;
}
