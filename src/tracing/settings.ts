// Whether tracing is on, and with what, from the `tracing:` config section and the standard
// OTEL_* variables. Pure (no OpenTelemetry import): it decides whether the SDK is loaded at all.
//
// Precedence: a config key that is set wins over the variable (the file is this exporter's own,
// explicit configuration); an empty key ("") leaves it to the variables, then to the defaults
// of the specification. OTEL_TRACES_EXPORTER=none turns tracing off even when the config or an
// endpoint variable would turn it on (the specification's meaning of "none").

import type { Config } from '../config/config';
import { headerListSecrets, urlSecrets } from '../support/redact';

export type TracingConfig = Config['tracing'];
export type OtlpProtocol = 'http/protobuf' | 'http/json';
export type TracesExporterName = 'otlp' | 'console';

export interface TracingSettings {
  exporter: TracesExporterName;
  protocol: OtlpProtocol;
  /**
   * The full traces URL when the config names an endpoint; undefined leaves it to the OTLP
   * exporter, which reads OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (as is), OTEL_EXPORTER_OTLP_ENDPOINT
   * (+ "/v1/traces") or uses http://localhost:4318/v1/traces.
   */
  url: string | undefined;
  /** What the logs call the destination. */
  destination: string;
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

/** OTEL_TRACES_EXPORTER as a list of lower-case names; undefined when unset or empty. */
function exporterList(env: NodeJS.ProcessEnv): string[] | undefined {
  const raw = env.OTEL_TRACES_EXPORTER;
  if (raw === undefined) return undefined;
  const list = raw
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== '');
  return list.length > 0 ? list : undefined;
}

/**
 * Whether tracing is on: OTEL_TRACES_EXPORTER names an exporter other than `none`, or an OTLP
 * endpoint variable is set, or the config says so; `OTEL_TRACES_EXPORTER=none` alone is off.
 */
export function tracingEnabled(config: TracingConfig, env: NodeJS.ProcessEnv): boolean {
  const exporters = exporterList(env);
  if (exporters && exporters.every((name) => name === 'none')) return false;
  if (config.enabled) return true;
  if (exporters) return true;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

/**
 * Upper bound of the OTEL_BSP_* variables: each becomes a timer or a batch length, and a Node
 * timer over 2^31-1 ms fires at once instead (with only a warning), which would turn a "never"
 * into a busy loop.
 */
export const MAX_BSP_MILLIS = 300_000;
export const MAX_BSP_BATCH = 100_000;

function envInteger(env: NodeJS.ProcessEnv, name: string, fallback: number, max: number, warnings: string[]): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > max) {
    warnings.push(
      `${name}=${JSON.stringify(raw.slice(0, 40))} is not a whole number from 0 to ${max}; using ${fallback}`,
    );
    return fallback;
  }
  return value;
}

/**
 * A base URL with "/v1/traces" appended to its path, not to its end: a query string (a token some
 * collectors take there) stays a query string.
 */
export function tracesUrl(base: string): string {
  try {
    const parsed = new URL(base);
    parsed.pathname = `${parsed.pathname.replace(/\/+$/, '')}/v1/traces`;
    return parsed.toString();
  } catch {
    return `${base.replace(/\/+$/, '')}/v1/traces`;
  }
}

/** The settings when tracing is on, else undefined. */
export function resolveTracing(config: TracingConfig, env: NodeJS.ProcessEnv): TracingSettings | undefined {
  if (!tracingEnabled(config, env)) return undefined;
  const warnings: string[] = [];

  let exporter: TracesExporterName = 'otlp';
  const names = exporterList(env)?.filter((name) => name !== 'none');
  if (names && names.length > 0) {
    const known = names.filter((name): name is TracesExporterName => name === 'otlp' || name === 'console');
    const unknown = names.filter((name) => name !== 'otlp' && name !== 'console');
    if (unknown.length > 0)
      warnings.push(`OTEL_TRACES_EXPORTER: ${unknown.join(', ')} not supported (otlp, console, none are)`);
    if (known.length === 0) {
      warnings.push('OTEL_TRACES_EXPORTER: no supported exporter named; using otlp');
    } else {
      exporter = known[0] as TracesExporterName;
      if (known.length > 1) warnings.push(`OTEL_TRACES_EXPORTER: one exporter at a time; using ${exporter}`);
    }
  }

  let protocol: OtlpProtocol = 'http/protobuf';
  const requested =
    config.protocol || env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL?.trim() || env.OTEL_EXPORTER_OTLP_PROTOCOL?.trim() || '';
  if (requested === 'http/json' || requested === 'http/protobuf') protocol = requested;
  else if (requested !== '')
    warnings.push(
      `OTLP protocol ${JSON.stringify(requested)} is not supported (http/protobuf, http/json are); using http/protobuf`,
    );

  const url = config.endpoint ? tracesUrl(config.endpoint) : undefined;
  const destination =
    url ??
    (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ||
      (env.OTEL_EXPORTER_OTLP_ENDPOINT
        ? tracesUrl(env.OTEL_EXPORTER_OTLP_ENDPOINT)
        : 'http://localhost:4318/v1/traces'));

  const maxQueueSize = config.maxQueueSize;
  return {
    exporter,
    protocol,
    url,
    destination: exporter === 'console' ? 'stdout' : destination,
    maxSpansPerSecond: config.maxSpansPerSecond,
    maxQueueSize,
    maxOpenSpans: config.maxOpenSpans,
    scheduleDelayMs: envInteger(env, 'OTEL_BSP_SCHEDULE_DELAY', 5000, MAX_BSP_MILLIS, warnings),
    maxExportBatchSize: Math.max(
      1,
      Math.min(maxQueueSize, envInteger(env, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 512, MAX_BSP_BATCH, warnings)),
    ),
    exportTimeoutMs: Math.max(1, envInteger(env, 'OTEL_BSP_EXPORT_TIMEOUT', 30000, MAX_BSP_MILLIS, warnings)),
    warnings,
    secrets: [
      ...urlSecrets(destination),
      ...headerListSecrets(env.OTEL_EXPORTER_OTLP_HEADERS),
      ...headerListSecrets(env.OTEL_EXPORTER_OTLP_TRACES_HEADERS),
    ],
  };
}
