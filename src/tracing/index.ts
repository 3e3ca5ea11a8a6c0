// OpenTelemetry trace events: domain events become spans (spans.ts), exported over
// OTLP/HTTP through a bounded, rate-limited path (processor.ts), with exemplars for the flap
// and address-change counters (exemplars.ts). When tracing is off (settings.ts decides) the SDK
// is not even loaded (sdk.ts is imported dynamically) and no connection is made.

import { registerSecret } from '../support/redact';
import { resolveTracing } from './settings';
import type { Tracing, TracingOptions } from './types';

export type { Tracing, TracingOptions } from './types';

export async function startTracing(options: TracingOptions): Promise<Tracing | undefined> {
  const settings = resolveTracing(options.config, options.env);
  if (!settings) return undefined;
  for (const secret of settings.secrets) registerSecret(secret);
  const { createTracing } = await import('./sdk');
  return createTracing(options, settings);
}
