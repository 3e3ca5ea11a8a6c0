// The benchmark's own netlink sockets, on the project's native addon:
// - BurstSender: sends pre-built batches (many requests per sendmsg, no NLM_F_ACK) inside a
//   namespace, and counts the error replies the kernel still sends for failed requests;
// - TruthListener: the kernel's truth. Subscribed to the exporter's groups with a 256 MiB
//   buffer (SO_RCVBUFFORCE) and an effectively unbounded chunk queue, it counts every
//   notification by type. Any loss of its own (ENOBUFS, queue, truncation) is reported and
//   invalidates the scenario.

import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { NLMSG_ERROR, NLMSG_HDRLEN, RTM_NAMES } from '../src/netlink/constants';
import { loadNativeSocket } from '../src/runtime/native';
import type { NativeSocket } from '../src/runtime/native';
import { SUBSCRIBED_GROUPS } from '../src/session/watcher';
import { trackSocket } from './cleanup';
import { sleep } from './util';

/** The groups the exporter joins: the truth listener hears exactly what the exporter should. */
export const EXPORTER_GROUPS: number[] = [...SUBSCRIBED_GROUPS];

const MiB = 1024 * 1024;

/** Calls fn(type, buf, offset, length) for every message of a native chunk. */
export function walkChunk(chunk: Buffer, fn: (type: number, buf: Buffer, off: number, len: number) => void): void {
  let pos = 0;
  while (pos + 4 <= chunk.length) {
    const dlen = chunk.readUInt32LE(pos);
    const start = pos + 4;
    const end = Math.min(start + dlen, chunk.length);
    let m = start;
    while (m + NLMSG_HDRLEN <= end) {
      const len = chunk.readUInt32LE(m);
      if (len < NLMSG_HDRLEN || m + len > end) break;
      fn(chunk.readUInt16LE(m + 4), chunk, m, len);
      m += (len + 3) & ~3;
    }
    pos = start + ((dlen + 3) & ~3);
  }
}

export class BurstSender {
  private readonly sock: NativeSocket;
  private readonly untrack: () => void;
  errors = 0;
  firstErrno = 0;
  overruns = 0;
  socketError: string | undefined;

  constructor(netnsPath: string) {
    const Socket = loadNativeSocket();
    this.sock = new Socket(
      { netnsPath, groups: [], receiveBufferBytes: 64 * MiB, maxQueuedChunks: 1 << 16 },
      (event, payload, count) => {
        if (event === 'data') {
          walkChunk(payload as Buffer, (type, buf, off, len) => {
            if (type === NLMSG_ERROR && len >= NLMSG_HDRLEN + 4) {
              const errno = -buf.readInt32LE(off + NLMSG_HDRLEN);
              if (errno !== 0) {
                this.errors++;
                if (!this.firstErrno) this.firstErrno = errno;
              }
            }
          });
        } else if (event === 'overrun') {
          this.overruns += count;
        } else {
          this.socketError = (payload as Error).message;
        }
      },
    );
    this.untrack = trackSocket(this.sock);
    this.sock.start();
  }

  /** Sends one buffer (one or more requests). */
  sendOne(buf: Buffer): void {
    this.sock.send(buf);
  }

  /**
   * Sends every batch back to back; every ~4 ms it lets the event loop run once (scrapes,
   * chunk hand-offs), which costs microseconds. Returns the wall time of the burst.
   */
  async burst(
    batches: Buffer[],
  ): Promise<{ seconds: number; startedAt: number; endedAt: number; longestSendMs: number; longestYieldMs: number }> {
    const startedAt = performance.now();
    let lastYield = startedAt;
    let longestSendMs = 0;
    let longestYieldMs = 0;
    for (let i = 0; i < batches.length; i++) {
      const t = performance.now();
      this.sock.send(batches[i]!);
      const now = performance.now();
      longestSendMs = Math.max(longestSendMs, now - t);
      if (now - lastYield > 4) {
        await yieldToLoop();
        lastYield = performance.now();
        longestYieldMs = Math.max(longestYieldMs, lastYield - now);
      }
    }
    const endedAt = performance.now();
    return { seconds: (endedAt - startedAt) / 1000, startedAt, endedAt, longestSendMs, longestYieldMs };
  }

  /** Waits until the error replies are processed; throws when any request failed. */
  async check(what: string): Promise<void> {
    await sleep(50);
    for (let i = 0; i < 200 && this.sock.queueDepth() > 0; i++) await sleep(10);
    if (this.socketError) throw new Error(`${what}: sender socket error: ${this.socketError}`);
    if (this.errors > 0) {
      throw new Error(`${what}: ${this.errors} requests failed (first errno ${this.firstErrno})`);
    }
    if (this.overruns > 0) throw new Error(`${what}: sender lost error replies (overrun)`);
  }

  close(): void {
    this.sock.close();
    this.untrack();
  }
}

export class TruthListener {
  private readonly sock: NativeSocket;
  private readonly untrack: () => void;
  readonly counts = new Map<number, number>();
  total = 0;
  overruns = 0;
  socketError: string | undefined;
  lastChange = performance.now();
  readonly grantedBytes: number;
  readonly forced: boolean;

  constructor(netnsPath: string, groups: number[] = EXPORTER_GROUPS) {
    const Socket = loadNativeSocket();
    this.sock = new Socket(
      { netnsPath, groups, receiveBufferBytes: 256 * MiB, maxQueuedChunks: 1 << 20 },
      (event, payload, count) => {
        if (event === 'data') {
          walkChunk(payload as Buffer, (type) => {
            this.counts.set(type, (this.counts.get(type) ?? 0) + 1);
            this.total++;
          });
          this.lastChange = performance.now();
        } else if (event === 'overrun') {
          this.overruns += count;
        } else {
          this.socketError = (payload as Error).message;
        }
      },
    );
    this.untrack = trackSocket(this.sock);
    this.grantedBytes = this.sock.receiveBufferBytes;
    this.forced = this.sock.receiveBufferForced;
    this.sock.start();
  }

  get portId(): number {
    return this.sock.portId;
  }

  count(...types: number[]): number {
    return types.reduce((a, t) => a + (this.counts.get(t) ?? 0), 0);
  }

  /** A copy of the counts by RTM_* name. */
  snapshot(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [t, n] of this.counts) out[RTM_NAMES[t] ?? String(t)] = n;
    return out;
  }

  /** Resolves once nothing arrived for `quietMs` and nothing waits in the queue. */
  async settle(quietMs: number, timeoutMs = 120_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if (this.sock.queueDepth() === 0 && performance.now() - this.lastChange >= quietMs) return;
      if (performance.now() > deadline) throw new Error('truth listener did not settle');
      await sleep(25);
    }
  }

  /** Throws when the truth itself is incomplete. */
  check(): void {
    if (this.socketError) throw new Error(`truth listener socket error: ${this.socketError}`);
    if (this.overruns > 0)
      throw new Error(`truth listener lost notifications (${this.overruns} overruns): the kernel truth is incomplete`);
    if (!this.forced) throw new Error('truth listener: SO_RCVBUFFORCE not permitted (run as root)');
  }

  close(): void {
    this.sock.close();
    this.untrack();
  }
}
