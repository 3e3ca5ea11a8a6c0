// netlink_http_*: requests the server holds now, and the clients it turned away and why, read
// from the server at scrape time (prom-client, beside the process metrics).

import { Counter, Gauge, Registry } from 'prom-client';
import { HttpStats, REFUSAL_REASONS, RefusalReason } from '../server';

export function registerHttpMetrics(registry: Registry, stats: () => HttpStats): void {
  new Gauge({
    name: 'netlink_http_requests_in_flight',
    help: 'HTTP requests taken and not yet answered or dropped, pipelined ones waiting included (the scrape that reads this counts itself).',
    registers: [registry],
    collect() {
      this.set(stats().requestsInFlight);
    },
  });
  const seen = Object.fromEntries(REFUSAL_REASONS.map((r) => [r, 0])) as Record<RefusalReason, number>;
  new Counter({
    name: 'netlink_http_refused_total',
    help: 'HTTP requests or connections turned away: unauthorized (401), rate_limited (429, the web config rate_limit), auth_busy (429, too many password checks waiting), pipelined (connection cut: too many requests pipelined), tls_handshake (TLS handshake failed or timed out).',
    labelNames: ['reason'],
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
