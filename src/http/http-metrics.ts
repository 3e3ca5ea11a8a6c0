// netlink_http_*: requests the server holds now, and the clients it turned away and why, read
// from the server at scrape time (prom-client, beside the process metrics); names, help and
// labels from the metric contract.

import { Counter, Gauge, Registry } from 'prom-client';
import { METRICS } from '../metrics/contract';
import { HttpStats, REFUSAL_REASONS, RefusalReason } from './stats';

export function registerHttpMetrics(registry: Registry, stats: () => HttpStats): void {
  new Gauge({
    name: METRICS.httpRequestsInFlight.name,
    help: METRICS.httpRequestsInFlight.help,
    registers: [registry],
    collect() {
      this.set(stats().requestsInFlight);
    },
  });
  const seen = Object.fromEntries(REFUSAL_REASONS.map((r) => [r, 0])) as Record<RefusalReason, number>;
  new Counter({
    name: METRICS.httpRefused.name,
    help: METRICS.httpRefused.help,
    labelNames: METRICS.httpRefused.labels,
    registers: [registry],
    collect() {
      const now = stats().refused;
      // Every reason at 0 from the start, so rate() sees the first refusal.
      for (const reason of REFUSAL_REASONS) {
        this.inc({ reason }, now[reason] - seen[reason]);
        seen[reason] = now[reason];
      }
    },
  });
}
