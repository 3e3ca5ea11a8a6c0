// RTM_NEWROUTE / RTM_DELROUTE: struct rtmsg + RTA_* attributes.
//
// decodeRoute is the hot path (a full-table burst is hundreds of thousands of routes a
// second): it fills numbers and offsets only. No strings, no arrays, no closures, one
// object per route. It still validates everything the helpers below will read later
// (address lengths, the rtnexthop run of RTA_MULTIPATH and its nested attributes), so a
// helper never throws on a message the decoder accepted.
//
// The *Offset fields point at attribute payloads inside `buf`. The attribute's own
// header sits just before its payload (nla_len at offset - 4, nla_type at offset - 2):
// the helpers read it to learn the payload length, and whether the gateway came from
// RTA_GATEWAY or RTA_VIA (struct rtvia: family u16, then the address).

import {
  AF_INET,
  AF_INET6,
  NLA_HDRLEN,
  NLA_TYPE_MASK,
  RTA_DST,
  RTA_GATEWAY,
  RTA_METRICS,
  RTA_MULTIPATH,
  RTA_NH_ID,
  RTA_OIF,
  RTA_PREFSRC,
  RTA_PRIORITY,
  RTA_SRC,
  RTA_TABLE,
  RTA_VIA,
  RTAX_MTU,
  RTMSG_LEN,
} from './constants';
import { AttributeCursor, attrU32, requireLength, u32le } from './attributes';
import { NetlinkDecodeError } from './errors';
import { formatIPv4, formatIPv6, formatMac } from './format';
import { NEXTHOPS_END, NEXTHOPS_TRUNCATED, NexthopCursor } from './nexthops';
import type { MessageHeader, RouteMessage, RouteNexthop } from './types';

/** Reused by every decodeRoute call: the walk is synchronous and never re-entered. */
const routeCursor = new AttributeCursor();
/** For the rtnexthop records of RTA_MULTIPATH and their nested attributes (validation and routeNexthops). */
const nexthopCursor = new NexthopCursor();

/** struct rtvia: family u16 then the address. */
const RTVIA_HDRLEN = 2;

function addressLength(family: number): number {
  return family === AF_INET ? 4 : family === AF_INET6 ? 16 : 0;
}

/** An address attribute of an IP family must hold the whole address. */
function checkAddress(offset: number, length: number, family: number): void {
  const need = addressLength(family);
  if (length < need) {
    throw new NetlinkDecodeError(
      'address attribute too short',
      offset,
      `${length} bytes, family ${family} needs ${need}`,
    );
  }
}

/** RTA_VIA: the family, then an address of that family. */
function checkVia(buf: Buffer, offset: number, length: number): void {
  requireLength(offset, length, RTVIA_HDRLEN);
  checkAddress(offset + RTVIA_HDRLEN, length - RTVIA_HDRLEN, buf.readUInt16LE(offset));
}

/**
 * Walks the run of struct rtnexthop (len u16, flags u8, hops u8, ifindex s32, then
 * attributes) in an RTA_MULTIPATH payload, checking every length against its parent.
 */
function checkMultipath(buf: Buffer, offset: number, length: number, family: number): void {
  const nh = nexthopCursor.reset(buf, offset, length);
  while (nh.next()) {
    const it = nh.attributes();
    while (it.next()) {
      if (it.type === RTA_GATEWAY) checkAddress(it.offset, it.length, family);
      else if (it.type === RTA_VIA) checkVia(buf, it.offset, it.length);
    }
  }
  if (nh.stop !== NEXTHOPS_END)
    throw new NetlinkDecodeError(
      nh.stop === NEXTHOPS_TRUNCATED ? 'rtnexthop truncated' : 'bad rtnexthop length',
      nh.offset,
    );
}

/** For RTA_METRICS' nested attributes (validation and routeMtu). */
const metricsCursor = new AttributeCursor();

/** RTA_METRICS: nested RTAX_* attributes, each of a valid length; RTAX_MTU a u32. */
function checkMetrics(buf: Buffer, offset: number, length: number): void {
  const it = metricsCursor.reset(buf, offset, offset + length);
  while (it.next()) if (it.type === RTAX_MTU) attrU32(buf, it.offset, it.length);
}

/**
 * Decodes the payload of a route message ([offset, offset + length) after the nlmsghdr).
 * rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type (u8 each), flags u32.
 */
export function decodeRoute(buf: Buffer, offset: number, length: number, header: MessageHeader): RouteMessage {
  if (length < RTMSG_LEN) {
    throw new NetlinkDecodeError('rtmsg truncated', offset, `payload ${length} bytes, need ${RTMSG_LEN}`);
  }
  const family = buf[offset]!;
  let table = buf[offset + 4]!;
  let oif = 0;
  let priority = 0;
  let nhId = 0;
  let dstOffset = -1;
  let srcOffset = -1;
  let gatewayOffset = -1;
  let prefsrcOffset = -1;
  let multipathOffset = -1;
  let multipathLength = 0;
  let metricsOffset = -1;
  let metricsLength = 0;
  const it = routeCursor.reset(buf, offset + RTMSG_LEN, offset + length);
  while (it.next()) {
    switch (it.type) {
      case RTA_DST:
        checkAddress(it.offset, it.length, family);
        dstOffset = it.offset;
        break;
      case RTA_SRC:
        checkAddress(it.offset, it.length, family);
        srcOffset = it.offset;
        break;
      case RTA_GATEWAY:
        checkAddress(it.offset, it.length, family);
        gatewayOffset = it.offset;
        break;
      case RTA_VIA:
        // IPv4 routes via an IPv6 nexthop (RFC 5549): the gateway of another family.
        checkVia(buf, it.offset, it.length);
        gatewayOffset = it.offset;
        break;
      case RTA_PREFSRC:
        checkAddress(it.offset, it.length, family);
        prefsrcOffset = it.offset;
        break;
      case RTA_OIF:
        oif = attrU32(buf, it.offset, it.length);
        break;
      case RTA_PRIORITY:
        priority = attrU32(buf, it.offset, it.length);
        break;
      case RTA_TABLE:
        // rtm_table is a u8: tables above 255 exist only here (rtm_table is then RT_TABLE_UNSPEC).
        table = attrU32(buf, it.offset, it.length);
        break;
      case RTA_NH_ID:
        nhId = attrU32(buf, it.offset, it.length);
        break;
      case RTA_MULTIPATH:
        checkMultipath(buf, it.offset, it.length, family);
        multipathOffset = it.offset;
        multipathLength = it.length;
        break;
      case RTA_METRICS:
        checkMetrics(buf, it.offset, it.length);
        metricsOffset = it.offset;
        metricsLength = it.length;
        break;
      default:
        break;
    }
  }
  // One literal, always the same property order: every RouteMessage has one hidden class.
  return {
    type: header.type,
    flags: header.flags,
    seq: header.seq,
    pid: header.pid,
    family,
    dstLength: buf[offset + 1]!,
    srcLength: buf[offset + 2]!,
    tos: buf[offset + 3]!,
    table,
    protocol: buf[offset + 5]!,
    scope: buf[offset + 6]!,
    routeType: buf[offset + 7]!,
    routeFlags: u32le(buf, offset + 8),
    oif,
    priority,
    nhId,
    buf,
    dstOffset,
    srcOffset,
    gatewayOffset,
    prefsrcOffset,
    multipathOffset,
    multipathLength,
    metricsOffset,
    metricsLength,
  };
}

// ---- Helpers: not on the hot path; they build strings and arrays. ----

/** Payload length of the attribute whose payload starts at `offset`. */
function payloadLength(buf: Buffer, offset: number): number {
  return buf.readUInt16LE(offset - NLA_HDRLEN) - NLA_HDRLEN;
}

/** Formats an address of `family`; non-IP families (MPLS labels, ...) as colon hex. */
function formatAddress(family: number, buf: Buffer, offset: number, length: number): string {
  if (family === AF_INET) return formatIPv4(buf, offset);
  if (family === AF_INET6) return formatIPv6(buf, offset);
  return formatMac(buf, offset, length);
}

/** A gateway payload: RTA_GATEWAY (an address of the route's family) or RTA_VIA. */
function formatGateway(buf: Buffer, offset: number, routeFamily: number): string {
  const length = payloadLength(buf, offset);
  if ((buf.readUInt16LE(offset - 2) & NLA_TYPE_MASK) === RTA_VIA) {
    return formatAddress(buf.readUInt16LE(offset), buf, offset + RTVIA_HDRLEN, length - RTVIA_HDRLEN);
  }
  return formatAddress(routeFamily, buf, offset, length);
}

function prefix(m: RouteMessage, offset: number, prefixLength: number): string {
  if (offset < 0) return `0/${prefixLength}`; // as iproute2 prints a prefix without its attribute
  return `${formatAddress(m.family, m.buf, offset, payloadLength(m.buf, offset))}/${prefixLength}`;
}

/** "default" when dst_len is 0, else "address/length" (also for host routes: "10.0.0.1/32"). */
export function routeDestination(m: RouteMessage): string {
  if (m.dstLength === 0) return 'default';
  return prefix(m, m.dstOffset, m.dstLength);
}

/** The source prefix of a source-specific (IPv6 `from`) route, undefined when none. */
export function routeSource(m: RouteMessage): string | undefined {
  if (m.srcLength === 0 && m.srcOffset < 0) return undefined;
  return prefix(m, m.srcOffset, m.srcLength);
}

/** RTA_GATEWAY, or the address of RTA_VIA; undefined when the route has neither. */
export function routeGateway(m: RouteMessage): string | undefined {
  return m.gatewayOffset < 0 ? undefined : formatGateway(m.buf, m.gatewayOffset, m.family);
}

/** RTA_PREFSRC (`src` in `ip route`), undefined when absent. */
export function routePrefsrc(m: RouteMessage): string | undefined {
  return m.prefsrcOffset < 0
    ? undefined
    : formatAddress(m.family, m.buf, m.prefsrcOffset, payloadLength(m.buf, m.prefsrcOffset));
}

/** RTA_METRICS -> RTAX_MTU (`mtu` in `ip route`), undefined when not set. */
export function routeMtu(m: RouteMessage): number | undefined {
  if (m.metricsOffset < 0) return undefined;
  // decodeRoute checked the nested attributes: no read here throws.
  const it = metricsCursor.reset(m.buf, m.metricsOffset, m.metricsOffset + m.metricsLength);
  let mtu: number | undefined;
  while (it.next()) if (it.type === RTAX_MTU) mtu = attrU32(m.buf, it.offset, it.length);
  return mtu;
}

/**
 * The nexthops of a route: each rtnexthop of RTA_MULTIPATH (with its nested gateway),
 * else one built from RTA_OIF / RTA_GATEWAY, else none (blackhole, unreachable, or a
 * route that uses a nexthop object: see m.nhId).
 */
export function routeNexthops(m: RouteMessage): RouteNexthop[] {
  const out: RouteNexthop[] = [];
  const buf = m.buf;
  if (m.multipathOffset >= 0) {
    // decodeRoute checked the whole run: the cursor stops only at its end.
    const cursor = nexthopCursor.reset(buf, m.multipathOffset, m.multipathLength);
    while (cursor.next()) {
      const nh: RouteNexthop = { ifindex: cursor.ifindex, flags: cursor.flags, weight: cursor.hops + 1 };
      const it = cursor.attributes();
      while (it.next()) {
        if (it.type === RTA_GATEWAY || it.type === RTA_VIA) nh.gateway = formatGateway(buf, it.offset, m.family);
      }
      out.push(nh);
    }
    return out;
  }
  if (m.oif !== 0 || m.gatewayOffset >= 0) {
    // A single-path route keeps its RTNH_F_* flags (dead, linkdown, ...) in rtm_flags' low byte.
    const nh: RouteNexthop = { ifindex: m.oif, flags: m.routeFlags & 0xff, weight: 1 };
    if (m.gatewayOffset >= 0) nh.gateway = formatGateway(buf, m.gatewayOffset, m.family);
    out.push(nh);
  }
  return out;
}

/** A plain, JSON-ready view of a route with formatted addresses (tests, fixtures, events). */
export interface RouteJSON {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  family: number;
  dstLength: number;
  srcLength: number;
  tos: number;
  table: number;
  protocol: number;
  scope: number;
  routeType: number;
  routeFlags: number;
  oif: number;
  priority: number;
  nhId: number;
  destination: string;
  source?: string;
  gateway?: string;
  prefsrc?: string;
  nexthops: RouteNexthop[];
}

export function routeToJSON(m: RouteMessage): RouteJSON {
  const out: RouteJSON = {
    type: m.type,
    flags: m.flags,
    seq: m.seq,
    pid: m.pid,
    family: m.family,
    dstLength: m.dstLength,
    srcLength: m.srcLength,
    tos: m.tos,
    table: m.table,
    protocol: m.protocol,
    scope: m.scope,
    routeType: m.routeType,
    routeFlags: m.routeFlags,
    oif: m.oif,
    priority: m.priority,
    nhId: m.nhId,
    destination: routeDestination(m),
    nexthops: routeNexthops(m),
  };
  const source = routeSource(m);
  if (source !== undefined) out.source = source;
  const gateway = routeGateway(m);
  if (gateway !== undefined) out.gateway = gateway;
  const prefsrc = routePrefsrc(m);
  if (prefsrc !== undefined) out.prefsrc = prefsrc;
  return out;
}
