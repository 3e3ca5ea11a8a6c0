// The whole metric contract over OTLP: a MetricProducer (@opentelemetry/sdk-metrics) that a
// PeriodicExportingMetricReader calls at each export (its `metricProducers`). It reads the same
// state /metrics renders, through the same collectors (render.ts's collectNetlinkSamples, into
// CollectedSamples instead of exposition text), and prom-client's families (process, HTTP,
// event stream, reloads) from registry.getMetricsAsJSON(). Nothing is recorded per event: the
// numbers are read at export time, as a scrape reads them.
//
// Loaded only when an OTLP metric export is configured (main.ts imports it dynamically), like
// the tracing SDK: with no signal on, nothing of OpenTelemetry is loaded.
//
// Names and units. Each metric keeps its /metrics name (a counter's with its `_total`), and its
// unit comes from the name's unit suffix (`_seconds` -> `s`, `_bytes` -> `By`, else none). The
// Collector's OTLP->Prometheus translation (pkg/translator/prometheus normalizeName, and
// Prometheus's own OTLP receiver) appends a unit only when the name lacks that token and makes
// a monotonic sum end in exactly one `_total`; a translation that adds no suffixes keeps the
// name as it is. Either way the Prometheus name is the /metrics name
// (test/unit/metrics/otlp-producer.test.ts checks every series). Every label is an attribute of
// the same name; resource attributes are the SDK's (the reader's resource replaces ours).
//
// Start times (a cumulative point's startTime, which receivers read as the series' creation):
// - a counter sample whose label set has a known birth (`created`: the `_created` of
//   OpenMetrics, when the model first saw the interface, route group, namespace...) starts then;
// - one without (the kernel's own carrier counters of an interface that predates us, which
//   counted before we saw them) starts when this producer first saw the series: its first point
//   has startTime = time, a baseline, as the OTLP data model says for an unknown start;
// - prom-client's series start with the process (its counters are all born at 0 there);
// - gauges carry the export time (a gauge's start time means nothing to a receiver).
// The first-seen times are kept only for the series of the last export: a series gone (its
// interface, namespace) is forgotten at the next one, so the map never outgrows what the
// exporter already bounds.

import { ValueType, type Attributes, type HrTime } from '@opentelemetry/api';
import { emptyResource } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  DataPointType,
  type CollectionResult,
  type DataPoint,
  type Histogram,
  type MetricData,
  type MetricDescriptor,
  type MetricProducer,
} from '@opentelemetry/sdk-metrics';
import type { Registry } from 'prom-client';
import { collectNetlinkSamples, type CollectorOptions } from '../render';
import type { NamespaceSource } from '../source';
import { CollectedSamples, ExportClock, secondsToHrTime, SeriesStartTimes, type CollectedFamily } from './samples';

export { secondsToHrTime, SeriesStartTimes } from './samples';

/** The instrumentation scope of the exporter's metrics. */
export const METRICS_SCOPE = 'netlink-exporter';

/** The OTLP unit of a Prometheus name: its unit suffix (before a counter's `_total`) in UCUM. */
export function unitOfName(name: string): string {
  const base = name.endsWith('_total') ? name.slice(0, -'_total'.length) : name;
  if (base.endsWith('_seconds')) return 's';
  if (base.endsWith('_bytes')) return 'By';
  return '';
}

export interface NetlinkMetricProducerOptions {
  /** The watched namespaces, read at each export (main.ts's `sources`, what /metrics renders). */
  readonly sources: () => readonly NamespaceSource[];
  /**
   * The collector options of an export, as a scrape's (config options, `discovered`, `tracing`);
   * openMetrics and exemplars are the text format's and are ignored.
   */
  readonly options: () => CollectorOptions;
  /** The exporter's version (netlink_exporter_build_info). */
  readonly version: string;
  /** prom-client's registry (process, HTTP, event stream, reload families); none: netlink families only. */
  readonly registry?: Pick<Registry, 'getMetricsAsJSON'>;
  /** A collector that threw (its samples are left out of that export, as of a scrape). */
  readonly onError?: (collector: string, err: Error) => void;
  /** Milliseconds since the epoch; Date.now by default. */
  readonly now?: () => number;
  /** Seconds since the epoch when the process started: prom-client's series start then. */
  readonly processStart?: number;
}

/** The producer, and what it remembers (for tests). */
export interface NetlinkMetricProducer extends MetricProducer {
  readonly startTimes: SeriesStartTimes;
}

function descriptorOf(name: string, help: string): MetricDescriptor {
  return { name, description: help, unit: unitOfName(name), valueType: ValueType.DOUBLE };
}

/** A netlink family's OTLP metric: a cumulative monotonic sum for a counter, a gauge for a gauge. */
function netlinkMetric({ def, points }: CollectedFamily): MetricData {
  const descriptor = descriptorOf(def.name, def.help);
  const aggregationTemporality = AggregationTemporality.CUMULATIVE;
  if (def.type === 'gauge')
    return { descriptor, aggregationTemporality, dataPointType: DataPointType.GAUGE, dataPoints: points };
  return {
    descriptor,
    aggregationTemporality,
    dataPointType: DataPointType.SUM,
    isMonotonic: true,
    dataPoints: points,
  };
}

type RegistryMetric = Awaited<ReturnType<Registry['getMetricsAsJSON']>>[number];

function labelsOf(labels: Readonly<Record<string, string | number | undefined>>, without?: string): Attributes {
  const attributes: Attributes = {};
  for (const [key, value] of Object.entries(labels))
    if (key !== without && value !== undefined) attributes[key] = String(value);
  return attributes;
}

/** A histogram's points from prom-client's `_bucket` (cumulative, by `le`), `_sum` and `_count` values. */
function histogramPoints(metric: RegistryMetric, start: HrTime, now: HrTime): DataPoint<Histogram>[] {
  const series = new Map<string, { attributes: Attributes; bounds: [number, number][]; sum: number; count: number }>();
  const of = (
    attributes: Attributes,
  ): { attributes: Attributes; bounds: [number, number][]; sum: number; count: number } => {
    const key = JSON.stringify(Object.entries(attributes).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    let s = series.get(key);
    if (!s) series.set(key, (s = { attributes, bounds: [], sum: 0, count: 0 }));
    return s;
  };
  for (const v of metric.values as { value: number; labels: Record<string, string | number>; metricName?: string }[]) {
    const suffix = v.metricName?.slice(metric.name.length);
    if (suffix === '_bucket') {
      const le = v.labels.le;
      const bound = le === '+Inf' ? Infinity : Number(le);
      of(labelsOf(v.labels, 'le')).bounds.push([bound, v.value]);
    } else if (suffix === '_sum') of(labelsOf(v.labels)).sum = v.value;
    else if (suffix === '_count') of(labelsOf(v.labels)).count = v.value;
  }
  return [...series.values()].map((s) => {
    s.bounds.sort(([a], [b]) => a - b);
    const boundaries = s.bounds.filter(([b]) => b !== Infinity).map(([b]) => b);
    // prom-client's buckets are cumulative; OTLP's are per bucket, with one past the last bound.
    const counts: number[] = [];
    let below = 0;
    for (const [b, cumulative] of s.bounds) {
      if (b === Infinity) continue;
      counts.push(cumulative - below);
      below = cumulative;
    }
    counts.push(s.count - below);
    return {
      startTime: start,
      endTime: now,
      attributes: s.attributes,
      value: { buckets: { boundaries, counts }, sum: s.sum, count: s.count },
    };
  });
}

/** prom-client's families as OTLP: counters as cumulative monotonic sums, gauges as gauges, histograms as histograms. */
function registryMetrics(json: RegistryMetric[], start: HrTime, now: HrTime, errors: unknown[]): MetricData[] {
  const out: MetricData[] = [];
  for (const metric of json) {
    const descriptor = descriptorOf(metric.name, metric.help);
    const points = (): DataPoint<number>[] =>
      metric.values.map((v) => ({
        startTime: start,
        endTime: now,
        attributes: labelsOf(v.labels as Record<string, string | number>),
        value: v.value,
      }));
    switch (String(metric.type)) {
      case 'counter':
        out.push({
          descriptor,
          aggregationTemporality: AggregationTemporality.CUMULATIVE,
          dataPointType: DataPointType.SUM,
          isMonotonic: true,
          dataPoints: points(),
        });
        break;
      case 'gauge':
        out.push({
          descriptor,
          aggregationTemporality: AggregationTemporality.CUMULATIVE,
          dataPointType: DataPointType.GAUGE,
          dataPoints: points().map((p) => ({ ...p, startTime: now })),
        });
        break;
      case 'histogram':
        out.push({
          descriptor,
          aggregationTemporality: AggregationTemporality.CUMULATIVE,
          dataPointType: DataPointType.HISTOGRAM,
          dataPoints: histogramPoints(metric, start, now),
        });
        break;
      default:
        // The exporter registers no summary; one would need OTLP's Summary, which the SDK's types lack.
        errors.push(
          new Error(`metric ${metric.name}: prom-client type ${String(metric.type)} is not exported over OTLP`),
        );
    }
  }
  return out;
}

/**
 * The metric producer of the whole contract, for a PeriodicExportingMetricReader's
 * `metricProducers`. See the top of this file for names, units and start times.
 */
export function createNetlinkMetricProducer(o: NetlinkMetricProducerOptions): NetlinkMetricProducer {
  const now = o.now ?? Date.now;
  const processStart = secondsToHrTime(o.processStart ?? performance.timeOrigin / 1000);
  const startTimes = new SeriesStartTimes();
  return {
    startTimes,
    async collect(): Promise<CollectionResult> {
      const errors: unknown[] = [];
      const at = secondsToHrTime(now() / 1000);
      startTimes.begin();
      const clock = new ExportClock(at, startTimes);
      const all = new CollectedSamples(clock);
      collectNetlinkSamples(
        o.sources(),
        o.version,
        () => new CollectedSamples(clock),
        (samples) => all.merge(samples),
        (collector, err) => {
          errors.push(err);
          o.onError?.(collector, err);
        },
        { ...o.options(), openMetrics: false, exemplars: undefined },
      );
      startTimes.end();
      const metrics: MetricData[] = [];
      for (const family of all.families.values()) if (family.points.length > 0) metrics.push(netlinkMetric(family));
      if (o.registry) {
        try {
          metrics.push(...registryMetrics(await o.registry.getMetricsAsJSON(), processStart, at, errors));
        } catch (err) {
          errors.push(err);
        }
      }
      return {
        resourceMetrics: {
          resource: emptyResource(),
          scopeMetrics: [{ scope: { name: METRICS_SCOPE, version: o.version }, metrics }],
        },
        errors,
      };
    },
  };
}
