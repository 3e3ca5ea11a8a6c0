// The standard OTLP -> Prometheus translation, as the OpenTelemetry Collector's prometheus and
// prometheusremotewrite exporters apply it (with metric suffixes, the
// pkg.translator.prometheus.NormalizeName gate on), to check that the OTLP export reads as
// /metrics once translated. Written from opentelemetry-collector-contrib's
// pkg/translator/prometheus at these commits:
//   normalize_name.go       e1631f8a6cea974f35bb32c5f6a5dd7f63158251 (normalizeName, CleanUpString,
//                           unitMap, perUnitMap, removeItem)
//   normalize_label.go      9c49d220b8dbf35163745e68343df07c8db7713d, tested as in
//   normalize_label_test.go 870de3632d376a989b61459319e6e8754ec1532c (NormalizeLabel, the
//                           PermissiveLabelSanitization gate off)
// Prometheus's own OTLP receiver (github.com/prometheus/otlptranslator) names the same way with
// its default strategy, UnderscoreEscapingWithSuffixes (its normalizeName is this code); its
// UTF-8 strategies are here too, from metric_namer.go at d7be77fc2c4afc1bb2cea311b1af98314b2de165:
// NoUTF8EscapingWithSuffixes (buildMetricName: the name kept, suffixes trimmed and re-added) and
// NoTranslation (the name as it is). Series: a sum or gauge point is one sample
// named after its metric; a histogram point is `_bucket` samples (cumulative, by `le`, with
// `+Inf`), `_sum` and `_count`. Resource attributes (job, instance, target_info) are the SDK's
// and left out here.

import { DataPointType, type MetricData, type ResourceMetrics } from '@opentelemetry/sdk-metrics';

// Go's unicode.IsLetter and unicode.IsDigit.
const NOT_ALPHANUMERIC = /[^\p{L}\p{Nd}]+/u;

const UNIT_MAP: Readonly<Record<string, string>> = {
  // Time
  d: 'days',
  h: 'hours',
  min: 'minutes',
  s: 'seconds',
  ms: 'milliseconds',
  us: 'microseconds',
  ns: 'nanoseconds',
  // Bytes
  By: 'bytes',
  KiBy: 'kibibytes',
  MiBy: 'mebibytes',
  GiBy: 'gibibytes',
  TiBy: 'tibibytes',
  KBy: 'kilobytes',
  MBy: 'megabytes',
  GBy: 'gigabytes',
  TBy: 'terabytes',
  B: 'bytes',
  KB: 'kilobytes',
  MB: 'megabytes',
  GB: 'gigabytes',
  TB: 'terabytes',
  // SI
  m: 'meters',
  V: 'volts',
  A: 'amperes',
  J: 'joules',
  W: 'watts',
  g: 'grams',
  // Misc
  Cel: 'celsius',
  Hz: 'hertz',
  '1': '',
  '%': 'percent',
  $: 'dollars',
};

const PER_UNIT_MAP: Readonly<Record<string, string>> = {
  s: 'second',
  m: 'minute',
  h: 'hour',
  d: 'day',
  w: 'week',
  mo: 'month',
  y: 'year',
};

/** Go's strings.FieldsFunc with "not a letter nor a digit" as the separator. */
function fields(s: string): string[] {
  return s.split(NOT_ALPHANUMERIC).filter((t) => t !== '');
}

export function cleanUpString(s: string): string {
  return fields(s).join('_');
}

export function unitMapGetOrDefault(unit: string): string {
  return Object.hasOwn(UNIT_MAP, unit) ? (UNIT_MAP[unit] as string) : unit;
}

export function perUnitMapGetOrDefault(perUnit: string): string {
  return Object.hasOwn(PER_UNIT_MAP, perUnit) ? (PER_UNIT_MAP[perUnit] as string) : perUnit;
}

export function removeItem(slice: readonly string[], value: string): string[] {
  return slice.filter((entry) => entry !== value);
}

/** What normalizeName reads of a metric. */
export interface NamedMetric {
  name: string;
  unit: string;
  type: 'gauge' | 'sum' | 'histogram';
  isMonotonic?: boolean;
}

/** Go's strings.TrimSpace (Unicode white space). */
function trimSpace(s: string): string {
  return s.replace(/^\s+|\s+$/gu, '');
}

/** Go's strings.SplitN(s, sep, 2). */
function splitN2(s: string, sep: string): string[] {
  const at = s.indexOf(sep);
  return at < 0 ? [s] : [s.slice(0, at), s.slice(at + sep.length)];
}

/** normalizeName: the metric's Prometheus name, with unit and type suffixes. */
export function normalizeName(metric: NamedMetric, namespace = ''): string {
  let nameTokens = fields(metric.name);
  const unitTokens = splitN2(metric.unit, '/');
  const mainUnitOtel = trimSpace(unitTokens[0] as string);
  if (mainUnitOtel !== '' && !/[{}]/.test(mainUnitOtel)) {
    const mainUnitProm = cleanUpString(unitMapGetOrDefault(mainUnitOtel));
    if (mainUnitProm !== '' && !nameTokens.includes(mainUnitProm)) nameTokens.push(mainUnitProm);
  }
  if (unitTokens.length > 1 && unitTokens[1] !== '') {
    const perUnitOtel = trimSpace(unitTokens[1] as string);
    if (perUnitOtel !== '' && !/[{}]/.test(perUnitOtel)) {
      const perUnitProm = cleanUpString(perUnitMapGetOrDefault(perUnitOtel));
      if (perUnitProm !== '' && !nameTokens.includes(perUnitProm)) nameTokens.push('per', perUnitProm);
    }
  }
  if (metric.type === 'sum' && metric.isMonotonic) nameTokens = [...removeItem(nameTokens, 'total'), 'total'];
  if (metric.unit === '1' && metric.type === 'gauge') nameTokens = [...removeItem(nameTokens, 'ratio'), 'ratio'];
  if (namespace !== '') nameTokens = [namespace, ...nameTokens];
  let normalized = nameTokens.join('_');
  if (normalized !== '' && /^\p{Nd}/u.test(normalized)) normalized = `_${normalized}`;
  return normalized;
}

/** otlptranslator's buildUnitSuffixes: the main and per unit suffixes, untransformed. */
export function buildUnitSuffixes(unit: string): [string, string] {
  const unitTokens = splitN2(unit, '/');
  let main = '';
  let per = '';
  const mainOtel = trimSpace(unitTokens[0] as string);
  if (mainOtel !== '' && !/[{}]/.test(mainOtel)) main = unitMapGetOrDefault(mainOtel);
  if (unitTokens.length > 1 && unitTokens[1] !== '') {
    const perOtel = trimSpace(unitTokens[1] as string);
    if (perOtel !== '' && !/[{}]/.test(perOtel)) per = perUnitMapGetOrDefault(perOtel);
    if (per !== '') per = `per_${per}`;
  }
  return [main, per];
}

/** trimSuffixAndDelimiter: `suffix` and the one character before it off `name`, when it ends so. */
function trimSuffixAndDelimiter(name: string, suffix: string): string {
  return name.endsWith(suffix) && name.length > suffix.length + 1 ? name.slice(0, -(suffix.length + 1)) : name;
}

/**
 * otlptranslator's buildMetricName with suffixes (NoUTF8EscapingWithSuffixes): the name kept
 * as it is, its ratio, total and per-unit suffixes trimmed and appended again, the main unit
 * appended unless the name already ends in it.
 */
export function buildUtf8MetricName(metric: NamedMetric): string {
  let name = metric.name;
  const ratio = metric.unit === '1' && metric.type === 'gauge';
  if (ratio) name = trimSuffixAndDelimiter(name, 'ratio');
  const total = metric.type === 'sum' && metric.isMonotonic === true;
  if (total) name = trimSuffixAndDelimiter(name, 'total');
  const [main, per] = buildUnitSuffixes(metric.unit);
  if (per !== '') name = trimSuffixAndDelimiter(name, per);
  if (main !== '' && !name.endsWith(main)) name = `${name}_${main}`;
  // Go's deferred appends run last registered first: per unit, then total, then ratio.
  if (per !== '') name = `${name}_${per}`;
  if (total) name = `${name}_total`;
  if (ratio) name = `${name}_ratio`;
  return name;
}

/** How a receiver names metrics (otlptranslator's strategies; the Collector's exporters do the first). */
export type NamingStrategy = 'UnderscoreEscapingWithSuffixes' | 'NoUTF8EscapingWithSuffixes' | 'NoTranslation';

export const NAMING_STRATEGIES: readonly NamingStrategy[] = [
  'UnderscoreEscapingWithSuffixes',
  'NoUTF8EscapingWithSuffixes',
  'NoTranslation',
];

function nameBy(strategy: NamingStrategy, metric: NamedMetric): string {
  if (strategy === 'UnderscoreEscapingWithSuffixes') return normalizeName(metric);
  if (strategy === 'NoUTF8EscapingWithSuffixes') return buildUtf8MetricName(metric);
  return metric.name;
}

/** NormalizeLabel: an attribute's key as a Prometheus label name. */
export function normalizeLabel(label: string): string {
  if (label === '') return label;
  let out = label.replace(/[^\p{L}\p{Nd}]/gu, '_');
  if (/^\p{Nd}/u.test(out)) out = `key_${out}`;
  else if (out.startsWith('_') && !out.startsWith('__')) out = `key${out}`;
  return out;
}

/** One Prometheus sample. */
export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A bucket bound as the `le` label reads (Go's FormatFloat 'f' -1 and JS's String agree on these). */
export function formatLe(bound: number): string {
  return bound === Infinity ? '+Inf' : String(bound);
}

/** A series' identity: its name and its labels sorted by name (an `le` compared as a number). */
export function seriesKey(name: string, labels: Readonly<Record<string, string>>): string {
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(k === 'le' ? formatLe(Number(labels[k])) : labels[k])}`);
  return `${name}{${parts.join(',')}}`;
}

function labelsOf(attributes: Readonly<Record<string, unknown>>, strategy: NamingStrategy): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [key, value] of Object.entries(attributes)) {
    const name = strategy === 'UnderscoreEscapingWithSuffixes' ? normalizeLabel(key) : key;
    // Keys that collide once normalised are joined with ';' (the Collector's createAttributes).
    labels[name] = labels[name] === undefined ? String(value) : `${labels[name]};${String(value)}`;
  }
  return labels;
}

function typeOf(metric: MetricData): NamedMetric['type'] {
  switch (metric.dataPointType) {
    case DataPointType.GAUGE:
      return 'gauge';
    case DataPointType.SUM:
      return 'sum';
    case DataPointType.HISTOGRAM:
      return 'histogram';
    default:
      throw new Error(
        `${metric.descriptor.name}: no Prometheus translation for data point type ${metric.dataPointType}`,
      );
  }
}

/** The Prometheus samples of one OTLP metric. */
export function metricToPrometheus(
  metric: MetricData,
  strategy: NamingStrategy = 'UnderscoreEscapingWithSuffixes',
): PromSample[] {
  const name = nameBy(strategy, {
    name: metric.descriptor.name,
    unit: metric.descriptor.unit,
    type: typeOf(metric),
    isMonotonic: metric.dataPointType === DataPointType.SUM ? metric.isMonotonic : undefined,
  });
  const out: PromSample[] = [];
  if (metric.dataPointType === DataPointType.HISTOGRAM) {
    for (const point of metric.dataPoints) {
      const labels = labelsOf(point.attributes, strategy);
      const { boundaries, counts } = point.value.buckets;
      let cumulative = 0;
      boundaries.forEach((bound, i) => {
        cumulative += counts[i] as number;
        out.push({ name: `${name}_bucket`, labels: { ...labels, le: formatLe(bound) }, value: cumulative });
      });
      out.push({ name: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: point.value.count });
      out.push({ name: `${name}_sum`, labels, value: point.value.sum ?? 0 });
      out.push({ name: `${name}_count`, labels, value: point.value.count });
    }
    return out;
  }
  if (metric.dataPointType === DataPointType.EXPONENTIAL_HISTOGRAM)
    throw new Error('exponential histograms: not used here');
  for (const point of metric.dataPoints)
    out.push({ name, labels: labelsOf(point.attributes, strategy), value: point.value });
  return out;
}

/** Every sample of every metric of `resourceMetrics`, in order. */
export function toPrometheus(
  resourceMetrics: ResourceMetrics,
  strategy: NamingStrategy = 'UnderscoreEscapingWithSuffixes',
): PromSample[] {
  return resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics.flatMap((m) => metricToPrometheus(m, strategy)));
}
