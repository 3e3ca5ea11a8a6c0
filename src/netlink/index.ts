// The codec's public API: bytes in, typed messages out, and the requests we send.

export * from './constants';
export type {
  AddressMessage,
  LinkMessage,
  MessageHeader,
  MessageSink,
  NeighbourMessage,
  NexthopMessage,
  OtherMessage,
  RouteMessage,
  RouteNexthop,
} from './types';
export { NetlinkDecodeError } from './errors';
export {
  AttributeCursor,
  align4,
  attrAddress,
  attrS32,
  attrString,
  escapedText,
  attrU16,
  attrU32,
  attrU64,
  attrU64BigInt,
  attrU8,
} from './attributes';
export { formatIPv4, formatIPv6, formatIp, formatMac, ipLength, ipv4Word, parseIp } from './format';
export type { ParsedIp } from './format';
export { decodeLink } from './link';
export { decodeAddress } from './address';
export {
  decodeRoute,
  routeDestination,
  routeGateway,
  routeNexthops,
  routePrefsrc,
  routeSource,
  routeToJSON,
} from './route';
export type { RouteJSON } from './route';
export { decodeNeighbour } from './neighbour';
export { decodeNexthop } from './nexthop';
export { CHUNK_FRAME_HDRLEN, decodeChunk, decodeDatagram } from './decode';
export { buildMessage, dumpRequest, routeRequest } from './request';
export type { DumpKind, RouteRequestOptions } from './request';
