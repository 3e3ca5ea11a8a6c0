// netlink_http_*: requests the server holds now, and the clients it turned away and why, read
// from the server at scrape time (prom-client, beside the process metrics); names, help and
// labels from the metric contract.

import type { Registry } from 'prom-client';
import { METRICS } from '../metrics/contract';
import { registerCounterByLabel, registerGauge } from '../metrics/registry';
import { HttpStats, REFUSAL_REASONS } from './stats';

export function registerHttpMetrics(registry: Registry, stats: () => HttpStats): void {
  registerGauge(registry, METRICS.httpRequestsInFlight, () => stats().requestsInFlight);
  // Every reason at 0 from the start, so rate() sees the first refusal.
  registerCounterByLabel(registry, METRICS.httpRefused, REFUSAL_REASONS, () => stats().refused);
}
