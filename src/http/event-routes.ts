// /api/v1/events (JSON with a `since` cursor), /events (the live page) and its event stream.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EventBus } from '../events/bus';
import { formatEventJson } from '../events/format';
import { FILTER_PARAMS, parseCursor, parseEventQuery, QueryError } from '../events/query';
import type { EventRing } from '../events/ring';
import type { Logger } from '../support/log';
import type { Route } from './route';
import { EventStream, EventStreamStats } from './event-stream';
import { EVENTS_PAGE_CSP, EVENTS_PAGE_HTML, eventsPageHtml } from './events-page';

export const EVENTS_API_PATH = '/api/v1/events';
export const EVENTS_STREAM_PATH = '/api/v1/events/stream';
export const EVENTS_PAGE_PATH = '/events';

export interface EventRoutesOptions {
  ring: EventRing;
  bus: EventBus;
  maxStreamClients: number;
  logger: Logger;
  /** Stream heartbeat period (default 15 s). */
  heartbeatMs?: number;
}

export interface EventRoutes {
  routes: Record<string, Route>;
  /** The live stream's clients and cut-offs (netlink_event_stream_* metrics). */
  streamStats(): EventStreamStats;
  /** Ends every open stream (at shutdown, so the server can close). */
  close(): void;
}

function query(req: IncomingMessage): URLSearchParams {
  return new URL(req.url ?? '/', 'http://localhost').searchParams;
}

function badRequest(res: ServerResponse, message: string): void {
  res
    .writeHead(400, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' })
    .end(JSON.stringify({ error: message }) + '\n');
}

/**
 * The answer of GET /api/v1/events: the events after `since` (oldest first), the cursor for the
 * next request, and what the ring holds. One event per line, so `curl` output stays readable.
 */
function listEvents(ring: EventRing, params: URLSearchParams): string {
  const q = parseEventQuery(params, ring.capacity);
  // A cursor ahead of the newest event comes from an earlier run (seq starts at 1 again): the
  // answer starts over from the oldest held, and says events were missed.
  const restarted = q.since > ring.latest;
  const since = restarted ? 0 : q.since;
  const oldest = ring.oldest;
  const { events, next, more } = ring.scan(since, q.limit, q.match);
  const dropped = restarted || since < oldest - 1;
  const head = `{"next":${next},"oldest":${oldest},"latest":${ring.latest},"more":${more},"dropped":${dropped},"events":[`;
  return events.length === 0 ? `${head}]}\n` : `${head}\n${events.map(formatEventJson).join(',\n')}\n]}\n`;
}

export function createEventRoutes(options: EventRoutesOptions): EventRoutes {
  const { ring, bus, logger } = options;
  const stream = new EventStream({
    ring,
    maxClients: options.maxStreamClients,
    logger,
    ...(options.heartbeatMs !== undefined ? { heartbeatMs: options.heartbeatMs } : {}),
  });
  // Streams are fed from the ring: src/main.ts subscribes the ring first, so it already holds the
  // event; were it the other way round, the stream looks once the ring has been given it.
  bus.subscribe((e) => {
    if (ring.latest >= e.seq) stream.onEvent();
    else queueMicrotask(() => stream.onEvent());
  });
  const page = Buffer.from(EVENTS_PAGE_HTML, 'utf8');

  const routes: Record<string, Route> = {
    [EVENTS_API_PATH]: {
      handle(req, res) {
        let body: string;
        try {
          body = listEvents(ring, query(req));
        } catch (err) {
          if (err instanceof QueryError) return badRequest(res, err.message);
          throw err;
        }
        res.writeHead(200, {
          'Content-Type': 'application/json; charset=utf-8',
          'Cache-Control': 'no-store',
          'Content-Length': Buffer.byteLength(body),
        });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
    },
    [EVENTS_STREAM_PATH]: {
      streaming: true,
      handle(req, res) {
        const params = query(req);
        let cursor: number;
        let match;
        try {
          const q = parseEventQuery(params, ring.capacity, ['since', ...FILTER_PARAMS]);
          match = q.match;
          // A reconnecting EventSource sends the id of the last event it had; it wins over the
          // `since` of the URL it was opened with. Without either, only new events are sent.
          const lastEventId = req.headers['last-event-id'];
          if (typeof lastEventId === 'string' && lastEventId !== '')
            cursor = parseCursor('Last-Event-ID', lastEventId.trim());
          else cursor = params.has('since') ? q.since : ring.latest;
        } catch (err) {
          if (err instanceof QueryError) return badRequest(res, err.message);
          throw err;
        }
        stream.open(req, res, { cursor, match });
      },
    },
    [EVENTS_PAGE_PATH]: {
      handle(req, res) {
        // The same filters as the API, by the same parser: a bad one is the same 400.
        const params = query(req);
        let body = page;
        try {
          const q = parseEventQuery(params, ring.capacity, FILTER_PARAMS);
          if (q.match !== undefined) body = Buffer.from(eventsPageHtml(q.filters), 'utf8');
        } catch (err) {
          if (err instanceof QueryError) return badRequest(res, err.message);
          throw err;
        }
        res.writeHead(200, {
          'Content-Type': 'text/html; charset=utf-8',
          'Content-Length': body.length,
          'Cache-Control': 'no-cache',
          'Content-Security-Policy': EVENTS_PAGE_CSP,
          'X-Content-Type-Options': 'nosniff',
          'Referrer-Policy': 'no-referrer',
        });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
    },
  };
  return { routes, streamStats: () => stream.stats(), close: () => stream.close() };
}
