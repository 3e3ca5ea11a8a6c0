// Request builders for bursts: many requests without NLM_F_ACK packed into one buffer (one
// sendmsg, one datagram), which the kernel processes one after the other inside sendmsg.
// That is the kernel's full rate: `ip -batch` waits for an ack per request and reaches half.
//
// Route batches use routeRequest from src/ for a template and patch the destination and the
// sequence number per copy (a million Buffer allocations would cost more than the burst).

import {
  AF_INET,
  NLA_HDRLEN,
  NLMSG_HDRLEN,
  NLM_F_CREATE,
  NLM_F_EXCL,
  RTA_DST,
  RTMSG_LEN,
  RTM_DELADDR,
  RTM_DELROUTE,
  RTM_NEWADDR,
  RTM_NEWROUTE,
  RT_TABLE_MAIN,
} from '../src/netlink/constants';
import { addressRequest, linkAdminRequest, routeRequest } from '../src/netlink/request';

export { linkAdminRequest };

/** Requests per sendmsg. */
export const BATCH = 256;

export const RTPROT_STATIC = 4;
export const RTPROT_BGP = 186;

/** The i-th IPv4 address after `base` (a dotted quad), as 4 bytes. */
export function ipv4Bytes(base: string, i: number): Uint8Array {
  const p = base.split('.').map(Number);
  const n = ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
  const v = (n + i) >>> 0;
  return Uint8Array.of(v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255);
}

export function ipv4String(b: Uint8Array): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

/** Packs single requests into buffers of `perBatch` requests each. */
export function toBatches(requests: Buffer[], perBatch = BATCH): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < requests.length; i += perBatch) out.push(Buffer.concat(requests.slice(i, i + perBatch)));
  return out;
}

export interface RouteBurstOptions {
  /** RTM_NEWROUTE or RTM_DELROUTE. */
  type: number;
  count: number;
  /** First destination (dotted quad); route i has base + i, /32. */
  base: string;
  table?: number;
  protocol: number;
  oif?: number;
  nhId?: number;
  seqStart?: number;
}

/**
 * `count` IPv4 /32 route adds (NLM_F_CREATE | NLM_F_EXCL) or deletes, BATCH per buffer, no ack.
 * Deletes carry the table, protocol and destination (and the device or nexthop id), so each
 * matches exactly the route its add created.
 */
export function routeBurst(o: RouteBurstOptions): Buffer[] {
  const template = routeRequest({
    type: o.type,
    flags: o.type === RTM_NEWROUTE ? NLM_F_CREATE | NLM_F_EXCL : 0,
    seq: 0,
    family: AF_INET,
    dst: Uint8Array.of(0, 0, 0, 0),
    dstLength: 32,
    table: o.table ?? RT_TABLE_MAIN,
    protocol: o.protocol,
    ...(o.oif !== undefined ? { oif: o.oif } : {}),
    ...(o.nhId !== undefined ? { nhId: o.nhId } : {}),
  });
  // RTA_DST is the first attribute: nlmsghdr, rtmsg, then rtattr {len 8, type RTA_DST}.
  const dstAttr = NLMSG_HDRLEN + RTMSG_LEN;
  if (template.readUInt16LE(dstAttr) !== NLA_HDRLEN + 4 || template.readUInt16LE(dstAttr + 2) !== RTA_DST) {
    throw new Error('routeRequest layout changed: RTA_DST is not the first attribute');
  }
  const dstOffset = dstAttr + NLA_HDRLEN;
  const size = template.length;
  const first = ipv4Bytes(o.base, 0);
  const firstN = ((first[0]! << 24) | (first[1]! << 16) | (first[2]! << 8) | first[3]!) >>> 0;
  const out: Buffer[] = [];
  let seq = o.seqStart ?? 1;
  for (let i = 0; i < o.count; i += BATCH) {
    const n = Math.min(BATCH, o.count - i);
    const buf = Buffer.allocUnsafe(n * size);
    for (let k = 0; k < n; k++) {
      const at = k * size;
      template.copy(buf, at);
      buf.writeUInt32LE(seq++ >>> 0, at + 8);
      buf.writeUInt32BE((firstN + i + k) >>> 0, at + dstOffset);
    }
    out.push(buf);
  }
  return out;
}

/** `count` /32 address adds or removes, address i on ifindexes[i % length], BATCH per buffer. */
export function addressBurst(type: number, count: number, base: string, ifindexes: number[], seqStart = 1): Buffer[] {
  const reqs: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    reqs.push(
      addressRequest({
        type,
        family: AF_INET,
        seq: seqStart + i,
        ifindex: ifindexes[i % ifindexes.length]!,
        prefixLength: 32,
        address: ipv4Bytes(base, i),
      }),
    );
  }
  return toBatches(reqs);
}

/**
 * `toggles` admin changes over the devices, round-robin: all down, all up, all down, ...
 * so consecutive requests for one device are far apart and every device ends up.
 * `toggles` is rounded to a multiple of 2 x devices.
 */
export function flapBurst(ifindexes: number[], toggles: number, seqStart = 1): { batches: Buffer[]; toggles: number } {
  const rounds = Math.max(1, Math.round(toggles / (2 * ifindexes.length)));
  const reqs: Buffer[] = [];
  let seq = seqStart;
  for (let r = 0; r < rounds; r++) {
    for (const up of [false, true]) for (const ifindex of ifindexes) reqs.push(linkAdminRequest(seq++, ifindex, up));
  }
  return { batches: toBatches(reqs), toggles: reqs.length };
}

export { RTM_DELADDR, RTM_DELROUTE, RTM_NEWADDR, RTM_NEWROUTE };
