// netlink_event_stream_*: the live stream's clients and the ones it turned away or cut off,
// read from the stream at scrape time (prom-client, beside the process metrics).

import { Counter, Gauge, Registry } from 'prom-client';
import type { EventStreamStats } from './event-stream';

export function registerEventStreamMetrics(registry: Registry, stats: () => EventStreamStats): void {
  new Gauge({
    name: 'netlink_event_stream_clients',
    help: 'Clients following /api/v1/events/stream now.',
    registers: [registry],
    collect() {
      this.set(stats().clients);
    },
  });
  // The stream keeps running totals; a prom-client counter only goes up by inc(): add what is new.
  let refused = 0;
  new Counter({
    name: 'netlink_event_stream_refused_total',
    help: 'Event stream requests answered 503 (past events.stream_max_clients, or shutting down).',
    registers: [registry],
    collect() {
      const now = stats().refused;
      this.inc(now - refused);
      refused = now;
    },
  });
  const cut = { too_slow: 0, stalled: 0 };
  new Counter({
    name: 'netlink_event_stream_disconnects_total',
    help: 'Event stream clients cut off: too_slow (the ring overwrote events not yet sent to them), stalled (their socket did not drain).',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      const s = stats();
      // Announced at 0 from the start, so rate() sees the first one.
      this.inc({ reason: 'too_slow' }, s.tooSlow - cut.too_slow);
      this.inc({ reason: 'stalled' }, s.stalled - cut.stalled);
      cut.too_slow = s.tooSlow;
      cut.stalled = s.stalled;
    },
  });
}
