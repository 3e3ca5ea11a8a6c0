// The OTLP metric producer (src/metrics/otlp/producer.ts) against /metrics: the captured fixtures
// replayed into one model (as the golden test does), collected once through the producer and once
// rendered as /metrics; the OTLP metrics, translated to Prometheus as the Collector translates
// them (test/helpers/otlp-to-prometheus.ts), must be exactly the series and values of /metrics.
// Then start times (a `_created` where /metrics has one, later for a series born later, kept
// across exports, forgotten with the series) and monotonic counters, and the producer in the
// SDK's own reader.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  PeriodicExportingMetricReader,
  type MetricData,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';

import { DEFAULT_CONFIG } from '../../../src/config/config';
import { registerEventStreamMetrics } from '../../../src/http/event-stream-metrics';
import { registerHttpMetrics } from '../../../src/http/http-metrics';
import { METRICS } from '../../../src/metrics/contract';
import { DiscoveredTotals } from '../../../src/metrics/discovered';
import { createNetlinkMetricProducer, unitOfName } from '../../../src/metrics/otlp/producer';
import { registerReloadMetrics } from '../../../src/metrics/registry';
import { collectorOptionsFrom, renderNetlinkMetrics, type CollectorOptions } from '../../../src/metrics/render';
import type { NamespaceSource } from '../../../src/metrics/source';
import { AF_INET, IFF_UP, RTM_NEWADDR } from '../../../src/netlink/constants';
import { SessionCounters } from '../../../src/session/session-counters';
import { NamespaceModel } from '../../../src/state/model';
import { parseExposition } from '../../helpers/exposition';
import { FIXTURE_EPOCH, replayFixtureSource } from '../../helpers/fixture-model';
import { namespaceSource, podNamespace, upLink } from '../../helpers/model-source';
import { NAMING_STRATEGIES, seriesKey, toPrometheus, type PromSample } from '../../helpers/otlp-to-prometheus';

const VERSION = '0.0.0-otlp';
/** The export's clock (milliseconds): a while after the fixtures' last step. */
const EXPORT_MS = (FIXTURE_EPOCH + 1000) * 1000;

/** Samples by series; fails on a series twice (two OTLP points that translate to one series). */
function bySeries(samples: readonly PromSample[], what: string): Map<string, number> {
  const map = new Map<string, number>();
  for (const s of samples) {
    const key = seriesKey(s.name, s.labels);
    assert.ok(!map.has(key), `${what}: ${key} twice`);
    // A measured time, not a state: the collectors' durations differ between two renderings.
    map.set(key, s.name === METRICS.collectorDuration.name ? 0 : s.value);
  }
  return map;
}

/** Where two sets of series differ, listed (the first 20 of each kind). */
function differences(want: Map<string, number>, got: Map<string, number>): string[] {
  const out: string[] = [];
  for (const [key, value] of want) {
    if (!got.has(key)) out.push(`only in /metrics: ${key} ${value}`);
    else if (!Object.is(got.get(key), value)) out.push(`${key}: /metrics ${value}, OTLP ${got.get(key)}`);
  }
  for (const [key, value] of got) if (!want.has(key)) out.push(`only in OTLP: ${key} ${value}`);
  return out;
}

function assertSameSeries(want: Map<string, number>, got: Map<string, number>, what: string): void {
  const diff = differences(want, got);
  assert.equal(diff.length, 0, `${what}: ${diff.length} differences:\n${diff.slice(0, 20).join('\n')}`);
}

/** The registry main.ts fills (the contract's prom-client families), plus a histogram with fixed observations. */
function fixedRegistry(): Registry {
  const registry = new Registry();
  registerReloadMetrics(registry, { successful: true, lastSuccess: FIXTURE_EPOCH });
  registerEventStreamMetrics(registry, () => ({ clients: 1, refused: 2, tooSlow: 3, stalled: 0 }));
  registerHttpMetrics(registry, () => ({
    requestsInFlight: 1,
    refused: { unauthorized: 4, rate_limited: 0, auth_busy: 0, pipelined: 1, tls_handshake: 0, connections: 0 },
  }));
  const h = new Histogram({
    name: 'test_request_duration_seconds',
    help: 'A histogram with fixed observations.',
    labelNames: ['code'],
    buckets: [0.005, 0.1, 2.5],
    registers: [registry],
  });
  h.observe({ code: '200' }, 0.003);
  h.observe({ code: '200' }, 0.05);
  h.observe({ code: '200' }, 0.07);
  h.observe({ code: '500' }, 7);
  return registry;
}

function optionsOf(): CollectorOptions {
  const discovered = new DiscoveredTotals();
  discovered.enabled = DEFAULT_CONFIG.netnsAll;
  return { ...collectorOptionsFrom(DEFAULT_CONFIG), discovered };
}

function metricsOf(rm: ResourceMetrics): MetricData[] {
  return rm.scopeMetrics.flatMap((s) => s.metrics);
}

const hrSeconds = ([s, ns]: readonly [number, number]): number => s + ns / 1e9;

test('the OTLP export of the replayed fixtures, translated as the Collector and Prometheus translate it, is /metrics exactly', async () => {
  const source = replayFixtureSource();
  try {
    const registry = fixedRegistry();
    const options = optionsOf();
    const producer = createNetlinkMetricProducer({
      sources: () => [source],
      options: () => options,
      version: VERSION,
      registry,
      now: () => EXPORT_MS,
      processStart: FIXTURE_EPOCH,
    });
    const { resourceMetrics, errors } = await producer.collect();
    assert.deepEqual(errors, []);
    const text =
      Buffer.concat(renderNetlinkMetrics([source], options, VERSION)).toString() + (await registry.metrics());
    const want = bySeries(parseExposition(text), '/metrics');
    assert.ok(want.size > 200, `the fixtures give many series (${want.size})`);
    for (const family of ['netlink_interface_flaps_total', 'netlink_routes', 'test_request_duration_seconds_bucket'])
      assert.ok(
        [...want.keys()].some((k) => k.startsWith(`${family}{`)),
        `${family} has series`,
      );
    for (const strategy of NAMING_STRATEGIES)
      assertSameSeries(
        want,
        bySeries(toPrometheus(resourceMetrics, strategy), `OTLP translated (${strategy})`),
        strategy,
      );

    // Types and units as the contract says; counters cumulative and monotonic.
    const metrics = metricsOf(resourceMetrics);
    for (const def of Object.values(METRICS)) {
      const metric = metrics.find((m) => m.descriptor.name === def.name);
      if (!metric) continue;
      assert.equal(metric.descriptor.unit, unitOfName(def.name), def.name);
      if (def.type === 'counter') {
        assert.equal(metric.dataPointType, DataPointType.SUM, def.name);
        assert.ok(metric.dataPointType === DataPointType.SUM && metric.isMonotonic, def.name);
        assert.equal(metric.aggregationTemporality, AggregationTemporality.CUMULATIVE, def.name);
      } else assert.equal(metric.dataPointType, DataPointType.GAUGE, def.name);
    }
    assert.equal(metrics.find((m) => m.descriptor.name === 'netlink_interface_mtu_bytes')?.descriptor.unit, 'By');
    assert.equal(
      metrics.find((m) => m.descriptor.name === 'netlink_interface_last_change_timestamp_seconds')?.descriptor.unit,
      's',
    );
    assert.equal(
      metrics.find((m) => m.descriptor.name === 'test_request_duration_seconds')?.dataPointType,
      DataPointType.HISTOGRAM,
    );
  } finally {
    source.model.close();
  }
});

test("a counter's start time is its OpenMetrics `_created`; one without is the export that first saw it", async () => {
  const source = replayFixtureSource();
  try {
    const options = optionsOf();
    const producer = createNetlinkMetricProducer({
      sources: () => [source],
      options: () => options,
      version: VERSION,
      now: () => EXPORT_MS,
    });
    const { resourceMetrics } = await producer.collect();
    const openMetrics = Buffer.concat(
      renderNetlinkMetrics([source], { ...options, openMetrics: true }, VERSION),
    ).toString();
    const created = new Map<string, number>();
    for (const s of parseExposition(openMetrics))
      if (s.name.endsWith('_created'))
        created.set(seriesKey(`${s.name.slice(0, -'_created'.length)}_total`, s.labels), s.value);
    assert.ok(created.size > 100, `many counters have a _created (${created.size})`);
    let withCreated = 0;
    let without = 0;
    for (const metric of metricsOf(resourceMetrics)) {
      if (metric.dataPointType !== DataPointType.SUM) continue;
      for (const point of metric.dataPoints) {
        const [s] = toPrometheus({
          resource: resourceMetrics.resource,
          scopeMetrics: [{ scope: { name: 't' }, metrics: [{ ...metric, dataPoints: [point] }] }],
        });
        const key = seriesKey(s!.name, s!.labels);
        const start = hrSeconds(point.startTime);
        const want = created.get(key);
        if (want !== undefined) {
          withCreated++;
          assert.ok(Math.abs(start - want) < 0.001, `${key}: start ${start}, _created ${want}`);
        } else {
          without++;
          assert.equal(start, EXPORT_MS / 1000, `${key}: no _created, so first seen by this export`);
        }
        assert.ok(start <= hrSeconds(point.endTime), key);
      }
    }
    assert.equal(withCreated, created.size, 'every _created is a start time');
    // The replay feeds every message as a notification, so every counter here has a _created (the
    // next test has the kernel's counters of an interface found by the initial dump, which have none).
    assert.equal(producer.startTimes.size, without, 'only the series without a _created are remembered');
  } finally {
    source.model.close();
  }
});

/** A sum's points by translated series: start time (seconds) and value. */
function sums(rm: ResourceMetrics): Map<string, { start: number; value: number }> {
  const out = new Map<string, { start: number; value: number }>();
  for (const metric of metricsOf(rm)) {
    if (metric.dataPointType !== DataPointType.SUM) continue;
    for (const point of metric.dataPoints) {
      const [s] = toPrometheus({
        resource: rm.resource,
        scopeMetrics: [{ scope: { name: 't' }, metrics: [{ ...metric, dataPoints: [point] }] }],
      });
      out.set(seriesKey(s!.name, s!.labels), { start: hrSeconds(point.startTime), value: point.value });
    }
  }
  return out;
}

test('start times: a series born later starts later, known ones keep theirs, counters never go down, gone ones are forgotten', async () => {
  let clock = 1_800_000_000;
  const model = new NamespaceModel({
    netns: 'pod',
    include: /^.*$/,
    exclude: undefined,
    maxTracked: 100,
    now: () => clock,
  });
  try {
    // lo was there before us (the initial dump): its kernel counters have no known birth.
    model.link(upLink(1, 'lo'), 'initial-dump');
    model.link(upLink(2, 'eth0'));
    let sources: NamespaceSource[] = [namespaceSource(model)];
    const producer = createNetlinkMetricProducer({
      sources: () => sources,
      options: () => ({ addressInfo: true, addressInfoLinkLocal: false }),
      version: VERSION,
      now: () => clock * 1000,
    });
    const firstAt = clock;
    const first = sums((await producer.collect()).resourceMetrics);
    const flaps = (name: string): string =>
      seriesKey('netlink_interface_flaps_total', { netns: 'pod', interface: name });
    const carrier = (name: string): string =>
      seriesKey('netlink_interface_carrier_changes_total', { netns: 'pod', interface: name });
    assert.equal(first.get(flaps('eth0'))?.start, firstAt);
    assert.equal(first.get(carrier('lo'))?.start, firstAt, 'no known birth: first seen by this export');
    assert.equal(first.get(flaps('eth1')), undefined);

    clock += 60;
    model.link(upLink(3, 'eth1'));
    // eth0 goes down and comes back: one flap.
    model.link({
      ...upLink(2, 'eth0'),
      operstate: 2,
      ifFlags: IFF_UP,
      carrier: 0,
      carrierChanges: 2,
      carrierDownCount: 1,
    });
    clock += 1;
    model.link({ ...upLink(2, 'eth0'), carrierChanges: 3, carrierUpCount: 2, carrierDownCount: 1 });
    clock += 60;
    const second = sums((await producer.collect()).resourceMetrics);
    assert.ok((second.get(flaps('eth1'))?.start as number) > (second.get(flaps('eth0'))?.start as number));
    assert.equal(second.get(flaps('eth1'))?.start, firstAt + 60, 'born when the model first saw eth1');
    assert.equal(second.get(flaps('eth0'))?.start, firstAt, 'eth0 keeps its start');
    assert.equal(second.get(carrier('lo'))?.start, firstAt, 'lo keeps the time it was first seen');
    assert.equal(second.get(flaps('eth0'))?.value, 1);
    for (const [key, point] of first) {
      const next = second.get(key);
      assert.ok(next, `${key} is still there`);
      assert.ok(next.value >= point.value, `${key} went from ${point.value} to ${next.value}`);
      assert.equal(next.start, point.start, `${key} keeps its start`);
    }
    assert.ok(producer.startTimes.size > 0);

    // The namespace goes: what the producer remembered of it goes with it.
    sources = [];
    const third = sums((await producer.collect()).resourceMetrics);
    assert.equal([...third.keys()].filter((k) => k.includes('netns="pod"')).length, 0);
    assert.equal(producer.startTimes.size, 0);
  } finally {
    model.close();
  }
});

test('the producer in the SDK: a PeriodicExportingMetricReader exports its metrics, prom-client default metrics included', async () => {
  const source = replayFixtureSource();
  const registry = fixedRegistry();
  collectDefaultMetrics({ register: registry });
  const options = optionsOf();
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const producer = createNetlinkMetricProducer({
    sources: () => [source],
    options: () => options,
    version: VERSION,
    registry,
  });
  const reader = new PeriodicExportingMetricReader({
    exporter,
    exportIntervalMillis: 3_600_000,
    metricProducers: [producer],
  });
  try {
    // A reader needs a MeterProvider to collect; the SDK's own meters add nothing here.
    const { MeterProvider } = await import('@opentelemetry/sdk-metrics');
    const provider = new MeterProvider({ readers: [reader] });
    const before = bySeries(toPrometheus((await producer.collect()).resourceMetrics), 'OTLP before');
    await reader.forceFlush();
    const exported = exporter.getMetrics();
    assert.equal(exported.length, 1);
    const text =
      Buffer.concat(renderNetlinkMetrics([source], options, VERSION)).toString() + (await registry.metrics());
    const after = bySeries(toPrometheus((await producer.collect()).resourceMetrics), 'OTLP after');
    const through = bySeries(toPrometheus(exported[0] as ResourceMetrics), 'exported');
    const scraped = bySeries(parseExposition(text), '/metrics');
    // Process metrics move between reads (CPU, memory) and a series may be born between them (a
    // new kind of GC): the series of each read contain those of the one before.
    for (const [earlier, later, what] of [
      [before, through, 'exported'],
      [through, scraped, '/metrics'],
      [scraped, after, 'the next export'],
    ] as const) {
      const missing = [...earlier.keys()].filter((k) => !later.has(k));
      assert.deepEqual(missing, [], `series missing from ${what}`);
    }
    assert.ok([...through.keys()].some((k) => k.startsWith('process_cpu_seconds_total{')));
    assert.ok([...through.keys()].some((k) => k.startsWith('netlink_interface_up{')));
    await provider.shutdown();
  } finally {
    await reader.shutdown().catch(() => undefined);
    source.model.close();
  }
});

test('namespaces found by --netns.all (compact series, netns="*" sums): the OTLP export is /metrics exactly', async () => {
  const pod = (netns: string, withAddress: boolean): { model: NamespaceModel; counters: SessionCounters } => {
    const { model, session } = podNamespace(netns);
    if (withAddress)
      session.address({
        flags: 0,
        seq: 0,
        pid: 0,
        type: RTM_NEWADDR,
        family: AF_INET,
        prefixLength: 24,
        addressFlags: 0,
        scope: 0,
        ifindex: 2,
        address: '10.1.0.2',
      });
    return { model, counters: session.counters };
  };
  const fed = [pod('full', true), pod('pod-a', true), pod('pod-b', false)];
  try {
    const sources = fed.map((f, i) => namespaceSource(f.model, { counters: f.counters, resyncs: i, compact: i > 0 }));
    const discovered = new DiscoveredTotals();
    discovered.enabled = true;
    const options: CollectorOptions = { addressInfo: true, addressInfoLinkLocal: false, discovered };
    const producer = createNetlinkMetricProducer({ sources: () => sources, options: () => options, version: VERSION });
    const { resourceMetrics, errors } = await producer.collect();
    assert.deepEqual(errors, []);
    const want = bySeries(
      parseExposition(Buffer.concat(renderNetlinkMetrics(sources, options, VERSION)).toString()),
      '/metrics',
    );
    assert.ok(
      [...want.keys()].some((k) => k.includes('netns="*"')),
      'the netns="*" sums are there',
    );
    assert.ok([...want.keys()].some((k) => k.startsWith('netlink_address_changes_total{') && k.includes('pod-a')));
    for (const strategy of NAMING_STRATEGIES)
      assertSameSeries(
        want,
        bySeries(toPrometheus(resourceMetrics, strategy), `OTLP translated (${strategy})`),
        strategy,
      );
  } finally {
    for (const f of fed) f.model.close();
  }
});

// prom-client itself loads @opentelemetry/api (its process CPU counter's exemplars): the API's
// no-op globals, no SDK, no connection. That was so before the producer and is left out here.
test('rendering /metrics loads no OpenTelemetry SDK (the producer is imported only when an export is on)', () => {
  const dist = join(__dirname, '..', '..', '..', 'src');
  const script = `
    require(${JSON.stringify(join(dist, 'metrics', 'render.js'))});
    require(${JSON.stringify(join(dist, 'metrics', 'registry.js'))});
    require(${JSON.stringify(join(dist, 'metrics', 'openmetrics.js'))});
    const loaded = Object.keys(require.cache).filter((p) => /@opentelemetry\\/(?!api\\/)|\\/metrics\\/otlp\\//.test(p));
    process.stdout.write(JSON.stringify(loaded));
  `;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), []);
});
