// The OTLP side of the sample sink (../sink.ts): each sample the collectors write becomes an OTLP
// data point at once (its attributes, its start and end time), kept per family in the order
// written; producer.ts wraps each family as OTLP metric data. Nothing here runs on the hot path:
// it is filled from the model at each export, and each point is made once (an export of 5,000
// interfaces is about 125,000 points).

import type { Attributes, HrTime } from '@opentelemetry/api';
import type { DataPoint } from '@opentelemetry/sdk-metrics';
import type { Family } from '../contract';
import type { LabelValues, SampleSink } from '../sink';

/** Seconds since the epoch as an HrTime ([seconds, nanoseconds]). */
export function secondsToHrTime(seconds: number): HrTime {
  const whole = Math.floor(seconds);
  const nanos = Math.min(999_999_999, Math.round((seconds - whole) * 1e9));
  return [whole, nanos];
}

/**
 * When this producer first saw each series that has no known birth, for the series of the last
 * export only: begin() an export, startOf() each series in it, end() it (the rest are forgotten).
 */
export class SeriesStartTimes {
  private seen = new Map<string, HrTime>();
  private next = new Map<string, HrTime>();

  begin(): void {
    this.next = new Map();
  }

  startOf(key: string, now: HrTime): HrTime {
    const start = this.seen.get(key) ?? now;
    this.next.set(key, start);
    return start;
  }

  end(): void {
    this.seen = this.next;
    this.next = new Map();
  }

  /** Series remembered (those of the last export without a known birth). */
  get size(): number {
    return this.seen.size;
  }
}

/** The times of one export's points. */
export class ExportClock {
  /** HrTimes of the `created` values seen in this export (most links share a few). */
  private readonly created = new Map<number, HrTime>();

  /** `now`: the export's time; `starts`: the first-seen times, between begin() and end(). */
  constructor(
    readonly now: HrTime,
    private readonly starts: SeriesStartTimes,
  ) {}

  /**
   * A counter point's start: its label set's birth (`created`) when known, else when this
   * producer first saw the series. A gauge's: the export's time.
   */
  startOf(def: Family, values: readonly string[], created: number | undefined): HrTime {
    if (def.type !== 'counter') return this.now;
    if (created === undefined) return this.starts.startOf(`${def.name}\0${values.join('\0')}`, this.now);
    let start = this.created.get(created);
    if (start === undefined) this.created.set(created, (start = secondsToHrTime(created)));
    return start;
  }
}

export interface CollectedFamily {
  readonly def: Family;
  readonly points: DataPoint<number>[];
}

/** One collector's samples as OTLP points (a sink of its own, so that a collector that throws costs its own samples only). */
export class CollectedSamples implements SampleSink {
  readonly asText = undefined;
  readonly families = new Map<string, CollectedFamily>();

  constructor(private readonly clock: ExportClock) {}

  family(def: Family): void {
    if (!this.families.has(def.name)) this.families.set(def.name, { def, points: [] });
  }

  sample<L extends readonly string[]>(def: Family<L>, values: LabelValues<L>, value: number, created?: number): void {
    let family = this.families.get(def.name);
    if (!family) this.families.set(def.name, (family = { def, points: [] }));
    const labels = values as readonly string[];
    const attributes: Attributes = {};
    for (let i = 0; i < def.labels.length; i++) attributes[def.labels[i] as string] = labels[i] as string;
    family.points.push({
      startTime: this.clock.startOf(def, labels, created),
      endTime: this.clock.now,
      attributes,
      value,
    });
  }

  /** Adds another collector's samples, family by family (a family written by two stays one). */
  merge(other: CollectedSamples): void {
    for (const [name, family] of other.families) {
      const mine = this.families.get(name);
      if (mine) for (const point of family.points) mine.points.push(point);
      else this.families.set(name, family);
    }
  }
}
