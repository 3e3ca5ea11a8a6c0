// OpenTelemetry without a kernel or a collector: which signals the environment and the config turn
// on and with what (pure, the SDK not loaded), domain events as log records through the real logs
// SDK and a recording exporter (names, severities, attributes, the trace context of the outage
// span, the rate limit and the bounded queue), and the metric exporter's data-point accounting.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoggerProvider } from '@opentelemetry/sdk-logs';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { DEFAULT_CONFIG, parseConfigText } from '../../../src/config/config';
import type { DomainEvent, LinkState, PendingEvent } from '../../../src/state/events';
import { resolveTelemetry, signalEnabled } from '../../../src/tracing/settings';
import type { Signal } from '../../../src/tracing/settings';
import {
  BoundedLogRecordProcessor,
  EventLogs,
  eventSeverity,
  SEVERITY_INFO,
  SEVERITY_WARN,
} from '../../../src/tracing/logs';
import { EventSpans } from '../../../src/tracing/spans';
import { ExemplarStore } from '../../../src/tracing/exemplars';
import { RateLimiter } from '../../../src/tracing/processor';
import { TraceCounters } from '../../../src/tracing/stats';
import { CountingMetricExporter, dataPoints } from '../../../src/tracing/sdk';
import type { PushMetricExporter, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { ExpositionWriter } from '../../../src/metrics/writer';
import { exporter as exporterCollector } from '../../../src/metrics/collectors/exporter';

const TRACING = DEFAULT_CONFIG.tracing;
const OTEL = DEFAULT_CONFIG.opentelemetry;

test('signals: each one on by its exporter variable, an endpoint variable or its config key; none and OTEL_SDK_DISABLED win', () => {
  const cases: [string, Signal, boolean, NodeJS.ProcessEnv, boolean][] = [
    ['nothing', 'logs', false, {}, false],
    ['logs exporter', 'logs', false, { OTEL_LOGS_EXPORTER: 'otlp' }, true],
    ['metrics exporter console', 'metrics', false, { OTEL_METRICS_EXPORTER: 'console' }, true],
    [
      'the generic endpoint turns every signal on',
      'metrics',
      false,
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' },
      true,
    ],
    ['a logs endpoint', 'logs', false, { OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: 'http://c:4318/v1/logs' }, true],
    [
      'a traces endpoint is not a logs one',
      'logs',
      false,
      { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c/v1/traces' },
      false,
    ],
    ['config', 'metrics', true, {}, true],
    ['config and none', 'metrics', true, { OTEL_METRICS_EXPORTER: 'none' }, false],
    [
      'none and an endpoint',
      'logs',
      false,
      { OTEL_LOGS_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c' },
      false,
    ],
    ['disabled', 'traces', true, { OTEL_SDK_DISABLED: 'TRUE', OTEL_TRACES_EXPORTER: 'otlp' }, false],
    ['disabled=false is not disabled', 'traces', true, { OTEL_SDK_DISABLED: 'false' }, true],
    ['service name alone', 'logs', false, { OTEL_SERVICE_NAME: 'x', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, false],
  ];
  for (const [what, signal, configured, env, on] of cases)
    assert.equal(signalEnabled(signal, configured, env), on, what);
  const none = resolveTelemetry(TRACING, OTEL, {});
  assert.deepEqual(
    [none.traces, none.logs, none.metrics],
    [undefined, undefined, undefined],
    'nothing set: nothing on',
  );
  const disabled = resolveTelemetry(
    { ...TRACING, enabled: true },
    { ...OTEL, logs: true, metrics: true },
    {
      OTEL_SDK_DISABLED: 'true',
    },
  );
  assert.deepEqual([disabled.traces, disabled.logs, disabled.metrics], [undefined, undefined, undefined]);
});

test('settings per signal: protocol, endpoint (grpc as is, HTTP + /v1/<signal>), timeout, compression, batches, interval', () => {
  const env = {
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318/base/?token=abc',
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: 'grpc',
    OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://m:9/own',
    OTEL_EXPORTER_OTLP_TIMEOUT: '2500',
    OTEL_EXPORTER_OTLP_LOGS_TIMEOUT: '700',
    OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
    OTEL_EXPORTER_OTLP_METRICS_COMPRESSION: 'none',
    OTEL_BLRP_SCHEDULE_DELAY: '250',
    OTEL_BLRP_MAX_EXPORT_BATCH_SIZE: '50',
    OTEL_METRIC_EXPORT_INTERVAL: '1500',
    OTEL_METRIC_EXPORT_TIMEOUT: '9000',
  };
  const s = resolveTelemetry(TRACING, OTEL, env);
  assert.deepEqual(s.warnings, []);
  assert.equal(s.traces!.protocol, 'http/json');
  assert.equal(s.traces!.destination, 'http://c:4318/base/v1/traces?token=abc', 'the query string stays one');
  assert.equal(s.traces!.requestTimeoutMs, 2500);
  assert.equal(s.traces!.compression, 'gzip');
  assert.equal(s.logs!.protocol, 'grpc');
  assert.equal(s.logs!.destination, 'http://c:4318/base/?token=abc', 'grpc takes the endpoint as is');
  assert.equal(s.logs!.requestTimeoutMs, 700, "the signal's own variable wins");
  assert.equal(s.logs!.scheduleDelayMs, 250);
  assert.equal(s.logs!.maxExportBatchSize, 50);
  assert.equal(s.logs!.maxQueueSize, OTEL.maxLogQueueSize);
  assert.equal(s.logs!.maxRecordsPerSecond, OTEL.maxLogRecordsPerSecond);
  assert.equal(s.metrics!.destination, 'http://m:9/own', "a signal's own endpoint is used as is");
  assert.equal(s.metrics!.compression, 'none');
  assert.equal(s.metrics!.intervalMs, 1500);
  assert.equal(s.metrics!.exportTimeoutMs, 1500, 'the export timeout is at most the interval');
  assert.ok(s.secrets.includes('abc'), `the token in the endpoint is a secret: ${JSON.stringify(s.secrets)}`);

  // The config wins: opentelemetry.* for all three, tracing.* for traces over it.
  const c = resolveTelemetry(
    { ...TRACING, endpoint: 'http://t:4318', protocol: 'http/protobuf' },
    { ...OTEL, endpoint: 'http://o:4317', protocol: 'grpc', metricExportInterval: 5 },
    env,
  );
  assert.equal(c.traces!.destination, 'http://t:4318/v1/traces');
  assert.equal(c.traces!.protocol, 'http/protobuf');
  assert.equal(c.logs!.destination, 'http://o:4317');
  assert.equal(c.metrics!.protocol, 'grpc');
  assert.equal(c.metrics!.destination, 'http://o:4317', 'a config endpoint wins over the signal variable');
  assert.equal(c.metrics!.intervalMs, 5000);

  // Defaults: HTTP on 4318 with the signal path, grpc on 4317.
  const d = resolveTelemetry(
    TRACING,
    { ...OTEL, logs: true, metrics: true },
    { OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'grpc' },
  );
  assert.equal(d.traces, undefined);
  assert.equal(d.logs!.destination, 'http://localhost:4318/v1/logs');
  assert.equal(d.logs!.protocol, 'http/protobuf');
  assert.equal(d.logs!.requestTimeoutMs, 10_000);
  assert.equal(d.logs!.scheduleDelayMs, 1000);
  assert.equal(d.metrics!.destination, 'http://localhost:4317');
  assert.equal(d.metrics!.intervalMs, 60_000);
  assert.equal(d.metrics!.exportTimeoutMs, 30_000);
});

test('hostile variables: each replaced by its default with a warning that names it', () => {
  const s = resolveTelemetry(
    TRACING,
    { ...OTEL, logs: true, metrics: true },
    {
      OTEL_LOGS_EXPORTER: 'kafka,console,otlp',
      OTEL_EXPORTER_OTLP_TIMEOUT: '1e9',
      OTEL_EXPORTER_OTLP_LOGS_COMPRESSION: 'brotli',
      OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'udp',
      OTEL_METRIC_EXPORT_INTERVAL: '0',
      OTEL_BLRP_EXPORT_TIMEOUT: '-5',
      OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20s3cret-token',
    },
  );
  const warnings = s.warnings.join('\n');
  assert.equal(s.logs!.exporter, 'console');
  assert.match(warnings, /OTEL_LOGS_EXPORTER: kafka not supported/);
  assert.match(warnings, /OTEL_LOGS_EXPORTER: one exporter at a time; using console/);
  assert.equal(s.logs!.requestTimeoutMs, 10_000);
  assert.match(warnings, /OTEL_EXPORTER_OTLP_TIMEOUT="1e9" is not a whole number/);
  assert.equal(s.logs!.compression, 'none');
  assert.match(warnings, /OTEL_EXPORTER_OTLP_LOGS_COMPRESSION="brotli" is not supported/);
  assert.equal(s.metrics!.protocol, 'http/protobuf');
  assert.match(warnings, /OTEL_EXPORTER_OTLP_METRICS_PROTOCOL "udp" is not supported/);
  assert.equal(s.metrics!.intervalMs, 60_000);
  assert.match(warnings, /OTEL_METRIC_EXPORT_INTERVAL="0"/);
  assert.equal(s.logs!.exportTimeoutMs, 30_000);
  assert.ok(
    s.secrets.some((x) => x.includes('s3cret-token')),
    'header values are secrets',
  );
});

test('config: the opentelemetry section, checked, with errors that name the key', () => {
  const c = parseConfigText(
    'opentelemetry:\n  logs: true\n  metrics: true\n  protocol: grpc\n  endpoint: http://collector:4317\n  metric_export_interval: 15s\n  max_log_records_per_second: 7\ntracing:\n  protocol: grpc\n',
  );
  assert.equal(c.opentelemetry.logs, true);
  assert.equal(c.opentelemetry.metrics, true);
  assert.equal(c.opentelemetry.protocol, 'grpc');
  assert.equal(c.opentelemetry.metricExportInterval, 15);
  assert.equal(c.opentelemetry.maxLogRecordsPerSecond, 7);
  assert.equal(c.tracing.protocol, 'grpc');
  for (const [yaml, key, reason] of [
    ['opentelemetry:\n  protocol: thrift\n', 'opentelemetry.protocol', /one of/],
    ['opentelemetry:\n  logs: "yes"\n', 'opentelemetry.logs', /true or false/],
    ['opentelemetry:\n  endpoint: ftp://x\n', 'opentelemetry.endpoint', /http/],
    ['opentelemetry:\n  metric_export_interval: 2h\n', 'opentelemetry.metric_export_interval', /0s to 1h/],
    ['opentelemetry:\n  max_log_queue_size: 0\n', 'opentelemetry.max_log_queue_size', /whole number from 1 to 100000/],
    ['opentelemetry:\n  traces: true\n', 'opentelemetry.traces', /unknown/],
  ] as const) {
    assert.throws(
      () => parseConfigText(yaml),
      (err: Error & { key?: string }) => err.key === key && reason.test(err.message),
      yaml,
    );
  }
});

// ---- events as log records, with the real logs and trace SDKs -------------------------------------

class RecordingLogExporter {
  readonly records: ReadableLogRecord[] = [];
  result = 0;
  export(records: ReadableLogRecord[], done: (r: { code: number }) => void): void {
    if (this.result === 0) this.records.push(...records);
    done({ code: this.result });
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

function setup(options: { perSecond?: number; maxQueueSize?: number } = {}) {
  const exporter = new RecordingLogExporter();
  const counters = new TraceCounters();
  const processor = new BoundedLogRecordProcessor(exporter, counters, {
    maxQueueSize: options.maxQueueSize ?? 100,
    maxExportBatchSize: 100,
    scheduleDelayMs: 60_000,
    exportTimeoutMs: 1_000,
  });
  const loggerProvider = new LoggerProvider({ processors: [processor] });
  const spanExporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spanExporter)] });
  const spans = new EventSpans({
    tracer: tracerProvider.getTracer('test'),
    limiter: new RateLimiter(1000),
    counters: new TraceCounters(),
    exemplars: new ExemplarStore(),
    maxOpenSpans: 100,
  });
  const logs = new EventLogs({
    logger: loggerProvider.getLogger('test'),
    limiter: new RateLimiter(options.perSecond ?? 1000),
    counters,
  });
  let seq = 0;
  const emit = (e: PendingEvent, at: number): void => {
    const event = { seq: ++seq, time: new Date(at).toISOString(), ...e } as DomainEvent;
    spans.onEvent(event);
    logs.onEvent(event, spans.lastSpan);
  };
  const flush = async (): Promise<ReadableLogRecord[]> => {
    await processor.forceFlush();
    return exporter.records;
  };
  return { exporter, counters, processor, logs, spans, spanExporter, emit, flush };
}

const UP: LinkState = { admin: 'up', oper: 'up', carrier: 'up' };
const DOWN: LinkState = { admin: 'down', oper: 'down', carrier: 'down' };
const T = Date.parse('2026-01-02T03:04:05.000Z');
const base = { netns: 'ns1', interface: 'eth1', ifindex: 7 };

test('log records: one per event, named netlink.<kind>.<action>, the human line as body, WARN for what needs a look', async () => {
  const h = setup();
  const events: PendingEvent[] = [
    {
      ...base,
      kind: 'address',
      action: 'added',
      family: 'inet',
      address: '10.0.0.1',
      prefixLength: 24,
      scope: 'global',
      flags: ['permanent'],
    },
    {
      ...base,
      kind: 'address',
      action: 'dadfailed',
      family: 'inet6',
      address: '2001:db8::1',
      prefixLength: 64,
      scope: 'global',
      flags: ['tentative', 'dadfailed'],
    },
    {
      ...base,
      kind: 'route',
      action: 'added',
      family: 'inet',
      table: 'main',
      protocol: 'static',
      destination: '10.9.0.0/16',
      gateway: '10.0.0.254',
      type: 'unicast',
    },
    { ...base, kind: 'neighbour', action: 'failed', family: 'inet', destination: '10.0.0.254', previousState: 'probe' },
    {
      ...base,
      kind: 'neighbour',
      action: 'added',
      family: 'inet',
      destination: '10.0.0.3',
      lladdr: '02:00:00:00:00:03',
    },
    {
      ...base,
      ifindex: 0,
      interface: 'eth1',
      kind: 'vip',
      action: 'acquired',
      vip: '10.0.0.100',
      name: 'web',
      holders: ['eth1', 'eth2'],
    },
    { ...base, ifindex: 0, interface: '', kind: 'vip', action: 'released', vip: '10.0.0.101', name: '', holders: [] },
    { ...base, interface: '', ifindex: 0, kind: 'resync', action: 'started', reason: 'overrun' },
    {
      ...base,
      interface: '',
      ifindex: 0,
      kind: 'rule',
      action: 'added',
      family: 'inet',
      table: '100',
      priority: 100,
      rule: '100: from 10.1.0.0/16 lookup 100',
    },
    {
      ...base,
      interface: '',
      kind: 'nexthop',
      action: 'added',
      id: 5,
      nexthop: 'via 10.0.0.254 dev eth1',
      gateway: '10.0.0.254',
    },
  ];
  events.forEach((e, i) => h.emit(e, T + i));
  const records = await h.flush();
  assert.deepEqual(
    records.map((r) => [r.eventName, r.severityNumber, r.severityText]),
    [
      ['netlink.address.added', SEVERITY_INFO, 'INFO'],
      ['netlink.address.dadfailed', SEVERITY_WARN, 'WARN'],
      ['netlink.route.added', SEVERITY_INFO, 'INFO'],
      ['netlink.neighbour.failed', SEVERITY_WARN, 'WARN'],
      ['netlink.neighbour.added', SEVERITY_INFO, 'INFO'],
      ['netlink.vip.acquired', SEVERITY_WARN, 'WARN'],
      ['netlink.vip.released', SEVERITY_INFO, 'INFO'],
      ['netlink.resync.started', SEVERITY_WARN, 'WARN'],
      ['netlink.rule.added', SEVERITY_INFO, 'INFO'],
      ['netlink.nexthop.added', SEVERITY_INFO, 'INFO'],
    ],
  );
  const added = records[0]!;
  assert.equal(added.body, 'netns=ns1 address added eth1 ifindex=7 inet 10.0.0.1/24 scope=global flags=permanent');
  assert.deepEqual(added.hrTime, [Math.floor(T / 1000), (T % 1000) * 1e6], 'the event time');
  assert.deepEqual(added.attributes, {
    'netlink.netns': 'ns1',
    'netlink.event.seq': 1,
    'netlink.event.kind': 'address',
    'netlink.event.action': 'added',
    'network.interface.name': 'eth1',
    'netlink.ifindex': 7,
    'netlink.event.family': 'inet',
    'netlink.event.address': '10.0.0.1',
    'netlink.event.prefix_length': 24,
    'netlink.event.scope': 'global',
    'netlink.event.flags': ['permanent'],
  });
  assert.equal(records[2]!.attributes['netlink.event.gateway'], '10.0.0.254');
  assert.equal(records[3]!.attributes['netlink.event.previous_state'], 'probe');
  assert.deepEqual(records[5]!.attributes['netlink.event.holders'], ['eth1', 'eth2']);
  assert.equal(records[5]!.attributes['netlink.ifindex'], undefined, "a VIP's ifindex is 0: not an attribute");
  assert.equal(records[7]!.attributes['network.interface.name'], undefined);
  // An address span's record carries its trace context.
  const addedSpan = h.spanExporter.getFinishedSpans().find((s) => s.name === 'address.added')!;
  assert.equal(added.spanContext?.traceId, addedSpan.spanContext().traceId);
  assert.equal(records[2]!.spanContext, undefined, 'a route inside a coalesced window has no span yet');
  assert.deepEqual(h.counters.dropped(), { queue_full: 0, rate_limited: 0, export_failed: 0 });
  assert.equal(h.counters.exported(), 10);
});

test('log records: WARN for a bond failover or slave MII down, a bridge port leaving forwarding, forwarding turned off; INFO for the rest of those kinds', () => {
  const base = { seq: 1, time: '2026-12-06T00:00:00.000Z', netns: '', interface: 'x', ifindex: 3 };
  const cases: Array<[DomainEvent, number]> = [
    [{ ...base, kind: 'bond', action: 'failover', bond: 'bond0', previousActive: 'a', active: 'b' }, SEVERITY_WARN],
    [{ ...base, kind: 'bond', action: 'active_lost', bond: 'bond0', previousActive: 'a', active: '' }, SEVERITY_WARN],
    [{ ...base, kind: 'bond', action: 'slave_mii_down', bond: 'bond0', mii: 'down' }, SEVERITY_WARN],
    [{ ...base, kind: 'bond', action: 'slave_mii_up', bond: 'bond0', mii: 'up' }, SEVERITY_INFO],
    [{ ...base, kind: 'bond', action: 'slave_added', bond: 'bond0' }, SEVERITY_INFO],
    [
      {
        ...base,
        kind: 'bridge_port',
        action: 'changed',
        bridge: 'br0',
        bridgeIfindex: 2,
        state: 'blocking',
        previousState: 'forwarding',
      },
      SEVERITY_WARN,
    ],
    [
      {
        ...base,
        kind: 'bridge_port',
        action: 'changed',
        bridge: 'br0',
        bridgeIfindex: 2,
        state: 'disabled',
        previousState: 'forwarding',
      },
      SEVERITY_WARN,
    ],
    [
      {
        ...base,
        kind: 'bridge_port',
        action: 'changed',
        bridge: 'br0',
        bridgeIfindex: 2,
        state: 'learning',
        previousState: 'listening',
      },
      SEVERITY_INFO,
    ],
    [
      {
        ...base,
        kind: 'netconf',
        action: 'changed',
        family: 'inet',
        setting: 'forwarding',
        value: 'off',
        oldValue: 'on',
      },
      SEVERITY_WARN,
    ],
    [
      {
        ...base,
        kind: 'netconf',
        action: 'changed',
        family: 'inet',
        setting: 'forwarding',
        value: 'on',
        oldValue: 'off',
      },
      SEVERITY_INFO,
    ],
    [
      {
        ...base,
        kind: 'netconf',
        action: 'changed',
        family: 'inet',
        setting: 'rp_filter',
        value: 'off',
        oldValue: 'strict',
      },
      SEVERITY_INFO,
    ],
  ];
  for (const [event, severity] of cases)
    assert.equal(eventSeverity(event), severity, `${event.kind} ${event.action} ${JSON.stringify(event)}`);
});

test('log records of an outage: the flap, the link changes and the way back up carry the outage span', async () => {
  const h = setup();
  h.emit({ ...base, kind: 'flap', action: 'down', flaps: 1, oper: 'down' }, T);
  h.emit({ ...base, kind: 'link', action: 'changed', state: DOWN, previous: UP }, T);
  h.emit({ ...base, kind: 'link', action: 'changed', state: UP, previous: DOWN }, T + 500);
  // A flap the kernel coalesced (up again already): a zero-length span, and its record.
  h.emit({ ...base, kind: 'flap', action: 'down', flaps: 2, oper: 'up' }, T + 900);
  h.emit({ ...base, kind: 'link', action: 'changed', state: UP, previous: UP }, T + 900);
  const records = await h.flush();
  assert.deepEqual(
    records.map((r) => [
      r.eventName,
      r.severityText,
      r.attributes['netlink.event.flaps'] ?? r.attributes['netlink.event.state.oper'],
    ]),
    [
      ['netlink.flap.down', 'WARN', 1],
      ['netlink.link.changed', 'INFO', 'down'],
      ['netlink.link.changed', 'INFO', 'up'],
      ['netlink.flap.down', 'WARN', 2],
      ['netlink.link.changed', 'INFO', 'up'],
    ],
  );
  const outages = h.spanExporter.getFinishedSpans().filter((s) => s.name === 'interface.outage');
  assert.equal(outages.length, 2);
  const [first, coalesced] = outages.map((s) => s.spanContext());
  assert.deepEqual(
    records.map((r) => r.spanContext?.spanId),
    [first!.spanId, first!.spanId, first!.spanId, coalesced!.spanId, coalesced!.spanId],
    'every record of an outage links to its span',
  );
  assert.equal(h.logs.pending, 0);
});

test('log records: over the rate limit dropped as rate_limited, past the queue as queue_full, a refusal as export_failed; exactly', async () => {
  const address = (i: number): PendingEvent => ({
    ...base,
    kind: 'address',
    action: 'added',
    family: 'inet',
    address: `10.0.0.${i}`,
    prefixLength: 24,
    scope: 'global',
    flags: [],
  });
  const limited = setup({ perSecond: 3 });
  for (let i = 0; i < 10; i++) limited.emit(address(i), T);
  await limited.flush();
  assert.equal(limited.counters.dropped().rate_limited, 7);
  assert.equal(limited.counters.exported(), 3);

  const full = setup({ maxQueueSize: 4 });
  for (let i = 0; i < 10; i++) full.emit(address(i), T);
  assert.equal(full.processor.queued, 4, 'the queue never holds more than its bound');
  assert.equal(full.counters.dropped().queue_full, 6);
  full.exporter.result = 1;
  await full.flush();
  assert.equal(full.counters.dropped().export_failed, 4);
  assert.equal(full.counters.exported(), 0);
});

test('metric exports: data points counted as exported or export_failed', async () => {
  const points = (n: number) => Array.from({ length: n }, () => ({}));
  const rm = {
    resource: {},
    scopeMetrics: [{ scope: { name: 's' }, metrics: [{ dataPoints: points(3) }, { dataPoints: points(2) }] }],
  } as unknown as ResourceMetrics;
  assert.equal(dataPoints(rm), 5);
  let code = 0;
  const inner: PushMetricExporter = {
    export: (_m, done) => done({ code }),
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
  const counters = new TraceCounters();
  const errors: number[] = [];
  const counting = new CountingMetricExporter(inner, counters, (_e, n) => errors.push(n));
  const results: number[] = [];
  counting.export(rm, (r) => results.push(r.code));
  code = 1;
  counting.export(rm, (r) => results.push(r.code));
  assert.deepEqual(results, [0, 1]);
  assert.equal(counters.exported(), 5);
  assert.equal(counters.dropped().export_failed, 5);
  assert.deepEqual(errors, [5]);
});

test('/metrics: netlink_otel_*_total announced always, with samples for each signal that is on', () => {
  const render = (signals?: Record<string, TraceCounters>): string => {
    const w = new ExpositionWriter();
    exporterCollector(w, [], { addressInfo: true, addressInfoLinkLocal: false, ...(signals ? { signals } : {}) });
    return w.text();
  };
  const off = render();
  assert.match(off, /# TYPE netlink_otel_dropped_total counter\n/);
  assert.match(off, /# TYPE netlink_otel_exported_total counter\n/);
  assert.doesNotMatch(off, /^netlink_otel_/m);
  const logs = new TraceCounters();
  logs.drop('rate_limited', 4);
  logs.addExported(9);
  const on = render({ logs });
  assert.match(on, /^netlink_otel_dropped_total\{signal="logs",reason="rate_limited"\} 4$/m);
  assert.match(on, /^netlink_otel_dropped_total\{signal="logs",reason="queue_full"\} 0$/m);
  assert.match(on, /^netlink_otel_exported_total\{signal="logs"\} 9$/m);
  assert.doesNotMatch(on, /signal="traces"/);
});
