// Where the collectors write their samples: one small interface with two implementations, the
// exposition text of a scrape (writer.ts's ExpositionWriter) and the OTLP metrics of an export
// (otlp/builder.ts). Both are fed by the same collectors from the same state, so an OTLP export
// carries the numbers a scrape at the same moment shows.

import type { Family } from './contract';

/** A family's label values, one per label name, in the family's order. */
export type LabelValues<L extends readonly string[]> = { [K in keyof L]: string };

/** A sink that writes exposition text: the per-link text cache and exemplars are written to it as text. */
export interface TextSink extends SampleSink {
  /** OpenMetrics 1.0 rather than the Prometheus text format. */
  readonly openMetrics: boolean;
  /** Samples already in exposition format (each line ending in a newline). */
  raw(lines: string | Buffer): void;
}

export interface SampleSink {
  /** This sink as a text sink, when it writes exposition text; undefined when it takes samples only. */
  readonly asText: TextSink | undefined;
  /** Announces a family, once; a family with no samples still announces itself. */
  family(def: Family): void;
  /**
   * One sample. `created` (seconds since the epoch) is when a counter's label set was first
   * seen (its counters born at 0 then); undefined when unknown (the kernel's own counters, which
   * counted before we saw them) and for gauges.
   */
  sample<L extends readonly string[]>(def: Family<L>, values: LabelValues<L>, value: number, created?: number): void;
}
