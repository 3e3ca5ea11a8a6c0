// OpenTelemetry: domain events become spans (spans.ts) and log records (logs.ts), exported over
// OTLP (grpc, http/protobuf, http/json) through bounded, rate-limited paths (processor.ts), with
// exemplars for the flap and address-change counters (exemplars.ts); the metric contract is
// exported over OTLP from producers the caller hands in. When no signal is on (settings.ts
// decides) the SDK is not even loaded (sdk.ts is imported dynamically) and no connection is made.

import { DEFAULT_CONFIG } from '../config/config';
import { registerSecret } from '../support/redact';
import { resolveTelemetry } from './settings';
import type { Tracing, TracingOptions } from './types';

export type { Tracing, TracingOptions } from './types';

export async function startTracing(options: TracingOptions): Promise<Tracing | undefined> {
  const settings = resolveTelemetry(options.config, options.opentelemetry ?? DEFAULT_CONFIG.opentelemetry, options.env);
  if (!settings.traces && !settings.logs && !settings.metrics) return undefined;
  for (const secret of settings.secrets) registerSecret(secret);
  const { createTelemetry } = await import('./sdk');
  return createTelemetry(options, settings);
}
