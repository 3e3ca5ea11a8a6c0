// Route identity follows the kernel:
// - IPv4 (fib_alias): table, destination/length, tos, priority; `ip route append` may add an
//   equal route beside it that differs only by its nexthops, so an IPv4 route is also told
//   apart by a fingerprint of its nexthops (type, oif, nhid, gateway, multipath members).
// - IPv6 (fib6_info): table, destination/length, priority, and its nexthop like IPv4 (fe80::/64
//   is one route per device), except that routes that qualify for ECMP (a gateway, no nexthop
//   object, not learned from a router advertisement: rt6_qualify_for_ecmp) merge as siblings into
//   ONE route as `ip route show` lists it; for those the number of siblings is tracked.
// The key's part (table, destination, tos, priority) is compared on the records themselves
// (RouteTable's keyHash and keyEquals, in table.ts); the nexthops' part is the fingerprint here.

import { AF_INET6, RTA_GATEWAY, RTA_VIA, RTPROT_RA } from '../../netlink/constants';
import { NexthopCursor } from '../../netlink/nexthops';
import type { RouteMessage } from '../../netlink/types';
import { mix } from './hash-index';

/** The fingerprint every IPv6 ECMP-class route shares: its siblings are one route. */
export const IPV6_ECMP_FINGERPRINT = 0x9e3779b9;

/**
 * The codec's walker over a message's RTA_MULTIPATH records (decodeRoute checked them all, so
 * it stops only at their end); one, as the table's calls never nest.
 */
const nexthops = new NexthopCursor();

/** Hash of a route's nexthops (without the flags that change with carrier: linkdown, dead). */
export function nexthopFingerprint(m: RouteMessage): number {
  let h = mix(0x811c9dc5, m.routeType);
  h = mix(h, m.oif);
  h = mix(h, m.nhId);
  const buf = m.buf;
  if (m.gatewayOffset >= 0) {
    const len = m.family === AF_INET6 ? 16 : 4;
    for (let i = 0; i < len; i += 4) h = mix(h, buf.readUInt32LE(m.gatewayOffset + i));
  }
  if (m.multipathOffset >= 0) {
    const nh = nexthops.reset(buf, m.multipathOffset, m.multipathLength);
    while (nh.next()) {
      h = mix(h, nh.hops); // rtnh_hops, not rtnh_flags
      h = mix(h, nh.ifindex);
      const it = nh.attributes();
      while (it.next()) {
        if (it.type === RTA_GATEWAY || it.type === RTA_VIA) {
          for (let i = it.offset; i + 4 <= it.offset + it.length; i += 4) h = mix(h, buf.readUInt32LE(i));
        }
      }
    }
  }
  return h;
}

/** Whether an IPv6 route merges with equal ones as an ECMP sibling (rt6_qualify_for_ecmp). */
function isIPv6Ecmp(m: RouteMessage): boolean {
  return (
    m.family === AF_INET6 &&
    m.nhId === 0 &&
    m.protocol !== RTPROT_RA &&
    (m.gatewayOffset >= 0 || m.multipathOffset >= 0)
  );
}

/**
 * What tells a route apart from others with the same key (see the top of this file). A route
 * through a nexthop object is told apart by the object's id alone: the kernel also expands the
 * object's members into each notification, and those change when a group loses a member.
 */
export function routeFingerprint(m: RouteMessage): number {
  if (isIPv6Ecmp(m)) return IPV6_ECMP_FINGERPRINT;
  return m.nhId !== 0 ? mix(mix(0x811c9dc5, m.routeType), m.nhId) : nexthopFingerprint(m);
}
