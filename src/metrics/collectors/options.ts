// What every collector is given: the render options of the scrape, and its own signature.

import type { Config } from '../../config/config';
import type { ExemplarLookup } from '../../tracing/exemplars';
import type { SignalStats, TraceStats } from '../../tracing/stats';
import type { DiscoveredTotals } from '../discovered';
import type { SampleSink } from '../sink';
import type { NamespaceSource } from '../source';

export interface CollectorOptions {
  addressInfo: boolean;
  addressInfoLinkLocal: boolean;
  /** Write OpenMetrics 1.0 (HELP/TYPE lines, exemplars); the caller appends `# EOF`. */
  openMetrics?: boolean;
  /** Trace ids for exemplars on the flap and address-change counters (OpenMetrics only). */
  exemplars?: ExemplarLookup;
  /** Present when tracing is on: netlink_trace_spans_*_total get samples. */
  tracing?: TraceStats | undefined;
  /** The OpenTelemetry signals that are on: netlink_otel_*_total get samples for each. */
  signals?: SignalStats;
  /** The netns="*" sums of the compact sources' self-metrics (with --netns.all). */
  discovered?: DiscoveredTotals;
}

/** The options a config gives (the rest are the scrape's: its format, tracing, the netns="*" sums). */
export function collectorOptionsFrom(
  config: Pick<Config, 'addresses'>,
): Pick<CollectorOptions, 'addressInfo' | 'addressInfoLinkLocal'> {
  return {
    addressInfo: config.addresses.info,
    addressInfoLinkLocal: config.addresses.infoLinkLocal,
  };
}

export type Collector = (w: SampleSink, sources: readonly NamespaceSource[], options: CollectorOptions) => void;
