// What the tracing room offers the rest of the process: declared apart from index.ts, which
// loads sdk.ts dynamically, so that sdk.ts can implement it without importing index.ts back.

import type { Config } from '../config/config';
import type { Logger } from '../support/log';
import type { DomainEvent } from '../state/events';
import type { ExemplarLookup } from './exemplars';
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
