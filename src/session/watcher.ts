// One watched network namespace's netlink session: a socket (opened inside it), its port id,
// the subscribe-then-dump start, dumps, barriers and link probes, the message counters, and the
// repair after an overrun (a fresh dump diffed against the model). It feeds a SessionSink (the
// model, which main.ts makes: see sink.ts). Shared by the exporter and `events` mode: one
// pipeline, two outputs.

import type { Logger } from '../support/log';
import {
  NLM_F_ACK,
  NLM_F_REQUEST,
  NLMSG_NOOP,
  RTNLGRP_IPV4_IFADDR,
  RTNLGRP_IPV4_NETCONF,
  RTNLGRP_IPV4_ROUTE,
  RTNLGRP_IPV4_RULE,
  RTNLGRP_IPV6_IFADDR,
  RTNLGRP_IPV6_NETCONF,
  RTNLGRP_IPV6_ROUTE,
  RTNLGRP_IPV6_RULE,
  RTNLGRP_LINK,
  RTNLGRP_NEIGH,
  RTNLGRP_NEXTHOP,
} from '../netlink/constants';
import { decodeChunk } from '../netlink/decode';
import type { NativeEventHandler, NativeSocket, NativeSocketConstructor } from '../runtime/native';
import { buildMessage, dumpRequest, DumpKind, linkGetRequest } from '../netlink/request';
import type { MessageHeader } from '../netlink/types';
import { warnReceiveBufferOnce } from '../runtime/privileges';
import { released } from '../runtime/memory';
import { MessageDispatch } from './dispatch';
import { SessionCounters } from './session-counters';
import type { DumpMode, SessionServices, SessionSink } from './sink';

export const SUBSCRIBED_GROUPS = [
  RTNLGRP_LINK,
  RTNLGRP_IPV4_IFADDR,
  RTNLGRP_IPV6_IFADDR,
  RTNLGRP_IPV4_ROUTE,
  RTNLGRP_IPV6_ROUTE,
  RTNLGRP_IPV4_RULE,
  RTNLGRP_IPV6_RULE,
  RTNLGRP_IPV4_NETCONF,
  RTNLGRP_IPV6_NETCONF,
  RTNLGRP_NEXTHOP,
  RTNLGRP_NEIGH,
];
/**
 * Links first (addresses, routes and neighbours name them), then their bridge-port state (an
 * AF_BRIDGE link dump: the plain one carries none), nexthop objects before the routes that use
 * them; the neighbour tables' limits (gc_thresh3) last.
 */
const DUMP_ORDER: readonly DumpKind[] = [
  'link',
  'bridgePort',
  'nexthop',
  'address',
  'route',
  'rule',
  'netconf',
  'neighbour',
  'neighbourTable',
];
/** Dumps a kernel may not support (nexthop objects before 5.3; bridge ports without the bridge driver; the netconf dump of IPv6 before 4.x). */
const OPTIONAL_DUMPS: ReadonlySet<DumpKind> = new Set(['bridgePort', 'nexthop', 'netconf', 'neighbourTable']);
const MAX_DUMP_ATTEMPTS = 5;
/** Resyncs start at most this often, so an overrun storm does not become a dump loop. */
const MIN_RESYNC_INTERVAL_MS = 1000;
/** Errno values a dump may answer with where the kernel lacks the feature (nexthop objects before 5.3). */
const OPTIONAL_DUMP_ERRNOS = new Set([95 /* EOPNOTSUPP */, 22 /* EINVAL */, 97 /* EAFNOSUPPORT */]);
/** The kernel runs one dump per socket: a new one while an abandoned one still runs gets EBUSY. */
const EBUSY = 16;
const BUSY_RETRY_MS = 200;
/**
 * After a loss in our own queue while a dump is in flight (its NLMSG_DONE may be what was
 * dropped), the dump is given up once this long passes with nothing left to process and no
 * reply of any dump arriving.
 */
const LOST_DUMP_CHECK_MS = 1000;
/** How long a pending dump may go without a reply before an NLMSG_NOOP nudges the kernel (dumpNudge). */
const DUMP_NUDGE_MS = 1000;

/** About what a small namespace (a pod: two links, a few addresses and routes) holds in JavaScript: bench scenario 10. */
const NAMESPACE_BYTES = 64 * 1024;

/** Longest stretch of netlink processing before the event loop gets a turn (scrapes, timers). */
const PROCESS_SLICE_MS = 10;
/** After the first refused foreign datagram of a socket, at most one log line per this long. */
const FOREIGN_LOG_INTERVAL_MS = 60_000;

type NativeEvent = Parameters<NativeEventHandler>[0];
interface ReaderEvent {
  event: NativeEvent;
  payload: Buffer | string | number | NodeJS.ErrnoException;
  count: number;
  /** 'data': the chunk's bytes (the addon's pooled chunk is a fixed-size slot filled this far). */
  length: number;
}

export interface WatcherOptions<M extends SessionSink> {
  /** The `netns` label: "" for our own namespace, else what the user gave. */
  label: string;
  /** Namespace file to open the socket in; undefined = our own. */
  path: string | undefined;
  receiveBufferBytes: number;
  logger: Logger;
  Socket: NativeSocketConstructor;
  /** Makes what the session feeds (the namespace's model), given the services the session offers it. */
  model: (session: SessionServices) => M;
  /** Compact series (a namespace found only by --netns.all; see NamespaceSource.compact in src/metrics/source.ts). */
  compact?: boolean;
}

interface PendingDump {
  seq: number;
  resolve: (errno: number) => void;
}

export class NamespaceWatcher<M extends SessionSink = SessionSink> {
  /** What this session feeds: the namespace's model. */
  readonly model: M;
  /** Messages by type (notifications apart from replies to our requests), decode errors. */
  readonly counters = new SessionCounters();
  overruns = 0;
  /** Datagrams refused unread because their sender was not the kernel (source nl_pid not 0). */
  foreignRefused = 0;
  resyncs = 0;
  lastResync = 0;
  receiveBufferBytes = 0;
  ready = false;
  closed = false;
  readonly compact: boolean;

  private socket: NativeSocket | undefined;
  private seq = 1;
  private pending: PendingDump | undefined;
  private dumpQueue: Promise<unknown> = Promise.resolve();
  /** Barrier callbacks by the seq of their NLMSG_NOOP request. */
  private readonly barriers = new Map<number, () => void>();
  private resyncRunning = false;
  private resyncWanted = false;
  private lastResyncStart = 0;
  private lastOverrunLog = 0;
  private lastForeignLog: number | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private lostDumpTimer: NodeJS.Timeout | undefined;
  private dumpNudgeTimer: NodeJS.Timeout | undefined;
  private readonly options: WatcherOptions<M>;
  /** Counts each decoded message and hands it to the model with its origin. */
  private readonly dispatch: MessageDispatch;
  private readonly backlog: ReaderEvent[] = [];
  private drainScheduled = false;

  constructor(options: WatcherOptions<M>) {
    this.options = options;
    this.compact = options.compact ?? false;
    this.model = options.model({
      barrier: (callback) => this.barrier(callback),
      linkProbe: (ifindex, callback) => this.request(linkGetRequest(this.seq, ifindex), callback),
    });
    this.dispatch = new MessageDispatch(this.counters, this.model);
    this.dispatch.onDumpEnd = (header, errno) => this.dumpEnded(header, errno);
  }

  get opened(): boolean {
    return this.socket !== undefined;
  }

  get queueDepth(): number {
    return this.socket && !this.closed ? this.socket.queueDepth() : 0;
  }

  /** Opens the socket, subscribes, then dumps: resolves once the model holds the namespace's state. */
  async start(): Promise<void> {
    const { logger, label } = this.options;
    this.socket = new this.options.Socket(
      {
        ...(this.options.path !== undefined ? { netnsPath: this.options.path } : {}),
        groups: SUBSCRIBED_GROUPS,
        receiveBufferBytes: this.options.receiveBufferBytes,
        explicitRelease: true,
      },
      (event, payload, count, length) => this.enqueue(event, payload, count, length),
    );
    this.dispatch.portId = this.socket.portId;
    this.receiveBufferBytes = this.socket.receiveBufferBytes;
    // Without CAP_NET_ADMIN every socket meets the same rmem_max ceiling: said once per process.
    warnReceiveBufferOnce(logger, {
      asked: this.options.receiveBufferBytes,
      granted: this.receiveBufferBytes,
      forced: this.socket.receiveBufferForced,
    });
    this.socket.start();
    await this.dumpAll('initial');
    if (this.closed) return;
    this.ready = true;
    if (this.resyncWanted) {
      this.resyncWanted = false;
      this.requestResync();
    }
    const { links, addresses, routes } = this.model.holdings();
    logger.info('namespace ready', { netns: label, links, addresses, routes });
  }

  /** Dumps every kind in order; a dump marked NLM_F_DUMP_INTR is retried. */
  private async dumpAll(mode: DumpMode): Promise<void> {
    this.dispatch.dumpMode = mode;
    try {
      for (const kind of DUMP_ORDER) {
        for (let attempt = 1; ; attempt++) {
          this.dispatch.dumpInterrupted = false;
          const errno = await this.dump(kind);
          if (this.closed) return;
          if (errno === EBUSY && attempt < MAX_DUMP_ATTEMPTS) {
            // The dump we gave up on (see dumpMayBeLost) is still running in the kernel.
            await new Promise((resolve) => setTimeout(resolve, BUSY_RETRY_MS));
            continue;
          }
          if (errno !== 0) {
            if (OPTIONAL_DUMPS.has(kind) && OPTIONAL_DUMP_ERRNOS.has(errno)) break;
            throw Object.assign(new Error(`${kind} dump failed: errno ${errno}`), { errno });
          }
          if (!this.dispatch.dumpInterrupted) break;
          if (attempt >= MAX_DUMP_ATTEMPTS) {
            this.options.logger.warn('dump still interrupted after retries; keeping what it listed', {
              netns: this.options.label,
              kind,
              attempts: attempt,
            });
            break;
          }
          this.options.logger.debug('dump interrupted (NLM_F_DUMP_INTR), retrying', {
            netns: this.options.label,
            kind,
            attempt,
          });
        }
      }
    } finally {
      this.dispatch.dumpMode = undefined;
    }
  }

  /**
   * Dumps one kind; resolves with the errno it ended with (0 = complete). Dumps run one after
   * another: the kernel allows one per socket, and a scrape's table refresh may meet a resync.
   */
  private dump(kind: DumpKind): Promise<number> {
    const run = this.dumpQueue.then(() => this.dumpNow(kind));
    this.dumpQueue = run.catch(() => 0);
    return run;
  }

  private tableRefresh: Promise<unknown> | undefined;

  /** Refreshes the neighbour tables' entry counts (host-wide, they move with every ARP entry); one at a time. */
  refreshNeighbourTables(): Promise<unknown> {
    if (!this.ready || this.closed) return Promise.resolve();
    this.tableRefresh ??= this.dump('neighbourTable').finally(() => {
      this.tableRefresh = undefined;
    });
    return this.tableRefresh;
  }

  private dumpNow(kind: DumpKind): Promise<number> {
    if (this.closed) return Promise.resolve(0);
    const seq = this.seq++;
    return new Promise<number>((resolve) => {
      const pending = { seq, resolve };
      this.pending = pending;
      try {
        this.socket?.send(dumpRequest(kind, seq));
        this.nudgeWhileStalled(pending);
      } catch (err) {
        this.pending = undefined;
        resolve((err as NodeJS.ErrnoException).errno ? Math.abs((err as NodeJS.ErrnoException).errno as number) : 5);
      }
    });
  }

  /**
   * The kernel goes on with a dump only inside a successful read of the socket
   * (netlink_recvmsg, once the receive queue is at most half full). A continuation refused while
   * the queue was full (a multicast storm took the room, or the skb could not be allocated)
   * leaves, once the queue drains, nothing to read, and the dump then waits for whatever the
   * kernel sends next, however long that takes. A resync was once seen waiting 30 s on a loaded
   * machine, until the next notification, which fits this. So while a dump is pending and no
   * reply (nor anything still to process) has moved for DUMP_NUDGE_MS, an NLMSG_NOOP is sent: its
   * ACK is one more read, which lets the kernel go on. It changes nothing else; a dump that is
   * merely slow costs one small request a second.
   */
  private nudgeWhileStalled(pending: PendingDump): void {
    if (this.dumpNudgeTimer) clearInterval(this.dumpNudgeTimer);
    let replies = this.dumpReplies();
    const timer = setInterval(() => {
      if (this.pending !== pending || this.closed) {
        clearInterval(timer);
        if (this.dumpNudgeTimer === timer) this.dumpNudgeTimer = undefined;
        return;
      }
      const now = this.dumpReplies();
      if (now !== replies || this.backlog.length > 0) {
        replies = now;
        return;
      }
      this.barrier(() => undefined);
    }, DUMP_NUDGE_MS);
    timer.unref();
    this.dumpNudgeTimer = timer;
  }

  /**
   * Runs `callback` once every notification queued before now has been applied: after the ACK
   * of an NLMSG_NOOP sent now. One barrier per caller, never shared: the kernel answers
   * NLMSG_NOOP without taking the RTNL lock, so a barrier sent earlier can be answered in the
   * middle of a later change (after its RTM_DELADDR, before the route notifications that follow
   * it), and a caller that joined it would repair too early: a notified local route counted as
   * flushed (test/integration/lossless.test.ts caught 2-5 in 1,000 when barriers were shared).
   * A barrier sent once the RTM_DELADDR is read comes after the change's own notifications
   * unless the kernel spends longer on the change than the reader takes to hand it over.
   */
  private barrier(callback: () => void): void {
    this.request(buildMessage(NLMSG_NOOP, NLM_F_REQUEST | NLM_F_ACK, this.seq, Buffer.alloc(0)), callback);
  }

  /** Sends a request built with sequence number `this.seq` and runs `callback` on its ACK or error (at once if it cannot be sent). */
  private request(message: Buffer, callback: () => void): void {
    const seq = this.seq++;
    try {
      if (!this.socket) throw new Error('no socket');
      this.socket.send(message);
      this.barriers.set(seq, callback);
    } catch {
      callback();
    }
  }

  private dumpEnded(header: MessageHeader, errno: number): void {
    const barrier = this.barriers.get(header.seq);
    if (barrier) {
      this.barriers.delete(header.seq);
      barrier();
      return;
    }
    const pending = this.pending;
    if (!pending || header.seq !== pending.seq) return;
    this.pending = undefined;
    pending.resolve(errno);
  }

  private overrun(reason: string, count: number): void {
    this.overruns += Math.max(1, count);
    this.model.notificationsLost();
    // ENOBUFS drops only notifications (the kernel holds a dump back instead of dropping its
    // replies); the other reasons may have dropped replies to our own requests.
    if (reason !== 'enobufs') this.repliesMayBeLost();
    // One line per storm, not per ENOBUFS: the counter has the numbers.
    const now = Date.now();
    if (now - this.lastOverrunLog >= MIN_RESYNC_INTERVAL_MS) {
      this.lastOverrunLog = now;
      this.options.logger.warn('netlink overrun: notifications were lost; resyncing', {
        netns: this.options.label,
        reason,
        overruns: this.overruns,
      });
    }
    this.requestResync();
  }

  /**
   * Our own requests' replies may be gone. Barriers waiting for an ACK are dropped: the resync
   * that follows every loss repairs what they would have. A dump in flight is marked
   * interrupted (dumpAll repeats it) and, should its NLMSG_DONE never come, given up once
   * everything received is processed and no dump reply moves any more.
   */
  private repliesMayBeLost(): void {
    this.barriers.clear();
    const pending = this.pending;
    if (!pending) return;
    this.dispatch.dumpInterrupted = true;
    if (this.lostDumpTimer) return;
    let replies = this.dumpReplies();
    this.lostDumpTimer = setInterval(() => {
      const now = this.dumpReplies();
      if (this.pending === pending && (now !== replies || this.backlog.length > 0 || this.queueDepth > 0)) {
        replies = now;
        return;
      }
      clearInterval(this.lostDumpTimer);
      this.lostDumpTimer = undefined;
      if (this.pending !== pending) return;
      this.pending = undefined;
      this.options.logger.warn('a dump reply was lost in an overrun; dumping again', { netns: this.options.label });
      this.dispatch.dumpInterrupted = true;
      pending.resolve(0);
    }, LOST_DUMP_CHECK_MS);
    this.lostDumpTimer.unref();
  }

  private dumpReplies(): number {
    return this.counters.dumpReplies();
  }

  /**
   * Another process in the namespace (any holder of CAP_NET_ADMIN there, a rootless container
   * included) sent datagrams to our socket; the addon refused them unread. Counted, and logged
   * with the sender's port id the first time, then at most once per FOREIGN_LOG_INTERVAL_MS:
   * a sender cannot flood the log.
   */
  private refusedForeign(senderPort: number, count: number): void {
    this.foreignRefused += count;
    const now = Date.now();
    if (this.lastForeignLog !== undefined && now - this.lastForeignLog < FOREIGN_LOG_INTERVAL_MS) return;
    const first = this.lastForeignLog === undefined;
    this.lastForeignLog = now;
    this.options.logger.warn(
      first
        ? 'refused a netlink datagram not sent by the kernel'
        : 'still refusing netlink datagrams not sent by the kernel',
      {
        netns: this.options.label,
        senderPort,
        refused: this.foreignRefused,
      },
    );
  }

  private socketError(err: NodeJS.ErrnoException): void {
    this.options.logger.error('netlink socket failed', {
      netns: this.options.label,
      code: err.code,
      syscall: err.syscall,
      error: err.message,
    });
    this.ready = false;
  }

  /** Schedules a resync: one at a time, at most one per MIN_RESYNC_INTERVAL_MS. */
  requestResync(): void {
    if (this.closed) return;
    if (!this.ready) {
      // The initial dump is still running and what it already passed may be stale:
      // start() resyncs right after it.
      this.resyncWanted = true;
      return;
    }
    if (this.resyncRunning || this.resyncTimer) {
      this.resyncWanted = true;
      return;
    }
    const wait = Math.max(0, this.lastResyncStart + MIN_RESYNC_INTERVAL_MS - Date.now());
    this.resyncTimer = setTimeout(() => {
      this.resyncTimer = undefined;
      void this.resync();
    }, wait);
  }

  private async resync(): Promise<void> {
    if (this.closed) return;
    this.resyncRunning = true;
    this.resyncWanted = false;
    this.lastResyncStart = Date.now();
    const started = Date.now();
    this.model.resyncEvent('started');
    try {
      this.model.beginSweep();
      await this.dumpAll('resync');
      if (this.closed) return;
      this.model.sweep();
      this.resyncs++;
      this.lastResync = Date.now() / 1000;
      this.options.logger.info('resync complete', { netns: this.options.label, ms: Date.now() - started });
      this.model.resyncEvent('completed');
    } catch (err) {
      this.options.logger.error('resync failed', { netns: this.options.label, error: (err as Error).message });
      this.resyncWanted = true;
    } finally {
      this.resyncRunning = false;
      if (this.resyncWanted) this.requestResync();
    }
  }

  /** Reader events wait here, in order, to be processed in slices (drainBacklog). */
  private enqueue(
    event: NativeEvent,
    payload: Buffer | string | number | NodeJS.ErrnoException,
    count: number,
    length?: number,
  ): void {
    // A refusal is a count with no order to keep: taken at once, never queued behind data.
    if (event === 'foreign') {
      this.refusedForeign(payload as number, count);
      return;
    }
    this.backlog.push({ event, payload, count, length: length ?? (event === 'data' ? (payload as Buffer).length : 0) });
    if (!this.drainScheduled) {
      this.drainScheduled = true;
      setImmediate(() => this.drainBacklog());
    }
  }

  /**
   * Processes what the reader handed over for at most PROCESS_SLICE_MS, then lets the event loop
   * serve scrapes and timers before going on: a full-table burst is seconds of work, and in one
   * go it would hold a scrape for as long. A chunk is released to the reader's bound only once
   * processed, so the bound still counts everything not done (the addon's explicitRelease).
   * The chunk is a slot of the addon's pool, read in place: once released the reader fills it
   * again, so nothing decoded from it may keep a reference into it (the codec copies out what
   * it keeps: numbers and strings), and it is not garbage (no released() count).
   */
  private drainBacklog(): void {
    this.drainScheduled = false;
    const until = performance.now() + PROCESS_SLICE_MS;
    let done = 0;
    while (done < this.backlog.length && !this.closed) {
      const { event, payload, count, length } = this.backlog[done++] as ReaderEvent;
      if (event === 'data') {
        decodeChunk(payload as Buffer, this.dispatch, length);
        this.socket?.release();
      } else if (event === 'overrun') this.overrun(payload as string, count);
      else this.socketError(payload as NodeJS.ErrnoException);
      if (performance.now() >= until) break;
    }
    this.backlog.splice(0, done);
    if (this.backlog.length > 0 && !this.closed) {
      this.drainScheduled = true;
      setImmediate(() => this.drainBacklog());
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.backlog.length = 0;
    this.ready = false;
    if (this.resyncTimer) clearTimeout(this.resyncTimer);
    this.resyncTimer = undefined;
    if (this.lostDumpTimer) clearInterval(this.lostDumpTimer);
    if (this.dumpNudgeTimer) clearInterval(this.dumpNudgeTimer);
    this.dumpNudgeTimer = undefined;
    this.lostDumpTimer = undefined;
    this.pending?.resolve(0);
    this.pending = undefined;
    this.socket?.close();
    this.model.close();
    // What the namespace held is garbage now: counted, so that pods going by the hundred lead to
    // a collection (and malloc_trim) that gives their memory back, instead of waiting for V8.
    released(NAMESPACE_BYTES + this.model.holdings().routeBytes);
  }
}
