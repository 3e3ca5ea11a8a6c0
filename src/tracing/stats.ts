// What each signal's pipeline dropped and exported, for netlink_trace_spans_dropped_total,
// netlink_trace_spans_exported_total (spans) and netlink_otel_dropped_total /
// netlink_otel_exported_total (every signal). No OpenTelemetry import here: the metrics read it,
// and the SDK is loaded only when a signal is on.

/** Why a span never reached the collector. */
export const DROP_REASONS = ['queue_full', 'rate_limited', 'export_failed'] as const;
export type DropReason = (typeof DROP_REASONS)[number];

/** Read at scrape time. */
export interface TraceStats {
  dropped(): Readonly<Record<DropReason, number>>;
  exported(): number;
}

export const SIGNAL_NAMES = ['traces', 'logs', 'metrics'] as const;
export type SignalName = (typeof SIGNAL_NAMES)[number];

/** Every signal that is on, its counters (spans, log records, metric data points). */
export type SignalStats = Partial<Record<SignalName, TraceStats>>;

/** Plain counters, bumped on the event path (one integer add) and read at scrape time. */
export class TraceCounters implements TraceStats {
  private readonly drops: Record<DropReason, number> = { queue_full: 0, rate_limited: 0, export_failed: 0 };
  private exportedSpans = 0;

  drop(reason: DropReason, spans = 1): void {
    this.drops[reason] += spans;
  }

  addExported(spans: number): void {
    this.exportedSpans += spans;
  }

  dropped(): Readonly<Record<DropReason, number>> {
    return this.drops;
  }

  exported(): number {
    return this.exportedSpans;
  }
}

/** The same counters for any signal. */
export { TraceCounters as SignalCounters };
