// netlink_event_stream_*: the live stream's clients and the ones it turned away or cut off,
// read from the stream at scrape time (prom-client, beside the process metrics); names, help and
// labels from the metric contract.

import type { Registry } from 'prom-client';
import { METRICS } from '../metrics/contract';
import { registerCounter, registerCounterByLabel, registerGauge } from '../metrics/registry';
import type { EventStreamStats } from './event-stream';

export function registerEventStreamMetrics(registry: Registry, stats: () => EventStreamStats): void {
  registerGauge(registry, METRICS.eventStreamClients, () => stats().clients);
  // The stream keeps running totals; the counters add what is new at each scrape.
  registerCounter(registry, METRICS.eventStreamRefused, () => stats().refused);
  registerCounterByLabel(registry, METRICS.eventStreamDisconnects, ['too_slow', 'stalled'], () => {
    const s = stats();
    return { too_slow: s.tooSlow, stalled: s.stalled };
  });
}
