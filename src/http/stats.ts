// What the server counts for the netlink_http_* metrics (http-metrics.ts reads it at scrape time).

/** Why a request or connection was turned away: the label of netlink_http_refused_total. */
export const REFUSAL_REASONS = [
  'unauthorized',
  'rate_limited',
  'auth_busy',
  'pipelined',
  'tls_handshake',
  'connections',
] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

export interface HttpStats {
  requestsInFlight: number;
  refused: Record<RefusalReason, number>;
}
