// Self-test of the OTLP receiver the tests use (test/helpers/otlp-receiver.ts): the real
// OpenTelemetry exporters (0.223: trace, metric and log exporters over http/protobuf, http/json
// and grpc, each with and without gzip) send one fixed set of spans, metrics and log records,
// made once with the SDK, to a receiver on loopback; the receiver must decode exactly what was
// sent (names, attributes, resource, scope, ids, times to the nanosecond, values), and every
// protocol must give the same decoded objects. Then the modes: 'unavailable' (503 / UNAVAILABLE,
// nothing kept), 'slow' (answers held until released; an exporter's timeout expires), 'refuse'
// (connections refused, then the same port again), and what it does with what is not OTLP.
//
// Loopback only, no namespace, no root needed. Nothing waits by sleeping: the receiver's
// waitFor is checked on every request it gets, with a deadline.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import * as zlib from 'node:zlib';
import { Client, Metadata, credentials, status as grpcStatus } from '@grpc/grpc-js';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, ValueType, trace } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { ExportResult, ExportResultCode } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { MeterProvider, MetricReader, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import {
  InMemoryLogRecordExporter,
  LoggerProvider,
  ReadableLogRecord,
  SimpleLogRecordProcessor,
} from '@opentelemetry/sdk-logs';
import { OTLPTraceExporter as HttpJsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as HttpProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as GrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPMetricExporter as HttpJsonMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as HttpProtoMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPMetricExporter as GrpcMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPLogExporter as HttpJsonLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as HttpProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPLogExporter as GrpcLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OtlpReceiver, Signal, Transport, decodeProtobuf, startOtlpReceiver } from '../helpers/otlp-receiver';

// ---- the data, made once ------------------------------------------------------------------------

const RESOURCE = {
  'service.name': 'otlp-receiver-self-test',
  'service.version': '9.8.7',
  'host.name': 'self-test-host',
  'deployment.environment.name': 'test',
};

const SPAN_ATTRIBUTES = {
  'network.interface.name': 'tr0',
  'netlink.ifindex': 7,
  'netlink.big': 2 ** 40,
  'netlink.ratio': 0.25,
  'netlink.up': false,
  'netlink.address.flags': ['permanent', 'nodad'],
  'netlink.counts': [1, 2, 3],
};

interface Data {
  spans: ReadableSpan[];
  metrics: ResourceMetrics;
  logs: ReadableLogRecord[];
}

class ManualReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

async function makeData(): Promise<Data> {
  const resource = resourceFromAttributes(RESOURCE);
  const spanSink = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ resource, spanProcessors: [new SimpleSpanProcessor(spanSink)] });
  const tracer = tracerProvider.getTracer('self-test-tracer', '1.2.3');
  const outage = tracer.startSpan('interface.outage', {
    kind: SpanKind.INTERNAL,
    attributes: SPAN_ATTRIBUTES,
    startTime: new Date('2026-01-02T03:04:05.123Z'),
  });
  outage.addEvent('carrier.down', { 'netlink.flaps': 2 }, new Date('2026-01-02T03:04:05.500Z'));
  outage.setStatus({ code: SpanStatusCode.ERROR, message: 'interface deleted while down' });
  const child = tracer.startSpan(
    'route.changes',
    { kind: SpanKind.CLIENT, startTime: [1767323046, 5] },
    trace.setSpan(ROOT_CONTEXT, outage),
  );
  child.end([1767323046, 999_999_999]);
  outage.end(new Date('2026-01-02T03:04:07.000Z'));

  const reader = new ManualReader();
  const meterProvider = new MeterProvider({ resource, readers: [reader] });
  const meter = meterProvider.getMeter('self-test-meter', '0.1.0');
  const flaps = meter.createCounter('netlink_interface_flaps', {
    description: 'Times the interface went down.',
    valueType: ValueType.INT,
  });
  flaps.add(3, { netns: 'blue', interface: 'x0' });
  flaps.add(2, { netns: 'blue', interface: 'x1' });
  flaps.add(2 ** 40, { netns: 'blue', interface: 'big' });
  meter
    .createObservableGauge('netlink_interface_up', { description: 'Operationally up.', valueType: ValueType.INT })
    .addCallback((r) => {
      r.observe(1, { netns: 'blue', interface: 'x0' });
      r.observe(0, { netns: 'blue', interface: 'x1' });
    });
  const duration = meter.createHistogram('netlink_scrape_duration', { unit: 's', description: 'Scrape time.' });
  duration.record(0.25);
  duration.record(2);
  const depth = meter.createUpDownCounter('netlink_event_queue_depth', { valueType: ValueType.INT });
  depth.add(5);
  depth.add(-2);
  meter.createCounter('netlink_bytes', { unit: 'By' }).add(1.5, { netns: '' });
  const collected = await reader.collect();
  assert.deepEqual(collected.errors, []);

  const logSink = new InMemoryLogRecordExporter();
  const loggerProvider = new LoggerProvider({
    resource,
    processors: [new SimpleLogRecordProcessor({ exporter: logSink })],
  });
  const logger = loggerProvider.getLogger('self-test-logger', '0.0.1');
  logger.emit({
    eventName: 'netlink.flap',
    severityNumber: SeverityNumber.WARN,
    severityText: 'WARN',
    body: 'tr0 went down',
    attributes: { 'netlink.netns': 'blue', 'network.interface.name': 'tr0', 'netlink.flaps': 2 },
    timestamp: new Date('2026-01-02T03:04:05.123Z'),
    context: trace.setSpan(ROOT_CONTEXT, outage),
  });
  logger.emit({
    eventName: 'netlink.address',
    severityNumber: SeverityNumber.INFO,
    severityText: 'INFO',
    body: { action: 'added', ip: '10.0.0.1', prefix: 24 },
    attributes: { 'netlink.address.ip': '10.0.0.1' },
    timestamp: new Date('2026-01-02T03:04:06.000Z'),
  });

  const data = {
    spans: spanSink.getFinishedSpans(),
    metrics: collected.resourceMetrics,
    logs: logSink.getFinishedLogRecords(),
  };
  await tracerProvider.shutdown();
  await meterProvider.shutdown();
  await loggerProvider.shutdown();
  assert.equal(data.spans.length, 2);
  assert.equal(data.logs.length, 2);
  return data;
}

// ---- the exporters ------------------------------------------------------------------------------

type Compression = NonNullable<NonNullable<ConstructorParameters<typeof HttpProtoTraceExporter>[0]>['compression']>;

interface Exporter<T> {
  export(items: T, done: (r: ExportResult) => void): void;
  shutdown(): Promise<void>;
}

interface Protocol {
  name: 'http/protobuf' | 'http/json' | 'grpc';
  transport: Transport;
  traces(o: ExporterOptions): Exporter<ReadableSpan[]>;
  metrics(o: ExporterOptions): Exporter<ResourceMetrics>;
  logs(o: ExporterOptions): Exporter<ReadableLogRecord[]>;
}

interface ExporterOptions {
  url: string;
  headers?: Record<string, string>;
  compression?: Compression;
  timeoutMillis?: number;
}

const PROTOCOLS: Protocol[] = [
  {
    name: 'http/protobuf',
    transport: 'http',
    traces: (o) => new HttpProtoTraceExporter({ ...o, url: `${o.url}/v1/traces` }),
    metrics: (o) => new HttpProtoMetricExporter({ ...o, url: `${o.url}/v1/metrics` }),
    logs: (o) => new HttpProtoLogExporter({ ...o, url: `${o.url}/v1/logs` }),
  },
  {
    name: 'http/json',
    transport: 'http',
    traces: (o) => new HttpJsonTraceExporter({ ...o, url: `${o.url}/v1/traces` }),
    metrics: (o) => new HttpJsonMetricExporter({ ...o, url: `${o.url}/v1/metrics` }),
    logs: (o) => new HttpJsonLogExporter({ ...o, url: `${o.url}/v1/logs` }),
  },
  {
    name: 'grpc',
    transport: 'grpc',
    // The gRPC exporters take headers as metadata (their `headers` option is not sent).
    traces: ({ headers, ...o }) => new GrpcTraceExporter({ ...o, metadata: grpcMetadata(headers) }),
    metrics: ({ headers, ...o }) => new GrpcMetricExporter({ ...o, metadata: grpcMetadata(headers) }),
    logs: ({ headers, ...o }) => new GrpcLogExporter({ ...o, metadata: grpcMetadata(headers) }),
  },
];

function grpcMetadata(headers: Record<string, string> | undefined): Metadata {
  const m = new Metadata();
  for (const [k, v] of Object.entries(headers ?? {})) m.set(k, v);
  return m;
}

async function send<T>(exporter: Exporter<T>, items: T): Promise<ExportResult> {
  try {
    return await new Promise<ExportResult>((resolve) => exporter.export(items, resolve));
  } finally {
    await exporter.shutdown();
  }
}

function nanos(t: [number, number]): string {
  return String(BigInt(t[0]) * 1_000_000_000n + BigInt(t[1]));
}

function assertNoProblems(r: OtlpReceiver): void {
  assert.deepEqual(r.problems, [], 'the receiver had problems');
}

// ---- the tests ----------------------------------------------------------------------------------

describe('OTLP receiver: what the real exporters send, decoded exactly', { timeout: 120_000 }, () => {
  let data: Data;
  const receivers: OtlpReceiver[] = [];
  /** The decoded requests of each run, to compare across protocols. */
  const decoded = new Map<string, Record<Signal, unknown>>();

  before(async () => {
    data = await makeData();
  });
  after(async () => {
    for (const r of receivers) await r.close();
  });

  for (const protocol of PROTOCOLS) {
    for (const compression of ['none', 'gzip'] as const) {
      const run = `${protocol.name}, compression ${compression}`;
      test(`${run}: traces, metrics and logs decoded as sent`, async () => {
        const r = await startOtlpReceiver({ transport: protocol.transport });
        receivers.push(r);
        const options: ExporterOptions = {
          url: r.endpoint,
          headers: { 'x-self-test': run },
          compression: compression as Compression,
          timeoutMillis: 10_000,
        };
        const results = [
          await send(protocol.traces(options), data.spans),
          await send(protocol.metrics(options), data.metrics),
          await send(protocol.logs(options), data.logs),
        ];
        assert.deepEqual(
          results.map((x) => [x.code, x.error?.message]),
          [
            [ExportResultCode.SUCCESS, undefined],
            [ExportResultCode.SUCCESS, undefined],
            [ExportResultCode.SUCCESS, undefined],
          ],
        );
        assertNoProblems(r);

        // The requests: one per signal, as the protocol says.
        assert.deepEqual(
          r.requests.map((q) => [q.signal, q.transport, q.format, q.contentEncoding, q.headers['x-self-test']]),
          (['traces', 'metrics', 'logs'] as const).map((s) => [
            s,
            protocol.transport,
            protocol.name === 'http/json' ? 'json' : 'protobuf',
            compression === 'gzip' ? 'gzip' : 'identity',
            run,
          ]),
        );
        for (const q of r.requests) {
          assert.equal(q.status, protocol.transport === 'http' ? 200 : 0, `${q.signal}: answered OK`);
          if (protocol.transport === 'grpc') {
            assert.equal(q.contentType, 'application/grpc');
            assert.match(
              q.path,
              /^\/opentelemetry\.proto\.collector\.(trace|metrics|logs)\.v1\.(Trace|Metrics|Logs)Service\/Export$/,
            );
          } else {
            assert.equal(q.contentType, protocol.name === 'http/json' ? 'application/json' : 'application/x-protobuf');
            assert.equal(q.path, `/v1/${q.signal}`);
          }
        }
        assert.deepEqual(
          r.requests.map((q) => q.items),
          [2, 8, 2],
          'items: 2 spans; 3 + 2 + 1 + 1 + 1 points; 2 log records',
        );
        assert.equal(r.traces.length, 1);
        assert.equal(r.metrics.length, 1);
        assert.equal(r.logs.length, 1);

        // Spans.
        const outage = data.spans.find((s) => s.name === 'interface.outage');
        const child = data.spans.find((s) => s.name === 'route.changes');
        const byName = (n: string) => {
          const found = r.findSpans(n);
          assert.equal(found.length, 1, `one ${n} span`);
          return found[0]!;
        };
        const o = byName('interface.outage');
        assert.equal(o.format, protocol.name === 'http/json' ? 'json' : 'protobuf');
        assert.equal(o.transport, protocol.transport);
        assert.equal(o.traceId, outage!.spanContext().traceId);
        assert.equal(o.spanId, outage!.spanContext().spanId);
        assert.match(o.traceId, /^[0-9a-f]{32}$/);
        assert.equal(o.parentSpanId, '');
        assert.equal(o.kind, 1);
        assert.deepEqual(o.attributes, SPAN_ATTRIBUTES);
        assert.deepEqual(o.status, { code: 2, message: 'interface deleted while down' });
        assert.deepEqual(o.events, [
          { name: 'carrier.down', timeMs: Date.parse('2026-01-02T03:04:05.500Z'), attributes: { 'netlink.flaps': 2 } },
        ]);
        assert.equal(o.startMs, Date.parse('2026-01-02T03:04:05.123Z'));
        assert.equal(o.endMs, Date.parse('2026-01-02T03:04:07.000Z'));
        assert.deepEqual(o.resource, RESOURCE);
        assert.deepEqual(o.scope, { name: 'self-test-tracer', version: '1.2.3' });
        const c = byName('route.changes');
        assert.equal(c.traceId, o.traceId);
        assert.equal(c.parentSpanId, o.spanId);
        assert.equal(c.spanId, child!.spanContext().spanId);
        assert.equal(c.kind, 3);
        assert.deepEqual(c.status, { code: 0, message: '' });
        // Times to the nanosecond, in the decoded request (64-bit integers as decimal strings).
        const raw = r.traces[0]!.resourceSpans[0]!.scopeSpans[0]!.spans;
        assert.deepEqual(
          raw.map((s) => [s.name, s.startTimeUnixNano, s.endTimeUnixNano]),
          data.spans.map((s) => [s.name, nanos(s.startTime), nanos(s.endTime)]),
        );
        const rawChild = raw.find((s) => s.name === 'route.changes')!;
        assert.deepEqual(
          [rawChild.startTimeUnixNano, rawChild.endTimeUnixNano],
          ['1767323046000000005', '1767323046999999999'],
        );

        // Metrics.
        const point = (name: string, attributes: Record<string, string>) => {
          const p = r.latestPoint(name, attributes);
          assert.ok(p, `a point of ${name} ${JSON.stringify(attributes)}:\n${r.summary()}`);
          return p;
        };
        const x0 = point('netlink_interface_flaps', { netns: 'blue', interface: 'x0' });
        assert.deepEqual(
          {
            type: x0.type,
            monotonic: x0.monotonic,
            temporality: x0.temporality,
            value: x0.value,
            asInt: x0.asInt,
            description: x0.description,
            unit: x0.unit,
          },
          {
            type: 'sum',
            monotonic: true,
            temporality: 2,
            value: 3,
            asInt: '3',
            description: 'Times the interface went down.',
            unit: '',
          },
        );
        assert.ok(BigInt(x0.startTimeUnixNano) > 0n && BigInt(x0.startTimeUnixNano) <= BigInt(x0.timeUnixNano));
        assert.equal(point('netlink_interface_flaps', { netns: 'blue', interface: 'x1' }).value, 2);
        assert.equal(point('netlink_interface_flaps', { netns: 'blue', interface: 'big' }).asInt, String(2 ** 40));
        const up = point('netlink_interface_up', { netns: 'blue', interface: 'x0' });
        assert.deepEqual([up.type, up.value, up.temporality], ['gauge', 1, 0]);
        assert.equal(point('netlink_interface_up', { netns: 'blue', interface: 'x1' }).value, 0);
        const h = point('netlink_scrape_duration', {});
        assert.deepEqual(
          [h.type, h.unit, h.count, h.sum, h.bucketCounts!.reduce((a, b) => a + b, 0), h.temporality],
          ['histogram', 's', 2, 2.25, 2, 2],
        );
        assert.equal(h.explicitBounds!.length + 1, h.bucketCounts!.length);
        const depth = point('netlink_event_queue_depth', {});
        assert.deepEqual([depth.type, depth.monotonic, depth.value], ['sum', false, 3]);
        const bytes = point('netlink_bytes', { netns: '' });
        assert.deepEqual([bytes.unit, bytes.asDouble, bytes.asInt], ['By', 1.5, undefined]);
        assert.deepEqual(x0.resource, RESOURCE);
        assert.deepEqual(x0.scope, { name: 'self-test-meter', version: '0.1.0' });
        assert.equal(r.points.length, 8);

        // Logs.
        const flap = r.findLogRecords('netlink.flap');
        assert.equal(flap.length, 1);
        assert.deepEqual(
          { ...flap[0]!, resource: undefined },
          {
            format: protocol.name === 'http/json' ? 'json' : 'protobuf',
            transport: protocol.transport,
            eventName: 'netlink.flap',
            timeMs: Date.parse('2026-01-02T03:04:05.123Z'),
            observedTimeMs: flap[0]!.observedTimeMs,
            severityNumber: 13,
            severityText: 'WARN',
            body: 'tr0 went down',
            attributes: { 'netlink.netns': 'blue', 'network.interface.name': 'tr0', 'netlink.flaps': 2 },
            traceId: outage!.spanContext().traceId,
            spanId: outage!.spanContext().spanId,
            resource: undefined,
            scope: { name: 'self-test-logger', version: '0.0.1' },
          },
        );
        assert.ok(flap[0]!.observedTimeMs > 0, 'an observed time');
        assert.deepEqual(flap[0]!.resource, RESOURCE);
        const address = r.findLogRecords('netlink.address', { 'netlink.address.ip': '10.0.0.1' });
        assert.equal(address.length, 1);
        assert.deepEqual(address[0]!.body, { action: 'added', ip: '10.0.0.1', prefix: 24 });
        assert.deepEqual([address[0]!.severityNumber, address[0]!.traceId, address[0]!.spanId], [9, '', '']);
        assert.deepEqual(
          r.logs[0]!.resourceLogs[0]!.scopeLogs[0]!.logRecords.map((x) => x.timeUnixNano),
          data.logs.map((x) => nanos(x.hrTime)),
        );

        decoded.set(run, { traces: r.traces[0], metrics: r.metrics[0], logs: r.logs[0] });
        assertNoProblems(r);
      });
    }
  }

  test('every protocol and compression gives the same decoded requests', () => {
    const runs = [...decoded.keys()];
    assert.equal(runs.length, 6, `every run above passed: ${runs.join(', ')}`);
    const [first, ...rest] = runs;
    for (const run of rest)
      for (const signal of ['traces', 'metrics', 'logs'] as const)
        assert.deepEqual(decoded.get(run)![signal], decoded.get(first!)![signal], `${signal}: ${run} vs ${first}`);
  });
});

describe('OTLP receiver: modes', { timeout: 120_000 }, () => {
  let data: Data;
  const receivers: OtlpReceiver[] = [];
  before(async () => {
    data = await makeData();
  });
  after(async () => {
    for (const r of receivers) await r.close();
  });

  for (const protocol of PROTOCOLS.filter((p) => p.name !== 'http/json')) {
    const okCode = protocol.transport === 'http' ? 200 : 0;
    const unavailableCode = protocol.transport === 'http' ? 503 : 14;

    test(`${protocol.transport}: 'unavailable' answers ${unavailableCode} and keeps nothing; 'ok' again keeps`, async () => {
      const r = await startOtlpReceiver({ transport: protocol.transport });
      receivers.push(r);
      await r.setMode('unavailable');
      const failed = await send(protocol.traces({ url: r.endpoint, timeoutMillis: 1500 }), data.spans);
      assert.equal(failed.code, ExportResultCode.FAILED);
      assert.ok(r.requests.length >= 1, 'the exporter reached the receiver');
      assert.deepEqual(new Set(r.requests.map((q) => q.status)), new Set([unavailableCode]));
      assert.deepEqual([r.traces.length, r.spans.length], [0, 0], 'nothing kept');
      await r.setMode('ok');
      const n = r.requests.length;
      const ok = await send(protocol.traces({ url: r.endpoint, timeoutMillis: 10_000 }), data.spans);
      assert.equal(ok.code, ExportResultCode.SUCCESS, ok.error?.message);
      assert.deepEqual(
        r.requests.slice(n).map((q) => q.status),
        [okCode],
      );
      assert.equal(r.spans.length, 2);
      assertNoProblems(r);
    });

    test(`${protocol.transport}: 'slow' holds the answer until release(); an exporter's timeout expires meanwhile`, async () => {
      const r = await startOtlpReceiver({ transport: protocol.transport });
      receivers.push(r);
      await r.setMode('slow');
      let settled = false;
      const pending = send(protocol.traces({ url: r.endpoint, timeoutMillis: 60_000 }), data.spans).finally(() => {
        settled = true;
      });
      await r.waitFor('the request, held', () => r.holding === 1 || `holding ${r.holding}`);
      assert.equal(r.spans.length, 2, "'slow' keeps what arrives");
      assert.equal(r.requests[0]!.status, undefined, 'not answered yet');
      assert.equal(settled, false, 'the export waits for the answer');
      r.release();
      const result = await pending;
      assert.equal(result.code, ExportResultCode.SUCCESS, result.error?.message);
      assert.equal(r.requests[0]!.status, okCode);
      assert.equal(r.holding, 0);
      // An exporter that gives up: its timeout, not the receiver, ends the export.
      const timedOut = await send(protocol.traces({ url: r.endpoint, timeoutMillis: 300 }), data.spans);
      assert.equal(timedOut.code, ExportResultCode.FAILED);
      assert.ok(r.holding >= 1, `still holding (${r.holding})`);
      await r.setMode('ok');
      assert.equal(r.holding, 0, 'leaving slow answers what it held');
      assertNoProblems(r);
    });

    test(`${protocol.transport}: 'refuse' closes the listener (connection refused), 'ok' listens again on the same port`, async () => {
      const r = await startOtlpReceiver({ transport: protocol.transport });
      receivers.push(r);
      const port = r.port;
      await r.setMode('refuse');
      const err = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
        const s = net.connect(port, '127.0.0.1');
        s.once('connect', () => {
          s.destroy();
          resolve(undefined);
        });
        s.once('error', resolve);
      });
      assert.equal(err?.code, 'ECONNREFUSED');
      const failed = await send(protocol.traces({ url: r.endpoint, timeoutMillis: 1000 }), data.spans);
      assert.equal(failed.code, ExportResultCode.FAILED);
      assert.equal(r.requests.length, 0);
      await r.setMode('ok');
      assert.equal(r.port, port);
      const ok = await send(protocol.traces({ url: r.endpoint, timeoutMillis: 15_000 }), data.spans);
      assert.equal(ok.code, ExportResultCode.SUCCESS, ok.error?.message);
      assert.equal(r.spans.length, 2);
      assertNoProblems(r);
    });
  }
});

interface Answer {
  status: number;
  contentType: string;
  body: Buffer;
}

function post(
  port: number,
  urlPath: string,
  body: Buffer | string,
  headers: Record<string, string>,
  method = 'POST',
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: urlPath, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          contentType: String(res.headers['content-type'] ?? ''),
          body: Buffer.concat(chunks),
        }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('OTLP receiver over HTTP: answers, and what is not OTLP', { timeout: 60_000 }, () => {
  let r: OtlpReceiver;
  before(async () => {
    r = await startOtlpReceiver({ transport: 'http', maxBodyBytes: 4096 });
  });
  after(async () => {
    await r.close();
  });

  test('OTLP/JSON by hand: hex ids, int64 as strings, enums as names or numbers; the answer is {}', async () => {
    const body = {
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'by-hand' } }] },
          scopeSpans: [
            {
              scope: { name: 's' },
              spans: [
                {
                  traceId: '5B8EFFF798038103D269B633813FC60C',
                  spanId: 'EEE19B7EC3C1B174',
                  name: 'hand',
                  kind: 'SPAN_KIND_SERVER',
                  startTimeUnixNano: '1544712660000000001',
                  endTimeUnixNano: 1544712661000000000,
                  attributes: [{ key: 'n', value: { intValue: '9007199254740993' } }],
                  status: { code: 2 },
                },
              ],
            },
          ],
        },
      ],
    };
    const a = await post(r.port, '/v1/traces', JSON.stringify(body), { 'content-type': 'application/json' });
    assert.deepEqual([a.status, a.contentType, a.body.toString()], [200, 'application/json', '{}']);
    const s = r.traces.at(-1)!.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
    assert.deepEqual(
      [s.traceId, s.spanId, s.parentSpanId, s.kind, s.startTimeUnixNano, s.attributes[0]!.value!.intValue, s.status],
      [
        '5b8efff798038103d269b633813fc60c',
        'eee19b7ec3c1b174',
        '',
        2,
        '1544712660000000001',
        '9007199254740993',
        { code: 2, message: '' },
      ],
    );
    assert.equal(r.findSpans('hand')[0]!.format, 'json');
    assertNoProblems(r);
  });

  test('the decoded shape read back as gzip OTLP/JSON is the same object; an empty protobuf body is an empty request', async () => {
    const before = r.spans.length;
    const exported = await startOtlpReceiver({ transport: 'http' });
    try {
      const data = await makeData();
      await send(new HttpProtoTraceExporter({ url: `${exported.endpoint}/v1/traces` }), data.spans);
      const raw = exported.traces[0]!;
      // Re-encode what was decoded through the JSON path and send it again, gzipped, as protobuf:
      const json = Buffer.from(JSON.stringify(raw));
      const viaJson = await post(r.port, '/v1/traces', zlib.gzipSync(json), {
        'content-type': 'application/json',
        'content-encoding': 'gzip',
      });
      assert.equal(viaJson.status, 200);
      assert.deepEqual(r.traces.at(-1), raw, 'the decoded shape read back as OTLP/JSON is the same object');
      assert.equal(r.spans.length, before + 2);
    } finally {
      await exported.close();
    }
    const empty = await post(r.port, '/v1/metrics', zlib.gzipSync(Buffer.alloc(0)), {
      'content-type': 'application/x-protobuf',
      'content-encoding': 'gzip',
    });
    assert.deepEqual([empty.status, empty.contentType, empty.body.length], [200, 'application/x-protobuf', 0]);
    assert.deepEqual(decodeProtobuf('metrics', Buffer.alloc(0)), { resourceMetrics: [] });
    assertNoProblems(r);
  });

  test('unavailable: 503 with a google.rpc.Status (code 14) in the request content type', async () => {
    await r.setMode('unavailable');
    try {
      const pb = await post(r.port, '/v1/logs', Buffer.alloc(0), { 'content-type': 'application/x-protobuf' });
      assert.equal(pb.status, 503);
      // Status { int32 code = 1; string message = 2; }: field 1 varint 14 first.
      assert.deepEqual([...pb.body.subarray(0, 2)], [0x08, 14]);
      const js = await post(r.port, '/v1/logs', '{}', { 'content-type': 'application/json' });
      assert.equal(js.status, 503);
      assert.equal((JSON.parse(js.body.toString()) as { code: number }).code, 14);
    } finally {
      await r.setMode('ok');
    }
  });

  test('not OTLP: refused and noted in problems (415, 400, 405, 404, 413)', async () => {
    const n = r.problems.length;
    const answers = [
      await post(r.port, '/v1/traces', 'x', { 'content-type': 'text/plain' }),
      await post(r.port, '/v1/traces', Buffer.from([0xff, 0xff, 0xff]), { 'content-type': 'application/x-protobuf' }),
      await post(r.port, '/v1/traces', '{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"xyz"}]}]}]}', {
        'content-type': 'application/json',
      }),
      await post(r.port, '/v1/logs', 'not gzip', { 'content-type': 'application/json', 'content-encoding': 'gzip' }),
      await post(r.port, '/v1/traces', '', {}, 'GET'),
      await post(r.port, '/v1/profiles', '{}', { 'content-type': 'application/json' }),
      await post(r.port, '/v1/metrics', Buffer.alloc(5000), { 'content-type': 'application/x-protobuf' }),
    ];
    assert.deepEqual(
      answers.map((a) => a.status),
      [415, 400, 400, 400, 405, 404, 413],
    );
    assert.equal(r.problems.length - n, 7, r.problems.slice(n).join('\n'));
    r.problems.splice(n);
  });

  test('bounded: past maxItems the data is answered but not kept, past maxRequests the entry is not listed; both counted', async () => {
    const small = await startOtlpReceiver({ transport: 'http', maxItems: 3, maxRequests: 2 });
    try {
      const two = JSON.stringify({
        resourceLogs: [{ scopeLogs: [{ logRecords: [{ eventName: 'a' }, { eventName: 'b' }] }] }],
      });
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++)
        statuses.push((await post(small.port, '/v1/logs', two, { 'content-type': 'application/json' })).status);
      assert.deepEqual(statuses, [200, 200, 200]);
      assert.deepEqual(
        [small.logRecords.length, small.logs.length, small.dropped, small.requests.length, small.requestsDropped],
        [2, 1, 2, 2, 1],
      );
      assertNoProblems(small);
    } finally {
      await small.close();
    }
  });

  test('waitFor: resolves on the request that satisfies it; rejects at its deadline saying what it saw', async () => {
    const n = r.logRecords.length;
    const waiting = r.waitFor(() => r.logRecords.length > n || `log records ${r.logRecords.length}`, 30_000);
    const body = {
      resourceLogs: [{ scopeLogs: [{ logRecords: [{ eventName: 'e', severityNumber: 'SEVERITY_NUMBER_WARN' }] }] }],
    };
    await post(r.port, '/v1/logs', JSON.stringify(body), { 'content-type': 'application/json' });
    await waiting;
    assert.equal(r.logRecords.at(-1)!.severityNumber, 13);
    await assert.rejects(
      r.waitFor('a log record that never comes', () => r.logRecords.length > 100 || 'not yet', 50),
      /timed out after 50 ms waiting for a log record that never comes; last seen: not yet/,
    );
  });
});

describe('OTLP receiver over gRPC: what is not OTLP', { timeout: 60_000 }, () => {
  test('a message that is not an ExportTraceServiceRequest: INVALID_ARGUMENT, noted in problems', async () => {
    const r = await startOtlpReceiver({ transport: 'grpc' });
    const client = new Client(`127.0.0.1:${r.port}`, credentials.createInsecure());
    try {
      const code = await new Promise<number>((resolve) =>
        client.makeUnaryRequest(
          '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.from([0xff, 0xff, 0xff]),
          (err) => resolve(err?.code ?? grpcStatus.OK),
        ),
      );
      assert.equal(code, grpcStatus.INVALID_ARGUMENT);
      assert.equal(r.problems.length, 1, r.problems.join('\n'));
      assert.match(r.problems[0]!, /TraceService\/Export: cannot decode the request/);
      assert.deepEqual(
        r.requests.map((q) => [q.signal, q.status]),
        [['traces', grpcStatus.INVALID_ARGUMENT]],
      );
      assert.equal(r.spans.length, 0);
    } finally {
      client.close();
      await r.close();
    }
  });
});
