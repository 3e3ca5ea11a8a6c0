// The bounded export path, one for spans and one for log records: a token bucket in front of
// their creation, and a processor with a bounded queue and one export in flight. Nothing here ever
// waits for the collector on the netlink path: onEnd()/onEmit() is a push or a counted drop;
// exports run from a timer; an export that is not answered within its timeout counts as failed
// and the next batch goes. What is dropped is counted by reason (netlink_trace_spans_dropped_total,
// netlink_otel_dropped_total{signal}).

import type { Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { DropReason } from './stats';

/** ExportResultCode.SUCCESS of @opentelemetry/core (a const enum there). */
const EXPORT_SUCCESS = 0;
/** TraceFlags.SAMPLED. */
const SAMPLED = 1;

/** Spans started per second at most, with a burst of one second's worth. */
export class RateLimiter {
  private tokens: number;
  private last: number;

  constructor(
    private readonly perSecond: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = perSecond;
    this.last = now();
  }

  /** Takes a token if there is one. */
  tryTake(): boolean {
    const now = this.now();
    if (now > this.last) {
      this.tokens = Math.min(this.perSecond, this.tokens + ((now - this.last) * this.perSecond) / 1000);
      this.last = now;
    }
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

export interface BoundedProcessorOptions {
  maxQueueSize: number;
  maxExportBatchSize: number;
  scheduleDelayMs: number;
  exportTimeoutMs: number;
  /** Called (rate-limited by the caller) when an export fails. */
  onExportError?: (error: Error | undefined, spans: number) => void;
}

/** What a span or log record exporter offers (SpanExporter, LogRecordExporter). */
export interface ItemExporter<T> {
  export(items: T[], done: (result: { code: number; error?: Error }) => void): void;
  shutdown(): Promise<void>;
}

/** Where the drops and exports of one signal are counted. */
export interface ExportCounters {
  drop(reason: DropReason, items?: number): void;
  addExported(items: number): void;
}

/** A bounded queue with one export in flight, of spans or log records. */
export class BoundedExportQueue<T> {
  private queue: T[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  /** Ends the export in flight as failed (at shutdown: it will not be waited for). */
  private abandon: (() => void) | undefined;
  private stopped = false;

  constructor(
    private readonly exporter: ItemExporter<T>,
    private readonly counters: ExportCounters,
    private readonly options: BoundedProcessorOptions,
  ) {}

  /** Items waiting for export. */
  get queued(): number {
    return this.queue.length;
  }

  /** Queues one item for export, or counts it as queue_full. O(1), never waits. */
  push(item: T): void {
    if (this.stopped) return;
    if (this.queue.length >= this.options.maxQueueSize) {
      this.counters.drop('queue_full');
      return;
    }
    this.queue.push(item);
    this.schedule();
  }

  /** Arms the export timer: at once when a full batch waits, else after the schedule delay. */
  private schedule(): void {
    if (this.inFlight || this.queue.length === 0) return;
    const full = this.queue.length >= this.options.maxExportBatchSize;
    if (this.timer && !full) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        void this.exportBatch();
      },
      full ? 0 : this.options.scheduleDelayMs,
    );
    this.timer.unref();
  }

  /** Exports one batch; resolves when it is answered or timed out. Never rejects. */
  private exportBatch(): Promise<void> {
    if (this.inFlight) return this.inFlight;
    if (this.queue.length === 0) return Promise.resolve();
    const batch = this.queue.splice(0, this.options.maxExportBatchSize);
    let resolve!: () => void;
    // Set before export() runs: an exporter may answer synchronously (a refusal), inside the call.
    const inFlight = new Promise<void>((r) => (resolve = r));
    this.inFlight = inFlight;
    let done = false;
    const finish = (ok: boolean, error?: Error): void => {
      if (done) return;
      done = true;
      clearTimeout(timeout);
      if (ok) this.counters.addExported(batch.length);
      else {
        this.counters.drop('export_failed', batch.length);
        this.options.onExportError?.(error, batch.length);
      }
      if (this.inFlight === inFlight) {
        this.inFlight = undefined;
        this.abandon = undefined;
      }
      resolve();
      if (!this.stopped) this.schedule();
    };
    const timeout = setTimeout(
      () => finish(false, new Error(`no answer within ${this.options.exportTimeoutMs} ms`)),
      this.options.exportTimeoutMs,
    );
    timeout.unref();
    this.abandon = () => finish(false, new Error('still in flight at shutdown'));
    try {
      this.exporter.export(batch, (result) => finish(result.code === EXPORT_SUCCESS, result.error));
    } catch (err) {
      finish(false, err as Error);
    }
    return inFlight;
  }

  /** Exports what is queued, batch after batch, until the queue is empty or `deadline` (ms since the epoch) passes. */
  private async drain(deadline: number): Promise<void> {
    while ((this.queue.length > 0 || this.inFlight) && Date.now() < deadline) {
      const remaining = deadline - Date.now();
      let timer: NodeJS.Timeout | undefined;
      // A ref'd timer: whoever waits for a flush holds the process up to its deadline, no longer.
      await Promise.race([
        this.inFlight ?? this.exportBatch(),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, remaining))),
      ]);
      clearTimeout(timer);
    }
  }

  forceFlush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    return this.drain(Date.now() + this.options.exportTimeoutMs);
  }

  /** Exports what it can within `timeoutMs`, counts the rest as export_failed, and shuts the exporter down. */
  async shutdownWithin(timeoutMs: number): Promise<void> {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.drain(Date.now() + timeoutMs);
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.abandon?.();
    if (this.queue.length > 0) this.counters.drop('export_failed', this.queue.length);
    this.queue = [];
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.exporter.shutdown().catch(() => undefined),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(100, timeoutMs / 4)))),
    ]);
    clearTimeout(timer);
  }

  shutdown(): Promise<void> {
    return this.shutdownWithin(this.options.exportTimeoutMs);
  }
}

export class BoundedSpanProcessor extends BoundedExportQueue<ReadableSpan> implements SpanProcessor {
  onStart(_span: Span, _parentContext: Context): void {}

  onEnd(span: ReadableSpan): void {
    if ((span.spanContext().traceFlags & SAMPLED) === 0) return;
    this.push(span);
  }
}
