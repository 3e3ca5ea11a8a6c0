// Request builders: dumps for start-up and resync; route, address and link requests for the
// benchmark and the tests' bursts. Every message is padded to 4 bytes, so Buffer.concat of many is a valid
// multi-message request (one send, one datagram).

import {
  AF_BRIDGE,
  AF_INET,
  AF_INET6,
  AF_UNSPEC,
  FIB_RULE_HDR_LEN,
  IFA_ADDRESS,
  IFA_FLAGS,
  IFA_F_NODAD,
  IFA_LOCAL,
  IFADDRMSG_LEN,
  IFF_UP,
  IFINFOMSG_LEN,
  NDMSG_LEN,
  NHMSG_LEN,
  NLA_HDRLEN,
  NLMSG_HDRLEN,
  NLM_F_CREATE,
  NLM_F_DUMP,
  NLM_F_EXCL,
  NLM_F_REQUEST,
  RTA_DST,
  RTA_GATEWAY,
  RTA_NH_ID,
  RTA_OIF,
  RTA_PRIORITY,
  RTA_TABLE,
  RTMSG_LEN,
  RTM_DELROUTE,
  RTM_GETADDR,
  RTM_GETLINK,
  NLM_F_ACK,
  RTM_GETNEIGH,
  RTM_GETRULE,
  RTM_GETNETCONF,
  NETCONFMSG_LEN,
  RTM_GETNEIGHTBL,
  RTM_GETNEXTHOP,
  NDTMSG_LEN,
  RTM_GETROUTE,
  RTM_NEWADDR,
  RTM_NEWLINK,
  RTN_UNICAST,
  RT_TABLE_UNSPEC,
  RT_SCOPE_LINK,
  RT_SCOPE_NOWHERE,
  RT_SCOPE_UNIVERSE,
} from './constants';
import { align4 } from './attributes';

/** nlmsghdr + payload (padded to 4). nlmsg_pid is 0: the kernel fills in our port id. */
export function buildMessage(type: number, flags: number, seq: number, payload: Buffer): Buffer {
  const len = NLMSG_HDRLEN + payload.length;
  const out = Buffer.alloc(align4(len));
  out.writeUInt32LE(len, 0);
  out.writeUInt16LE(type, 4);
  out.writeUInt16LE(flags, 6);
  out.writeUInt32LE(seq >>> 0, 8);
  out.writeUInt32LE(0, 12);
  payload.copy(out, NLMSG_HDRLEN);
  return out;
}

export type DumpKind =
  'link' | 'bridgePort' | 'address' | 'route' | 'rule' | 'netconf' | 'neighbour' | 'nexthop' | 'neighbourTable';

/**
 * GET type and fixed-header size per dump kind, and the family a kind always asks for. The family
 * is the first byte of each header.
 */
const DUMPS: Readonly<Record<DumpKind, { type: number; headerLength: number; family?: number }>> = {
  link: { type: RTM_GETLINK, headerLength: IFINFOMSG_LEN },
  // AF_BRIDGE: the bridge's rtnl_bridge_getlink, one AF_BRIDGE link message per bridge port
  // (IFLA_MASTER the bridge, IFLA_PROTINFO its IFLA_BRPORT_*); nothing for other links.
  bridgePort: { type: RTM_GETLINK, headerLength: IFINFOMSG_LEN, family: AF_BRIDGE },
  address: { type: RTM_GETADDR, headerLength: IFADDRMSG_LEN },
  route: { type: RTM_GETROUTE, headerLength: RTMSG_LEN },
  neighbour: { type: RTM_GETNEIGH, headerLength: NDMSG_LEN },
  nexthop: { type: RTM_GETNEXTHOP, headerLength: NHMSG_LEN },
  // AF_UNSPEC: every family's rules in one dump (the multicast routing families' too: the model drops them).
  rule: { type: RTM_GETRULE, headerLength: FIB_RULE_HDR_LEN },
  neighbourTable: { type: RTM_GETNEIGHTBL, headerLength: NDTMSG_LEN },
  // AF_UNSPEC: the netconf entries of every family that has them (inet, inet6, and mpls when loaded).
  netconf: { type: RTM_GETNETCONF, headerLength: NETCONFMSG_LEN },
};

/**
 * A dump request (NLM_F_REQUEST | NLM_F_DUMP) with the kind's full fixed header, zeroed
 * but for the family: the kernel's strict dump checking rejects short headers and
 * non-zero fields it cannot filter on.
 * Note: a route dump with AF_UNSPEC also returns the multicast (RTNL_FAMILY_IPMR = 128,
 * IP6MR = 129) and MPLS tables when those are in use; ask per family to get only IP routes.
 */
export function dumpRequest(kind: DumpKind, seq: number, family: number = AF_UNSPEC): Buffer {
  const d = DUMPS[kind];
  const payload = Buffer.alloc(d.headerLength);
  payload[0] = d.family ?? family;
  return buildMessage(d.type, NLM_F_REQUEST | NLM_F_DUMP, seq, payload);
}

export interface RouteRequestOptions {
  /** RTM_NEWROUTE or RTM_DELROUTE. */
  type: number;
  /** NLM_F_* (NLM_F_CREATE | NLM_F_EXCL, NLM_F_REPLACE, NLM_F_ACK, ...). NLM_F_REQUEST is always added. */
  flags: number;
  seq: number;
  family: number;
  /** The destination address bytes (4 or 16); omitted for a default route. */
  dst?: Uint8Array;
  dstLength: number;
  /** Any table number; above 255 it travels only in RTA_TABLE (rtm_table is then 0). */
  table: number;
  protocol: number;
  oif?: number;
  gateway?: Uint8Array;
  nhId?: number;
  priority?: number;
  /** rtm_type; default RTN_UNICAST on add, 0 (any) on delete, as iproute2 does. */
  routeType?: number;
  /**
   * rtm_scope; default as iproute2: RT_SCOPE_NOWHERE (any) on delete, RT_SCOPE_LINK for an
   * add without gateway or nexthop object, else RT_SCOPE_UNIVERSE.
   */
  scope?: number;
}

/** Writes one attribute at `pos`, returns the next aligned position. */
function putAttribute(out: Buffer, pos: number, type: number, payload: Uint8Array): number {
  out.writeUInt16LE(NLA_HDRLEN + payload.length, pos);
  out.writeUInt16LE(type, pos + 2);
  out.set(payload, pos + NLA_HDRLEN);
  return pos + align4(NLA_HDRLEN + payload.length);
}

function putU32(out: Buffer, pos: number, type: number, value: number): number {
  out.writeUInt16LE(NLA_HDRLEN + 4, pos);
  out.writeUInt16LE(type, pos + 2);
  out.writeUInt32LE(value >>> 0, pos + NLA_HDRLEN);
  return pos + NLA_HDRLEN + 4;
}

/** One route add or delete request (nlmsghdr + rtmsg + attributes). */
export function routeRequest(o: RouteRequestOptions): Buffer {
  const isDelete = o.type === RTM_DELROUTE;
  const attrLen =
    (o.dst ? align4(NLA_HDRLEN + o.dst.length) : 0) +
    (NLA_HDRLEN + 4) + // RTA_TABLE
    (o.oif !== undefined ? NLA_HDRLEN + 4 : 0) +
    (o.gateway ? align4(NLA_HDRLEN + o.gateway.length) : 0) +
    (o.nhId !== undefined ? NLA_HDRLEN + 4 : 0) +
    (o.priority !== undefined ? NLA_HDRLEN + 4 : 0);
  const payload = Buffer.alloc(RTMSG_LEN + attrLen);
  const defaultScope = isDelete
    ? RT_SCOPE_NOWHERE
    : o.gateway || o.nhId !== undefined
      ? RT_SCOPE_UNIVERSE
      : RT_SCOPE_LINK;
  payload[0] = o.family;
  payload[1] = o.dstLength;
  payload[2] = 0; // src_len
  payload[3] = 0; // tos
  payload[4] = o.table > 255 ? RT_TABLE_UNSPEC : o.table;
  payload[5] = o.protocol;
  payload[6] = o.scope ?? defaultScope;
  payload[7] = o.routeType ?? (isDelete ? 0 : RTN_UNICAST);
  payload.writeUInt32LE(0, 8); // rtm_flags
  let pos = RTMSG_LEN;
  if (o.dst) pos = putAttribute(payload, pos, RTA_DST, o.dst);
  pos = putU32(payload, pos, RTA_TABLE, o.table);
  if (o.oif !== undefined) pos = putU32(payload, pos, RTA_OIF, o.oif);
  if (o.gateway) pos = putAttribute(payload, pos, RTA_GATEWAY, o.gateway);
  if (o.nhId !== undefined) pos = putU32(payload, pos, RTA_NH_ID, o.nhId);
  if (o.priority !== undefined) putU32(payload, pos, RTA_PRIORITY, o.priority);
  return buildMessage(o.type, o.flags | NLM_F_REQUEST, o.seq, payload);
}

export interface AddressRequestOptions {
  /** RTM_NEWADDR or RTM_DELADDR. */
  type: number;
  seq: number;
  family: number;
  ifindex: number;
  /** 4 or 16 bytes. */
  address: Uint8Array;
  prefixLength: number;
  /** IFA_F_* (default: IFA_F_NODAD for IPv6, so a test address is not tentative); sent in ifa_flags and IFA_FLAGS. */
  addressFlags?: number;
  /** RT_SCOPE_*; default 0 (universe). */
  scope?: number;
}

/**
 * One address add (NLM_F_CREATE | NLM_F_EXCL) or delete, as `ip addr` sends it: IFA_LOCAL and
 * IFA_ADDRESS for IPv4, IFA_ADDRESS for IPv6, IFA_FLAGS on an add with flags.
 */
export function addressRequest(o: AddressRequestOptions): Buffer {
  const flags = o.addressFlags ?? (o.family === AF_INET6 ? IFA_F_NODAD : 0);
  const isNew = o.type === RTM_NEWADDR;
  const attrs =
    (o.family === AF_INET ? 2 : 1) * align4(NLA_HDRLEN + o.address.length) +
    (isNew && flags !== 0 ? NLA_HDRLEN + 4 : 0);
  const payload = Buffer.alloc(IFADDRMSG_LEN + attrs);
  payload[0] = o.family;
  payload[1] = o.prefixLength;
  payload[2] = flags & 0xff;
  payload[3] = o.scope ?? 0;
  payload.writeUInt32LE(o.ifindex, 4);
  let pos = IFADDRMSG_LEN;
  if (o.family === AF_INET) pos = putAttribute(payload, pos, IFA_LOCAL, o.address);
  pos = putAttribute(payload, pos, IFA_ADDRESS, o.address);
  if (isNew && flags !== 0) putU32(payload, pos, IFA_FLAGS, flags);
  return buildMessage(o.type, NLM_F_REQUEST | (isNew ? NLM_F_CREATE | NLM_F_EXCL : 0), o.seq, payload);
}

/**
 * RTM_GETLINK for one ifindex, with an ACK: the kernel answers it under RTNL, so after any
 * change it was in the middle of (a deletion's RTM_DELLINK) was sent. The answer is the link
 * and an ACK, or ENODEV.
 */
export function linkGetRequest(seq: number, ifindex: number): Buffer {
  const payload = Buffer.alloc(IFINFOMSG_LEN);
  payload.writeInt32LE(ifindex, 4);
  return buildMessage(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, seq, payload);
}

/** RTM_NEWLINK that only sets (up) or clears IFF_UP (ifi_change = IFF_UP): `ip link set X up|down`. */
export function linkAdminRequest(seq: number, ifindex: number, up: boolean): Buffer {
  const payload = Buffer.alloc(IFINFOMSG_LEN);
  payload.writeInt32LE(ifindex, 4);
  payload.writeUInt32LE(up ? IFF_UP : 0, 8);
  payload.writeUInt32LE(IFF_UP, 12);
  return buildMessage(RTM_NEWLINK, NLM_F_REQUEST, seq, payload);
}
