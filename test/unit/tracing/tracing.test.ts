// Tracing without a kernel: when it is on (OTEL_* and config), the event -> span mapping with the
// real trace SDK and a recording exporter, the bounded processor's drop accounting, the rate
// limiter, and the OpenMetrics rendering (HELP/TYPE, exemplars, prom-client conversion).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { DEFAULT_CONFIG } from '../../../src/config/config';
import type { DomainEvent, LinkState, PendingEvent } from '../../../src/state/events';
import { resolveTracing, tracingEnabled } from '../../../src/tracing/settings';
import { EventSpans } from '../../../src/tracing/spans';
import { ExemplarStore } from '../../../src/tracing/exemplars';
import { BoundedSpanProcessor, RateLimiter } from '../../../src/tracing/processor';
import { TraceCounters } from '../../../src/tracing/stats';
import { ExpositionWriter } from '../../../src/metrics/writer';
import { METRICS } from '../../../src/metrics/contract';
import { formatExemplar, textToOpenMetrics } from '../../../src/metrics/openmetrics';

const OFF = DEFAULT_CONFIG.tracing;

test('enablement: OTEL_TRACES_EXPORTER, the endpoint variables and the config; "none" wins', () => {
  const cases: [string, Partial<typeof OFF>, NodeJS.ProcessEnv, boolean][] = [
    ['nothing set', {}, {}, false],
    ['exporter otlp', {}, { OTEL_TRACES_EXPORTER: 'otlp' }, true],
    ['exporter console', {}, { OTEL_TRACES_EXPORTER: 'console' }, true],
    ['exporter none', {}, { OTEL_TRACES_EXPORTER: 'none' }, false],
    ['empty exporter', {}, { OTEL_TRACES_EXPORTER: '' }, false],
    ['endpoint', {}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }, true],
    ['traces endpoint', {}, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces' }, true],
    ['none and an endpoint', {}, { OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }, false],
    ['config', { enabled: true }, {}, true],
    ['config and none', { enabled: true }, { OTEL_TRACES_EXPORTER: 'none' }, false],
    ['other OTEL_* only', {}, { OTEL_SERVICE_NAME: 'x', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }, false],
  ];
  for (const [what, config, env, on] of cases) {
    assert.equal(tracingEnabled({ ...OFF, ...config }, env), on, what);
    assert.equal(resolveTracing({ ...OFF, ...config }, env) !== undefined, on, `${what}: resolveTracing`);
  }
});

test('settings: protocol and endpoint precedence (config key, then the variables), unsupported values replaced with a warning', () => {
  const env = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318/', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' };
  let s = resolveTracing(OFF, env)!;
  assert.equal(s.protocol, 'http/json');
  assert.equal(s.url, undefined);
  assert.equal(s.destination, 'http://c:4318/v1/traces');
  s = resolveTracing(OFF, {
    ...env,
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf',
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t:1/x',
  })!;
  assert.equal(s.protocol, 'http/protobuf', 'the traces variable wins over the generic one');
  assert.equal(s.destination, 'http://t:1/x', 'a traces endpoint is used as is');
  s = resolveTracing({ ...OFF, endpoint: 'http://cfg:4318', protocol: 'http/protobuf' }, env)!;
  assert.equal(s.url, 'http://cfg:4318/v1/traces', 'the config endpoint wins');
  assert.equal(s.protocol, 'http/protobuf', 'the config protocol wins');
  s = resolveTracing(OFF, { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })!;
  assert.equal(s.protocol, 'grpc');
  assert.deepEqual(s.warnings, []);
  assert.equal(s.destination, 'http://localhost:4317', 'grpc: the collector port, no path');
  s = resolveTracing(OFF, { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'thrift' })!;
  assert.equal(s.protocol, 'http/protobuf');
  assert.match(s.warnings.join(), /OTEL_EXPORTER_OTLP_PROTOCOL "thrift" is not supported/);
  assert.equal(s.destination, 'http://localhost:4318/v1/traces');
  s = resolveTracing(OFF, {
    OTEL_TRACES_EXPORTER: 'zipkin,console',
    OTEL_BSP_SCHEDULE_DELAY: '250',
    OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '99999',
  })!;
  assert.equal(s.exporter, 'console');
  assert.match(s.warnings.join(), /zipkin/);
  assert.equal(s.scheduleDelayMs, 250);
  assert.equal(s.maxExportBatchSize, OFF.maxQueueSize, 'a batch is at most the queue');
});

test('rate limiter: a burst of one second, then the rate', () => {
  let now = 1_000_000;
  const limiter = new RateLimiter(5, () => now);
  const taken = () => Array.from({ length: 10 }, () => limiter.tryTake()).filter(Boolean).length;
  assert.equal(taken(), 5);
  now += 400;
  assert.equal(taken(), 2);
  now += 10_000;
  assert.equal(taken(), 5, 'never more than a second of burst');
});

// ---- the mapping, with the real SDK ---------------------------------------------------------------

class RecordingExporter implements SpanExporter {
  readonly spans: ReadableSpan[] = [];
  result = 0;
  calls = 0;
  answer = true;
  private pending: ((r: { code: number }) => void)[] = [];
  export(spans: ReadableSpan[], done: (r: { code: number }) => void): void {
    this.calls++;
    if (!this.answer) {
      this.pending.push(done);
      return;
    }
    if (this.result === 0) this.spans.push(...spans);
    done({ code: this.result });
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

function setup(options: { perSecond?: number; maxOpenSpans?: number; maxQueueSize?: number } = {}) {
  const exporter = new RecordingExporter();
  const counters = new TraceCounters();
  const processor = new BoundedSpanProcessor(exporter, counters, {
    maxQueueSize: options.maxQueueSize ?? 100,
    maxExportBatchSize: 100,
    scheduleDelayMs: 60_000,
    exportTimeoutMs: 1_000,
  });
  const provider = new BasicTracerProvider({ spanProcessors: [processor] });
  const exemplars = new ExemplarStore();
  const spans = new EventSpans({
    tracer: provider.getTracer('test'),
    limiter: new RateLimiter(options.perSecond ?? 1000),
    counters,
    exemplars,
    maxOpenSpans: options.maxOpenSpans ?? 100,
  });
  let seq = 0;
  const emit = (e: PendingEvent, at: number): void =>
    spans.onEvent({ seq: ++seq, time: new Date(at).toISOString(), ...e } as DomainEvent);
  const flush = async (): Promise<ReadableSpan[]> => {
    await processor.forceFlush();
    return exporter.spans;
  };
  return { exporter, counters, processor, spans, exemplars, emit, flush };
}

const UP: LinkState = { admin: 'up', oper: 'up', carrier: 'up' };
const DOWN: LinkState = { admin: 'down', oper: 'down', carrier: 'down' };
const T = Date.parse('2026-01-02T03:04:05.000Z');
const ms = (hr: [number, number]): number => hr[0] * 1000 + hr[1] / 1e6;
const link = (action: 'changed' | 'removed', state: LinkState, previous?: LinkState): PendingEvent => ({
  netns: 'ns1',
  kind: 'link',
  action,
  interface: 'eth1',
  ifindex: 7,
  state,
  ...(previous ? { previous } : {}),
});
const flap = (flaps: number, oper: string): PendingEvent => ({
  netns: 'ns1',
  kind: 'flap',
  action: 'down',
  interface: 'eth1',
  ifindex: 7,
  flaps,
  oper,
});

test('outage: one span from oper down to oper up, flaps counted, the exemplar is its trace id', async () => {
  const h = setup();
  h.emit(flap(1, 'down'), T);
  h.emit(link('changed', DOWN, UP), T);
  const exemplar = h.exemplars.flap('ns1', 7);
  assert.ok(exemplar, 'the flap counter has an exemplar as soon as the outage starts');
  h.emit(link('changed', { admin: 'up', oper: 'lowerlayerdown', carrier: 'up' }, DOWN), T + 100);
  h.emit(flap(2, 'down'), T + 200);
  h.emit(
    link(
      'changed',
      { admin: 'up', oper: 'down', carrier: 'down' },
      { admin: 'up', oper: 'lowerlayerdown', carrier: 'up' },
    ),
    T + 200,
  );
  assert.equal(h.spans.openSpans, 1);
  h.emit(link('changed', UP, DOWN), T + 1500);
  const [span, ...rest] = await h.flush();
  assert.equal(rest.length, 0);
  assert.equal(span!.name, 'interface.outage');
  assert.equal(ms(span!.startTime), T);
  assert.equal(ms(span!.endTime), T + 1500);
  assert.equal(span!.attributes['netlink.flaps'], 3);
  assert.equal(span!.attributes['netlink.outage.end'], 'up');
  assert.equal(span!.attributes['network.interface.name'], 'eth1');
  assert.equal(span!.parentSpanContext, undefined, 'a root span');
  assert.deepEqual(
    span!.events.map((e) => e.name),
    ['link.changed', 'link.flap', 'link.changed'],
  );
  const last = h.exemplars.flap('ns1', 7)!;
  assert.equal(last.traceId, span!.spanContext().traceId);
  assert.equal(last.value, 2, 'the increment of the last move');
  assert.equal(exemplar.traceId, last.traceId);
});

test('outage: kernel-coalesced flaps while up are a zero-length span; deleted while down is an error; shutdown ends the rest', async () => {
  const h = setup();
  h.emit(flap(4, 'up'), T);
  h.emit(link('changed', UP, UP), T);
  h.emit(link('changed', DOWN, UP), T + 10);
  h.emit(link('removed', DOWN), T + 20);
  h.emit({ ...link('changed', DOWN, UP), ifindex: 8, interface: 'eth2' } as PendingEvent, T + 30);
  h.spans.closeAll(T + 40);
  const spans = await h.flush();
  const byEnd = new Map(spans.map((s) => [s.attributes['netlink.outage.end'], s]));
  const coalesced = byEnd.get('coalesced')!;
  assert.equal(coalesced.attributes['netlink.flaps'], 4);
  assert.equal(ms(coalesced.startTime), ms(coalesced.endTime));
  const deleted = byEnd.get('deleted')!;
  assert.deepEqual(deleted.status, { code: 2, message: 'interface deleted while down' });
  assert.equal(deleted.attributes['netlink.flaps'], 0, 'no flap event came with it');
  const shutdown = byEnd.get('shutdown')!;
  assert.equal(shutdown.attributes['netlink.ifindex'], 8);
  assert.equal(ms(shutdown.endTime), T + 40);
});

test('routes: a storm is one route.changes span per table and protocol with the count; a default route is its own span', async () => {
  const h = setup();
  const route = (action: string, destination: string, count?: number): PendingEvent =>
    ({
      netns: 'ns1',
      kind: 'route',
      action,
      interface: 'eth1',
      ifindex: 7,
      family: 'inet',
      table: '100',
      protocol: 'bgp',
      destination,
      type: 'unicast',
      ...(count ? { count } : {}),
    }) as PendingEvent;
  for (let i = 0; i < 20; i++) h.emit(route('added', `10.0.${i}.0/24`), T + i);
  h.emit(route('added', '*', 999_980), T + 900);
  for (let i = 0; i < 5; i++) h.emit(route('removed', `10.0.${i}.0/24`), T + 950);
  h.emit(route('replaced', 'default'), T + 960);
  h.spans.closeAll(T + 1000);
  const spans = await h.flush();
  const storms = spans.filter((s) => s.name === 'route.changes');
  assert.equal(storms.length, 1);
  assert.equal(storms[0]!.attributes['netlink.route.count'], 1_000_005);
  assert.equal(storms[0]!.attributes['netlink.route.added'], 1_000_000);
  assert.equal(storms[0]!.attributes['netlink.route.removed'], 5);
  assert.equal(storms[0]!.attributes['netlink.route.table'], '100');
  assert.equal(ms(storms[0]!.startTime), T);
  const defaults = spans.filter((s) => s.name === 'route.default_changed');
  assert.equal(defaults.length, 1);
  assert.equal(defaults[0]!.attributes['netlink.route.action'], 'replaced');
});

test('address, VIP, neighbour and resync spans; address exemplars per family and action', async () => {
  const h = setup();
  const address = (action: string, family: 'inet' | 'inet6', ip: string): PendingEvent =>
    ({
      netns: 'ns1',
      kind: 'address',
      action,
      interface: 'eth1',
      ifindex: 7,
      family,
      address: ip,
      prefixLength: 64,
      scope: 'global',
      flags: [],
    }) as PendingEvent;
  h.emit(address('added', 'inet6', '2001:db8::1'), T);
  h.emit(address('dadfailed', 'inet6', '2001:db8::1'), T + 1);
  h.emit(
    {
      netns: 'ns1',
      kind: 'vip',
      action: 'acquired',
      interface: 'eth1',
      ifindex: 0,
      vip: '192.0.2.10',
      name: 'web',
      holders: ['eth1'],
    },
    T + 2,
  );
  h.emit(
    {
      netns: 'ns1',
      kind: 'neighbour',
      action: 'lladdr_changed',
      interface: 'eth1',
      ifindex: 7,
      family: 'inet',
      destination: '192.0.2.1',
      lladdr: '02:00:00:00:00:02',
      oldLladdr: '02:00:00:00:00:01',
    },
    T + 3,
  );
  h.emit(
    {
      netns: 'ns1',
      kind: 'neighbour',
      action: 'added',
      interface: 'eth1',
      ifindex: 7,
      family: 'inet',
      destination: '192.0.2.2',
    },
    T + 3,
  );
  h.emit({ netns: 'ns1', kind: 'resync', action: 'started', interface: '', ifindex: 0, reason: 'overrun' }, T + 4);
  h.emit({ netns: 'ns1', kind: 'resync', action: 'completed', interface: '', ifindex: 0, reason: 'overrun' }, T + 54);
  const spans = await h.flush();
  assert.deepEqual(
    spans.map((s) => s.name),
    ['address.added', 'address.dad_failed', 'vip.acquired', 'neighbour.lladdr_changed', 'netlink.resync'],
  );
  assert.equal(spans[0]!.attributes['network.type'], 'ipv6');
  assert.equal(spans[1]!.status.code, 2);
  assert.deepEqual(spans[2]!.attributes['netlink.vip.holders'], ['eth1']);
  assert.equal(spans[3]!.attributes['netlink.mac.old'], '02:00:00:00:00:01');
  assert.equal(spans[3]!.attributes['netlink.mac.new'], '02:00:00:00:00:02');
  assert.equal(ms(spans[4]!.endTime) - ms(spans[4]!.startTime), 50);
  assert.equal(h.exemplars.addressChange('ns1', 7, 'inet6', 'added')?.traceId, spans[0]!.spanContext().traceId);
  assert.equal(h.exemplars.addressChange('ns1', 7, 'inet6', 'removed'), undefined);
  assert.equal(h.exemplars.addressChange('ns1', 7, 'inet', 'added'), undefined);
});

test('drops: rate_limited at span start (and no stale exemplar), queue_full for open spans past the cap and for a full queue', async () => {
  const h = setup({ perSecond: 2, maxOpenSpans: 1, maxQueueSize: 3 });
  const address = (ip: string): PendingEvent => ({
    netns: 'ns1',
    kind: 'address',
    action: 'added',
    interface: 'eth1',
    ifindex: 7,
    family: 'inet',
    address: ip,
    prefixLength: 32,
    scope: 'global',
    flags: [],
  });
  h.emit(address('10.0.0.1'), T);
  assert.ok(h.exemplars.addressChange('ns1', 7, 'inet', 'added'));
  h.emit({ ...link('changed', DOWN, UP), ifindex: 9 } as PendingEvent, T);
  h.emit({ ...link('changed', DOWN, UP), ifindex: 10 } as PendingEvent, T);
  assert.equal(h.counters.dropped().queue_full, 1, 'the second outage: over max_open_spans');
  h.emit(address('10.0.0.2'), T);
  assert.equal(h.counters.dropped().rate_limited, 1);
  assert.equal(
    h.exemplars.addressChange('ns1', 7, 'inet', 'added'),
    undefined,
    'the counter moved with no span: its exemplar goes',
  );
  // A full queue: the exporter answers nothing, so the batch stays in flight.
  const q = setup({ maxQueueSize: 3 });
  q.exporter.answer = false;
  for (let i = 0; i < 10; i++) q.emit(address(`10.1.0.${i}`), T);
  assert.equal(q.counters.dropped().queue_full, 7);
  assert.equal(q.processor.queued, 3);
});

test('processor: exported and export_failed are counted per span; an unanswered export times out as failed', async () => {
  const h = setup();
  const address = (ip: string): PendingEvent => ({
    netns: 'ns1',
    kind: 'address',
    action: 'removed',
    interface: 'eth1',
    ifindex: 7,
    family: 'inet',
    address: ip,
    prefixLength: 32,
    scope: 'global',
    flags: [],
  });
  h.emit(address('10.0.0.1'), T);
  h.emit(address('10.0.0.2'), T);
  await h.flush();
  assert.equal(h.counters.exported(), 2);
  h.exporter.result = 1;
  h.emit(address('10.0.0.3'), T);
  await h.flush();
  assert.equal(h.counters.dropped().export_failed, 1);
  h.exporter.answer = false;
  h.emit(address('10.0.0.4'), T);
  await h.processor.shutdownWithin(50);
  assert.equal(h.counters.dropped().export_failed, 2, 'the unanswered one');
});

// ---- OpenMetrics ----------------------------------------------------------------------------------

test('OpenMetrics: counter families without _total, quotes escaped in HELP, exemplar syntax', () => {
  const w = new ExpositionWriter(true);
  w.family(METRICS.interfaceFlaps);
  w.sample(METRICS.interfaceFlaps, ['', 'eth0'], 3);
  w.family(METRICS.neighbourLimit);
  const text = w.text();
  assert.ok(text.startsWith('# HELP netlink_interface_flaps Times'));
  assert.ok(
    text.includes(
      '# TYPE netlink_interface_flaps counter\nnetlink_interface_flaps_total{netns="",interface="eth0"} 3\n',
    ),
  );
  assert.ok(text.includes('\\"neighbour table overflow\\"'), 'a double quote in HELP is escaped');
  assert.ok(
    new ExpositionWriter()
      .family(METRICS.interfaceFlaps)
      .text()
      .includes('# TYPE netlink_interface_flaps_total counter\n'),
    'the text format is unchanged',
  );
  assert.equal(
    formatExemplar({ traceId: 'ab'.repeat(16), spanId: 'cd'.repeat(8), value: 2, timestamp: 1700000000.5 }),
    ` # {trace_id="${'ab'.repeat(16)}",span_id="${'cd'.repeat(8)}"} 2 1700000000.500`,
  );
  for (const def of Object.values(METRICS)) {
    if (def.type === 'counter')
      assert.ok(def.name.endsWith('_total'), `${def.name}: an OpenMetrics counter's samples end in _total`);
  }
});

test("OpenMetrics: prom-client's text converted (counter names, no blank lines, NaN)", () => {
  const text = [
    '# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.',
    '# TYPE process_cpu_seconds_total counter',
    'process_cpu_seconds_total 0.5',
    '',
    '# HELP nodejs_eventloop_lag_seconds Lag of "event loop" in seconds.',
    '# TYPE nodejs_eventloop_lag_seconds gauge',
    'nodejs_eventloop_lag_seconds Nan',
    '',
    '# HELP odd A counter without the suffix.',
    '# TYPE odd counter',
    'odd 1',
    '',
  ].join('\n');
  assert.equal(
    textToOpenMetrics(text),
    [
      '# HELP process_cpu_seconds Total user and system CPU time spent in seconds.',
      '# TYPE process_cpu_seconds counter',
      'process_cpu_seconds_total 0.5',
      '# HELP nodejs_eventloop_lag_seconds Lag of \\"event loop\\" in seconds.',
      '# TYPE nodejs_eventloop_lag_seconds gauge',
      'nodejs_eventloop_lag_seconds NaN',
      '# HELP odd A counter without the suffix.',
      '# TYPE odd unknown',
      'odd 1',
      '',
    ].join('\n'),
  );
});
