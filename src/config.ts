// One defaults object, one typed parser for YAML; flags are applied on top by cli.ts.
// Every error names the key and the reason. config/default.yml is the same defaults as a
// file (a test keeps the two equal).

import { readFileSync } from 'node:fs';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { LOG_FORMATS, LOG_LEVELS, LogFormat, LogLevel } from './log';
import { formatIp, parseIp } from './netlink/format';

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
    /** "" leaves it to OTEL_EXPORTER_OTLP_TRACES_PROTOCOL / OTEL_EXPORTER_OTLP_PROTOCOL (default http/protobuf). */
    protocol: '' | 'http/protobuf' | 'http/json';
    /** Spans started per second at most; the excess is dropped and counted. */
    maxSpansPerSecond: number;
    /** Finished spans waiting for export at most; the excess is dropped and counted. */
    maxQueueSize: number;
    /** Outage and resync spans open at once at most (an outage stays open until the interface is up); past it, counted as queue_full. */
    maxOpenSpans: number;
  };
}

export const EVENT_LOG_LEVELS = ['off', 'debug', 'info', 'warn'] as const;
export type EventLogLevel = (typeof EVENT_LOG_LEVELS)[number];
export const TRACING_PROTOCOLS = ['', 'http/protobuf', 'http/json'] as const;

export const DEFAULT_CONFIG: Config = {
  web: { listenAddress: ':9932', telemetryPath: '/metrics', scrapeReadyTimeout: 10, configFile: '', maxConcurrentScrapes: 4, maxQueuedScrapes: 1000, headerTimeout: 10, idleTimeout: 60 },
  netns: [],
  netnsAll: false,
  vips: [],
  interfaces: { include: '.*', exclude: '', deletedGracePeriod: 300, maxTracked: 10000 },
  addresses: { info: true, infoLinkLocal: false },
  socket: { receiveBufferBytes: 64 * 1024 * 1024 },
  log: { level: 'info', format: 'logfmt' },
  events: { bufferSize: 1000, streamMaxClients: 16, logLevel: 'off' },
  tracing: { enabled: false, endpoint: '', protocol: '', maxSpansPerSecond: 100, maxQueueSize: 2048, maxOpenSpans: 10000 },
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

const DURATION_UNITS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };

/** Parses a Prometheus-style duration ("1h30m", "5m", "500ms", "0s") into seconds. */
export function parseDuration(text: string): number | undefined {
  if (!/^(\d+(ms|s|m|h|d))+$/.test(text)) return undefined;
  let seconds = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+)(ms|s|m|h|d)/g)) {
    seconds += Number(amount) * (DURATION_UNITS[unit as string] as number);
  }
  return seconds;
}

/** Compiles a regex the way Prometheus does: anchored at both ends. */
export function anchoredRegex(source: string): RegExp {
  return new RegExp(`^(?:${source})$`);
}

/** Checks host:port, ":port" or "[v6]:port". */
export function checkListenAddress(value: string): string | undefined {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d+)$/.exec(value);
  if (!match) return 'must be host:port, :port or [ipv6]:port';
  const port = Number(match[3]);
  if (port > 65535) return `port ${port} is out of range 0-65535`;
  return undefined;
}

type Checker<T> = (value: unknown, key: string) => T;

const str: Checker<string> = (value, key) => {
  if (typeof value !== 'string') throw new ConfigError(key, `must be a string, not ${describe(value)}`);
  return value;
};
const bool: Checker<boolean> = (value, key) => {
  if (typeof value !== 'boolean') throw new ConfigError(key, `must be true or false, not ${describe(value)}`);
  return value;
};
const count: Checker<number> = (value, key) => {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new ConfigError(key, `must be a whole number >= 0, not ${describe(value)}`);
  }
  return value;
};
const positive: Checker<number> = (value, key) => {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new ConfigError(key, `must be a whole number >= 1, not ${describe(value)}`);
  }
  return value;
};
const url: Checker<string> = (value, key) => {
  const text = str(value, key);
  if (text !== '' && !/^https?:\/\/[^/]/.test(text)) throw new ConfigError(key, `must be an http:// or https:// URL, not ${JSON.stringify(text)}`);
  return text;
};
const duration: Checker<number> = (value, key) => {
  const seconds = typeof value === 'string' ? parseDuration(value) : undefined;
  if (seconds === undefined) throw new ConfigError(key, `must be a duration such as 30s, 5m or 1h, not ${describe(value)}`);
  return seconds;
};
const regex: Checker<string> = (value, key) => {
  const source = str(value, key);
  try {
    anchoredRegex(source);
  } catch (err) {
    throw new ConfigError(key, `is not a valid regular expression: ${(err as Error).message}`);
  }
  return source;
};
const listenAddress: Checker<string> = (value, key) => {
  const text = str(value, key);
  const problem = checkListenAddress(text);
  if (problem) throw new ConfigError(key, `${problem}, not ${JSON.stringify(text)}`);
  return text;
};
const path: Checker<string> = (value, key) => {
  const text = str(value, key);
  if (!text.startsWith('/')) throw new ConfigError(key, `must start with "/", not ${JSON.stringify(text)}`);
  return text;
};
function oneOf<T extends string>(choices: readonly T[]): Checker<T> {
  return (value, key) => {
    if (typeof value !== 'string' || !choices.includes(value as T)) {
      throw new ConfigError(key, `must be one of ${choices.join(', ')}, not ${describe(value)}`);
    }
    return value as T;
  };
}
const stringList: Checker<string[]> = (value, key) => {
  if (!Array.isArray(value)) throw new ConfigError(key, `must be a list, not ${describe(value)}`);
  return value.map((item, i) => {
    const text = str(item, `${key}[${i}]`);
    if (text === '') throw new ConfigError(`${key}[${i}]`, 'must not be empty');
    return text;
  });
};

const vipList: Checker<VipConfig[]> = (value, key) => {
  if (!Array.isArray(value)) throw new ConfigError(key, `must be a list, not ${describe(value)}`);
  const seen = new Set<string>();
  return value.map((item, i) => {
    const at = `${key}[${i}]`;
    const vip = section(item, at, { address: '', name: '', ignoreInterfaces: [] as string[] }, {
      address: ['address', str],
      name: ['name', str],
      ignoreInterfaces: ['ignore_interfaces', stringList],
    });
    const parsed = parseIp(vip.address);
    if (!parsed) throw new ConfigError(`${at}.address`, `must be an IPv4 or IPv6 address, not ${JSON.stringify(vip.address)}`);
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
  return `${typeof value} ${JSON.stringify(value)}`;
}

/** A section of the YAML: known keys with their checker, applied onto a copy of the defaults. */
function section<T extends object>(
  raw: unknown,
  key: string,
  defaults: T,
  fields: { [K in keyof T]: [yamlKey: string, check: Checker<T[K]>] },
): T {
  if (raw === undefined || raw === null) return { ...defaults };
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(key, `must be a mapping, not ${describe(raw)}`);
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
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError('', `the document must be a mapping, not ${describe(raw)}`);
  const top = raw as Record<string, unknown>;
  const sections = ['web', 'netns', 'netns_all', 'vips', 'interfaces', 'addresses', 'socket', 'log', 'events', 'tracing'];
  for (const key of Object.keys(top)) {
    if (!sections.includes(key)) throw new ConfigError(key, `unknown key (known: ${sections.join(', ')})`);
  }
  return {
    web: section(top.web, 'web', d.web, {
      listenAddress: ['listen_address', listenAddress],
      telemetryPath: ['telemetry_path', path],
      scrapeReadyTimeout: ['scrape_ready_timeout', duration],
      configFile: ['config_file', str],
      maxConcurrentScrapes: ['max_concurrent_scrapes', positive],
      maxQueuedScrapes: ['max_queued_scrapes', count],
      headerTimeout: ['header_timeout', duration],
      idleTimeout: ['idle_timeout', duration],
    }),
    netns: top.netns === undefined || top.netns === null ? [] : stringList(top.netns, 'netns'),
    netnsAll: top.netns_all === undefined || top.netns_all === null ? false : bool(top.netns_all, 'netns_all'),
    vips: top.vips === undefined || top.vips === null ? [] : vipList(top.vips, 'vips'),
    interfaces: section(top.interfaces, 'interfaces', d.interfaces, {
      include: ['include', regex],
      exclude: ['exclude', regex],
      deletedGracePeriod: ['deleted_grace_period', duration],
      maxTracked: ['max_tracked', count],
    }),
    addresses: section(top.addresses, 'addresses', d.addresses, {
      info: ['info', bool],
      infoLinkLocal: ['info_link_local', bool],
    }),
    socket: section(top.socket, 'socket', d.socket, {
      receiveBufferBytes: ['receive_buffer_bytes', count],
    }),
    log: section(top.log, 'log', d.log, {
      level: ['level', oneOf(LOG_LEVELS)],
      format: ['format', oneOf(LOG_FORMATS)],
    }),
    events: section(top.events, 'events', d.events, {
      bufferSize: ['buffer_size', positive],
      streamMaxClients: ['stream_max_clients', count],
      logLevel: ['log_level', oneOf(EVENT_LOG_LEVELS)],
    }),
    tracing: section(top.tracing, 'tracing', d.tracing, {
      enabled: ['enabled', bool],
      endpoint: ['endpoint', url],
      protocol: ['protocol', oneOf(TRACING_PROTOCOLS)],
      maxSpansPerSecond: ['max_spans_per_second', positive],
      maxQueueSize: ['max_queue_size', positive],
      maxOpenSpans: ['max_open_spans', positive],
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

export function loadConfigFile(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('', `cannot read the config file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, file);
  }
  return parseConfigText(text, file);
}
