// What the trace pipeline dropped and exported, for netlink_trace_spans_dropped_total and
// netlink_trace_spans_exported_total. No OpenTelemetry import here: the metrics read it, and
// the SDK is loaded only when tracing is on.

/** Why a span never reached the collector. */
export const DROP_REASONS = ['queue_full', 'rate_limited', 'export_failed'] as const;
export type DropReason = (typeof DROP_REASONS)[number];

/** Read at scrape time. */
export interface TraceStats {
  dropped(): Readonly<Record<DropReason, number>>;
  exported(): number;
}

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
