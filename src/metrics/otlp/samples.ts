// The OTLP side of the sample sink (../sink.ts): the samples the collectors write, kept per
// family in the order they were written, then turned into OTLP metric data at export time
// (builder.ts). Nothing here runs on the hot path: it is filled from the model at each export.

import type { Family } from '../contract';
import type { LabelValues, SampleSink } from '../sink';

export interface CollectedPoint {
  readonly values: readonly string[];
  readonly value: number;
  /** Seconds since the epoch when the label set was first seen (SampleSink.sample's `created`). */
  readonly created: number | undefined;
}

export interface CollectedFamily {
  readonly def: Family;
  readonly points: CollectedPoint[];
}

/** One collector's samples (a sink of its own, so that a collector that throws costs its own samples only). */
export class CollectedSamples implements SampleSink {
  readonly asText = undefined;
  readonly families = new Map<string, CollectedFamily>();

  family(def: Family): void {
    if (!this.families.has(def.name)) this.families.set(def.name, { def, points: [] });
  }

  sample<L extends readonly string[]>(def: Family<L>, values: LabelValues<L>, value: number, created?: number): void {
    let family = this.families.get(def.name);
    if (!family) this.families.set(def.name, (family = { def, points: [] }));
    family.points.push({ values: values as readonly string[], value, created });
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
