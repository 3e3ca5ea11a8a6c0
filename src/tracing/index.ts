// OpenTelemetry trace events (issue 6). Loaded only when tracing is on: the SDK is not even
// required otherwise, and no connection is made.

import type { Config } from '../config';
import type { Logger } from '../log';
import type { DomainEvent } from '../state/events';

export interface Tracing {
  /** Turns one domain event into spans (outages, address changes, storms...). */
  onEvent(event: DomainEvent): void;
  /** Flushes what it can within a bound and stops. */
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  config: Config['tracing'];
  logger: Logger;
  version: string;
  env: NodeJS.ProcessEnv;
}

/** Whether tracing is on: the config says so, or the standard OTEL_* variables ask for it. */
export function tracingEnabled(config: Config['tracing'], env: NodeJS.ProcessEnv): boolean {
  if (config.enabled) return true;
  const exporter = env.OTEL_TRACES_EXPORTER;
  if (exporter !== undefined && exporter !== '' && exporter !== 'none') return true;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

export async function startTracing(options: TracingOptions): Promise<Tracing | undefined> {
  if (!tracingEnabled(options.config, options.env)) return undefined;
  options.logger.warn('tracing is not built yet');
  return undefined;
}
