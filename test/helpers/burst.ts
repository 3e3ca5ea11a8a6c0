// Burst generators for the live-kernel tests: many rtnetlink requests packed into one sendmsg
// (one datagram) WITHOUT NLM_F_ACK, sent through the addon's socket opened inside a test
// namespace. That is as fast as the kernel goes (`ip -batch` waits for each ack). The kernel
// processes every request of a datagram inside the sendto call, so when send() returns, every
// notification of the burst has been multicast; only failures are answered (NLMSG_ERROR), and
// sync() waits until those answers have arrived.

import { loadNativeSocket, NativeSocket } from '../../src/runtime/native';
import { addressRequest, buildMessage, linkAdminRequest, routeRequest } from '../../src/netlink/request';
import {
  AF_INET,
  NLM_F_ACK,
  NLM_F_CREATE,
  NLM_F_EXCL,
  NLM_F_REQUEST,
  NLMSG_ERROR,
  NLMSG_HDRLEN,
  NLMSG_NOOP,
  RTM_DELROUTE,
  RTM_NEWROUTE,
} from '../../src/netlink/constants';
import type { Netns } from './netns';
import { poll } from './exporter';

/** Bytes per sendmsg: below the default wmem (212,992) that bounds one netlink datagram. */
const MAX_DATAGRAM_BYTES = 150_000;

// ---------------------------------------------------------------------------------------------
// Request builders

/** Kept under the name the tests use; the builder lives with the codec. */
export const linkToggleRequest = (ifindex: number, up: boolean, seq: number): Buffer =>
  linkAdminRequest(seq, ifindex, up);
export { addressRequest };

export function ipv4Nth(second: number, n: number): Uint8Array {
  const v = second * 65536 + n;
  return Uint8Array.of(10, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
}

export function formatIPv4(a: Uint8Array): string {
  return Array.from(a).join('.');
}

/** 2001:db8:PREFIX::N (n < 2^32). */
export function ipv6Nth(prefix: number, n: number): Uint8Array {
  const b = new Uint8Array(16);
  b[0] = 0x20;
  b[1] = 0x01;
  b[2] = 0x0d;
  b[3] = 0xb8;
  b[4] = (prefix >>> 8) & 0xff;
  b[5] = prefix & 0xff;
  b[12] = (n >>> 24) & 0xff;
  b[13] = (n >>> 16) & 0xff;
  b[14] = (n >>> 8) & 0xff;
  b[15] = n & 0xff;
  return b;
}

export interface RouteBurstOptions {
  /** How many routes: 10.<second>.x.y/32 (IPv4) each. */
  count: number;
  second: number;
  table: number;
  protocol: number;
  oif: number;
  seq: number;
}

/** `count` IPv4 /32 routes through `oif` (scope link, no gateway): adds, then the matching deletes. */
export function routeBurst(o: RouteBurstOptions): { adds: Buffer[]; deletes: Buffer[] } {
  const adds: Buffer[] = [];
  const deletes: Buffer[] = [];
  for (let i = 0; i < o.count; i++) {
    const dst = ipv4Nth(o.second, i);
    const common = { family: AF_INET, dst, dstLength: 32, table: o.table, protocol: o.protocol, oif: o.oif };
    adds.push(routeRequest({ ...common, type: RTM_NEWROUTE, flags: NLM_F_CREATE | NLM_F_EXCL, seq: o.seq + i }));
    deletes.push(routeRequest({ ...common, type: RTM_DELROUTE, flags: 0, seq: o.seq + o.count + i }));
  }
  return { adds, deletes };
}

// ---------------------------------------------------------------------------------------------
// The sender

export interface RequestError {
  seq: number;
  errno: number;
  /** nlmsg_type of the failed request. */
  type: number;
}

/**
 * A netlink socket inside a test namespace that subscribes to nothing and sends bursts.
 * Failed requests come back as NLMSG_ERROR; `errors` collects them.
 */
export class BurstSender {
  readonly errors: RequestError[] = [];
  private readonly socket: NativeSocket;
  private readonly acked = new Set<number>();
  private syncSeq = 0x7f000000;
  private overruns = 0;

  constructor(readonly ns: Netns) {
    const NetlinkSocket = loadNativeSocket();
    this.socket = new NetlinkSocket(
      { netnsPath: ns.path, groups: [], receiveBufferBytes: 4 * 1024 * 1024 },
      (event, payload, count) => {
        if (event === 'data') this.onChunk(payload as Buffer);
        else if (event === 'overrun') this.overruns += Math.max(1, count);
        else this.errors.push({ seq: -1, errno: (payload as NodeJS.ErrnoException).errno ?? -1, type: -1 });
      },
    );
    this.socket.start();
  }

  private onChunk(chunk: Buffer): void {
    for (let pos = 0; pos + 4 <= chunk.length;) {
      const len = chunk.readUInt32LE(pos);
      const start = pos + 4;
      for (let m = start; m + NLMSG_HDRLEN <= start + len;) {
        const mlen = chunk.readUInt32LE(m);
        if (mlen < NLMSG_HDRLEN) break;
        if (chunk.readUInt16LE(m + 4) === NLMSG_ERROR && mlen >= NLMSG_HDRLEN + 4 + NLMSG_HDRLEN) {
          const errno = -chunk.readInt32LE(m + NLMSG_HDRLEN);
          const seq = chunk.readUInt32LE(m + 8);
          const type = chunk.readUInt16LE(m + NLMSG_HDRLEN + 4 + 4);
          if (errno === 0) this.acked.add(seq);
          else this.errors.push({ seq, errno, type });
        }
        m += (mlen + 3) & ~3;
      }
      pos = start + ((len + 3) & ~3);
    }
  }

  /**
   * Sends the requests packed into as few datagrams as fit (each under MAX_DATAGRAM_BYTES).
   * Returns the number of sendmsg calls.
   */
  send(requests: readonly Buffer[]): number {
    let sends = 0;
    let batch: Buffer[] = [];
    let bytes = 0;
    const flush = (): void => {
      if (batch.length === 0) return;
      this.socket.send(Buffer.concat(batch, bytes));
      sends++;
      batch = [];
      bytes = 0;
    };
    for (const r of requests) {
      if (bytes + r.length > MAX_DATAGRAM_BYTES) flush();
      batch.push(r);
      bytes += r.length;
    }
    flush();
    return sends;
  }

  /**
   * Waits until the kernel has answered everything sent before (an NLMSG_NOOP with NLM_F_ACK is
   * answered behind the failures of earlier requests), then throws if any request failed.
   */
  async sync(what: string): Promise<void> {
    const seq = ++this.syncSeq;
    this.socket.send(buildMessage(NLMSG_NOOP, NLM_F_REQUEST | NLM_F_ACK, seq, Buffer.alloc(0)));
    await poll(
      `the kernel's ack of the burst sender's barrier (${what})`,
      () => (this.acked.has(seq) ? true : `no ack for seq ${seq} yet`),
      { timeoutMs: 20_000, intervalMs: 10 },
    );
    if (this.overruns > 0)
      throw new Error(
        `${what}: the burst sender's own socket overran (${this.overruns}): its error replies are incomplete`,
      );
    if (this.errors.length > 0) {
      const first = this.errors.slice(0, 5).map((e) => `seq ${e.seq} type ${e.type} errno ${e.errno}`);
      throw new Error(`${what}: ${this.errors.length} requests failed in the kernel, first: ${first.join('; ')}`);
    }
  }

  close(): void {
    this.socket.close();
  }
}

/**
 * The exporter's netlink sockets in a namespace, from its /proc/net/netlink: NETLINK_ROUTE
 * sockets that joined a group (the burst sender and `ip` join none). Drops is the kernel's count
 * of messages it could not queue to the socket.
 */
export function subscribedRouteSockets(
  ns: Netns,
): Array<{ portId: number; groups: string; drops: number; rmem: number }> {
  const lines = ns.exec('cat', '/proc/net/netlink').trim().split('\n');
  const header = lines[0]!.trim().split(/\s+/);
  const col = (name: string): number => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`/proc/net/netlink: no ${name} column in ${JSON.stringify(lines[0])}`);
    return i;
  };
  const [eth, pid, groups, rmem, drops] = [col('Eth'), col('Pid'), col('Groups'), col('Rmem'), col('Drops')];
  const out: Array<{ portId: number; groups: string; drops: number; rmem: number }> = [];
  for (const line of lines.slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[eth] !== '0' || /^0+$/.test(f[groups]!)) continue;
    out.push({ portId: Number(f[pid]), groups: f[groups]!, drops: Number(f[drops]), rmem: Number(f[rmem]) });
  }
  return out;
}
