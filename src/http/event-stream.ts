// Server-Sent Events for /api/v1/events/stream: each client has a cursor (a seq) into the event
// ring and is fed from the ring, never from a queue of its own. A client that reads slowly
// costs at most one batch in its socket's buffer: when `res.write` says the buffer is full we
// stop writing and wait for 'drain'. A client that stops reading is disconnected when the ring
// has overwritten events it has not been sent yet, or when it has not drained for `stallMs`;
// a reconnecting EventSource resumes from its Last-Event-ID (told when events were lost).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { formatEventJson } from '../events/format';
import type { EventRing } from '../events/ring';
import type { Logger } from '../support/log';
import type { DomainEvent } from '../state/events';

export interface EventStreamOptions {
  ring: EventRing;
  /** Clients at once; past it a request gets 503 with Retry-After. 0 turns the stream off. */
  maxClients: number;
  logger: Logger;
  /** A comment line this often keeps proxies and the browser from closing an idle stream. */
  heartbeatMs?: number;
  /** A client whose socket has not drained for this long is disconnected. */
  stallMs?: number;
  /** Events per write when a client catches up from the ring. */
  batch?: number;
}

export interface StreamRequest {
  /** Events after this seq are sent first (from the ring), then every new one. */
  cursor: number;
  match: ((event: DomainEvent) => boolean) | undefined;
}

interface Client {
  id: number;
  res: ServerResponse;
  cursor: number;
  match: ((event: DomainEvent) => boolean) | undefined;
  /** Date.now() when a write found the buffer full; undefined while writes go through. */
  blockedSince: number | undefined;
  remote: string;
}

/** Seconds a client refused for the cap is told to wait. */
export const STREAM_RETRY_AFTER_SECONDS = 10;
/** What a reconnecting EventSource waits (ms), sent as `retry:`. */
const RECONNECT_MS = 3000;

function frame(e: DomainEvent): string {
  // JSON.stringify escapes newlines, so the event is one `data:` line.
  return `id: ${e.seq}\ndata: ${formatEventJson(e)}\n\n`;
}

/** What the stream did, for netlink_event_stream_* metrics. */
export interface EventStreamStats {
  clients: number;
  /** Requests answered 503: past the client cap, or after close(). */
  refused: number;
  /** Clients cut off because the ring overwrote events they had not been sent. */
  tooSlow: number;
  /** Clients cut off because their socket did not drain for stallMs. */
  stalled: number;
}

export class EventStream {
  private readonly clients = new Set<Client>();
  private refused = 0;
  private tooSlow = 0;
  private stalled = 0;
  private readonly ring: EventRing;
  private readonly logger: Logger;
  private readonly heartbeatMs: number;
  private readonly stallMs: number;
  private readonly batch: number;
  private heartbeat: NodeJS.Timeout | undefined;
  private closed = false;
  private lastId = 0;

  constructor(private readonly options: EventStreamOptions) {
    this.ring = options.ring;
    this.logger = options.logger;
    this.heartbeatMs = options.heartbeatMs ?? 15_000;
    this.stallMs = options.stallMs ?? 60_000;
    this.batch = options.batch ?? 200;
  }

  stats(): EventStreamStats {
    return { clients: this.clients.size, refused: this.refused, tooSlow: this.tooSlow, stalled: this.stalled };
  }

  /** Answers a stream request: 503 past the cap or after close(), else the stream. */
  open(req: IncomingMessage, res: ServerResponse, request: StreamRequest): void {
    if (this.closed) {
      this.refused++;
      res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close' }).end('shutting down\n');
      return;
    }
    if (this.clients.size >= this.options.maxClients) {
      this.refused++;
      const why =
        this.options.maxClients === 0
          ? 'the event stream is off (events.stream_max_clients: 0)\n'
          : `too many event stream clients (events.stream_max_clients: ${this.options.maxClients}); retry later\n`;
      res
        .writeHead(503, {
          'Content-Type': 'text/plain; charset=utf-8',
          'Retry-After': String(STREAM_RETRY_AFTER_SECONDS),
          'Cache-Control': 'no-store',
        })
        .end(why);
      return;
    }
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      // A reverse proxy (nginx) must pass the events on at once, not buffer them.
      'X-Accel-Buffering': 'no',
      // The socket goes with the stream (so shutdown never waits for an idle keep-alive).
      Connection: 'close',
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    req.socket.setTimeout(0);
    req.socket.setNoDelay(true);
    req.socket.setKeepAlive(true, this.heartbeatMs);

    const ring = this.ring;
    let cursor = request.cursor;
    let preface = `retry: ${RECONNECT_MS}\n: netlink-exporter domain events\n\n`;
    if (cursor > ring.latest) {
      // A cursor from an earlier run of the exporter (seq starts at 1 again): start over.
      preface += `event: reset\ndata: ${JSON.stringify({ since: cursor, latest: ring.latest })}\n\n`;
      cursor = 0;
    }
    if (cursor < ring.oldest - 1) {
      // Events after the cursor fell out of the ring: say so, and go on from the oldest held.
      preface += `event: dropped\ndata: ${JSON.stringify({ since: cursor, oldest: ring.oldest })}\n\n`;
      cursor = ring.oldest - 1;
    }
    const client: Client = {
      id: ++this.lastId,
      res,
      cursor,
      match: request.match,
      blockedSince: undefined,
      remote: `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`,
    };
    this.clients.add(client);
    res.on('close', () => {
      if (this.clients.delete(client))
        this.logger.debug('event stream closed', {
          client: client.id,
          remote: client.remote,
          clients: this.clients.size,
        });
      if (this.clients.size === 0) this.stopHeartbeat();
    });
    this.logger.debug('event stream opened', {
      client: client.id,
      remote: client.remote,
      since: cursor,
      clients: this.clients.size,
    });
    this.startHeartbeat();
    if (this.write(client, preface)) this.pump(client);
  }

  /** A new event is in the ring: send it to every client that is keeping up. */
  onEvent(): void {
    for (const client of this.clients) this.pump(client);
  }

  /** Ends every stream and refuses new ones (shutdown). */
  close(): void {
    this.closed = true;
    this.stopHeartbeat();
    const open = [...this.clients];
    this.clients.clear();
    for (const client of open) {
      // A client that does not read would keep its socket (and server.close()) waiting.
      if (client.blockedSince !== undefined) client.res.destroy();
      else client.res.end();
    }
    if (open.length > 0) {
      const timer = setTimeout(() => {
        for (const client of open) if (!client.res.socket?.destroyed) client.res.socket?.destroy();
      }, 2_000);
      timer.unref();
    }
  }

  /** Writes what the client has not had yet, from the ring, until its buffer is full. */
  private pump(client: Client): void {
    const ring = this.ring;
    for (;;) {
      if (client.res.destroyed) return;
      if (client.cursor < ring.oldest - 1) {
        // The ring overwrote events this client, connected all along, was not sent yet: it
        // reads too slowly. Its EventSource reconnects and is told what it lost.
        this.tooSlow++;
        this.logger.warn('event stream client too slow: disconnected', {
          client: client.id,
          remote: client.remote,
          behind: ring.latest - client.cursor,
        });
        this.drop(client);
        return;
      }
      if (client.blockedSince !== undefined) return;
      const { events, next } = ring.scan(client.cursor, this.batch, client.match);
      client.cursor = next;
      if (events.length === 0) return;
      let text = '';
      for (const e of events) text += frame(e);
      if (!this.write(client, text)) return;
    }
  }

  /** res.write; false (and waits for 'drain' to pump again) when the socket's buffer is full. */
  private write(client: Client, text: string): boolean {
    if (client.res.write(text)) return true;
    client.blockedSince = Date.now();
    client.res.once('drain', () => {
      client.blockedSince = undefined;
      this.pump(client);
    });
    return false;
  }

  private drop(client: Client): void {
    this.clients.delete(client);
    client.res.destroy();
  }

  private startHeartbeat(): void {
    if (this.heartbeat) return;
    this.heartbeat = setInterval(() => this.beat(), this.heartbeatMs);
    this.heartbeat.unref();
  }

  private stopHeartbeat(): void {
    if (!this.heartbeat) return;
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  private beat(): void {
    const now = Date.now();
    for (const client of this.clients) {
      if (client.blockedSince === undefined) {
        this.write(client, ': heartbeat\n\n');
      } else if (now - client.blockedSince >= this.stallMs) {
        this.stalled++;
        this.logger.warn('event stream client stalled: disconnected', {
          client: client.id,
          remote: client.remote,
          stalled_ms: now - client.blockedSince,
        });
        this.drop(client);
      }
    }
    if (this.clients.size === 0) this.stopHeartbeat();
  }
}
