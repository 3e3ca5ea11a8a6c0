// Which OpenTelemetry signals are on, and with what, from the `tracing:` and `opentelemetry:`
// config sections and the standard OTEL_* variables. Pure (no OpenTelemetry import): it decides
// whether the SDK is loaded at all.
//
// Precedence: a config key that is set wins over the variable (the file is this exporter's own,
// explicit configuration); an empty key ("") leaves it to the variables, then to the defaults
// of the specification. OTEL_SDK_DISABLED=true turns every signal off; OTEL_<SIGNAL>_EXPORTER=none
// turns that signal off even when the config or an endpoint variable would turn it on (the
// specification's meaning of "none"). A signal is on when its config key says so, when its
// OTEL_<SIGNAL>_EXPORTER names an exporter, or when an OTLP endpoint variable (the generic one or
// the signal's own) is set: the specification's default exporter is otlp.
//
// Hostile values (a timeout that is not a number, an unknown protocol or compression) never reach
// the SDK: each is replaced by its default with a warning that names the variable.

import { DEFAULT_CONFIG } from '../config/config';
import type { Config } from '../config/config';
import { headerListSecrets, urlSecrets } from '../support/redact';

export type TracingConfig = Config['tracing'];
export type OpenTelemetryConfig = Config['opentelemetry'];
export type Signal = 'traces' | 'logs' | 'metrics';
export const SIGNALS: readonly Signal[] = ['traces', 'logs', 'metrics'];
export type OtlpProtocol = 'grpc' | 'http/protobuf' | 'http/json';
export type ExporterName = 'otlp' | 'console';
/** @deprecated the name before logs and metrics: ExporterName. */
export type TracesExporterName = ExporterName;
export type OtlpCompression = 'gzip' | 'none';

/** What the OTLP exporter of one signal is given. */
export interface SignalExport {
  exporter: ExporterName;
  protocol: OtlpProtocol;
  /**
   * The full URL of the signal when the config names an endpoint (HTTP: base + "/v1/<signal>";
   * grpc: the base as is); undefined when the variables or the defaults decide.
   */
  url: string | undefined;
  /** Where the exporter sends: the URL (for grpc, the server's), or "stdout" for console. */
  destination: string;
  /** OTEL_EXPORTER_OTLP_<SIGNAL>_TIMEOUT, else OTEL_EXPORTER_OTLP_TIMEOUT, else 10000 ms: one request. */
  requestTimeoutMs: number;
  /** OTEL_EXPORTER_OTLP_<SIGNAL>_COMPRESSION, else OTEL_EXPORTER_OTLP_COMPRESSION, else none. */
  compression: OtlpCompression;
}

export interface TracingSettings extends SignalExport {
  maxSpansPerSecond: number;
  maxQueueSize: number;
  maxOpenSpans: number;
  /** OTEL_BSP_SCHEDULE_DELAY (default 5000): longest a finished span waits before its batch goes. */
  scheduleDelayMs: number;
  /** OTEL_BSP_MAX_EXPORT_BATCH_SIZE (default 512), at most the queue size. */
  maxExportBatchSize: number;
  /** OTEL_BSP_EXPORT_TIMEOUT (default 30000): an export not answered by then counts as failed. */
  exportTimeoutMs: number;
  /** Things the operator should know (unsupported values that were replaced). */
  warnings: string[];
  /**
   * Credentials the exporter will send (the endpoint's userinfo and token-like query values, the
   * OTLP header values): registered with src/support/redact.ts before anything is logged, so that an
   * export error quoting one in any form never prints it.
   */
  secrets: string[];
}

export interface LogSettings extends SignalExport {
  maxRecordsPerSecond: number;
  maxQueueSize: number;
  /** OTEL_BLRP_SCHEDULE_DELAY (default 1000). */
  scheduleDelayMs: number;
  /** OTEL_BLRP_MAX_EXPORT_BATCH_SIZE (default 512), at most the queue size. */
  maxExportBatchSize: number;
  /** OTEL_BLRP_EXPORT_TIMEOUT (default 30000). */
  exportTimeoutMs: number;
}

export interface MetricSettings extends SignalExport {
  /** opentelemetry.metric_export_interval, else OTEL_METRIC_EXPORT_INTERVAL, else 60000 ms. */
  intervalMs: number;
  /** OTEL_METRIC_EXPORT_TIMEOUT (default 30000), at most the interval (the SDK requires it). */
  exportTimeoutMs: number;
}

export interface TelemetrySettings {
  traces?: TracingSettings;
  logs?: LogSettings;
  metrics?: MetricSettings;
  warnings: string[];
  secrets: string[];
}

const ENV_SIGNAL: Record<Signal, string> = { traces: 'TRACES', logs: 'LOGS', metrics: 'METRICS' };

/** OTEL_<SIGNAL>_EXPORTER as a list of lower-case names; undefined when unset or empty. */
function exporterList(env: NodeJS.ProcessEnv, signal: Signal): string[] | undefined {
  const raw = env[`OTEL_${ENV_SIGNAL[signal]}_EXPORTER`];
  if (raw === undefined) return undefined;
  const list = raw
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== '');
  return list.length > 0 ? list : undefined;
}

/** OTEL_SDK_DISABLED=true (case-insensitive, as the specification's booleans). */
export function sdkDisabled(env: NodeJS.ProcessEnv): boolean {
  return env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true';
}

/** Whether one signal is on (see the head of this file). */
export function signalEnabled(signal: Signal, configured: boolean, env: NodeJS.ProcessEnv): boolean {
  if (sdkDisabled(env)) return false;
  const exporters = exporterList(env, signal);
  if (exporters && exporters.every((name) => name === 'none')) return false;
  if (configured) return true;
  if (exporters) return true;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env[`OTEL_EXPORTER_OTLP_${ENV_SIGNAL[signal]}_ENDPOINT`]);
}

/** Whether tracing is on: {@link signalEnabled} for traces. */
export function tracingEnabled(config: TracingConfig, env: NodeJS.ProcessEnv): boolean {
  return signalEnabled('traces', config.enabled, env);
}

/**
 * Upper bound of the OTEL_BSP_* / OTEL_BLRP_* / timeout variables: each becomes a timer or a batch
 * length, and a Node timer over 2^31-1 ms fires at once instead (with only a warning), which
 * would turn a "never" into a busy loop.
 */
export const MAX_BSP_MILLIS = 300_000;
export const MAX_BSP_BATCH = 100_000;
/** OTEL_METRIC_EXPORT_INTERVAL at most one hour, as the config key. */
export const MAX_METRIC_INTERVAL_MILLIS = 3_600_000;

function envInteger(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  max: number,
  warnings: string[],
  min = 0,
): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    warnings.push(
      `${name}=${JSON.stringify(raw.slice(0, 40))} is not a whole number from ${min} to ${max}; using ${fallback}`,
    );
    return fallback;
  }
  return value;
}

/** The first of the variables that is set and not blank (the signal's own first). */
function firstSet(env: NodeJS.ProcessEnv, names: string[]): [name: string, value: string] | undefined {
  for (const name of names) {
    const value = env[name]?.trim();
    if (value) return [name, value];
  }
  return undefined;
}

/**
 * A base URL with "/v1/<signal>" appended to its path, not to its end: a query string (a token
 * some collectors take there) stays a query string.
 */
export function signalUrl(base: string, signal: Signal): string {
  try {
    const parsed = new URL(base);
    parsed.pathname = `${parsed.pathname.replace(/\/+$/, '')}/v1/${signal}`;
    return parsed.toString();
  } catch {
    return `${base.replace(/\/+$/, '')}/v1/${signal}`;
  }
}

export function tracesUrl(base: string): string {
  return signalUrl(base, 'traces');
}

function exporterName(env: NodeJS.ProcessEnv, signal: Signal, warnings: string[]): ExporterName {
  const variable = `OTEL_${ENV_SIGNAL[signal]}_EXPORTER`;
  const names = exporterList(env, signal)?.filter((name) => name !== 'none');
  if (!names || names.length === 0) return 'otlp';
  const known = names.filter((name): name is ExporterName => name === 'otlp' || name === 'console');
  const unknown = names.filter((name) => name !== 'otlp' && name !== 'console');
  if (unknown.length > 0) warnings.push(`${variable}: ${unknown.join(', ')} not supported (otlp, console, none are)`);
  if (known.length === 0) {
    warnings.push(`${variable}: no supported exporter named; using otlp`);
    return 'otlp';
  }
  if (known.length > 1) warnings.push(`${variable}: one exporter at a time; using ${known[0]}`);
  return known[0] as ExporterName;
}

const PROTOCOLS: readonly string[] = ['grpc', 'http/protobuf', 'http/json'];

/** The OTLP exporter settings of one signal; `configEndpoint`/`configProtocol` win when set. */
function signalExport(
  signal: Signal,
  configEndpoint: string,
  configProtocol: string,
  env: NodeJS.ProcessEnv,
  warnings: string[],
  secrets: string[],
): SignalExport {
  const S = ENV_SIGNAL[signal];
  const exporter = exporterName(env, signal, warnings);

  let protocol: OtlpProtocol = 'http/protobuf';
  const requested = configProtocol
    ? (['config', configProtocol] as const)
    : firstSet(env, [`OTEL_EXPORTER_OTLP_${S}_PROTOCOL`, 'OTEL_EXPORTER_OTLP_PROTOCOL']);
  if (requested && PROTOCOLS.includes(requested[1])) protocol = requested[1] as OtlpProtocol;
  else if (requested)
    warnings.push(
      `${requested[0] === 'config' ? 'the OTLP protocol' : requested[0]} ${JSON.stringify(requested[1].slice(0, 40))} is not supported (grpc, http/protobuf, http/json are); using http/protobuf`,
    );
  const grpc = protocol === 'grpc';

  const url = configEndpoint ? (grpc ? configEndpoint : signalUrl(configEndpoint, signal)) : undefined;
  const own = env[`OTEL_EXPORTER_OTLP_${S}_ENDPOINT`]?.trim();
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  const destination =
    url ??
    (own ||
      (base
        ? grpc
          ? base
          : signalUrl(base, signal)
        : grpc
          ? 'http://localhost:4317'
          : `http://localhost:4318/v1/${signal}`));

  const timeoutVar = firstSet(env, [`OTEL_EXPORTER_OTLP_${S}_TIMEOUT`, 'OTEL_EXPORTER_OTLP_TIMEOUT']);
  const requestTimeoutMs = timeoutVar ? envInteger(env, timeoutVar[0], 10_000, MAX_BSP_MILLIS, warnings, 1) : 10_000;

  let compression: OtlpCompression = 'none';
  const compressionVar = firstSet(env, [`OTEL_EXPORTER_OTLP_${S}_COMPRESSION`, 'OTEL_EXPORTER_OTLP_COMPRESSION']);
  if (compressionVar) {
    const value = compressionVar[1].toLowerCase();
    if (value === 'gzip' || value === 'none') compression = value;
    else
      warnings.push(
        `${compressionVar[0]}=${JSON.stringify(compressionVar[1].slice(0, 40))} is not supported (gzip, none are); using none`,
      );
  }

  secrets.push(...urlSecrets(destination), ...headerListSecrets(env[`OTEL_EXPORTER_OTLP_${S}_HEADERS`]));
  return {
    exporter,
    protocol,
    url,
    destination: exporter === 'console' ? 'stdout' : destination,
    requestTimeoutMs,
    compression,
  };
}

function batchSettings(
  env: NodeJS.ProcessEnv,
  prefix: 'OTEL_BSP' | 'OTEL_BLRP',
  scheduleDefault: number,
  maxQueueSize: number,
  warnings: string[],
): { scheduleDelayMs: number; maxExportBatchSize: number; exportTimeoutMs: number } {
  return {
    scheduleDelayMs: envInteger(env, `${prefix}_SCHEDULE_DELAY`, scheduleDefault, MAX_BSP_MILLIS, warnings),
    maxExportBatchSize: Math.max(
      1,
      Math.min(maxQueueSize, envInteger(env, `${prefix}_MAX_EXPORT_BATCH_SIZE`, 512, MAX_BSP_BATCH, warnings)),
    ),
    exportTimeoutMs: Math.max(1, envInteger(env, `${prefix}_EXPORT_TIMEOUT`, 30000, MAX_BSP_MILLIS, warnings)),
  };
}

/** Every signal's settings; a signal that is off is absent. Nothing on: all three absent. */
export function resolveTelemetry(
  tracing: TracingConfig,
  otel: OpenTelemetryConfig,
  env: NodeJS.ProcessEnv,
): TelemetrySettings {
  const warnings: string[] = [];
  const secrets: string[] = [];
  const result: TelemetrySettings = { warnings, secrets };
  const on = {
    traces: signalEnabled('traces', tracing.enabled, env),
    logs: signalEnabled('logs', otel.logs, env),
    metrics: signalEnabled('metrics', otel.metrics, env),
  };
  if (!on.traces && !on.logs && !on.metrics) return result;
  // Shared by every signal: the generic header variable's values are sent by all three.
  secrets.push(...headerListSecrets(env.OTEL_EXPORTER_OTLP_HEADERS));

  if (on.traces) {
    const exp = signalExport(
      'traces',
      tracing.endpoint || otel.endpoint,
      tracing.protocol || otel.protocol,
      env,
      warnings,
      secrets,
    );
    result.traces = {
      ...exp,
      maxSpansPerSecond: tracing.maxSpansPerSecond,
      maxQueueSize: tracing.maxQueueSize,
      maxOpenSpans: tracing.maxOpenSpans,
      ...batchSettings(env, 'OTEL_BSP', 5000, tracing.maxQueueSize, warnings),
      warnings,
      secrets,
    };
  }
  if (on.logs) {
    result.logs = {
      ...signalExport('logs', otel.endpoint, otel.protocol, env, warnings, secrets),
      maxRecordsPerSecond: otel.maxLogRecordsPerSecond,
      maxQueueSize: otel.maxLogQueueSize,
      ...batchSettings(env, 'OTEL_BLRP', 1000, otel.maxLogQueueSize, warnings),
    };
  }
  if (on.metrics) {
    const intervalMs =
      otel.metricExportInterval > 0
        ? Math.round(otel.metricExportInterval * 1000)
        : envInteger(env, 'OTEL_METRIC_EXPORT_INTERVAL', 60_000, MAX_METRIC_INTERVAL_MILLIS, warnings, 1);
    result.metrics = {
      ...signalExport('metrics', otel.endpoint, otel.protocol, env, warnings, secrets),
      intervalMs,
      exportTimeoutMs: Math.min(
        intervalMs,
        envInteger(env, 'OTEL_METRIC_EXPORT_TIMEOUT', 30_000, MAX_METRIC_INTERVAL_MILLIS, warnings, 1),
      ),
    };
  }
  return result;
}

/** The traces settings when tracing is on, else undefined (the other signals left off). */
export function resolveTracing(config: TracingConfig, env: NodeJS.ProcessEnv): TracingSettings | undefined {
  return resolveTelemetry(config, { ...DEFAULT_CONFIG.opentelemetry, logs: false, metrics: false }, env).traces;
}
