// Span names and attribute keys. OpenTelemetry semantic conventions where one exists
// (network.interface.name, network.type, host.name, service.*); otherwise the `netlink.*`
// namespace documented in the README ("Tracing"). Plain strings: the incubating conventions
// (host.name, network.interface.name, service.instance.id) are not in the stable entry point.

import type { FamilyName } from '../netlink/family';

export const SPAN = {
  outage: 'interface.outage',
  addressAdded: 'address.added',
  addressRemoved: 'address.removed',
  dadFailed: 'address.dad_failed',
  vipAcquired: 'vip.acquired',
  vipReleased: 'vip.released',
  neighbourMacChanged: 'neighbour.lladdr_changed',
  defaultRouteChanged: 'route.default_changed',
  routeChanges: 'route.changes',
  resync: 'netlink.resync',
} as const;

/** Span events inside an outage span. */
export const SPAN_EVENT = {
  linkChanged: 'link.changed',
  linkRenamed: 'link.renamed',
  flap: 'link.flap',
} as const;

export const ATTR = {
  // semantic conventions
  interfaceName: 'network.interface.name',
  networkType: 'network.type',
  // netlink.*
  netns: 'netlink.netns',
  ifindex: 'netlink.ifindex',
  family: 'netlink.family',
  flaps: 'netlink.flaps',
  operState: 'netlink.link.oper_state',
  adminState: 'netlink.link.admin_state',
  carrier: 'netlink.link.carrier',
  oldName: 'netlink.link.old_name',
  outageEnd: 'netlink.outage.end',
  addressIp: 'netlink.address.ip',
  prefixLength: 'netlink.address.prefix_length',
  addressScope: 'netlink.address.scope',
  addressFlags: 'netlink.address.flags',
  vipAddress: 'netlink.vip.address',
  vipName: 'netlink.vip.name',
  vipHolders: 'netlink.vip.holders',
  neighbourIp: 'netlink.neighbour.ip',
  macOld: 'netlink.mac.old',
  macNew: 'netlink.mac.new',
  routeAction: 'netlink.route.action',
  routeTable: 'netlink.route.table',
  routeProtocol: 'netlink.route.protocol',
  routeType: 'netlink.route.type',
  routeGateway: 'netlink.route.gateway',
  routeCount: 'netlink.route.count',
  routeAdded: 'netlink.route.added',
  routeRemoved: 'netlink.route.removed',
  routeReplaced: 'netlink.route.replaced',
  routeFlushed: 'netlink.route.flushed',
  resyncReason: 'netlink.resync.reason',
} as const;

/** Resource attributes (semantic conventions). */
export const RESOURCE = {
  serviceName: 'service.name',
  serviceVersion: 'service.version',
  serviceInstanceId: 'service.instance.id',
  hostName: 'host.name',
} as const;

/** `network.type` for a netlink family. */
export function networkType(family: FamilyName): 'ipv4' | 'ipv6' {
  return family === 'inet' ? 'ipv4' : 'ipv6';
}
