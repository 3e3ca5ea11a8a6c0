// The warm-up's synthetic kernel messages: links, addresses, routes, neighbours and nexthop
// objects laid out as the kernel lays out its notifications (the fixed header, then the
// attributes in the order rtnl_fill_ifinfo, inet_fill_ifaddr, rt_fill_info, neigh_fill_info and
// nh_fill_node write them, with the ones the codec skips as filler of about their real size).
// Built once, at start-up, by src/warmup/index.ts; nothing here is ever sent to a kernel.

import {
  AF_INET,
  AF_INET6,
  AF_UNSPEC,
  IFA_ADDRESS,
  IFA_CACHEINFO,
  IFA_FLAGS,
  IFA_F_PERMANENT,
  IFA_LABEL,
  IFA_LOCAL,
  IFF_LOWER_UP,
  IFF_RUNNING,
  IFF_UP,
  IFLA_ADDRESS,
  IFLA_BROADCAST,
  IFLA_CARRIER,
  IFLA_CARRIER_CHANGES,
  IFLA_CARRIER_DOWN_COUNT,
  IFLA_CARRIER_UP_COUNT,
  IFLA_GROUP,
  IFLA_IFNAME,
  IFLA_INFO_KIND,
  IFLA_LINK,
  IFLA_LINKINFO,
  IFLA_LINKMODE,
  IFLA_MASTER,
  IFLA_MTU,
  IFLA_OPERSTATE,
  IFLA_PROTO_DOWN,
  IF_OPER_UP,
  NDA_CACHEINFO,
  NDA_DST,
  NDA_LLADDR,
  NDA_PROBES,
  NHA_GATEWAY,
  NHA_GROUP,
  NHA_GROUP_TYPE,
  NHA_ID,
  NHA_OIF,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_HDRLEN,
  NLM_F_CREATE,
  NLM_F_EXCL,
  NLM_F_MULTI,
  NLM_F_REPLACE,
  NUD_REACHABLE,
  NUD_STALE,
  RTA_CACHEINFO,
  RTA_DST,
  RTA_GATEWAY,
  RTA_MULTIPATH,
  RTA_NH_ID,
  RTA_OIF,
  RTA_PREF,
  RTA_PREFSRC,
  RTA_PRIORITY,
  RTA_TABLE,
  RTM_DELADDR,
  RTM_DELLINK,
  RTM_DELNEIGH,
  RTM_DELNEXTHOP,
  RTM_DELROUTE,
  RTM_NEWADDR,
  RTM_NEWLINK,
  RTM_NEWNEIGH,
  RTM_NEWNEXTHOP,
  RTM_NEWROUTE,
  RTN_LOCAL,
  RTN_UNICAST,
  RT_TABLE_LOCAL,
  RT_TABLE_MAIN,
  IF_OPER_DOWN,
  IF_OPER_LOWERLAYERDOWN,
  RTPROT_BGP,
  RTPROT_KERNEL,
  RTPROT_STATIC,
  RT_SCOPE_HOST,
  RT_SCOPE_LINK,
  RT_SCOPE_UNIVERSE,
} from '../netlink/constants';
import { align4 } from '../netlink/attributes';

/** Attributes the codec skips (stats, queues, af_spec...): their type numbers and rough sizes. */
const LINK_FILLER_BEFORE_CARRIER: readonly [number, number][] = [
  [13, 4], // IFLA_TXQLEN
  [50, 4], // IFLA_MIN_MTU
  [51, 4], // IFLA_MAX_MTU
  [30, 4], // IFLA_PROMISCUITY
  [31, 4], // IFLA_NUM_TX_QUEUES
  [40, 4], // IFLA_GSO_MAX_SEGS
  [41, 4], // IFLA_GSO_MAX_SIZE
];
const LINK_FILLER_AFTER_ADDRESS: readonly [number, number][] = [
  [23, 200], // IFLA_STATS64
  [7, 96], // IFLA_STATS
  [43, 8], // IFLA_XDP
];

/** An attribute: type and payload bytes (nested attributes are built with `nest`). */
type Attr = [number, Uint8Array];

function u8(v: number): Uint8Array {
  return Uint8Array.of(v);
}

function u32(v: number): Uint8Array {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
}

function str(s: string): Uint8Array {
  return Buffer.from(`${s}\0`, 'utf8');
}

function nest(attrs: Attr[]): Uint8Array {
  return attributes(attrs);
}

function attributes(attrs: Attr[]): Buffer {
  const out = Buffer.alloc(attrs.reduce((n, [, p]) => n + align4(4 + p.length), 0));
  let pos = 0;
  for (const [type, payload] of attrs) {
    out.writeUInt16LE(4 + payload.length, pos);
    out.writeUInt16LE(type, pos + 2);
    out.set(payload, pos + 4);
    pos += align4(4 + payload.length);
  }
  return out;
}

/** One netlink message: nlmsghdr, fixed header, attributes. */
function message(type: number, flags: number, seq: number, pid: number, fixed: Buffer, attrs: Attr[]): Buffer {
  const body = Buffer.concat([fixed, attributes(attrs)]);
  const out = Buffer.alloc(align4(NLMSG_HDRLEN + body.length));
  out.writeUInt32LE(NLMSG_HDRLEN + body.length, 0);
  out.writeUInt16LE(type, 4);
  out.writeUInt16LE(flags, 6);
  out.writeUInt32LE(seq >>> 0, 8);
  out.writeUInt32LE(pid >>> 0, 12);
  body.copy(out, NLMSG_HDRLEN);
  return out;
}

/** Where a message goes: a notification (seq 0, from the kernel) or a reply to our request. */
export interface Origin {
  seq: number;
  pid: number;
  /** NLM_F_MULTI on dump replies. */
  flags: number;
}

export const NOTIFICATION: Origin = { seq: 0, pid: 0, flags: 0 };

export interface LinkSpec {
  ifindex: number;
  name: string;
  kind: string;
  up: boolean;
  carrier: boolean;
  carrierUps: number;
  carrierDowns: number;
  master?: number;
  /** The peer's ifindex (veth). */
  peer?: number;
}

export function linkMessage(type: number, l: LinkSpec, o: Origin = NOTIFICATION): Buffer {
  const fixed = Buffer.alloc(16);
  fixed[0] = AF_UNSPEC;
  fixed.writeUInt16LE(1, 2); // ARPHRD_ETHER
  fixed.writeInt32LE(l.ifindex, 4);
  const flags = (l.up ? IFF_UP : 0) | (l.up && l.carrier ? IFF_RUNNING | IFF_LOWER_UP : 0) | 0x1002; // BROADCAST|MULTICAST
  fixed.writeUInt32LE(flags, 8);
  fixed.writeUInt32LE(0, 12);
  const oper = !l.up ? IF_OPER_DOWN : l.carrier ? IF_OPER_UP : IF_OPER_LOWERLAYERDOWN;
  const mac = Uint8Array.of(0x02, 0, 0, (l.ifindex >> 16) & 255, (l.ifindex >> 8) & 255, l.ifindex & 255);
  const attrs: Attr[] = [
    [IFLA_IFNAME, str(l.name)],
    [IFLA_OPERSTATE, u8(oper)],
    [IFLA_LINKMODE, u8(0)],
    [IFLA_MTU, u32(1500)],
    [IFLA_GROUP, u32(0)],
    ...LINK_FILLER_BEFORE_CARRIER.map(([t, n]): Attr => [t, new Uint8Array(n)]),
    ...(l.master !== undefined ? [[IFLA_MASTER, u32(l.master)] as Attr] : []),
    [IFLA_CARRIER, u8(l.carrier ? 1 : 0)],
    [IFLA_CARRIER_CHANGES, u32(l.carrierUps + l.carrierDowns)],
    [IFLA_CARRIER_UP_COUNT, u32(l.carrierUps)],
    [IFLA_CARRIER_DOWN_COUNT, u32(l.carrierDowns)],
    [IFLA_PROTO_DOWN, u8(0)],
    [IFLA_ADDRESS, mac],
    [IFLA_BROADCAST, Uint8Array.of(255, 255, 255, 255, 255, 255)],
    ...LINK_FILLER_AFTER_ADDRESS.map(([t, n]): Attr => [t, new Uint8Array(n)]),
    [IFLA_LINKINFO, nest([[IFLA_INFO_KIND, str(l.kind)]])],
    ...(l.peer !== undefined ? [[IFLA_LINK, u32(l.peer)] as Attr] : []),
    [26, new Uint8Array(120)], // IFLA_AF_SPEC
  ];
  return message(type, o.flags, o.seq, o.pid, fixed, attrs);
}

export interface AddressSpec {
  family: number;
  ifindex: number;
  /** 4 or 16 bytes. */
  address: Uint8Array;
  prefixLength: number;
  label: string;
}

export function addressMessage(type: number, a: AddressSpec, o: Origin = NOTIFICATION): Buffer {
  const fixed = Buffer.alloc(8);
  fixed[0] = a.family;
  fixed[1] = a.prefixLength;
  fixed[2] = IFA_F_PERMANENT;
  fixed[3] = RT_SCOPE_UNIVERSE;
  fixed.writeUInt32LE(a.ifindex, 4);
  const cacheinfo = Buffer.alloc(16);
  cacheinfo.writeUInt32LE(0xffffffff, 0);
  cacheinfo.writeUInt32LE(0xffffffff, 4);
  const attrs: Attr[] =
    a.family === AF_INET
      ? [
          [IFA_ADDRESS, a.address],
          [IFA_LOCAL, a.address],
          [IFA_LABEL, str(a.label)],
          [IFA_FLAGS, u32(IFA_F_PERMANENT)],
          [IFA_CACHEINFO, cacheinfo],
        ]
      : [
          [IFA_ADDRESS, a.address],
          [IFA_CACHEINFO, cacheinfo],
          [IFA_FLAGS, u32(IFA_F_PERMANENT)],
        ];
  return message(type, o.flags, o.seq, o.pid, fixed, attrs);
}

export interface RouteSpec {
  family: number;
  table: number;
  protocol: number;
  routeType: number;
  scope: number;
  dst: Uint8Array;
  dstLength: number;
  oif?: number;
  gateway?: Uint8Array;
  prefsrc?: Uint8Array;
  priority?: number;
  nhId?: number;
  /** Multipath legs: [ifindex, gateway]. */
  multipath?: [number, Uint8Array][];
}

export function routeMessage(type: number, flags: number, r: RouteSpec, o: Origin = NOTIFICATION): Buffer {
  const fixed = Buffer.alloc(12);
  fixed[0] = r.family;
  fixed[1] = r.dstLength;
  fixed[4] = r.table > 255 ? 0 : r.table;
  fixed[5] = r.protocol;
  fixed[6] = r.scope;
  fixed[7] = r.routeType;
  const attrs: Attr[] = [[RTA_TABLE, u32(r.table)]];
  if (r.dstLength > 0) attrs.push([RTA_DST, r.dst]);
  if (r.priority !== undefined) attrs.push([RTA_PRIORITY, u32(r.priority)]);
  if (r.prefsrc) attrs.push([RTA_PREFSRC, r.prefsrc]);
  if (r.nhId !== undefined) attrs.push([RTA_NH_ID, u32(r.nhId)]);
  if (r.gateway) attrs.push([RTA_GATEWAY, r.gateway]);
  if (r.oif !== undefined) attrs.push([RTA_OIF, u32(r.oif)]);
  if (r.multipath) {
    const legs = r.multipath.map(([ifindex, gateway]) => {
      const inner = attributes([[RTA_GATEWAY, gateway]]);
      const leg = Buffer.alloc(8 + inner.length);
      leg.writeUInt16LE(leg.length, 0); // rtnh_len
      leg[2] = 0; // rtnh_flags
      leg[3] = 0; // rtnh_hops
      leg.writeInt32LE(ifindex, 4);
      inner.copy(leg, 8);
      return leg;
    });
    attrs.push([RTA_MULTIPATH, Buffer.concat(legs)]);
  }
  if (r.family === AF_INET6) {
    attrs.push([RTA_CACHEINFO, new Uint8Array(32)], [RTA_PREF, u8(0)]);
  }
  return message(type, o.flags | flags, o.seq, o.pid, fixed, attrs);
}

export function neighbourMessage(
  type: number,
  family: number,
  ifindex: number,
  dst: Uint8Array,
  lladdr: Uint8Array | undefined,
  o: Origin = NOTIFICATION,
): Buffer {
  const fixed = Buffer.alloc(12);
  fixed[0] = family;
  fixed.writeInt32LE(ifindex, 4);
  fixed.writeUInt16LE(lladdr ? NUD_REACHABLE : NUD_STALE, 8);
  fixed[11] = 1; // NDA_UNICAST... ndm_type RTN_UNICAST
  const attrs: Attr[] = [[NDA_DST, dst]];
  if (lladdr) attrs.push([NDA_LLADDR, lladdr]);
  attrs.push([NDA_PROBES, u32(0)], [NDA_CACHEINFO, new Uint8Array(16)]);
  return message(type, o.flags, o.seq, o.pid, fixed, attrs);
}

export function nexthopMessage(
  type: number,
  id: number,
  spec: { oif: number; gateway: Uint8Array } | { group: number[] },
  o: Origin = NOTIFICATION,
): Buffer {
  const fixed = Buffer.alloc(8);
  fixed[0] = 'group' in spec ? AF_UNSPEC : AF_INET;
  fixed[2] = RTPROT_STATIC;
  const attrs: Attr[] = [[NHA_ID, u32(id)]];
  if ('group' in spec) {
    const g = Buffer.alloc(8 * spec.group.length);
    spec.group.forEach((member, i) => g.writeUInt32LE(member, 8 * i));
    attrs.push([NHA_GROUP, g], [NHA_GROUP_TYPE, Uint8Array.of(0, 0)]);
  } else {
    attrs.push([NHA_OIF, u32(spec.oif)], [NHA_GATEWAY, spec.gateway]);
  }
  return message(type, o.flags | (type === RTM_NEWNEXTHOP ? NLM_F_CREATE | NLM_F_EXCL : 0), o.seq, o.pid, fixed, attrs);
}

/** NLMSG_DONE (status 0) ending a dump, or NLMSG_ERROR 0 (an ACK) for a request. */
export function doneMessage(seq: number, pid: number): Buffer {
  return message(NLMSG_DONE, NLM_F_MULTI, seq, pid, Buffer.alloc(4), []);
}

export function ackMessage(seq: number, pid: number): Buffer {
  return message(NLMSG_ERROR, 0, seq, pid, Buffer.alloc(20), []);
}

// ---- the scenario -----------------------------------------------------------------------------

/** The i-th address of 10.64.0.0/10 (IPv4) or fd00:64::/64 (IPv6), as bytes. */
export function ipv4(i: number): Uint8Array {
  return Uint8Array.of(10, 64 + ((i >> 16) & 63), (i >> 8) & 255, i & 255);
}

export function ipv6(i: number): Uint8Array {
  return Uint8Array.of(
    0xfd,
    0,
    0x64,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    (i >>> 24) & 255,
    (i >>> 16) & 255,
    (i >>> 8) & 255,
    i & 255,
  );
}

/** The devices of the warm-up's pretend namespace: lo is 1, then veth pairs and a bridge. */
export const LOOPBACK = 1;
export const BRIDGE = 2;
export const FIRST_VETH = 3;
export const VETH_PAIRS = 8;

export function initialLinks(): LinkSpec[] {
  const links: LinkSpec[] = [
    { ifindex: LOOPBACK, name: 'lo', kind: '', up: true, carrier: true, carrierUps: 0, carrierDowns: 0 },
    { ifindex: BRIDGE, name: 'br0', kind: 'bridge', up: true, carrier: true, carrierUps: 1, carrierDowns: 0 },
  ];
  for (let i = 0; i < VETH_PAIRS; i++) {
    const a = FIRST_VETH + 2 * i;
    links.push({
      ifindex: a,
      name: `wa${i}`,
      kind: 'veth',
      up: true,
      carrier: true,
      carrierUps: 1,
      carrierDowns: 0,
      peer: a + 1,
    });
    links.push({
      ifindex: a + 1,
      name: `wb${i}`,
      kind: 'veth',
      up: true,
      carrier: true,
      carrierUps: 1,
      carrierDowns: 0,
      peer: a,
      ...(i % 2 === 0 ? { master: BRIDGE } : {}),
    });
  }
  return links;
}

/** The local route the kernel adds (and removes) with an IPv4 address. */
export function localRoute(ifindex: number, address: Uint8Array): RouteSpec {
  return {
    family: AF_INET,
    table: RT_TABLE_LOCAL,
    protocol: RTPROT_KERNEL,
    routeType: RTN_LOCAL,
    scope: RT_SCOPE_HOST,
    dst: address,
    dstLength: 32,
    oif: ifindex,
    prefsrc: address,
  };
}

export function mainRoute4(i: number, oif: number, protocol = RTPROT_STATIC): RouteSpec {
  return {
    family: AF_INET,
    table: RT_TABLE_MAIN,
    protocol,
    routeType: RTN_UNICAST,
    scope: RT_SCOPE_LINK,
    dst: Uint8Array.of(10, 128 + ((i >> 16) & 63), (i >> 8) & 255, i & 255),
    dstLength: 32,
    oif,
  };
}

export function gatewayRoute4(i: number, oif: number, gateway: Uint8Array): RouteSpec {
  return {
    family: AF_INET,
    table: RT_TABLE_MAIN,
    protocol: RTPROT_BGP,
    routeType: RTN_UNICAST,
    scope: RT_SCOPE_UNIVERSE,
    dst: Uint8Array.of(172, 16 + ((i >> 16) & 15), (i >> 8) & 255, 0),
    dstLength: 24,
    gateway,
    oif,
    priority: 20,
  };
}

export function route6(i: number, oif: number): RouteSpec {
  // 2001:db8:I::/48
  const dst = Uint8Array.of(0x20, 0x01, 0x0d, 0xb8, (i >> 8) & 255, i & 255, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  return {
    family: AF_INET6,
    table: RT_TABLE_MAIN,
    protocol: RTPROT_STATIC,
    routeType: RTN_UNICAST,
    scope: RT_SCOPE_UNIVERSE,
    dst,
    dstLength: 48,
    oif,
    priority: 1024,
  };
}

/** Admin down-up cycles of every veth pair per round: enough calls for V8 to optimise link handling. */
const FLAP_CYCLES = 64;
const NEIGHBOURS = 32;
const ADDRESSES = 512;
const ROUTES = 4096;

function macOf(i: number): Uint8Array {
  return Uint8Array.of(0x02, 0x42, 0, 0, (i >> 8) & 255, i & 255);
}

function vethOf(i: number): number {
  return FIRST_VETH + 2 * (i % VETH_PAIRS);
}

/** Dump replies for one dump request: the pretend namespace as it is before any notification. */
export function dumpReplies(kind: string, seq: number, pid: number): Buffer[] {
  const o: Origin = { seq, pid, flags: NLM_F_MULTI };
  const out: Buffer[] = [];
  if (kind === 'link') for (const l of initialLinks()) out.push(linkMessage(RTM_NEWLINK, l, o));
  if (kind === 'address') {
    out.push(
      addressMessage(
        RTM_NEWADDR,
        { family: AF_INET, ifindex: LOOPBACK, address: Uint8Array.of(127, 0, 0, 1), prefixLength: 8, label: 'lo' },
        o,
      ),
    );
    for (let i = 0; i < VETH_PAIRS; i++)
      out.push(
        addressMessage(
          RTM_NEWADDR,
          { family: AF_INET, ifindex: vethOf(i), address: ipv4(60_000 + i), prefixLength: 24, label: `wa${i}` },
          o,
        ),
      );
  }
  if (kind === 'route') {
    out.push(routeMessage(RTM_NEWROUTE, 0, localRoute(LOOPBACK, Uint8Array.of(127, 0, 0, 1)), o));
    out.push(
      routeMessage(
        RTM_NEWROUTE,
        0,
        { ...gatewayRoute4(0, vethOf(0), ipv4(60_000)), dst: new Uint8Array(4), dstLength: 0 },
        o,
      ),
    );
    for (let i = 0; i < VETH_PAIRS; i++)
      out.push(routeMessage(RTM_NEWROUTE, 0, localRoute(vethOf(i), ipv4(60_000 + i)), o));
  }
  if (kind === 'neighbour') {
    for (let i = 0; i < 4; i++)
      out.push(neighbourMessage(RTM_NEWNEIGH, AF_INET, vethOf(i), ipv4(61_000 + i), macOf(i), o));
  }
  out.push(doneMessage(seq, pid));
  return out;
}

/**
 * One round of notifications, in the orders the kernel sends them: flaps, address bursts with
 * their local routes, route bursts (added, replaced, removed; IPv4 and IPv6; plain, with a
 * gateway, multipath, default), neighbours, nexthop objects and the routes that use them, and an
 * interface that comes and goes. Everything added is removed again: every round starts from the
 * dumped state.
 */
export function notificationRound(): Buffer[] {
  const out: Buffer[] = [];
  const links = initialLinks();
  // Admin toggles of each veth's near end: the far end loses carrier too.
  for (let cycle = 0; cycle < FLAP_CYCLES; cycle++) {
    for (let i = 0; i < VETH_PAIRS; i++) {
      const near = links[2 + 2 * i] as LinkSpec;
      const far = links[3 + 2 * i] as LinkSpec;
      near.up = false;
      near.carrier = false;
      near.carrierDowns++;
      far.carrier = false;
      far.carrierDowns++;
      out.push(linkMessage(RTM_NEWLINK, near), linkMessage(RTM_NEWLINK, far));
      near.up = true;
      near.carrier = true;
      near.carrierUps++;
      far.carrier = true;
      far.carrierUps++;
      out.push(linkMessage(RTM_NEWLINK, far), linkMessage(RTM_NEWLINK, near));
    }
  }
  // Address bursts: each IPv4 address brings its local route.
  for (const type of [RTM_NEWADDR, RTM_DELADDR]) {
    for (let i = 0; i < ADDRESSES; i++) {
      const ifindex = vethOf(i);
      const a = ipv4(i);
      out.push(
        addressMessage(type, { family: AF_INET, ifindex, address: a, prefixLength: 32, label: `wa${i % VETH_PAIRS}` }),
      );
      out.push(
        routeMessage(
          type === RTM_NEWADDR ? RTM_NEWROUTE : RTM_DELROUTE,
          type === RTM_NEWADDR ? NLM_F_CREATE | NLM_F_EXCL : 0,
          localRoute(ifindex, a),
        ),
      );
      if (i % 8 === 0)
        out.push(addressMessage(type, { family: AF_INET6, ifindex, address: ipv6(i), prefixLength: 64, label: '' }));
    }
  }
  // Route bursts.
  for (let i = 0; i < ROUTES; i++)
    out.push(routeMessage(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, mainRoute4(i, vethOf(i))));
  for (let i = 0; i < ROUTES; i += 4)
    out.push(routeMessage(RTM_NEWROUTE, NLM_F_REPLACE, mainRoute4(i, vethOf(i + 1), RTPROT_BGP)));
  for (let i = 0; i < ROUTES / 8; i++) {
    out.push(
      routeMessage(
        RTM_NEWROUTE,
        NLM_F_CREATE | NLM_F_EXCL,
        gatewayRoute4(i, vethOf(i), ipv4(60_000 + (i % VETH_PAIRS))),
      ),
    );
    out.push(routeMessage(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, route6(i, vethOf(i))));
  }
  const multipath: RouteSpec = {
    ...gatewayRoute4(4000, 0, ipv4(0)),
    oif: undefined,
    gateway: undefined,
    multipath: [
      [vethOf(0), ipv4(60_000)],
      [vethOf(1), ipv4(60_001)],
    ],
  };
  const defaultRoute: RouteSpec = {
    ...gatewayRoute4(0, vethOf(1), ipv4(60_001)),
    dst: new Uint8Array(4),
    dstLength: 0,
  };
  out.push(
    routeMessage(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, multipath),
    routeMessage(RTM_NEWROUTE, NLM_F_REPLACE, defaultRoute),
  );
  out.push(routeMessage(RTM_DELROUTE, 0, multipath));
  for (let i = 0; i < ROUTES; i++)
    out.push(
      routeMessage(RTM_DELROUTE, 0, i % 4 === 0 ? mainRoute4(i, vethOf(i + 1), RTPROT_BGP) : mainRoute4(i, vethOf(i))),
    );
  for (let i = 0; i < ROUTES / 8; i++) {
    out.push(routeMessage(RTM_DELROUTE, 0, gatewayRoute4(i, vethOf(i), ipv4(60_000 + (i % VETH_PAIRS)))));
    out.push(routeMessage(RTM_DELROUTE, 0, route6(i, vethOf(i))));
  }
  // Neighbours: added, a new MAC, removed.
  for (let i = 0; i < NEIGHBOURS; i++)
    out.push(neighbourMessage(RTM_NEWNEIGH, AF_INET, vethOf(i), ipv4(62_000 + i), macOf(i)));
  for (let i = 0; i < NEIGHBOURS; i++)
    out.push(neighbourMessage(RTM_NEWNEIGH, AF_INET, vethOf(i), ipv4(62_000 + i), macOf(i + 1000)));
  for (let i = 0; i < NEIGHBOURS; i++)
    out.push(neighbourMessage(RTM_DELNEIGH, AF_INET, vethOf(i), ipv4(62_000 + i), macOf(i + 1000)));
  out.push(neighbourMessage(RTM_NEWNEIGH, AF_INET6, vethOf(0), ipv6(9), undefined));
  out.push(neighbourMessage(RTM_DELNEIGH, AF_INET6, vethOf(0), ipv6(9), undefined));
  // Nexthop objects, a group, routes over them; deleting the objects drops the routes silently.
  out.push(
    nexthopMessage(RTM_NEWNEXTHOP, 1, { oif: vethOf(0), gateway: ipv4(60_000) }),
    nexthopMessage(RTM_NEWNEXTHOP, 2, { oif: vethOf(1), gateway: ipv4(60_001) }),
  );
  out.push(nexthopMessage(RTM_NEWNEXTHOP, 3, { group: [1, 2] }));
  for (let i = 0; i < 64; i++)
    out.push(
      routeMessage(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, {
        ...gatewayRoute4(5000 + i, 0, ipv4(0)),
        oif: undefined,
        gateway: undefined,
        nhId: 3,
      }),
    );
  out.push(
    nexthopMessage(RTM_DELNEXTHOP, 3, { group: [1, 2] }),
    nexthopMessage(RTM_DELNEXTHOP, 1, { oif: vethOf(0), gateway: ipv4(60_000) }),
    nexthopMessage(RTM_DELNEXTHOP, 2, { oif: vethOf(1), gateway: ipv4(60_001) }),
  );
  // An interface that comes and goes, with a route on it that goes silently.
  const extra: LinkSpec = {
    ifindex: 100,
    name: 'wx0',
    kind: 'veth',
    up: true,
    carrier: true,
    carrierUps: 1,
    carrierDowns: 0,
    peer: 101,
  };
  out.push(
    linkMessage(RTM_NEWLINK, extra),
    routeMessage(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, mainRoute4(9000, 100)),
    linkMessage(RTM_DELLINK, extra),
  );
  return out;
}
