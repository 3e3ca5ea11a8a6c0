// The OpenTelemetry SDK, set up only when tracing is on (index.ts loads this module with a
// dynamic import; nothing here is required otherwise). The trace SDK (@opentelemetry/sdk-trace-base)
// with an OTLP/HTTP exporter, protobuf or JSON, behind our own bounded processor: NodeSDK
// (@opentelemetry/sdk-node) would add about 10 MB of RSS and 200 modules (gRPC, Zipkin, metrics,
// logs, the instrumentation hooks that patch require) for nothing these spans need; and the
// drops by reason (netlink_trace_spans_dropped_total) need a span processor of our own anyway,
// which leaves NodeSDK nothing to configure but the resource and the exporter, done here.

import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { defaultResource, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import type { Resource } from '@opentelemetry/resources';
import { BasicTracerProvider, ConsoleSpanExporter } from '@opentelemetry/sdk-trace-base';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import type { Logger } from '../support/log';
import type { DomainEvent } from '../state/events';
import { RESOURCE } from './attributes';
import { ExemplarStore } from './exemplars';
import type { Tracing, TracingOptions } from './types';
import { BoundedSpanProcessor, RateLimiter } from './processor';
import type { TracingSettings } from './settings';
import { EventSpans } from './spans';
import { TraceCounters } from './stats';

export const SERVICE_NAME = 'netlink-exporter';
/** How long a shutdown waits for the last export. */
const SHUTDOWN_FLUSH_MS = 3000;
/** Export failures are logged at most this often (the drop counter has every one). */
const ERROR_LOG_INTERVAL_MS = 60_000;

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

async function createExporter(settings: TracingSettings): Promise<SpanExporter> {
  if (settings.exporter === 'console') return new ConsoleSpanExporter();
  // One request at a time is all the processor sends; the exporter's own timeout and retries
  // (OTEL_EXPORTER_OTLP_TIMEOUT, default 10 s) end each one.
  const config = { url: settings.destination, concurrencyLimit: 2 };
  if (settings.protocol === 'http/json') {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    return new OTLPTraceExporter(config);
  }
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto');
  return new OTLPTraceExporter(config);
}

function exportErrorLogger(
  logger: Logger,
  settings: TracingSettings,
): (error: Error | undefined, spans: number) => void {
  let lastLogged = 0;
  let unlogged = 0;
  return (error, spans) => {
    unlogged += spans;
    const now = Date.now();
    if (now - lastLogged < ERROR_LOG_INTERVAL_MS) return;
    lastLogged = now;
    logger.warn('trace export failed; spans dropped', {
      endpoint: settings.destination,
      spans: unlogged,
      error: error?.message ?? 'unknown',
    });
    unlogged = 0;
  };
}

export async function createTracing(options: TracingOptions, settings: TracingSettings): Promise<Tracing> {
  const { logger } = options;
  for (const warning of settings.warnings) logger.warn('tracing', { problem: warning });
  const counters = new TraceCounters();
  const exemplars = new ExemplarStore();
  const processor = new BoundedSpanProcessor(await createExporter(settings), counters, {
    maxQueueSize: settings.maxQueueSize,
    maxExportBatchSize: settings.maxExportBatchSize,
    scheduleDelayMs: settings.scheduleDelayMs,
    exportTimeoutMs: settings.exportTimeoutMs,
    onExportError: exportErrorLogger(logger, settings),
  });
  const provider = new BasicTracerProvider({ resource: buildResource(options.version), spanProcessors: [processor] });
  const spans = new EventSpans({
    tracer: provider.getTracer(SERVICE_NAME, options.version),
    limiter: new RateLimiter(settings.maxSpansPerSecond),
    counters,
    exemplars,
    maxOpenSpans: settings.maxOpenSpans,
  });
  logger.info('tracing on', {
    exporter: settings.exporter,
    protocol: settings.protocol,
    endpoint: settings.destination,
    max_spans_per_second: settings.maxSpansPerSecond,
    max_queue_size: settings.maxQueueSize,
  });
  let failed = false;
  let stopped = false;
  return {
    onEvent(event: DomainEvent): void {
      if (stopped) return;
      // A listener that throws would stop the event bus's other listeners: never let it.
      try {
        spans.onEvent(event);
      } catch (err) {
        if (!failed)
          logger.error('tracing: an event could not become a span', {
            kind: event.kind,
            error: (err as Error).stack ?? String(err),
          });
        failed = true;
      }
    },
    namespaceGone(netns: string): void {
      if (!stopped) spans.namespaceGone(netns, Date.now());
    },
    stats: counters,
    exemplars,
    async shutdown(): Promise<void> {
      if (stopped) return;
      stopped = true;
      spans.closeAll(Date.now());
      await processor.shutdownWithin(Math.min(SHUTDOWN_FLUSH_MS, settings.exportTimeoutMs));
      await provider.shutdown().catch(() => undefined);
    },
  };
}
