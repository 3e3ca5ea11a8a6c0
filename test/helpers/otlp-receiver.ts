// A real OTLP/HTTP trace receiver for the tests: a node:http server on 127.0.0.1 that accepts
// POST /v1/traces as application/x-protobuf (decoded with protobufjs and the OpenTelemetry
// proto definitions in test/fixtures/otlp-proto, independently of the SDK's own encoder) or as
// application/json (the OTLP/JSON mapping: hex ids, int64 as strings), gzip or not, and keeps
// every span in one normalised shape. It can also be told to hang (accept and never answer),
// to answer 503, or be stopped, to exercise the exporter's drop counting.

import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import * as protobuf from 'protobufjs';
import { poll } from './exporter';

/** dist/test/helpers -> test/fixtures/otlp-proto (the .proto files are not compiled). */
const PROTO_DIR = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'otlp-proto');
const REQUEST_TYPE = 'opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest';
const RESPONSE_TYPE = 'opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse';

export type AttributeValue = string | number | boolean | AttributeValue[] | null;
export type Attributes = Record<string, AttributeValue>;

export interface ReceivedEvent {
  name: string;
  /** Milliseconds since the epoch (fractional). */
  timeMs: number;
  attributes: Attributes;
}

export interface ReceivedSpan {
  format: 'protobuf' | 'json';
  name: string;
  /** Lower-case hex, 32 digits. */
  traceId: string;
  /** Lower-case hex, 16 digits. */
  spanId: string;
  /** "" for a root span. */
  parentSpanId: string;
  /** SpanKind as the proto numbers it (1 = INTERNAL). */
  kind: number;
  startMs: number;
  endMs: number;
  attributes: Attributes;
  /** code: 0 unset, 1 ok, 2 error. */
  status: { code: number; message: string };
  events: ReceivedEvent[];
  resource: Attributes;
  scope: { name: string; version: string };
}

// ---- normalising (the protobufjs object form and OTLP/JSON share one shape) ----------------

interface AnyValueJson {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number;
  arrayValue?: { values?: AnyValueJson[] };
  kvlistValue?: { values?: KeyValueJson[] };
  bytesValue?: string;
}
interface KeyValueJson {
  key: string;
  value?: AnyValueJson;
}
interface SpanJson {
  traceId?: string;
  spanId?: string;
  parentSpanId?: string;
  name?: string;
  kind?: number;
  startTimeUnixNano?: string | number;
  endTimeUnixNano?: string | number;
  attributes?: KeyValueJson[];
  events?: { timeUnixNano?: string | number; name?: string; attributes?: KeyValueJson[] }[];
  status?: { code?: number; message?: string };
}
interface RequestJson {
  resourceSpans?: {
    resource?: { attributes?: KeyValueJson[] };
    scopeSpans?: { scope?: { name?: string; version?: string }; spans?: SpanJson[] }[];
  }[];
}

function anyValue(v: AnyValueJson | undefined): AttributeValue {
  if (!v) return null;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(anyValue);
  return null;
}

function attributes(list: KeyValueJson[] | undefined): Attributes {
  const out: Attributes = {};
  for (const kv of list ?? []) out[kv.key] = anyValue(kv.value);
  return out;
}

function nanosToMs(n: string | number | undefined): number {
  if (n === undefined) return NaN;
  const ns = BigInt(typeof n === 'number' ? Math.round(n) : n);
  return Number(ns / 1000n) / 1000;
}

function normalise(
  request: RequestJson,
  format: 'protobuf' | 'json',
  id: (s: string | undefined) => string,
): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  for (const rs of request.resourceSpans ?? []) {
    const resource = attributes(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        spans.push({
          format,
          name: s.name ?? '',
          traceId: id(s.traceId),
          spanId: id(s.spanId),
          parentSpanId: id(s.parentSpanId),
          kind: s.kind ?? 0,
          startMs: nanosToMs(s.startTimeUnixNano),
          endMs: nanosToMs(s.endTimeUnixNano),
          attributes: attributes(s.attributes),
          status: { code: s.status?.code ?? 0, message: s.status?.message ?? '' },
          events: (s.events ?? []).map((e) => ({
            name: e.name ?? '',
            timeMs: nanosToMs(e.timeUnixNano),
            attributes: attributes(e.attributes),
          })),
          resource,
          scope: { name: ss.scope?.name ?? '', version: ss.scope?.version ?? '' },
        });
      }
    }
  }
  return spans;
}

let protoRoot: protobuf.Root | undefined;
function loadProtos(): protobuf.Root {
  if (protoRoot) return protoRoot;
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => path.join(PROTO_DIR, target);
  root.loadSync('opentelemetry/proto/collector/trace/v1/trace_service.proto');
  protoRoot = root;
  return root;
}

/** Decodes an ExportTraceServiceRequest in protobuf. */
export function decodeProtobuf(body: Buffer): ReceivedSpan[] {
  const type = loadProtos().lookupType(REQUEST_TYPE);
  const message = type.decode(body);
  const object = type.toObject(message, { longs: String, bytes: String, enums: Number }) as RequestJson;
  // bytes: String gives base64; OTLP ids are shown as hex everywhere else.
  return normalise(object, 'protobuf', (s) => (s ? Buffer.from(s, 'base64').toString('hex') : ''));
}

/** Decodes an ExportTraceServiceRequest in OTLP/JSON. */
export function decodeJson(body: Buffer): ReceivedSpan[] {
  return normalise(JSON.parse(body.toString('utf8')) as RequestJson, 'json', (s) => (s ?? '').toLowerCase());
}

// ---- the receiver ------------------------------------------------------------------------------

export type ReceiverMode = 'ok' | 'hang' | 'unavailable';

export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  /** One entry per POST: its content type and how many spans it carried. */
  readonly requests: { contentType: string; spans: number }[] = [];
  readonly problems: string[] = [];
  mode: ReceiverMode = 'ok';
  port = 0;
  private server: http.Server | undefined;
  private readonly hanging = new Set<http.ServerResponse>();

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.server !== undefined;
  }

  /** Listens on 127.0.0.1 (port 0: a free one; or the port it had, to come back after stop()). */
  async start(port = this.port): Promise<void> {
    const server = http.createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (this.mode === 'hang') {
        this.hanging.add(res);
        return;
      }
      if (this.mode === 'unavailable') {
        res.writeHead(503, { 'content-type': 'text/plain' }).end('unavailable\n');
        return;
      }
      const contentType = String(req.headers['content-type'] ?? '');
      if (req.method !== 'POST' || new URL(req.url ?? '/', 'http://x').pathname !== '/v1/traces') {
        this.problems.push(`${req.method} ${req.url}: not POST /v1/traces`);
        res.writeHead(404).end();
        return;
      }
      try {
        let body = Buffer.concat(chunks);
        if (/gzip/i.test(String(req.headers['content-encoding'] ?? ''))) body = zlib.gunzipSync(body);
        let spans: ReceivedSpan[];
        if (contentType.startsWith('application/x-protobuf')) {
          spans = decodeProtobuf(body);
          const response = loadProtos().lookupType(RESPONSE_TYPE);
          res
            .writeHead(200, { 'content-type': 'application/x-protobuf' })
            .end(Buffer.from(response.encode(response.create({})).finish()));
        } else if (contentType.startsWith('application/json')) {
          spans = decodeJson(body);
          res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        } else {
          this.problems.push(`unexpected content-type ${JSON.stringify(contentType)}`);
          res.writeHead(415).end();
          return;
        }
        this.requests.push({ contentType, spans: spans.length });
        this.spans.push(...spans);
      } catch (e) {
        this.problems.push(`cannot decode a ${contentType} request: ${(e as Error).message}`);
        res.writeHead(400).end();
      }
    });
  }

  /** Stops listening and drops every connection (hanging ones too). Idempotent. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  /** Spans named `name` whose attributes include every pair of `partial`. */
  find(name: string, partial: Attributes = {}): ReceivedSpan[] {
    return this.spans.filter(
      (s) =>
        s.name === name &&
        Object.entries(partial).every(([k, v]) => JSON.stringify(s.attributes[k]) === JSON.stringify(v)),
    );
  }

  /** A short listing for failure messages. */
  summary(max = 20): string {
    if (this.spans.length === 0)
      return `(no spans received; ${this.requests.length} requests; problems: ${this.problems.join('; ') || 'none'})`;
    return this.spans
      .slice(-max)
      .map((s) => `${s.name} ${JSON.stringify(s.attributes)}`)
      .join('\n');
  }

  /** Polls until `check` returns true (or a string saying what is missing). */
  async waitFor(what: string, check: () => true | string, timeoutMs = 15_000): Promise<void> {
    await poll(what, check, { timeoutMs, intervalMs: 50 }).catch((e: Error) => {
      throw new Error(`${e.message}\nspans received (last 20):\n${this.summary()}`);
    });
  }
}
