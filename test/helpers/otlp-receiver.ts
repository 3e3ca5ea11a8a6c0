// A real OTLP receiver for the tests, for all three signals and both transports, decoding with
// the published OTLP protobuf definitions (test/fixtures/otlp-proto, opentelemetry-proto v1.7.0,
// the release the 0.223 exporters speak) through protobufjs, independently of the SDK's encoder.
//
//   const r = await startOtlpReceiver({ transport: 'http' });   // or 'grpc'
//   ... point OTEL_EXPORTER_OTLP_ENDPOINT at r.endpoint ...
//   await r.waitFor('the outage span', () => r.findSpans('interface.outage').length === 1 || 'none yet');
//   await r.close();
//
// HTTP (node:http on 127.0.0.1, an ephemeral port): POST /v1/traces, /v1/metrics, /v1/logs, as
// application/x-protobuf or application/json (OTLP/JSON), gzip or identity, answered with the
// ExportXServiceResponse in the request's content type (200), or 503 with a google.rpc.Status in
// mode 'unavailable'. gRPC (@grpc/grpc-js on 127.0.0.1): the services
// opentelemetry.proto.collector.{trace,metrics,logs}.v1.{Trace,Metrics,Logs}Service/Export, gzip
// or not; UNAVAILABLE in mode 'unavailable'.
//
// What is kept, in arrival order:
// - `traces`, `metrics`, `logs`: each request as its decoded ExportXServiceRequest, in ONE shape
//   whichever the transport and encoding: protobufjs's toObject of the message with
//   { longs: String, enums: Number, defaults: true }: field names in lowerCamelCase (as OTLP/JSON),
//   every 64-bit integer (timeUnixNano, asInt, count, ...) a DECIMAL STRING, enums numbers,
//   absent scalars at their defaults ('' / 0 / '0' / false / []), absent messages null, the
//   members of a oneof present only when set (AnyValue.stringValue, Metric.sum, asDouble, ...);
//   traceId, spanId and parentSpanId lower-case hex ('' when empty), other bytes base64. An
//   OTLP/JSON body is read into the protobuf message first (hex ids turned back into bytes), so
//   the two paths give the same object for the same data.
// - flattened views, built on arrival (objects stay the same, so a test may keep a Set of them):
//   `spans` (ReceivedSpan), `logRecords` (ReceivedLogRecord), `points` (ReceivedPoint).
// - `requests`: one entry per request, whatever the mode: signal, transport, format,
//   content type, content encoding, headers, bytes on the wire, items, the status answered.
// - `problems`: what could not be decoded or was not OTLP; a self-respecting test asserts it empty.
//
// Modes (setMode): 'ok' answers at once; 'unavailable' answers 503 / UNAVAILABLE and keeps
// nothing but the request entry; 'slow' keeps what arrives but holds every answer until
// release(), a change of mode, or `slowMs` (default 60 s) have passed; 'refuse' closes the
// listener and every connection, so connecting is refused, and a later mode listens again on the
// same port (the endpoint stays valid).
//
// Bounded: a body over `maxBodyBytes` (default 16 MiB) is refused (413 / RESOURCE_EXHAUSTED);
// a request that would take a signal past `maxItems` (default 1,000,000 spans, data points or log
// records) is answered but not kept, and `dropped` counts it; `requests` keeps the first
// `maxRequests` (default 100,000) entries and `requestsDropped` counts the rest.

import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import * as protobuf from 'protobufjs';

/** dist/test/helpers -> test/fixtures/otlp-proto (the .proto files are not compiled). */
const PROTO_DIR = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'otlp-proto');

export type Transport = 'http' | 'grpc';
export type Signal = 'traces' | 'metrics' | 'logs';
export type ReceiverMode = 'ok' | 'unavailable' | 'slow' | 'refuse';
/** How the body was encoded: protobuf (HTTP x-protobuf, and always on gRPC) or OTLP/JSON. */
export type BodyFormat = 'protobuf' | 'json';

const SIGNALS: readonly Signal[] = ['traces', 'metrics', 'logs'];

const SIGNAL_PROTO: Record<Signal, { file: string; pkg: string; service: string; request: string; response: string }> =
  {
    traces: {
      file: 'opentelemetry/proto/collector/trace/v1/trace_service.proto',
      pkg: 'opentelemetry.proto.collector.trace.v1',
      service: 'TraceService',
      request: 'ExportTraceServiceRequest',
      response: 'ExportTraceServiceResponse',
    },
    metrics: {
      file: 'opentelemetry/proto/collector/metrics/v1/metrics_service.proto',
      pkg: 'opentelemetry.proto.collector.metrics.v1',
      service: 'MetricsService',
      request: 'ExportMetricsServiceRequest',
      response: 'ExportMetricsServiceResponse',
    },
    logs: {
      file: 'opentelemetry/proto/collector/logs/v1/logs_service.proto',
      pkg: 'opentelemetry.proto.collector.logs.v1',
      service: 'LogsService',
      request: 'ExportLogsServiceRequest',
      response: 'ExportLogsServiceResponse',
    },
  };

const HTTP_PATHS: Record<string, Signal> = { '/v1/traces': 'traces', '/v1/metrics': 'metrics', '/v1/logs': 'logs' };

// ---- the decoded shape (toObject with longs: String, enums: Number, defaults: true) ------------

export interface AnyValue {
  stringValue?: string;
  boolValue?: boolean;
  /** int64: a decimal string. */
  intValue?: string;
  doubleValue?: number;
  arrayValue?: { values: AnyValue[] };
  kvlistValue?: { values: KeyValue[] };
  /** base64 */
  bytesValue?: string;
}
export interface KeyValue {
  key: string;
  value: AnyValue | null;
}
export interface Resource {
  attributes: KeyValue[];
  droppedAttributesCount: number;
}
export interface InstrumentationScope {
  name: string;
  version: string;
  attributes: KeyValue[];
  droppedAttributesCount: number;
}
export interface Span {
  /** lower-case hex, 32 digits */
  traceId: string;
  /** lower-case hex, 16 digits */
  spanId: string;
  traceState: string;
  /** '' for a root span */
  parentSpanId: string;
  flags: number;
  name: string;
  /** SpanKind: 1 INTERNAL, 2 SERVER, 3 CLIENT, 4 PRODUCER, 5 CONSUMER */
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: KeyValue[];
  droppedAttributesCount: number;
  events: { timeUnixNano: string; name: string; attributes: KeyValue[]; droppedAttributesCount: number }[];
  droppedEventsCount: number;
  links: {
    traceId: string;
    spanId: string;
    traceState: string;
    attributes: KeyValue[];
    droppedAttributesCount: number;
    flags: number;
  }[];
  droppedLinksCount: number;
  /** code: 0 unset, 1 ok, 2 error */
  status: { message: string; code: number } | null;
}
export interface ExportTraceServiceRequest {
  resourceSpans: {
    resource: Resource | null;
    scopeSpans: { scope: InstrumentationScope | null; spans: Span[]; schemaUrl: string }[];
    schemaUrl: string;
  }[];
}
export interface LogRecord {
  timeUnixNano: string;
  observedTimeUnixNano: string;
  /** SeverityNumber: 9 INFO, 13 WARN, 17 ERROR, ... */
  severityNumber: number;
  severityText: string;
  body: AnyValue | null;
  attributes: KeyValue[];
  droppedAttributesCount: number;
  flags: number;
  /** lower-case hex, '' when none */
  traceId: string;
  /** lower-case hex, '' when none */
  spanId: string;
  eventName: string;
}
export interface ExportLogsServiceRequest {
  resourceLogs: {
    resource: Resource | null;
    scopeLogs: { scope: InstrumentationScope | null; logRecords: LogRecord[]; schemaUrl: string }[];
    schemaUrl: string;
  }[];
}
export interface Exemplar {
  filteredAttributes: KeyValue[];
  timeUnixNano: string;
  asDouble?: number;
  asInt?: string;
  spanId: string;
  traceId: string;
}
export interface NumberDataPoint {
  attributes: KeyValue[];
  startTimeUnixNano: string;
  timeUnixNano: string;
  asDouble?: number;
  /** sfixed64: a decimal string */
  asInt?: string;
  exemplars: Exemplar[];
  flags: number;
}
export interface HistogramDataPoint {
  attributes: KeyValue[];
  startTimeUnixNano: string;
  timeUnixNano: string;
  count: string;
  sum?: number;
  bucketCounts: string[];
  explicitBounds: number[];
  exemplars: Exemplar[];
  flags: number;
  min?: number;
  max?: number;
}
export interface Metric {
  name: string;
  description: string;
  unit: string;
  metadata: KeyValue[];
  gauge?: { dataPoints: NumberDataPoint[] };
  /** aggregationTemporality: 1 delta, 2 cumulative */
  sum?: { dataPoints: NumberDataPoint[]; aggregationTemporality: number; isMonotonic: boolean };
  histogram?: { dataPoints: HistogramDataPoint[]; aggregationTemporality: number };
  exponentialHistogram?: { dataPoints: Record<string, unknown>[]; aggregationTemporality: number };
  summary?: { dataPoints: Record<string, unknown>[] };
}
export interface ExportMetricsServiceRequest {
  resourceMetrics: {
    resource: Resource | null;
    scopeMetrics: { scope: InstrumentationScope | null; metrics: Metric[]; schemaUrl: string }[];
    schemaUrl: string;
  }[];
}

// ---- flattened views ----------------------------------------------------------------------------

export type AttributeValue = string | number | boolean | AttributeValue[] | { [key: string]: AttributeValue } | null;
export type Attributes = Record<string, AttributeValue>;

export interface ReceivedSpan {
  format: BodyFormat;
  transport: Transport;
  name: string;
  traceId: string;
  spanId: string;
  /** '' for a root span */
  parentSpanId: string;
  kind: number;
  /** milliseconds since the epoch (fractional) */
  startMs: number;
  endMs: number;
  attributes: Attributes;
  status: { code: number; message: string };
  events: { name: string; timeMs: number; attributes: Attributes }[];
  links: { traceId: string; spanId: string; attributes: Attributes }[];
  resource: Attributes;
  scope: { name: string; version: string };
}

export interface ReceivedLogRecord {
  format: BodyFormat;
  transport: Transport;
  eventName: string;
  /** milliseconds since the epoch (fractional); NaN when the record has no time */
  timeMs: number;
  observedTimeMs: number;
  severityNumber: number;
  severityText: string;
  body: AttributeValue;
  attributes: Attributes;
  traceId: string;
  spanId: string;
  resource: Attributes;
  scope: { name: string; version: string };
}

export interface ReceivedPoint {
  format: BodyFormat;
  transport: Transport;
  /** the metric's name, description and unit as sent */
  name: string;
  description: string;
  unit: string;
  type: 'gauge' | 'sum' | 'histogram' | 'exponentialHistogram' | 'summary';
  /** sums only */
  monotonic?: boolean;
  /** 1 delta, 2 cumulative (sums and histograms); 0 for gauges */
  temporality: number;
  attributes: Attributes;
  /** nanoseconds since the epoch, as sent (decimal strings: exact) */
  startTimeUnixNano: string;
  timeUnixNano: string;
  startMs: number;
  timeMs: number;
  /** gauge and sum points: the value (asInt as a number; exact up to 2^53), else undefined */
  value?: number;
  /** gauge and sum points: the value as sent, asInt a decimal string */
  asInt?: string;
  asDouble?: number;
  /** histogram points: count, sum, buckets */
  count?: number;
  sum?: number;
  bucketCounts?: number[];
  explicitBounds?: number[];
  exemplars: Exemplar[];
  resource: Attributes;
  scope: { name: string; version: string };
}

export interface ReceivedRequest {
  signal: Signal;
  transport: Transport;
  format: BodyFormat;
  /** HTTP: the request path; gRPC: the method path */
  path: string;
  /** HTTP: the content-type header; gRPC: 'application/grpc' */
  contentType: string;
  /** HTTP: content-encoding; gRPC: grpc-encoding; 'identity' when none */
  contentEncoding: string;
  /** HTTP headers, or the gRPC metadata (its reserved keys removed), lower-case keys */
  headers: Record<string, string>;
  /** the body as it came over the wire (compressed, if it was); gRPC: -1 (not visible) */
  bytes: number;
  /** spans, data points or log records in it (0 when not decoded) */
  items: number;
  /** HTTP status or gRPC code answered; undefined while held ('slow') */
  status: number | undefined;
  /** when it arrived (Date.now()) */
  time: number;
}

// ---- protobuf ----------------------------------------------------------------------------------

let protoRoot: protobuf.Root | undefined;
function protos(): protobuf.Root {
  if (protoRoot) return protoRoot;
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => path.join(PROTO_DIR, target);
  root.loadSync(SIGNALS.map((s) => SIGNAL_PROTO[s].file));
  // google.rpc.Status, the body of an OTLP error answer (its first two fields; not an OTLP file).
  root.add(
    new protobuf.Type('Status')
      .add(new protobuf.Field('code', 1, 'int32'))
      .add(new protobuf.Field('message', 2, 'string')),
  );
  root.resolveAll();
  protoRoot = root;
  return root;
}

function requestType(signal: Signal): protobuf.Type {
  const p = SIGNAL_PROTO[signal];
  return protos().lookupType(`${p.pkg}.${p.request}`);
}

function emptyResponse(signal: Signal): Buffer {
  const p = SIGNAL_PROTO[signal];
  const type = protos().lookupType(`${p.pkg}.${p.response}`);
  return Buffer.from(type.encode(type.create({})).finish());
}

const ID_FIELDS = new Set(['traceId', 'spanId', 'parentSpanId']);

/** Applies `f` to every string under an id key (traceId, spanId, parentSpanId), in place. */
function mapIds(value: unknown, f: (s: string) => string): void {
  if (Array.isArray(value)) {
    for (const v of value) mapIds(v, f);
  } else if (value !== null && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    for (const [k, v] of Object.entries(o)) {
      if (ID_FIELDS.has(k) && typeof v === 'string') o[k] = f(v);
      else mapIds(v, f);
    }
  }
}

function toPlain(type: protobuf.Type, message: protobuf.Message): Record<string, unknown> {
  const object = type.toObject(message, { longs: String, enums: Number, bytes: String, defaults: true });
  mapIds(object, (b64) => Buffer.from(b64, 'base64').toString('hex'));
  return object;
}

/** Decodes an ExportXServiceRequest in protobuf into the receiver's plain shape. */
export function decodeProtobuf(signal: Signal, body: Buffer): Record<string, unknown> {
  const type = requestType(signal);
  return toPlain(type, type.decode(body));
}

/**
 * Decodes an ExportXServiceRequest in OTLP/JSON into the same shape: ids from hex to bytes, then
 * through the protobuf message (fromObject takes int64 as strings or numbers, enums as numbers or
 * names), so that a JSON and a protobuf request of the same data give equal objects.
 */
export function decodeJson(signal: Signal, body: Buffer): Record<string, unknown> {
  const json: unknown = JSON.parse(body.toString('utf8'));
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new Error('not a JSON object');
  mapIds(json, (hex) => {
    if (!/^([0-9a-fA-F]{2})*$/.test(hex)) throw new Error(`an id that is not hex: ${JSON.stringify(hex)}`);
    return Buffer.from(hex, 'hex').toString('base64');
  });
  const type = requestType(signal);
  // Through the wire form, so that it is read exactly as a protobuf request is.
  const message = type.decode(type.encode(type.fromObject(json as Record<string, unknown>)).finish());
  return toPlain(type, message);
}

// ---- flattening --------------------------------------------------------------------------------

export function anyValue(v: AnyValue | null | undefined): AttributeValue {
  if (!v) return null;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.arrayValue !== undefined) return v.arrayValue.values.map(anyValue);
  if (v.kvlistValue !== undefined) return attributesOf(v.kvlistValue.values);
  if (v.bytesValue !== undefined) return v.bytesValue;
  return null;
}

/** KeyValue list -> { key: value } (int64 as numbers, arrays as arrays, kvlists as objects). */
export function attributesOf(list: KeyValue[] | undefined): Attributes {
  const out: Attributes = {};
  for (const kv of list ?? []) out[kv.key] = anyValue(kv.value);
  return out;
}

/** Nanoseconds (a decimal string) -> milliseconds since the epoch, fractional; NaN for '0'. */
export function nanosToMs(n: string): number {
  const ns = BigInt(n);
  if (ns === 0n) return NaN;
  return Number(ns / 1000n) / 1000;
}

function scopeOf(s: InstrumentationScope | null): { name: string; version: string } {
  return { name: s?.name ?? '', version: s?.version ?? '' };
}

export function flattenSpans(req: ExportTraceServiceRequest, format: BodyFormat, transport: Transport): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of req.resourceSpans) {
    const resource = attributesOf(rs.resource?.attributes);
    for (const ss of rs.scopeSpans) {
      for (const s of ss.spans) {
        out.push({
          format,
          transport,
          name: s.name,
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId,
          kind: s.kind,
          startMs: nanosToMs(s.startTimeUnixNano),
          endMs: nanosToMs(s.endTimeUnixNano),
          attributes: attributesOf(s.attributes),
          status: { code: s.status?.code ?? 0, message: s.status?.message ?? '' },
          events: s.events.map((e) => ({
            name: e.name,
            timeMs: nanosToMs(e.timeUnixNano),
            attributes: attributesOf(e.attributes),
          })),
          links: s.links.map((l) => ({ traceId: l.traceId, spanId: l.spanId, attributes: attributesOf(l.attributes) })),
          resource,
          scope: scopeOf(ss.scope),
        });
      }
    }
  }
  return out;
}

export function flattenLogRecords(
  req: ExportLogsServiceRequest,
  format: BodyFormat,
  transport: Transport,
): ReceivedLogRecord[] {
  const out: ReceivedLogRecord[] = [];
  for (const rl of req.resourceLogs) {
    const resource = attributesOf(rl.resource?.attributes);
    for (const sl of rl.scopeLogs) {
      for (const r of sl.logRecords) {
        out.push({
          format,
          transport,
          eventName: r.eventName,
          timeMs: nanosToMs(r.timeUnixNano),
          observedTimeMs: nanosToMs(r.observedTimeUnixNano),
          severityNumber: r.severityNumber,
          severityText: r.severityText,
          body: anyValue(r.body),
          attributes: attributesOf(r.attributes),
          traceId: r.traceId,
          spanId: r.spanId,
          resource,
          scope: scopeOf(sl.scope),
        });
      }
    }
  }
  return out;
}

export function flattenPoints(
  req: ExportMetricsServiceRequest,
  format: BodyFormat,
  transport: Transport,
): ReceivedPoint[] {
  const out: ReceivedPoint[] = [];
  for (const rm of req.resourceMetrics) {
    const resource = attributesOf(rm.resource?.attributes);
    for (const sm of rm.scopeMetrics) {
      const scope = scopeOf(sm.scope);
      for (const m of sm.metrics) {
        const common = { format, transport, name: m.name, description: m.description, unit: m.unit, resource, scope };
        const times = (p: { startTimeUnixNano: string; timeUnixNano: string }) => ({
          startTimeUnixNano: p.startTimeUnixNano,
          timeUnixNano: p.timeUnixNano,
          startMs: nanosToMs(p.startTimeUnixNano),
          timeMs: nanosToMs(p.timeUnixNano),
        });
        const number = (p: NumberDataPoint) => ({
          ...times(p),
          attributes: attributesOf(p.attributes),
          value: p.asInt !== undefined ? Number(p.asInt) : p.asDouble,
          ...(p.asInt !== undefined ? { asInt: p.asInt } : {}),
          ...(p.asDouble !== undefined ? { asDouble: p.asDouble } : {}),
          exemplars: p.exemplars,
        });
        if (m.gauge) {
          for (const p of m.gauge.dataPoints) out.push({ ...common, type: 'gauge', temporality: 0, ...number(p) });
        } else if (m.sum) {
          for (const p of m.sum.dataPoints)
            out.push({
              ...common,
              type: 'sum',
              monotonic: m.sum.isMonotonic,
              temporality: m.sum.aggregationTemporality,
              ...number(p),
            });
        } else if (m.histogram) {
          for (const p of m.histogram.dataPoints)
            out.push({
              ...common,
              type: 'histogram',
              temporality: m.histogram.aggregationTemporality,
              ...times(p),
              attributes: attributesOf(p.attributes),
              count: Number(p.count),
              ...(p.sum !== undefined ? { sum: p.sum } : {}),
              bucketCounts: p.bucketCounts.map(Number),
              explicitBounds: p.explicitBounds,
              exemplars: p.exemplars,
            });
        } else if (m.exponentialHistogram || m.summary) {
          // Not flattened (nothing here sends them): the metric is in `metrics` as decoded.
        }
      }
    }
  }
  return out;
}

function itemCount(signal: Signal, decoded: Record<string, unknown>): number {
  if (signal === 'traces')
    return (decoded as unknown as ExportTraceServiceRequest).resourceSpans.reduce(
      (a, rs) => a + rs.scopeSpans.reduce((b, ss) => b + ss.spans.length, 0),
      0,
    );
  if (signal === 'logs')
    return (decoded as unknown as ExportLogsServiceRequest).resourceLogs.reduce(
      (a, rl) => a + rl.scopeLogs.reduce((b, sl) => b + sl.logRecords.length, 0),
      0,
    );
  let n = 0;
  for (const rm of (decoded as unknown as ExportMetricsServiceRequest).resourceMetrics)
    for (const sm of rm.scopeMetrics)
      for (const m of sm.metrics) {
        const data = m.gauge ?? m.sum ?? m.histogram ?? m.exponentialHistogram ?? m.summary;
        n += data?.dataPoints.length ?? 0;
      }
  return n;
}

function matches(attributes: Attributes, partial: Attributes): boolean {
  return Object.entries(partial).every(([k, v]) => JSON.stringify(attributes[k]) === JSON.stringify(v));
}

// ---- the receiver ------------------------------------------------------------------------------

export interface OtlpReceiverOptions {
  transport: Transport;
  /** how long 'slow' holds an answer when nobody releases it (default 60 s) */
  slowMs?: number;
  /** a request body larger than this is refused (default 16 MiB) */
  maxBodyBytes?: number;
  /** spans, data points or log records kept per signal; past it `dropped` counts (default 1,000,000) */
  maxItems?: number;
  /** entries kept in `requests`; past it `requestsDropped` counts (default 100,000) */
  maxRequests?: number;
}

/** `true` when satisfied; `false` or a string saying what is missing (shown when the deadline passes). */
export type Predicate = (r: OtlpReceiver) => boolean | string;

interface Held {
  answer: () => void;
  abort: () => void;
}

export class OtlpReceiver {
  readonly transport: Transport;
  readonly traces: ExportTraceServiceRequest[] = [];
  readonly metrics: ExportMetricsServiceRequest[] = [];
  readonly logs: ExportLogsServiceRequest[] = [];
  readonly spans: ReceivedSpan[] = [];
  readonly logRecords: ReceivedLogRecord[] = [];
  readonly points: ReceivedPoint[] = [];
  readonly requests: ReceivedRequest[] = [];
  readonly problems: string[] = [];
  /** requests whose data was not kept (past maxItems) */
  dropped = 0;
  /** requests not listed in `requests` (past maxRequests) */
  requestsDropped = 0;
  port = 0;

  private modeNow: ReceiverMode = 'ok';
  private readonly slowMs: number;
  private readonly maxBodyBytes: number;
  private readonly maxItems: number;
  private readonly maxRequests: number;
  private readonly held = new Set<Held>();
  private readonly waiters = new Set<() => void>();
  private httpServer: http.Server | undefined;
  private grpcServer: grpc.Server | undefined;
  private closed = false;

  constructor(options: OtlpReceiverOptions) {
    this.transport = options.transport;
    this.slowMs = options.slowMs ?? 60_000;
    this.maxBodyBytes = options.maxBodyBytes ?? 16 * 1024 * 1024;
    this.maxItems = options.maxItems ?? 1_000_000;
    this.maxRequests = options.maxRequests ?? 100_000;
  }

  /** http://127.0.0.1:PORT for both transports (the gRPC exporters take a URL too). */
  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get mode(): ReceiverMode {
    return this.modeNow;
  }

  /** Answers being held in 'slow' mode. */
  get holding(): number {
    return this.held.size;
  }

  /** Listens on 127.0.0.1: an ephemeral port the first time, the same port after 'refuse'. */
  async listen(): Promise<void> {
    if (this.transport === 'http') {
      const server = http.createServer((req, res) => this.handleHttp(req, res));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.port, '127.0.0.1', () => {
          server.off('error', reject);
          resolve();
        });
      });
      this.httpServer = server;
      this.port = (server.address() as AddressInfo).port;
    } else {
      const server = new grpc.Server({ 'grpc.max_receive_message_length': this.maxBodyBytes });
      for (const signal of SIGNALS) this.addGrpcService(server, signal);
      this.port = await new Promise<number>((resolve, reject) =>
        server.bindAsync(`127.0.0.1:${this.port}`, grpc.ServerCredentials.createInsecure(), (err, port) =>
          err ? reject(err) : resolve(port),
        ),
      );
      this.grpcServer = server;
    }
  }

  private async stopListening(): Promise<void> {
    const httpServer = this.httpServer;
    const grpcServer = this.grpcServer;
    this.httpServer = undefined;
    this.grpcServer = undefined;
    if (httpServer)
      await new Promise<void>((resolve) => {
        httpServer.close(() => resolve());
        httpServer.closeAllConnections();
      });
    if (grpcServer) grpcServer.forceShutdown();
  }

  /**
   * 'ok', 'unavailable', 'slow' or 'refuse' (see the top of this file). Leaving 'slow' answers
   * what it held (in the new mode's way: OK, or UNAVAILABLE/503; 'refuse' drops them).
   */
  async setMode(mode: ReceiverMode): Promise<void> {
    if (this.closed) throw new Error('the receiver is closed');
    const was = this.modeNow;
    this.modeNow = mode;
    if (was === 'slow' && mode !== 'slow') {
      if (mode === 'refuse') this.abortHeld();
      else this.release();
    }
    if (mode === 'refuse' && was !== 'refuse') await this.stopListening();
    if (mode !== 'refuse' && was === 'refuse') await this.listen();
  }

  /** Answers every request 'slow' holds, as 'ok' would have. */
  release(): void {
    for (const h of [...this.held]) h.answer();
  }

  private abortHeld(): void {
    for (const h of [...this.held]) h.abort();
  }

  /** Stops listening, drops every connection and held answer. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.abortHeld();
    await this.stopListening();
    for (const w of [...this.waiters]) w();
  }

  // ---- what arrived ----

  /** Spans named `name` (any name when undefined) whose attributes include every pair of `partial`. */
  findSpans(name?: string, partial: Attributes = {}): ReceivedSpan[] {
    return this.spans.filter((s) => (name === undefined || s.name === name) && matches(s.attributes, partial));
  }

  /** The same as findSpans (the name the tracing tests use). */
  find(name: string, partial: Attributes = {}): ReceivedSpan[] {
    return this.findSpans(name, partial);
  }

  /** Log records with this event name (any when undefined) whose attributes include `partial`. */
  findLogRecords(eventName?: string, partial: Attributes = {}): ReceivedLogRecord[] {
    return this.logRecords.filter(
      (r) => (eventName === undefined || r.eventName === eventName) && matches(r.attributes, partial),
    );
  }

  /** Data points of the metric `name` whose attributes include `partial`, oldest first. */
  findPoints(name: string, partial: Attributes = {}): ReceivedPoint[] {
    return this.points.filter((p) => p.name === name && matches(p.attributes, partial));
  }

  /** The newest data point of `name` with exactly these attributes (every key, no more). */
  latestPoint(name: string, attributes: Attributes): ReceivedPoint | undefined {
    const want = Object.keys(attributes).length;
    for (let i = this.points.length - 1; i >= 0; i--) {
      const p = this.points[i]!;
      if (p.name === name && Object.keys(p.attributes).length === want && matches(p.attributes, attributes)) return p;
    }
    return undefined;
  }

  /** A short listing for failure messages. */
  summary(max = 20): string {
    const head = `${this.requests.length} requests (${SIGNALS.map((s) => `${s} ${this.requests.filter((q) => q.signal === s).length}`).join(', ')}); mode ${this.modeNow}; problems: ${this.problems.join('; ') || 'none'}`;
    const lines = [
      ...this.spans.slice(-max).map((s) => `span ${s.name} ${JSON.stringify(s.attributes)}`),
      ...this.logRecords.slice(-max).map((r) => `log ${r.eventName} ${JSON.stringify(r.attributes)}`),
      ...this.points.slice(-max).map((p) => `point ${p.name} ${JSON.stringify(p.attributes)} ${p.value ?? p.count}`),
    ];
    return [head, ...lines].join('\n');
  }

  /**
   * Resolves once `predicate` holds: checked now and after every request that arrives, never by
   * a timer; rejects when `deadlineMs` (default 15 s) passes first, with what the predicate last
   * said and a summary of what arrived. waitFor(predicate, deadlineMs) or
   * waitFor(what, predicate, deadlineMs).
   */
  waitFor(predicate: Predicate, deadlineMs?: number): Promise<void>;
  waitFor(what: string, predicate: Predicate, deadlineMs?: number): Promise<void>;
  waitFor(a: string | Predicate, b?: number | Predicate, c?: number): Promise<void> {
    const what = typeof a === 'string' ? a : 'the receiver to see what the test waits for';
    const predicate = (typeof a === 'string' ? b : a) as Predicate;
    const deadlineMs = (typeof a === 'string' ? c : (b as number | undefined)) ?? 15_000;
    return new Promise<void>((resolve, reject) => {
      let last: string = 'not checked';
      const check = (): boolean => {
        try {
          const r = predicate(this);
          if (r === true) return true;
          last = r === false ? 'false' : r;
        } catch (e) {
          last = `error: ${(e as Error).message}`;
        }
        return false;
      };
      if (check()) {
        resolve();
        return;
      }
      const waiter = (): void => {
        if (this.closed) finish(new Error(`the receiver closed while waiting for ${what}; last seen: ${last}`));
        else if (check()) finish();
      };
      const timer = setTimeout(
        () =>
          finish(
            new Error(
              `timed out after ${deadlineMs} ms waiting for ${what}; last seen: ${last}\nreceived:\n${this.summary()}`,
            ),
          ),
        deadlineMs,
      );
      const finish = (err?: Error): void => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
        if (err) reject(err);
        else resolve();
      };
      this.waiters.add(waiter);
    });
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  // ---- keeping what arrived ----

  /** Records a request (every request, whatever the mode). */
  private record(entry: Omit<ReceivedRequest, 'items' | 'status' | 'time'>): ReceivedRequest {
    const request: ReceivedRequest = { ...entry, items: 0, status: undefined, time: Date.now() };
    if (this.requests.length < this.maxRequests) this.requests.push(request);
    else this.requestsDropped++;
    return request;
  }

  /** Decodes and keeps a request's data (throws on data that is not OTLP). */
  private keep(request: ReceivedRequest, decode: () => Record<string, unknown>): void {
    const decoded = decode();
    request.items = itemCount(request.signal, decoded);
    const kept = { traces: this.spans, metrics: this.points, logs: this.logRecords }[request.signal].length;
    if (kept + request.items > this.maxItems) {
      this.dropped++;
      return;
    }
    const { format, transport } = request;
    if (request.signal === 'traces') {
      const r = decoded as unknown as ExportTraceServiceRequest;
      this.traces.push(r);
      this.spans.push(...flattenSpans(r, format, transport));
    } else if (request.signal === 'metrics') {
      const r = decoded as unknown as ExportMetricsServiceRequest;
      this.metrics.push(r);
      this.points.push(...flattenPoints(r, format, transport));
    } else {
      const r = decoded as unknown as ExportLogsServiceRequest;
      this.logs.push(r);
      this.logRecords.push(...flattenLogRecords(r, format, transport));
    }
  }

  /** Answers now ('ok'), or holds the answer ('slow'). */
  private answerOrHold(answer: () => void, abort: () => void): void {
    if (this.modeNow !== 'slow') {
      answer();
      return;
    }
    const timer = setTimeout(() => h.answer(), this.slowMs);
    timer.unref();
    const h: Held = {
      answer: () => {
        clearTimeout(timer);
        this.held.delete(h);
        if (this.modeNow === 'unavailable') abort();
        else answer();
      },
      abort: () => {
        clearTimeout(timer);
        this.held.delete(h);
        abort();
      },
    };
    this.held.add(h);
  }

  // ---- HTTP ----

  private handleHttp(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > this.maxBodyBytes) tooBig = true;
      else chunks.push(c);
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      try {
        this.serveHttp(req, res, Buffer.concat(chunks), size, tooBig);
      } finally {
        this.notify();
      }
    });
  }

  private serveHttp(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    wire: Buffer,
    size: number,
    tooBig: boolean,
  ): void {
    const urlPath = new URL(req.url ?? '/', 'http://x').pathname;
    const signal = HTTP_PATHS[urlPath];
    if (req.method !== 'POST' || signal === undefined) {
      this.problems.push(`${req.method} ${req.url}: not a POST to /v1/traces, /v1/metrics or /v1/logs`);
      res.writeHead(req.method !== 'POST' && signal !== undefined ? 405 : 404).end();
      return;
    }
    const contentType = String(req.headers['content-type'] ?? '');
    const contentEncoding = String(req.headers['content-encoding'] ?? 'identity').toLowerCase();
    const format: BodyFormat | undefined = /^application\/x-protobuf\b/i.test(contentType)
      ? 'protobuf'
      : /^application\/json\b/i.test(contentType)
        ? 'json'
        : undefined;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = String(v);
    const statusBody = (code: number, message: string): Buffer =>
      format === 'json'
        ? Buffer.from(JSON.stringify({ code, message }))
        : Buffer.from(protos().lookupType('Status').encode({ code, message }).finish());
    const fail = (status: number, problem: string, request?: ReceivedRequest): void => {
      this.problems.push(`${urlPath}: ${problem}`);
      if (request) request.status = status;
      res
        .writeHead(status, { 'content-type': format === 'json' ? 'application/json' : 'application/x-protobuf' })
        .end(statusBody(status === 413 ? 8 : 3, problem));
    };
    if (format === undefined) {
      fail(415, `unexpected content-type ${JSON.stringify(contentType)}`);
      return;
    }
    if (tooBig) {
      fail(413, `a body over ${this.maxBodyBytes} bytes`);
      return;
    }
    const request = this.record({
      signal,
      transport: 'http',
      format,
      path: urlPath,
      contentType,
      contentEncoding,
      headers,
      bytes: size,
    });
    if (this.modeNow !== 'unavailable') {
      try {
        this.keep(request, () => {
          let body = wire;
          if (contentEncoding === 'gzip') body = zlib.gunzipSync(wire, { maxOutputLength: this.maxBodyBytes });
          else if (contentEncoding !== 'identity') throw new Error(`content-encoding ${contentEncoding}`);
          return format === 'json' ? decodeJson(signal, body) : decodeProtobuf(signal, body);
        });
      } catch (e) {
        fail(400, `cannot decode a ${contentType} (${contentEncoding}) request: ${(e as Error).message}`, request);
        return;
      }
    }
    const unavailable = (): void => {
      request.status = 503;
      res
        .writeHead(503, { 'content-type': format === 'json' ? 'application/json' : 'application/x-protobuf' })
        .end(statusBody(14, 'receiver unavailable (test mode)'));
    };
    if (this.modeNow === 'unavailable') {
      unavailable();
      return;
    }
    this.answerOrHold(
      () => {
        request.status = 200;
        if (format === 'json') res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        else res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(emptyResponse(signal));
      },
      () => (this.modeNow === 'unavailable' ? unavailable() : res.destroy()),
    );
  }

  // ---- gRPC ----

  private addGrpcService(server: grpc.Server, signal: Signal): void {
    const p = SIGNAL_PROTO[signal];
    const service = protos().lookupService(`${p.pkg}.${p.service}`);
    const method = service.methods['Export'];
    if (!method) throw new Error(`${p.service} has no Export method in the proto files`);
    const methodPath = `/${p.pkg}.${p.service}/${method.name}`;
    const definition: grpc.ServiceDefinition = {
      Export: {
        path: methodPath,
        requestStream: false,
        responseStream: false,
        // The raw message: decoded below with the same protobufjs types as the HTTP path.
        requestDeserialize: (b: Buffer) => b,
        requestSerialize: (b: Buffer) => b,
        responseSerialize: (b: Buffer) => b,
        responseDeserialize: (b: Buffer) => b,
      },
    };
    const handler: grpc.handleUnaryCall<Buffer, Buffer> = (call, callback) => {
      try {
        this.serveGrpc(signal, methodPath, call, callback);
      } finally {
        this.notify();
      }
    };
    server.addService(definition, { Export: handler });
  }

  private serveGrpc(
    signal: Signal,
    methodPath: string,
    call: grpc.ServerUnaryCall<Buffer, Buffer>,
    callback: grpc.sendUnaryData<Buffer>,
  ): void {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(call.metadata.getMap()))
      headers[k] = Buffer.isBuffer(v) ? v.toString('base64') : v;
    // grpc-js takes grpc-encoding out of the metadata it hands over; the call it wraps keeps it
    // (a private field of @grpc/grpc-js 1.14: the self-test fails if that ever moves).
    const inner = (call as unknown as { call?: { incomingEncoding?: unknown } }).call;
    const contentEncoding = typeof inner?.incomingEncoding === 'string' ? inner.incomingEncoding : 'unknown';
    const request = this.record({
      signal,
      transport: 'grpc',
      format: 'protobuf',
      path: methodPath,
      contentType: 'application/grpc',
      contentEncoding,
      headers,
      bytes: -1,
    });
    if (this.modeNow !== 'unavailable') {
      try {
        this.keep(request, () => decodeProtobuf(signal, call.request));
      } catch (e) {
        this.problems.push(`${methodPath}: cannot decode the request: ${(e as Error).message}`);
        request.status = grpc.status.INVALID_ARGUMENT;
        callback({ code: grpc.status.INVALID_ARGUMENT, details: (e as Error).message });
        return;
      }
    }
    const unavailable = (): void => {
      request.status = grpc.status.UNAVAILABLE;
      callback({ code: grpc.status.UNAVAILABLE, details: 'receiver unavailable (test mode)' });
    };
    if (this.modeNow === 'unavailable') {
      unavailable();
      return;
    }
    this.answerOrHold(
      () => {
        request.status = grpc.status.OK;
        callback(null, emptyResponse(signal));
      },
      () => {
        if (this.modeNow === 'unavailable') {
          unavailable();
        } else {
          request.status = grpc.status.CANCELLED;
          callback({ code: grpc.status.CANCELLED, details: 'receiver closing' });
        }
      },
    );
  }
}

/** Starts a receiver on 127.0.0.1 (an ephemeral port) for every signal over `transport`. */
export async function startOtlpReceiver(options: OtlpReceiverOptions): Promise<OtlpReceiver> {
  const r = new OtlpReceiver(options);
  await r.listen();
  return r;
}
