// Numbers from the kernel's uapi headers (linux/netlink.h, linux/rtnetlink.h,
// linux/if_link.h, linux/if_addr.h, linux/neighbour.h, linux/nexthop.h).
// Keyed by explicit number, never by position.

export const NLMSG_HDRLEN = 16;
export const NLMSG_ALIGNTO = 4;
export const NLA_HDRLEN = 4;
/** Attribute type bits that carry flags, not the type (NLA_F_NESTED, NLA_F_NET_BYTEORDER). */
export const NLA_TYPE_MASK = 0x3fff;

// nlmsg_type values below RTM_BASE are netlink control messages.
export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;

// nlmsg_flags
export const NLM_F_REQUEST = 0x01;
export const NLM_F_MULTI = 0x02;
export const NLM_F_ACK = 0x04;
export const NLM_F_ECHO = 0x08;
export const NLM_F_DUMP_INTR = 0x10;
export const NLM_F_DUMP_FILTERED = 0x20;
export const NLM_F_ROOT = 0x100;
export const NLM_F_MATCH = 0x200;
export const NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH;
// Flags of NEW requests, echoed on the notifications they cause.
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
export const NLM_F_APPEND = 0x800;

// rtnetlink message types
export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_NEWADDR = 20;
export const RTM_DELADDR = 21;
export const RTM_GETADDR = 22;
export const RTM_NEWROUTE = 24;
export const RTM_DELROUTE = 25;
export const RTM_GETROUTE = 26;
export const RTM_NEWNEIGH = 28;
export const RTM_DELNEIGH = 29;
export const RTM_GETNEIGH = 30;
export const RTM_NEWNEIGHTBL = 64;
export const RTM_GETNEIGHTBL = 66;
export const RTM_NEWRULE = 32;
export const RTM_DELRULE = 33;
export const RTM_GETRULE = 34;
export const RTM_NEWNEXTHOP = 104;
export const RTM_DELNEXTHOP = 105;
export const RTM_GETNEXTHOP = 106;
export const RTM_NEWNETCONF = 80;
export const RTM_DELNETCONF = 81;
export const RTM_GETNETCONF = 82;

/** The `type` label of netlink_messages_received_total. */
export const RTM_NAMES: Readonly<Record<number, string>> = {
  [RTM_NEWLINK]: 'RTM_NEWLINK',
  [RTM_DELLINK]: 'RTM_DELLINK',
  [RTM_NEWADDR]: 'RTM_NEWADDR',
  [RTM_DELADDR]: 'RTM_DELADDR',
  [RTM_NEWROUTE]: 'RTM_NEWROUTE',
  [RTM_DELROUTE]: 'RTM_DELROUTE',
  [RTM_NEWNEIGH]: 'RTM_NEWNEIGH',
  [RTM_DELNEIGH]: 'RTM_DELNEIGH',
  [RTM_NEWRULE]: 'RTM_NEWRULE',
  [RTM_DELRULE]: 'RTM_DELRULE',
  [RTM_NEWNEXTHOP]: 'RTM_NEWNEXTHOP',
  [RTM_DELNEXTHOP]: 'RTM_DELNEXTHOP',
  [RTM_NEWNETCONF]: 'RTM_NEWNETCONF',
  [RTM_DELNETCONF]: 'RTM_DELNETCONF',
};

// Multicast groups (enum rtnetlink_groups). Groups are not message types.
export const RTNLGRP_LINK = 1;
export const RTNLGRP_NEIGH = 3;
export const RTNLGRP_IPV4_IFADDR = 5;
export const RTNLGRP_IPV4_ROUTE = 7;
export const RTNLGRP_IPV4_RULE = 8;
export const RTNLGRP_IPV6_IFADDR = 9;
export const RTNLGRP_IPV6_ROUTE = 11;
export const RTNLGRP_IPV6_RULE = 19;
export const RTNLGRP_IPV4_NETCONF = 24;
export const RTNLGRP_IPV6_NETCONF = 25;
export const RTNLGRP_NEXTHOP = 32;

// Address families
export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_BRIDGE = 7;
export const AF_INET6 = 10;
export const AF_PACKET = 17;

// Link: ifinfomsg is 16 bytes: family u8, pad u8, type u16, index s32, flags u32, change u32.
export const IFINFOMSG_LEN = 16;
export const IFF_UP = 0x1;
export const IFF_BROADCAST = 0x2;
export const IFF_LOOPBACK = 0x8;
export const IFF_POINTOPOINT = 0x10;
export const IFF_RUNNING = 0x40;
export const IFF_NOARP = 0x80;
export const IFF_PROMISC = 0x100;
export const IFF_ALLMULTI = 0x200;
export const IFF_MULTICAST = 0x1000;
export const IFF_LOWER_UP = 0x10000;
export const IFF_DORMANT = 0x20000;

export const IFLA_ADDRESS = 1;
export const IFLA_BROADCAST = 2;
export const IFLA_IFNAME = 3;
/**
 * String bounds the kernel enforces (include/uapi/linux/if.h, the NLA_STRING .len of
 * ifla_policy in net/core/rtnetlink.c): the longest each string can be without its NUL. A
 * longer one did not come from the kernel: the codec refuses the message (a decode error).
 */
export const IFNAMSIZ = 16;
export const IFALIASZ = 256;
export const ALTIFNAMSIZ = 128;
export const MAX_IFNAME_BYTES = IFNAMSIZ - 1;
export const MAX_IFALIAS_BYTES = IFALIASZ - 1;
export const MAX_ALTIFNAME_BYTES = ALTIFNAMSIZ - 1;
/**
 * A link kind (IFLA_INFO_KIND, IFLA_INFO_SLAVE_KIND) is a driver's rtnl_link_ops name; the
 * kernel copies the one a request names into a MODULE_NAME_LEN buffer (64 - sizeof(long): 56
 * on 64-bit, 60 on 32-bit). 63 holds any of them on any architecture.
 */
export const MAX_LINK_KIND_BYTES = 63;
export const IFLA_MTU = 4;
export const IFLA_LINK = 5;
export const IFLA_MASTER = 10;
export const IFLA_OPERSTATE = 16;
export const IFLA_LINKMODE = 17;
export const IFLA_LINKINFO = 18;
export const IFLA_NET_NS_PID = 19;
export const IFLA_IFALIAS = 20;
export const IFLA_GROUP = 27;
export const IFLA_CARRIER = 33;
export const IFLA_CARRIER_CHANGES = 35;
export const IFLA_LINK_NETNSID = 37;
export const IFLA_PROTO_DOWN = 39;
export const IFLA_NEW_IFINDEX = 49;
export const IFLA_CARRIER_UP_COUNT = 47;
export const IFLA_CARRIER_DOWN_COUNT = 48;
export const IFLA_PROP_LIST = 52;
export const IFLA_ALT_IFNAME = 53;
export const IFLA_PERM_ADDRESS = 54;
export const IFLA_PARENT_DEV_NAME = 56;
/** Nested per-family protocol data; in AF_BRIDGE link messages the bridge port's IFLA_BRPORT_* (linux/if_link.h). */
export const IFLA_PROTINFO = 12;
/** IFLA_BRPORT_STATE (u8, linux/if_link.h): the port's STP state, BR_STATE_* (linux/if_bridge.h). */
export const IFLA_BRPORT_STATE = 1;
/** BR_STATE_* (linux/if_bridge.h) by value: DISABLED 0, LISTENING 1, LEARNING 2, FORWARDING 3, BLOCKING 4. */
export const BRIDGE_PORT_STATE_NAMES = ['disabled', 'listening', 'learning', 'forwarding', 'blocking'] as const;

export const IFLA_INFO_KIND = 1;
export const IFLA_INFO_DATA = 2;
export const IFLA_INFO_SLAVE_KIND = 4;
export const IFLA_INFO_SLAVE_DATA = 5;
// Bond and VRF attributes (IFLA_BOND_*, IFLA_BOND_AD_INFO_*, IFLA_BOND_SLAVE_*, IFLA_VRF_*) are
// in link-kind-data.ts, the one file that reads them.
/** IFLA_INFO_DATA of a vxlan (linux/if_link.h): its lower device (`dev`), u32 ifindex. */
export const IFLA_VXLAN_LINK = 3;

/** RFC 2863 operational states (IF_OPER_*), the values of IFLA_OPERSTATE. */
export const OPERSTATE_NAMES: readonly string[] = [
  'unknown',
  'notpresent',
  'down',
  'lowerlayerdown',
  'testing',
  'dormant',
  'up',
];
export const IF_OPER_UNKNOWN = 0;
export const IF_OPER_NOTPRESENT = 1;
export const IF_OPER_DOWN = 2;
export const IF_OPER_LOWERLAYERDOWN = 3;
export const IF_OPER_TESTING = 4;
export const IF_OPER_DORMANT = 5;
export const IF_OPER_UP = 6;

// Address: ifaddrmsg is 8 bytes: family u8, prefixlen u8, flags u8, scope u8, index u32.
export const IFADDRMSG_LEN = 8;
export const IFA_ADDRESS = 1;
export const IFA_LOCAL = 2;
export const IFA_LABEL = 3;
export const IFA_BROADCAST = 4;
export const IFA_ANYCAST = 5;
export const IFA_CACHEINFO = 6;
export const IFA_MULTICAST = 7;
export const IFA_FLAGS = 8;
export const IFA_RT_PRIORITY = 9;
export const IFA_TARGET_NETNSID = 10;
export const IFA_PROTO = 11;

export const IFA_F_SECONDARY = 0x01;
export const IFA_F_NODAD = 0x02;
export const IFA_F_OPTIMISTIC = 0x04;
export const IFA_F_DADFAILED = 0x08;
export const IFA_F_HOMEADDRESS = 0x10;
export const IFA_F_DEPRECATED = 0x20;
export const IFA_F_TENTATIVE = 0x40;
export const IFA_F_PERMANENT = 0x80;

// Route: rtmsg is 12 bytes: family, dst_len, src_len, tos, table, protocol, scope, type (u8 each), flags u32.
export const RTMSG_LEN = 12;
export const RTA_DST = 1;
export const RTA_SRC = 2;
export const RTA_IIF = 3;
export const RTA_OIF = 4;
export const RTA_GATEWAY = 5;
export const RTA_PRIORITY = 6;
export const RTA_PREFSRC = 7;
export const RTA_METRICS = 8;
/** Nested in RTA_METRICS (enum RTAX_*, linux/rtnetlink.h): the route's path MTU (u32). */
export const RTAX_MTU = 2;
export const RTA_MULTIPATH = 9;
export const RTA_FLOW = 11;
export const RTA_CACHEINFO = 12;
export const RTA_TABLE = 15;
export const RTA_MARK = 16;
export const RTA_PREF = 20;
export const RTA_ENCAP_TYPE = 21;
export const RTA_ENCAP = 22;
export const RTA_EXPIRES = 23;
export const RTA_VIA = 18;
export const RTA_NH_ID = 30;

/** rtnexthop is 8 bytes: len u16, flags u8, hops u8, ifindex s32, then attributes. */
export const RTNEXTHOP_LEN = 8;
/** rtnh_flags (linux/rtnetlink.h): the kernel marked the nexthop dead (its device down, or without IPv4 address). */
export const RTNH_F_DEAD = 1;

// rtm_scope (enum rt_scope_t, linux/rtnetlink.h).
export const RT_SCOPE_UNIVERSE = 0;
export const RT_SCOPE_SITE = 200;
export const RT_SCOPE_LINK = 253;
export const RT_SCOPE_HOST = 254;
export const RT_SCOPE_NOWHERE = 255;

export const RT_TABLE_UNSPEC = 0;
export const RT_TABLE_DEFAULT = 253;
export const RT_TABLE_MAIN = 254;
export const RT_TABLE_LOCAL = 255;

export const RTM_F_NOTIFY = 0x100;
export const RTM_F_CLONED = 0x200;
export const RTM_F_EQUALIZE = 0x400;
export const RTM_F_PREFIX = 0x800;

export const RTN_UNICAST = 1;
export const RTN_LOCAL = 2;
export const RTN_BROADCAST = 3;
export const RTN_ANYCAST = 4;
export const RTN_MULTICAST = 5;
export const RTN_BLACKHOLE = 6;
export const RTN_UNREACHABLE = 7;
export const RTN_PROHIBIT = 8;
/** Obsolete in the kernel (no fib type since 2.6), still a type `ip route add nat` may ask for. */
export const RTN_NAT = 10;

// rtm_protocol (RTPROT_*, linux/rtnetlink.h) that the code tests for by number.
export const RTPROT_KERNEL = 2;
export const RTPROT_STATIC = 4;
export const RTPROT_RA = 9;
export const RTPROT_BGP = 186;

/** RTPROT_* names from linux/rtnetlink.h, the `protocol` label. */
export const RTPROT_NAMES: Readonly<Record<number, string>> = {
  0: 'unspec',
  1: 'redirect',
  2: 'kernel',
  3: 'boot',
  4: 'static',
  8: 'gated',
  9: 'ra',
  10: 'mrt',
  11: 'zebra',
  12: 'bird',
  13: 'dnrouted',
  14: 'xorp',
  15: 'ntk',
  16: 'dhcp',
  17: 'mrouted',
  18: 'keepalived',
  42: 'babel',
  99: 'openr',
  186: 'bgp',
  187: 'isis',
  188: 'ospf',
  189: 'rip',
  192: 'eigrp',
};

// Neighbour: ndmsg is 12 bytes: family u8, pad u8, pad u16, ifindex s32, state u16, flags u8, type u8.
export const NDMSG_LEN = 12;
export const NDA_DST = 1;
export const NDA_LLADDR = 2;
export const NDA_CACHEINFO = 3;
export const NDA_PROBES = 4;
export const NDA_VLAN = 5;
export const NDA_MASTER = 9;

export const NUD_INCOMPLETE = 0x01;
export const NUD_REACHABLE = 0x02;
export const NUD_STALE = 0x04;
export const NUD_DELAY = 0x08;
export const NUD_PROBE = 0x10;
export const NUD_FAILED = 0x20;
export const NUD_NOARP = 0x40;
export const NUD_PERMANENT = 0x80;

// Neighbour tables (RTM_NEWNEIGHTBL): ndtmsg is 4 bytes: family u8, pad u8, pad u16.
export const NDTMSG_LEN = 4;
export const NDTA_NAME = 1;
export const NDTA_THRESH1 = 2;
export const NDTA_THRESH2 = 3;
export const NDTA_THRESH3 = 4;
/** struct ndt_config: key_len u16, entry_size u16, entries u32 (host-wide), ... */
export const NDTA_CONFIG = 5;

// Nexthop objects: nhmsg is 8 bytes: family u8, scope u8, protocol u8, resvd u8, flags u32.
export const NHMSG_LEN = 8;
export const NHA_ID = 1;
export const NHA_GROUP = 2;
export const NHA_GROUP_TYPE = 3;
export const NHA_BLACKHOLE = 4;
export const NHA_OIF = 5;
export const NHA_GATEWAY = 6;
export const NHA_ENCAP_TYPE = 7;
export const NHA_ENCAP = 8;
export const NHA_GROUPS = 9;
export const NHA_MASTER = 10;
export const NHA_FDB = 11;

// Errors in NLMSG_ERROR carry a negative errno.
export const ENOBUFS = 105;

// Policy routing rules (RTM_NEWRULE / RTM_DELRULE), include/uapi/linux/fib_rules.h:
// struct fib_rule_hdr is 12 bytes: family u8, dst_len u8, src_len u8, tos u8, table u8,
// res1 u8, res2 u8, action u8, flags u32.
export const FIB_RULE_HDR_LEN = 12;
export const FIB_RULE_INVERT = 0x2;
export const FRA_DST = 1;
export const FRA_SRC = 2;
export const FRA_IIFNAME = 3;
export const FRA_GOTO = 4;
export const FRA_PRIORITY = 6;
export const FRA_FWMARK = 10;
export const FRA_SUPPRESS_PREFIXLEN = 14;
export const FRA_TABLE = 15;
export const FRA_FWMASK = 16;
export const FRA_OIFNAME = 17;
export const FRA_L3MDEV = 19;
export const FRA_PROTOCOL = 21;
export const FRA_IP_PROTO = 22;
export const FRA_SPORT_RANGE = 23;
export const FRA_DPORT_RANGE = 24;
export const FR_ACT_TO_TBL = 1;
export const FR_ACT_GOTO = 2;
export const FR_ACT_NOP = 3;
export const FR_ACT_BLACKHOLE = 6;
export const FR_ACT_UNREACHABLE = 7;
export const FR_ACT_PROHIBIT = 8;

// Per-interface and per-family settings (RTM_NEWNETCONF / RTM_DELNETCONF), include/uapi/linux/netconf.h:
// struct netconfmsg is one byte, ncm_family; the attributes follow at the next 4-byte boundary.
export const NETCONFMSG_LEN = 1;
export const NETCONFA_IFINDEX = 1;
export const NETCONFA_FORWARDING = 2;
export const NETCONFA_RP_FILTER = 3;
export const NETCONFA_MC_FORWARDING = 4;
export const NETCONFA_PROXY_NEIGH = 5;
export const NETCONFA_IGNORE_ROUTES_WITH_LINKDOWN = 6;
export const NETCONFA_INPUT = 7;
export const NETCONFA_BC_FORWARDING = 8;
/** NETCONFA_IFINDEX of the namespace-wide entries: net.ipv4.conf.all and net.ipv4.conf.default. */
export const NETCONFA_IFINDEX_ALL = -1;
export const NETCONFA_IFINDEX_DEFAULT = -2;
