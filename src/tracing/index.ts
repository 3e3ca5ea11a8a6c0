// OpenTelemetry trace events: domain events become spans (spans.ts), exported over
// OTLP/HTTP through a bounded, rate-limited path (processor.ts), with exemplars for the flap
// and address-change counters (exemplars.ts). When tracing is off (settings.ts decides) the SDK
// is not even loaded (sdk.ts is imported dynamically) and no connection is made.

import type { Config } from '../config/config';
import type { Logger } from '../support/log';
import type { DomainEvent } from '../state/events';
import type { ExemplarLookup } from './exemplars';
import { registerSecret } from '../support/redact';
import { resolveTracing } from './settings';
import type { TraceStats } from './stats';


export interface Tracing {
  /** Turns one domain event into spans (outages, address changes, storms...). O(1), never waits. */
  onEvent(event: DomainEvent): void;
  /** A watched namespace went away: its open outage spans end now, with an error status. */
  namespaceGone(netns: string): void;
  /** Ends open spans, flushes what it can within a bound (3 s) and stops. */
  shutdown(): Promise<void>;
  /** Spans dropped by reason and exported, for netlink_trace_spans_*_total. */
  readonly stats: TraceStats;
  /** The trace ids behind the flap and address-change counters (OpenMetrics exemplars). */
  readonly exemplars: ExemplarLookup;
}

export interface TracingOptions {
  config: Config['tracing'];
  logger: Logger;
  version: string;
  env: NodeJS.ProcessEnv;
}

export async function startTracing(options: TracingOptions): Promise<Tracing | undefined> {
  const settings = resolveTracing(options.config, options.env);
  if (!settings) return undefined;
  for (const secret of settings.secrets) registerSecret(secret);
  const { createTracing } = await import('./sdk');
  return createTracing(options, settings);
}
