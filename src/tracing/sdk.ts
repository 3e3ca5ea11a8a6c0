// The OpenTelemetry SDK, set up only when a signal is on (index.ts loads this module with a
// dynamic import; nothing here is required otherwise): @opentelemetry/sdk-node's NodeSDK with no
// instrumentation, given its parts explicitly so that it reads nothing more from the environment
// than settings.ts has checked:
//
// - traces: our bounded, rate-limited span processor (processor.ts) in front of the OTLP span
//   exporter of the protocol (grpc, http/protobuf, http/json) or the console;
// - logs: domain events as log records (logs.ts) through the same kind of bounded processor;
// - metrics: a PeriodicExportingMetricReader over the metric producer the caller hands in (the
//   model, read at export time: no instrument on the netlink path).
//
// A signal that is off gets an empty list (NodeSDK would otherwise configure it from OTEL_*
// itself). The resource is ours (resource.ts semantics: service.*, host.name, OTEL_RESOURCE_
// ATTRIBUTES, OTEL_SERVICE_NAME); no resource detector runs (process.command_args would publish
// the command line). NodeSDK registers the global providers; shutdown unregisters them.

import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { context, diag, metrics, propagation, trace } from '@opentelemetry/api';
import { logs } from '@opentelemetry/api-logs';
import { defaultResource, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import type { Resource } from '@opentelemetry/resources';
import { ConsoleLogRecordExporter } from '@opentelemetry/sdk-logs';
import type { LogRecordExporter, ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { ConsoleMetricExporter, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import type { MetricProducer, PushMetricExporter, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { ConsoleSpanExporter } from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import type { Logger } from '../support/log';
import type { DomainEvent } from '../state/events';
import { RESOURCE } from './attributes';
import { ExemplarStore } from './exemplars';
import { BoundedLogRecordProcessor, EventLogs } from './logs';
import type { Tracing, TracingOptions } from './types';
import { BoundedSpanProcessor, RateLimiter } from './processor';
import type { ItemExporter } from './processor';
import type { SignalExport, TelemetrySettings } from './settings';
import { EventSpans } from './spans';
import { TraceCounters } from './stats';
import type { SignalName, SignalStats } from './stats';

export const SERVICE_NAME = 'netlink-exporter';
/** How long a shutdown waits for the last export. */
const SHUTDOWN_FLUSH_MS = 3000;
/** Export failures are logged at most this often (the drop counter has every one). */
const ERROR_LOG_INTERVAL_MS = 60_000;
/** ExportResultCode.SUCCESS / FAILED of @opentelemetry/core. */
const EXPORT_SUCCESS = 0;
const EXPORT_FAILED = 1;

/**
 * service.name (OTEL_SERVICE_NAME > OTEL_RESOURCE_ATTRIBUTES > "netlink-exporter"),
 * service.version, service.instance.id (a UUID per process), host.name, and whatever
 * OTEL_RESOURCE_ATTRIBUTES adds.
 */
export function buildResource(version: string): Resource {
  const own = resourceFromAttributes({
    [ATTR_SERVICE_NAME]: SERVICE_NAME,
    [ATTR_SERVICE_VERSION]: version,
    [RESOURCE.serviceInstanceId]: randomUUID(),
    [RESOURCE.hostName]: hostname(),
  });
  const fromEnv = resourceFromAttributes(envDetector.detect().attributes ?? {});
  return defaultResource().merge(own).merge(fromEnv);
}

/** What every OTLP exporter is given: the URL, one request's timeout, the compression. */
function otlpConfig(s: SignalExport): {
  url: string;
  timeoutMillis: number;
  compression: never;
  concurrencyLimit: number;
} {
  // One request at a time is all a bounded processor sends; the exporter's own timeout ends it.
  return {
    url: s.destination,
    timeoutMillis: s.requestTimeoutMs,
    compression: s.compression as never,
    concurrencyLimit: 2,
  };
}

async function createSpanExporter(s: SignalExport): Promise<SpanExporter> {
  if (s.exporter === 'console') return new ConsoleSpanExporter();
  if (s.protocol === 'grpc') {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-grpc');
    return new OTLPTraceExporter(otlpConfig(s));
  }
  if (s.protocol === 'http/json') {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    return new OTLPTraceExporter(otlpConfig(s));
  }
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto');
  return new OTLPTraceExporter(otlpConfig(s));
}

async function createLogExporter(s: SignalExport): Promise<LogRecordExporter> {
  if (s.exporter === 'console') return new ConsoleLogRecordExporter();
  if (s.protocol === 'grpc') {
    const { OTLPLogExporter } = await import('@opentelemetry/exporter-logs-otlp-grpc');
    return new OTLPLogExporter(otlpConfig(s));
  }
  if (s.protocol === 'http/json') {
    const { OTLPLogExporter } = await import('@opentelemetry/exporter-logs-otlp-http');
    return new OTLPLogExporter(otlpConfig(s));
  }
  const { OTLPLogExporter } = await import('@opentelemetry/exporter-logs-otlp-proto');
  return new OTLPLogExporter(otlpConfig(s));
}

async function createMetricExporter(s: SignalExport): Promise<PushMetricExporter> {
  if (s.exporter === 'console') return new ConsoleMetricExporter();
  if (s.protocol === 'grpc') {
    const { OTLPMetricExporter } = await import('@opentelemetry/exporter-metrics-otlp-grpc');
    return new OTLPMetricExporter(otlpConfig(s));
  }
  if (s.protocol === 'http/json') {
    const { OTLPMetricExporter } = await import('@opentelemetry/exporter-metrics-otlp-http');
    return new OTLPMetricExporter(otlpConfig(s));
  }
  const { OTLPMetricExporter } = await import('@opentelemetry/exporter-metrics-otlp-proto');
  return new OTLPMetricExporter(otlpConfig(s));
}

/** Data points in one export (what netlink_otel_*_total{signal="metrics"} count). */
export function dataPoints(resourceMetrics: ResourceMetrics): number {
  let n = 0;
  for (const scope of resourceMetrics.scopeMetrics) for (const metric of scope.metrics) n += metric.dataPoints.length;
  return n;
}

/**
 * The metric exporter with its data points counted: exported when the collector accepted them,
 * export_failed otherwise. The reader sends one export per interval and the exporter's
 * concurrency limit refuses more in flight, so a slow collector costs failed exports, not memory.
 */
export class CountingMetricExporter implements PushMetricExporter {
  readonly selectAggregationTemporality: PushMetricExporter['selectAggregationTemporality'];
  readonly selectAggregation: PushMetricExporter['selectAggregation'];

  constructor(
    private readonly inner: PushMetricExporter,
    private readonly counters: TraceCounters,
    private readonly onError: (error: Error | undefined, items: number) => void,
  ) {
    this.selectAggregationTemporality = inner.selectAggregationTemporality?.bind(inner);
    this.selectAggregation = inner.selectAggregation?.bind(inner);
  }

  export(metrics: ResourceMetrics, done: (result: { code: number; error?: Error }) => void): void {
    const n = dataPoints(metrics);
    let answered = false;
    const finish = (result: { code: number; error?: Error }): void => {
      if (answered) return;
      answered = true;
      if (result.code === EXPORT_SUCCESS) this.counters.addExported(n);
      else {
        this.counters.drop('export_failed', n);
        this.onError(result.error, n);
      }
      done(result);
    };
    try {
      this.inner.export(metrics, finish);
    } catch (err) {
      finish({ code: EXPORT_FAILED, error: err as Error });
    }
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
}

function exportErrorLogger(
  logger: Logger,
  signal: SignalName,
  destination: string,
): (error: Error | undefined, items: number) => void {
  let lastLogged = 0;
  let unlogged = 0;
  const what = { traces: 'spans', logs: 'log records', metrics: 'data points' }[signal];
  const message =
    signal === 'traces' ? 'trace export failed; spans dropped' : `${signal} export failed; ${what} dropped`;
  return (error, items) => {
    unlogged += items;
    const now = Date.now();
    if (now - lastLogged < ERROR_LOG_INTERVAL_MS) return;
    lastLogged = now;
    logger.warn(message, {
      endpoint: destination,
      [signal === 'traces' ? 'spans' : 'items']: unlogged,
      error: error?.message ?? 'unknown',
    });
    unlogged = 0;
  };
}

/** The metric producers, asked for only when the metrics signal is on (they load the SDK's types). */
export type MetricProducers = () => Promise<MetricProducer[]>;

export async function createTelemetry(options: TracingOptions, settings: TelemetrySettings): Promise<Tracing> {
  const { logger } = options;
  for (const warning of settings.warnings) logger.warn('opentelemetry', { problem: warning });
  const signals: SignalStats = {};
  const flushes: ((deadline: number) => Promise<void>)[] = [];

  let spans: EventSpans | undefined;
  let exemplars: ExemplarStore | undefined;
  let spanProcessor: BoundedSpanProcessor | undefined;
  if (settings.traces) {
    const t = settings.traces;
    const counters = new TraceCounters();
    signals.traces = counters;
    exemplars = new ExemplarStore();
    spanProcessor = new BoundedSpanProcessor((await createSpanExporter(t)) as ItemExporter<ReadableSpan>, counters, {
      maxQueueSize: t.maxQueueSize,
      maxExportBatchSize: t.maxExportBatchSize,
      scheduleDelayMs: t.scheduleDelayMs,
      exportTimeoutMs: t.exportTimeoutMs,
      onExportError: exportErrorLogger(logger, 'traces', t.destination),
    });
    const processor = spanProcessor;
    flushes.push((deadline) => processor.shutdownWithin(Math.min(deadline - Date.now(), t.exportTimeoutMs)));
  }

  let logProcessor: BoundedLogRecordProcessor | undefined;
  let logCounters: TraceCounters | undefined;
  if (settings.logs) {
    const l = settings.logs;
    logCounters = new TraceCounters();
    signals.logs = logCounters;
    logProcessor = new BoundedLogRecordProcessor(
      (await createLogExporter(l)) as unknown as ItemExporter<ReadableLogRecord>,
      logCounters,
      {
        maxQueueSize: l.maxQueueSize,
        maxExportBatchSize: l.maxExportBatchSize,
        scheduleDelayMs: l.scheduleDelayMs,
        exportTimeoutMs: l.exportTimeoutMs,
        onExportError: exportErrorLogger(logger, 'logs', l.destination),
      },
    );
    const processor = logProcessor;
    flushes.push((deadline) => processor.shutdownWithin(Math.min(deadline - Date.now(), l.exportTimeoutMs)));
  }

  let reader: PeriodicExportingMetricReader | undefined;
  if (settings.metrics) {
    const m = settings.metrics;
    const counters = new TraceCounters();
    signals.metrics = counters;
    const producers = options.metricProducers ? await options.metricProducers() : [];
    reader = new PeriodicExportingMetricReader({
      exporter: new CountingMetricExporter(
        await createMetricExporter(m),
        counters,
        exportErrorLogger(logger, 'metrics', m.destination),
      ),
      exportIntervalMillis: m.intervalMs,
      exportTimeoutMillis: m.exportTimeoutMs,
      metricProducers: producers,
    });
  }

  const sdk = new NodeSDK({
    resource: buildResource(options.version),
    autoDetectResources: false,
    instrumentations: [],
    textMapPropagator: null,
    spanProcessors: spanProcessor ? [spanProcessor] : [],
    logRecordProcessors: logProcessor ? [logProcessor] : [],
    metricReaders: reader ? [reader] : [],
  });
  sdk.start();

  if (settings.traces && spanProcessor && exemplars && signals.traces) {
    const t = settings.traces;
    spans = new EventSpans({
      tracer: trace.getTracer(SERVICE_NAME, options.version),
      limiter: new RateLimiter(t.maxSpansPerSecond),
      counters: signals.traces as TraceCounters,
      exemplars,
      maxOpenSpans: t.maxOpenSpans,
    });
    logger.info('tracing on', {
      exporter: t.exporter,
      protocol: t.protocol,
      endpoint: t.destination,
      max_spans_per_second: t.maxSpansPerSecond,
      max_queue_size: t.maxQueueSize,
    });
  }
  let eventLogs: EventLogs | undefined;
  if (settings.logs && logCounters) {
    eventLogs = new EventLogs({
      logger: logs.getLogger(SERVICE_NAME, options.version),
      limiter: new RateLimiter(settings.logs.maxRecordsPerSecond),
      counters: logCounters,
    });
    logger.info('opentelemetry logs on', {
      exporter: settings.logs.exporter,
      protocol: settings.logs.protocol,
      endpoint: settings.logs.destination,
      max_log_records_per_second: settings.logs.maxRecordsPerSecond,
      max_queue_size: settings.logs.maxQueueSize,
    });
  }
  if (settings.metrics)
    logger.info('opentelemetry metrics on', {
      exporter: settings.metrics.exporter,
      protocol: settings.metrics.protocol,
      endpoint: settings.metrics.destination,
      interval_ms: settings.metrics.intervalMs,
    });

  let failed = false;
  let stopped = false;
  return {
    onEvent(event: DomainEvent): void {
      if (stopped) return;
      // A listener that throws would stop the event bus's other listeners: never let it.
      try {
        spans?.onEvent(event);
        eventLogs?.onEvent(event, spans?.lastSpan);
      } catch (err) {
        if (!failed)
          logger.error('opentelemetry: an event could not become a span or a log record', {
            kind: event.kind,
            error: (err as Error).stack ?? String(err),
          });
        failed = true;
      }
    },
    namespaceGone(netns: string): void {
      if (!stopped) spans?.namespaceGone(netns, Date.now());
    },
    stats: signals.traces,
    signals,
    exemplars,
    async shutdown(): Promise<void> {
      if (stopped) return;
      stopped = true;
      const deadline = Date.now() + SHUTDOWN_FLUSH_MS;
      spans?.closeAll(Date.now());
      eventLogs?.flushPending();
      await Promise.all(flushes.map((flush) => flush(deadline)));
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        sdk.shutdown().catch(() => undefined),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(100, deadline - Date.now())))),
      ]);
      clearTimeout(timer);
      // The globals NodeSDK registered go with it (a later start in the same process registers anew).
      trace.disable();
      logs.disable();
      metrics.disable();
      context.disable();
      propagation.disable();
      diag.disable();
    },
  };
}
