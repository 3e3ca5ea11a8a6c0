// One defaults object, one typed parser for YAML; flags are applied on top by src/cli.ts.
// Every error names the key and the reason. config/default.yml is the same defaults as a
// file (a test keeps the two equal).

import { closeSync, constants as fsConstants, fstatSync, openSync, readFileSync } from 'node:fs';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { LOG_FORMATS, LOG_LEVELS, LogFormat, LogLevel } from '../support/log';
import { compileNamePattern, PatternError } from './name-pattern';
import { formatIp, parseIp } from '../netlink/format';
import { redactSecrets } from '../support/redact';

/** A virtual IP to watch: held here or not, by which interfaces, and which MAC answers for it. */
export interface VipConfig {
  /** Canonical text (RFC 5952 for IPv6). */
  address: string;
  family: number;
  name: string;
  /** Interfaces whose holding the VIP does not count (an LVS real server's lo). */
  ignoreInterfaces: string[];
}

export interface Config {
  web: {
    listenAddress: string;
    telemetryPath: string;
    /** Seconds a scrape waits for the initial dump. */
    scrapeReadyTimeout: number;
    /** Exporter-toolkit web config (TLS, basic auth, headers); "" for plain HTTP. */
    configFile: string;
    /** Scrapes rendered at once; the excess waits in a queue. */
    maxConcurrentScrapes: number;
    /** Scrapes waiting beyond which a scrape is answered 503. */
    maxQueuedScrapes: number;
    /** Seconds a client has to send its request headers (a slow client is cut off). */
    headerTimeout: number;
    /** Seconds a connection may stay silent (an idle keep-alive, a client that stopped reading). */
    idleTimeout: number;
  };
  netns: string[];
  /** Watch every namespace named under /run/netns, following them as they come and go. */
  netnsAll: boolean;
  vips: VipConfig[];
  interfaces: {
    include: string;
    exclude: string;
    /** Seconds. */
    deletedGracePeriod: number;
    maxTracked: number;
  };
  addresses: {
    info: boolean;
    infoLinkLocal: boolean;
  };
  socket: {
    receiveBufferBytes: number;
  };
  log: {
    level: LogLevel;
    format: LogFormat;
  };
  events: {
    /** Recent domain events kept for /api/v1/events and /events. */
    bufferSize: number;
    /** Live /events streams at once. */
    streamMaxClients: number;
    /** Also log each domain event at this level; "off" for none. */
    logLevel: EventLogLevel;
  };
  tracing: {
    /** Tracing is also on when OTEL_TRACES_EXPORTER (not "none") or an OTLP endpoint variable is set. */
    enabled: boolean;
    /** OTLP/HTTP base URL (".../v1/traces" is appended); "" leaves it to OTEL_EXPORTER_OTLP_* or the SDK default. */
    endpoint: string;
    /** "" leaves it to opentelemetry.protocol, then OTEL_EXPORTER_OTLP_TRACES_PROTOCOL / OTEL_EXPORTER_OTLP_PROTOCOL (default http/protobuf). */
    protocol: OtlpProtocolKey;
    /** Spans started per second at most; the excess is dropped and counted. */
    maxSpansPerSecond: number;
    /** Finished spans waiting for export at most; the excess is dropped and counted. */
    maxQueueSize: number;
    /** Outage and resync spans open at once at most (an outage stays open until the interface is up); past it, counted as queue_full. */
    maxOpenSpans: number;
  };
  /** The other OpenTelemetry signals (events as logs, metrics over OTLP) and what the three share. */
  opentelemetry: {
    /** Events as log records; also on when OTEL_LOGS_EXPORTER (not "none") or an OTLP endpoint variable is set. */
    logs: boolean;
    /** The metric contract over OTLP; also on when OTEL_METRICS_EXPORTER (not "none") or an OTLP endpoint variable is set. */
    metrics: boolean;
    /** Base URL of all three signals ("/v1/<signal>" appended for HTTP); tracing.endpoint wins for traces. */
    endpoint: string;
    /** grpc, http/protobuf or http/json for all three; tracing.protocol wins for traces. */
    protocol: OtlpProtocolKey;
    /** Log records emitted per second at most; the excess is dropped and counted. */
    maxLogRecordsPerSecond: number;
    /** Log records waiting for export at most; the excess is dropped and counted. */
    maxLogQueueSize: number;
    /** Seconds between metric exports; 0 leaves it to OTEL_METRIC_EXPORT_INTERVAL (default 60 s). */
    metricExportInterval: number;
  };
}

export const EVENT_LOG_LEVELS = ['off', 'debug', 'info', 'warn'] as const;
export type EventLogLevel = (typeof EVENT_LOG_LEVELS)[number];
export const TRACING_PROTOCOLS = ['', 'grpc', 'http/protobuf', 'http/json'] as const;
export type OtlpProtocolKey = (typeof TRACING_PROTOCOLS)[number];

export const DEFAULT_CONFIG: Config = {
  web: {
    listenAddress: ':9932',
    telemetryPath: '/metrics',
    scrapeReadyTimeout: 10,
    configFile: '',
    maxConcurrentScrapes: 4,
    maxQueuedScrapes: 1000,
    headerTimeout: 10,
    idleTimeout: 60,
  },
  netns: [],
  netnsAll: false,
  vips: [],
  interfaces: { include: '.*', exclude: '', deletedGracePeriod: 300, maxTracked: 10000 },
  addresses: { info: true, infoLinkLocal: false },
  socket: { receiveBufferBytes: 64 * 1024 * 1024 },
  log: { level: 'info', format: 'logfmt' },
  events: { bufferSize: 1000, streamMaxClients: 16, logLevel: 'off' },
  tracing: {
    enabled: false,
    endpoint: '',
    protocol: '',
    maxSpansPerSecond: 100,
    maxQueueSize: 2048,
    maxOpenSpans: 10000,
  },
  opentelemetry: {
    logs: false,
    metrics: false,
    endpoint: '',
    protocol: '',
    maxLogRecordsPerSecond: 100,
    maxLogQueueSize: 2048,
    metricExportInterval: 0,
  },
};

export class ConfigError extends Error {
  constructor(
    readonly key: string,
    readonly reason: string,
    readonly file?: string,
  ) {
    super(`${file ? `${file}: ` : ''}${key ? `${key}: ` : ''}${reason}`);
    this.name = 'ConfigError';
  }
}

/** Prometheus's duration units, largest first (a year is 365 days, as in Prometheus). */
const DURATION_UNITS: [unit: string, seconds: number][] = [
  ['y', 365 * 86400],
  ['w', 7 * 86400],
  ['d', 86400],
  ['h', 3600],
  ['m', 60],
  ['s', 1],
  ['ms', 0.001],
];
/** As Prometheus's model.ParseDuration: each unit at most once, largest first ("1h30m", not "30m1h"). */
const DURATION_PATTERN = new RegExp(`^${DURATION_UNITS.map(([unit]) => `(?:(\\d+)${unit})?`).join('')}$`);

/** Parses a Prometheus-style duration ("1h30m", "5m", "500ms", "0s") into seconds. */
export function parseDuration(text: string): number | undefined {
  if (text === '' || text.length > 64) return undefined;
  const match = DURATION_PATTERN.exec(text);
  if (!match) return undefined;
  let millis = 0;
  DURATION_UNITS.forEach(([, seconds], i) => {
    if (match[i + 1] !== undefined) millis += Number(match[i + 1]) * seconds * 1000;
  });
  // Whole milliseconds summed as integers, so "1s500ms" is exactly 1.5 (no 0.1 + 0.2 drift).
  return millis / 1000;
}

/** Seconds as the shortest Prometheus duration ("90s" -> "1m30s"), for messages and docs. */
export function formatDuration(seconds: number): string {
  let millis = Math.round(seconds * 1000);
  if (millis === 0) return '0s';
  let text = '';
  // Days at most, as people write them ("7d", not "1w").
  for (const [unit, unitSeconds] of DURATION_UNITS.slice(2)) {
    const size = Math.round(unitSeconds * 1000);
    if (millis >= size) {
      text += `${Math.floor(millis / size)}${unit}`;
      millis %= size;
    }
  }
  return text;
}

/** Checks host:port, ":port" or "[v6]:port". */
export function checkListenAddress(value: string): string | undefined {
  if (value.length > 300) return 'must be host:port, :port or [ipv6]:port of at most 300 characters';
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d+)$/.exec(value);
  if (!match) return 'must be host:port, :port or [ipv6]:port';
  const port = Number(match[3]);
  if (port > 65535) return `port ${port} is out of range 0-65535`;
  return undefined;
}

/**
 * Paths the exporter serves besides the metrics (src/http/server.ts and src/http/event-routes.ts; a
 * unit test checks this list against both). The metrics path may be none of them, nor under the
 * prefixes kept for the health endpoints and the API.
 */
export const RESERVED_PATHS: readonly string[] = [
  '/',
  '/-/healthy',
  '/-/ready',
  '/events',
  '/api/v1/events',
  '/api/v1/events/stream',
];
export const RESERVED_PATH_PREFIXES: readonly string[] = ['/-/', '/api/'];
export const MAX_TELEMETRY_PATH_LENGTH = 256;

/**
 * Whether `value` can be the metrics path: a plain absolute path that the server's router
 * compares byte for byte with what a client sends, so nothing a URL parser would change or cut
 * (a query string, a fragment, `//`, `.` or `..` segments, percent escapes, whitespace, control
 * characters), and nothing the exporter already serves.
 */
export function checkTelemetryPath(value: string): string | undefined {
  if (!value.startsWith('/')) return 'must start with "/"';
  if (value.length > MAX_TELEMETRY_PATH_LENGTH) return `must be at most ${MAX_TELEMETRY_PATH_LENGTH} characters`;
  if (/[?#]/.test(value)) return 'must be a plain path, without a query string (?) or fragment (#)';
  if (/[\s\p{Cc}]/u.test(value)) return 'must not contain whitespace or control characters';
  if (!/^[A-Za-z0-9._~/-]+$/.test(value)) return 'may hold only letters, digits, "-", ".", "_", "~" and "/"';
  if (value.includes('//')) return 'must not contain an empty segment ("//")';
  if (value.split('/').some((segment) => segment === '.' || segment === '..'))
    return 'must not contain "." or ".." segments';
  // The router compares the parsed pathname: a path that parsing would change is never served.
  if (new URL(value, 'http://localhost').pathname !== value) return 'is not a path the server can match exactly';
  if (RESERVED_PATHS.includes(value))
    return `must not be one of the exporter's other paths (${RESERVED_PATHS.join(', ')})`;
  if (RESERVED_PATH_PREFIXES.some((p) => value.startsWith(p)))
    return `must not be under ${RESERVED_PATH_PREFIXES.join(' or ')} (kept for the exporter's own endpoints)`;
  return undefined;
}

/** Shortens and redacts a bad value before an error message shows it (it may be a secret, or megabytes). */
function quote(text: string): string {
  const shown = redactSecrets(text);
  return JSON.stringify(shown.length > 80 ? `${shown.slice(0, 80)}...` : shown);
}

type Checker<T> = (value: unknown, key: string) => T;

const str: Checker<string> = (value, key) => {
  if (typeof value !== 'string') throw new ConfigError(key, `must be a string, not ${describe(value)}`);
  return value;
};
/** A string of at most `max` characters (a file path: PATH_MAX). */
function text(max: number): Checker<string> {
  return (value, key) => {
    const s = str(value, key);
    if (s.length > max) throw new ConfigError(key, `must be at most ${max} characters, not ${s.length}`);
    return s;
  };
}
const filePath = text(4096);
const bool: Checker<boolean> = (value, key) => {
  if (typeof value !== 'boolean') throw new ConfigError(key, `must be true or false, not ${describe(value)}`);
  return value;
};

/** The documented range of a numeric or duration key (README "Configuration" lists them all). */
export interface Bound {
  min: number;
  max: number;
  unit: 'count' | 'bytes' | 'seconds';
}

/**
 * Every numeric and duration key's range, by YAML key. Durations are in seconds; their lower
 * bounds are above 0 wherever 0 would turn a guard off, and every upper bound is far below what
 * a Node timer accepts (2^31-1 ms, about 24.8 days).
 */
export const BOUNDS = {
  'web.scrape_ready_timeout': { min: 0, max: 300, unit: 'seconds' },
  'web.max_concurrent_scrapes': { min: 1, max: 64, unit: 'count' },
  'web.max_queued_scrapes': { min: 0, max: 10_000, unit: 'count' },
  'web.header_timeout': { min: 1, max: 600, unit: 'seconds' },
  'web.idle_timeout': { min: 1, max: 3600, unit: 'seconds' },
  'interfaces.deleted_grace_period': { min: 0, max: 7 * 86400, unit: 'seconds' },
  'interfaces.max_tracked': { min: 0, max: 100_000, unit: 'count' },
  // The kernel doubles SO_RCVBUF into an int and caps the request at INT_MAX / 2 itself.
  'socket.receive_buffer_bytes': { min: 0, max: 0x3fffffff, unit: 'bytes' },
  'events.buffer_size': { min: 1, max: 100_000, unit: 'count' },
  'events.stream_max_clients': { min: 0, max: 1024, unit: 'count' },
  'tracing.max_spans_per_second': { min: 1, max: 100_000, unit: 'count' },
  'tracing.max_queue_size': { min: 1, max: 100_000, unit: 'count' },
  'tracing.max_open_spans': { min: 1, max: 100_000, unit: 'count' },
  'opentelemetry.max_log_records_per_second': { min: 1, max: 100_000, unit: 'count' },
  'opentelemetry.max_log_queue_size': { min: 1, max: 100_000, unit: 'count' },
  // 0: the variable or the specification's 60 s; a Node timer takes far more than an hour.
  'opentelemetry.metric_export_interval': { min: 0, max: 3600, unit: 'seconds' },
} as const satisfies Record<string, Bound>;
export type BoundedKey = keyof typeof BOUNDS;

/** Lists: entries at most (each entry costs a socket, a series or a comparison). */
export const LIST_BOUNDS = { netns: 1024, vips: 1024, 'vips[].ignore_interfaces': 64 } as const;

/** A bound as the README and the error messages write it: "1s to 10m", "1 to 64". */
export function describeBound(bound: Bound): string {
  if (bound.unit === 'seconds') return `${formatDuration(bound.min)} to ${formatDuration(bound.max)}`;
  return `${bound.min} to ${bound.max}${bound.unit === 'bytes' ? ' bytes' : ''}`;
}

/** A whole number within the key's documented range. */
function integer(key: BoundedKey): Checker<number> {
  const bound: Bound = BOUNDS[key];
  return (value, at) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < bound.min || value > bound.max) {
      throw new ConfigError(at, `must be a whole number from ${describeBound(bound)}, not ${describe(value)}`);
    }
    return value;
  };
}

/** A duration within the key's documented range, in seconds. */
function duration(key: BoundedKey): Checker<number> {
  const bound: Bound = BOUNDS[key];
  return (value, at) => {
    const seconds = typeof value === 'string' ? parseDuration(value) : undefined;
    if (seconds === undefined)
      throw new ConfigError(
        at,
        `must be a duration such as 30s, 5m or 1h (from ${describeBound(bound)}), not ${describe(value)}`,
      );
    if (seconds < bound.min || seconds > bound.max) {
      const zero = seconds === 0 && bound.min > 0 ? ' (0 would turn the guard off)' : '';
      throw new ConfigError(at, `must be a duration from ${describeBound(bound)}, not ${value as string}${zero}`);
    }
    return seconds;
  };
}

const url: Checker<string> = (value, key) => {
  const s = text(2048)(value, key);
  if (s === '') return s;
  let parsed: URL | undefined;
  try {
    parsed = new URL(s);
  } catch {
    parsed = undefined;
  }
  if (
    !parsed ||
    (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') ||
    parsed.hostname === '' ||
    !/^https?:\/\/[^/]/i.test(s)
  ) {
    throw new ConfigError(key, `must be an http:// or https:// URL, not ${quote(s)}`);
  }
  if (parsed.hash !== '' || s.includes('#'))
    throw new ConfigError(key, `must not have a fragment (#), not ${quote(s)}`);
  return s;
};
const regex: Checker<string> = (value, key) => {
  const source = str(value, key);
  try {
    compileNamePattern(source);
  } catch (err) {
    if (err instanceof PatternError) throw new ConfigError(key, err.message);
    throw err;
  }
  return source;
};
const listenAddress: Checker<string> = (value, key) => {
  const s = str(value, key);
  const problem = checkListenAddress(s);
  if (problem) throw new ConfigError(key, `${problem}, not ${quote(s)}`);
  return s;
};
const telemetryPath: Checker<string> = (value, key) => {
  const s = str(value, key);
  const problem = checkTelemetryPath(s);
  if (problem) throw new ConfigError(key, `${problem}, not ${quote(s)}`);
  return s;
};
function oneOf<T extends string>(choices: readonly T[]): Checker<T> {
  return (value, key) => {
    if (typeof value !== 'string' || !choices.includes(value as T)) {
      throw new ConfigError(key, `must be one of ${choices.join(', ')}, not ${describe(value)}`);
    }
    return value as T;
  };
}
function list<T>(maxEntries: number, item: Checker<T>): Checker<T[]> {
  return (value, key) => {
    if (!Array.isArray(value)) throw new ConfigError(key, `must be a list, not ${describe(value)}`);
    if (value.length > maxEntries)
      throw new ConfigError(key, `must have at most ${maxEntries} entries, not ${value.length}`);
    return value.map((entry, i) => item(entry, `${key}[${i}]`));
  };
}
const nonEmptyPath: Checker<string> = (value, key) => {
  const s = filePath(value, key);
  if (s === '') throw new ConfigError(key, 'must not be empty');
  return s;
};
/** An interface name as the kernel bounds it: 1 to 15 bytes (IFNAMSIZ - 1). */
const interfaceName: Checker<string> = (value, key) => {
  const s = str(value, key);
  const bytes = Buffer.byteLength(s);
  if (bytes < 1 || bytes > 15)
    throw new ConfigError(key, `must be an interface name of 1 to 15 bytes, not ${quote(s)}`);
  return s;
};

const vipList: Checker<VipConfig[]> = (value, key) => {
  if (!Array.isArray(value)) throw new ConfigError(key, `must be a list, not ${describe(value)}`);
  if (value.length > LIST_BOUNDS.vips)
    throw new ConfigError(key, `must have at most ${LIST_BOUNDS.vips} entries, not ${value.length}`);
  const seen = new Set<string>();
  return value.map((item, i) => {
    const at = `${key}[${i}]`;
    const vip = section(
      item,
      at,
      { address: '', name: '', ignoreInterfaces: [] as string[] },
      {
        address: ['address', text(64)],
        name: ['name', text(128)],
        ignoreInterfaces: ['ignore_interfaces', list(LIST_BOUNDS['vips[].ignore_interfaces'], interfaceName)],
      },
    );
    const parsed = parseIp(vip.address);
    if (!parsed) throw new ConfigError(`${at}.address`, `must be an IPv4 or IPv6 address, not ${quote(vip.address)}`);
    const address = formatIp(parsed.family, parsed.bytes, 0);
    if (seen.has(address)) throw new ConfigError(`${at}.address`, `${address} is listed twice`);
    seen.add(address);
    return { address, family: parsed.family, name: vip.name, ignoreInterfaces: vip.ignoreInterfaces };
  });
};

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `string ${quote(value)}`;
  if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${String(value)}`;
  return typeof value;
}

/** A section of the YAML: known keys with their checker, applied onto a copy of the defaults. */
function section<T extends object>(
  raw: unknown,
  key: string,
  defaults: T,
  fields: { [K in keyof T]: [yamlKey: string, check: Checker<T[K]>] },
): T {
  if (raw === undefined || raw === null) return { ...defaults };
  if (typeof raw !== 'object' || Array.isArray(raw))
    throw new ConfigError(key, `must be a mapping, not ${describe(raw)}`);
  const out = { ...defaults };
  const known = new Map<string, keyof T>();
  for (const field of Object.keys(fields) as (keyof T)[]) known.set(fields[field][0], field);
  for (const [yamlKey, value] of Object.entries(raw as Record<string, unknown>)) {
    const field = known.get(yamlKey);
    const fullKey = key ? `${key}.${yamlKey}` : yamlKey;
    if (field === undefined) {
      throw new ConfigError(fullKey, `unknown key (known: ${[...known.keys()].join(', ')})`);
    }
    out[field] = fields[field][1](value, fullKey);
  }
  return out;
}

/** Validates a parsed YAML document into a Config (defaults for every missing key). */
export function configFromObject(raw: unknown): Config {
  const d = DEFAULT_CONFIG;
  if (raw === undefined || raw === null) return structuredClone(d);
  if (typeof raw !== 'object' || Array.isArray(raw))
    throw new ConfigError('', `the document must be a mapping, not ${describe(raw)}`);
  const top = raw as Record<string, unknown>;
  const sections = [
    'web',
    'netns',
    'netns_all',
    'vips',
    'interfaces',
    'addresses',
    'socket',
    'log',
    'events',
    'tracing',
    'opentelemetry',
  ];
  for (const key of Object.keys(top)) {
    if (!sections.includes(key)) throw new ConfigError(key, `unknown key (known: ${sections.join(', ')})`);
  }
  return {
    web: section(top.web, 'web', d.web, {
      listenAddress: ['listen_address', listenAddress],
      telemetryPath: ['telemetry_path', telemetryPath],
      scrapeReadyTimeout: ['scrape_ready_timeout', duration('web.scrape_ready_timeout')],
      configFile: ['config_file', filePath],
      maxConcurrentScrapes: ['max_concurrent_scrapes', integer('web.max_concurrent_scrapes')],
      maxQueuedScrapes: ['max_queued_scrapes', integer('web.max_queued_scrapes')],
      headerTimeout: ['header_timeout', duration('web.header_timeout')],
      idleTimeout: ['idle_timeout', duration('web.idle_timeout')],
    }),
    netns:
      top.netns === undefined || top.netns === null ? [] : list(LIST_BOUNDS.netns, nonEmptyPath)(top.netns, 'netns'),
    netnsAll: top.netns_all === undefined || top.netns_all === null ? false : bool(top.netns_all, 'netns_all'),
    vips: top.vips === undefined || top.vips === null ? [] : vipList(top.vips, 'vips'),
    interfaces: section(top.interfaces, 'interfaces', d.interfaces, {
      include: ['include', regex],
      exclude: ['exclude', regex],
      deletedGracePeriod: ['deleted_grace_period', duration('interfaces.deleted_grace_period')],
      maxTracked: ['max_tracked', integer('interfaces.max_tracked')],
    }),
    addresses: section(top.addresses, 'addresses', d.addresses, {
      info: ['info', bool],
      infoLinkLocal: ['info_link_local', bool],
    }),
    socket: section(top.socket, 'socket', d.socket, {
      receiveBufferBytes: ['receive_buffer_bytes', integer('socket.receive_buffer_bytes')],
    }),
    log: section(top.log, 'log', d.log, {
      level: ['level', oneOf(LOG_LEVELS)],
      format: ['format', oneOf(LOG_FORMATS)],
    }),
    events: section(top.events, 'events', d.events, {
      bufferSize: ['buffer_size', integer('events.buffer_size')],
      streamMaxClients: ['stream_max_clients', integer('events.stream_max_clients')],
      logLevel: ['log_level', oneOf(EVENT_LOG_LEVELS)],
    }),
    tracing: section(top.tracing, 'tracing', d.tracing, {
      enabled: ['enabled', bool],
      endpoint: ['endpoint', url],
      protocol: ['protocol', oneOf(TRACING_PROTOCOLS)],
      maxSpansPerSecond: ['max_spans_per_second', integer('tracing.max_spans_per_second')],
      maxQueueSize: ['max_queue_size', integer('tracing.max_queue_size')],
      maxOpenSpans: ['max_open_spans', integer('tracing.max_open_spans')],
    }),
    opentelemetry: section(top.opentelemetry, 'opentelemetry', d.opentelemetry, {
      logs: ['logs', bool],
      metrics: ['metrics', bool],
      endpoint: ['endpoint', url],
      protocol: ['protocol', oneOf(TRACING_PROTOCOLS)],
      maxLogRecordsPerSecond: ['max_log_records_per_second', integer('opentelemetry.max_log_records_per_second')],
      maxLogQueueSize: ['max_log_queue_size', integer('opentelemetry.max_log_queue_size')],
      metricExportInterval: ['metric_export_interval', duration('opentelemetry.metric_export_interval')],
    }),
  };
}

export function parseConfigText(text: string, file?: string): Config {
  let raw: unknown;
  try {
    raw = parseYaml(text, { prettyErrors: true, uniqueKeys: true });
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? ` (line ${err.linePos[0].line})` : '';
    throw new ConfigError('', `not valid YAML${where}: ${(err as Error).message.split('\n')[0]}`, file);
  }
  try {
    return configFromObject(raw);
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(err.key, err.reason, file);
    throw err;
  }
}

/** A config file is a few kilobytes; past this it is a mistake (or /dev/zero), not a config. */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;

export function loadConfigFile(file: string): Config {
  let text: string;
  let fd: number | undefined;
  try {
    // Non-blocking: a FIFO with no writer held open(2), and so start-up or a SIGHUP reload, forever.
    fd = openSync(file, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new ConfigError('', 'the config file must be a regular file', file);
    if (stat.size > MAX_CONFIG_FILE_BYTES)
      throw new ConfigError(
        '',
        `the config file is ${stat.size} bytes; at most ${MAX_CONFIG_FILE_BYTES} are read`,
        file,
      );
    text = readFileSync(fd, 'utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(
      '',
      `cannot read the config file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      file,
    );
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  // The file may have grown between fstat and read.
  if (text.length > MAX_CONFIG_FILE_BYTES)
    throw new ConfigError('', `the config file is over ${MAX_CONFIG_FILE_BYTES} bytes`, file);
  return parseConfigText(text, file);
}
