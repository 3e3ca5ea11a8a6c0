// What a route event shows of the route beyond its destination and first gateway, as `ip route`
// prints it: every nexthop of a multipath route (bounded), the metric, the preferred source, the
// scope where it is not the default for the route's type, the MTU, and the nexthop object id.
// Built only for an event that passed the storm gate (route-set.ts), never per route of a burst.

import {
  AF_INET6,
  RT_SCOPE_HOST,
  RT_SCOPE_LINK,
  RT_SCOPE_UNIVERSE,
  RTN_ANYCAST,
  RTN_BROADCAST,
  RTN_LOCAL,
  RTN_MULTICAST,
  RTN_NAT,
  RTN_UNICAST,
} from '../netlink/constants';
import { scopeName } from '../netlink/format';
import { routeMtu, routeNexthops, routePrefsrc } from '../netlink/route';
import type { RouteMessage } from '../netlink/types';
import type { RouteEvent, RouteEventNexthop } from './events';

/**
 * Nexthops an event lists at most; `moreNexthops` counts the rest. The kernel allows hundreds
 * (fib_get_nhs), and an event is held in the ring and sent to every stream.
 */
export const MAX_EVENT_NEXTHOPS = 16;

/** rtnh_flags as `ip route` names them (linux/rtnetlink.h RTNH_F_*). */
const NEXTHOP_FLAG_NAMES: readonly [number, string][] = [
  [1, 'dead'],
  [2, 'pervasive'],
  [4, 'onlink'],
  [8, 'offload'],
  [16, 'linkdown'],
  [32, 'unresolved'],
  [64, 'trap'],
];

function nexthopFlagNames(flags: number): string[] {
  const names: string[] = [];
  for (const [bit, name] of NEXTHOP_FLAG_NAMES) if ((flags & bit) !== 0) names.push(name);
  return names;
}

/**
 * The scope `ip route add` gives a route of this type when none is asked for (iproute2's
 * iproute_modify): host for local and nat, link for broadcast, multicast and anycast, and for a
 * unicast route without a gateway or nexthop object (a device route); universe otherwise. IPv6
 * routes are all reported with scope universe.
 */
function defaultScope(m: RouteMessage, hasGateway: boolean): number {
  if (m.family === AF_INET6) return RT_SCOPE_UNIVERSE;
  switch (m.routeType) {
    case RTN_LOCAL:
    case RTN_NAT:
      return RT_SCOPE_HOST;
    case RTN_BROADCAST:
    case RTN_MULTICAST:
    case RTN_ANYCAST:
      return RT_SCOPE_LINK;
    case RTN_UNICAST:
      return hasGateway || m.nhId !== 0 ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
    default:
      return RT_SCOPE_UNIVERSE;
  }
}

/** The route event's optional fields of the whole route; `name` names a device. */
export function routeDetails(
  m: RouteMessage,
  name: (ifindex: number) => string,
): Pick<RouteEvent, 'nexthops' | 'moreNexthops' | 'metric' | 'prefsrc' | 'scope' | 'mtu' | 'nhid'> {
  const out: Pick<RouteEvent, 'nexthops' | 'moreNexthops' | 'metric' | 'prefsrc' | 'scope' | 'mtu' | 'nhid'> = {};
  let hasGateway = m.gatewayOffset >= 0;
  if (m.multipathOffset >= 0) {
    const all = routeNexthops(m);
    const listed: RouteEventNexthop[] = [];
    for (const nh of all) {
      if (nh.gateway !== undefined) hasGateway = true;
      if (listed.length === MAX_EVENT_NEXTHOPS) continue;
      const flags = nexthopFlagNames(nh.flags);
      listed.push({
        ...(nh.gateway !== undefined ? { gateway: nh.gateway } : {}),
        interface: name(nh.ifindex),
        ifindex: nh.ifindex,
        weight: nh.weight,
        ...(flags.length > 0 ? { flags } : {}),
      });
    }
    out.nexthops = listed;
    if (all.length > listed.length) out.moreNexthops = all.length - listed.length;
  }
  if (m.nhId !== 0) out.nhid = m.nhId;
  if (m.priority !== 0) out.metric = m.priority;
  const prefsrc = routePrefsrc(m);
  if (prefsrc !== undefined) out.prefsrc = prefsrc;
  if (m.scope !== defaultScope(m, hasGateway)) out.scope = scopeName(m.scope);
  const mtu = routeMtu(m);
  if (mtu !== undefined) out.mtu = mtu;
  return out;
}
