// Route events as the model emits them: changes the kernel notified, and removals the model
// works out itself (routes the kernel flushed without a notification, routes a resync found
// gone), with the names they carry (table, protocol, route type), which the event bus and the
// metrics use too.

import { AF_INET6 } from '../netlink/constants';
import { formatIp, protocolName, routeTypeName, tableName } from '../netlink/format';
import { routeDestination, routeGateway } from '../netlink/route';
import type { RouteMessage } from '../netlink/types';
import { familyName } from '../netlink/family';
import type { PendingEvent } from './events';
import { routeDetails } from './route-details';
import type { RouteRef } from './routes';

/**
 * The event of a route change the kernel notified, with the whole route (route-details.ts):
 * every nexthop of a multipath route (the first MAX_EVENT_NEXTHOPS), metric, prefsrc, scope,
 * MTU and nexthop object id where set. `name` names a device; the event's interface is the
 * first nexthop's.
 */
export function routeMessageEvent(
  netns: string,
  action: 'added' | 'removed' | 'replaced',
  m: RouteMessage,
  name: (ifindex: number) => string,
): PendingEvent {
  const gateway = routeGateway(m);
  const details = routeDetails(m, name);
  const ifindex = m.oif !== 0 ? m.oif : (details.nexthops?.[0]?.ifindex ?? 0);
  return {
    netns,
    kind: 'route',
    action,
    interface: name(ifindex),
    ifindex,
    family: familyName(m.family),
    table: tableName(m.table),
    protocol: protocolName(m.protocol),
    destination: routeDestination(m),
    ...(gateway !== undefined ? { gateway } : {}),
    type: routeTypeName(m.routeType),
    ...details,
  };
}

/** The destination's bytes, written out of the route table's words to be formatted (used at once, never kept). */
const scratch = Buffer.alloc(16);

/** The event of a route the model removed itself, from its per-route state (destination, metric, first device). */
export function routeRefEvent(
  netns: string,
  action: 'removed' | 'flushed',
  ref: RouteRef,
  interfaceName: string,
): PendingEvent {
  const words = ref.family === AF_INET6 ? 4 : 1;
  for (let k = 0; k < words; k++) scratch.writeUInt32LE(ref.dst[ref.dstIndex + k] as number, 4 * k);
  const destination = ref.dstLength === 0 ? 'default' : `${formatIp(ref.family, scratch, 0)}/${ref.dstLength}`;
  return {
    netns,
    kind: 'route',
    action,
    interface: interfaceName,
    ifindex: ref.oif,
    family: familyName(ref.family),
    table: tableName(ref.table),
    protocol: protocolName(ref.protocol),
    destination,
    type: routeTypeName(ref.routeType),
    // Only what the model keeps of a route (route-details.ts says what the kernel's message adds).
    ...(ref.priority !== 0 ? { metric: ref.priority } : {}),
  };
}
