// What the OpenTelemetry room offers the rest of the process: declared apart from index.ts, which
// loads sdk.ts dynamically, so that sdk.ts can implement it without importing index.ts back.

import type { MetricProducer } from '@opentelemetry/sdk-metrics';
import type { Config } from '../config/config';
import type { Logger } from '../support/log';
import type { DomainEvent } from '../state/events';
import type { ExemplarLookup } from './exemplars';
import type { SignalStats, TraceStats } from './stats';

export interface Tracing {
  /** Turns one domain event into spans (outages, address changes, storms...) and a log record. O(1), never waits. */
  onEvent(event: DomainEvent): void;
  /** A watched namespace went away: its open outage spans end now, with an error status. */
  namespaceGone(netns: string): void;
  /** Ends open spans, flushes what it can within a bound (3 s) and stops. */
  shutdown(): Promise<void>;
  /** Spans dropped by reason and exported, for netlink_trace_spans_*_total; undefined when traces are off. */
  readonly stats: TraceStats | undefined;
  /** Each signal that is on, its drops and exports, for netlink_otel_*_total. */
  readonly signals: SignalStats;
  /** The trace ids behind the flap and address-change counters (OpenMetrics exemplars); undefined when traces are off. */
  readonly exemplars: ExemplarLookup | undefined;
}

export interface TracingOptions {
  config: Config['tracing'];
  /** The logs and metrics signals and what the three share; absent: the defaults (off unless OTEL_* say on). */
  opentelemetry?: Config['opentelemetry'];
  logger: Logger;
  version: string;
  env: NodeJS.ProcessEnv;
  /**
   * What the metrics signal exports, asked for only when it is on: the caller loads its producers
   * (the model read at export time) then, so nothing of them is loaded otherwise.
   */
  metricProducers?: () => Promise<MetricProducer[]>;
}
