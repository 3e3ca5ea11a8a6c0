// Which interfaces get series: the include/exclude regexes (anchored, as Prometheus anchors them)
// and the cap on interfaces with series (interfaces.max_tracked). Every interface is modelled
// whatever this says (events, VIP watch and route repair see them all); it decides only
// LinkRecord.tracked. Part of the namespace's model: its links (link-set.ts) ask it.

import type { NameMatcher } from '../config/name-pattern';
import type { LinkRecord } from './links';

export class SeriesFilter {
  /** Interfaces with series now. */
  trackedCount = 0;
  /** Interfaces that got no series because the cap was reached. */
  seriesLimitDropped = 0;

  constructor(
    private include: NameMatcher,
    private exclude: NameMatcher | undefined,
    private maxTracked: number,
  ) {}

  private wantsSeries(name: string): boolean {
    return this.include.test(name) && !(this.exclude?.test(name) ?? false);
  }

  track(record: LinkRecord): void {
    if (!this.wantsSeries(record.name)) return;
    if (this.trackedCount >= this.maxTracked) {
      this.seriesLimitDropped++;
      return;
    }
    record.tracked = true;
    this.trackedCount++;
  }

  /** A rename may move an interface in or out of the include/exclude regexes. */
  retrack(record: LinkRecord): void {
    if (record.tracked && !this.wantsSeries(record.name)) {
      record.tracked = false;
      this.trackedCount--;
    } else if (!record.tracked) this.track(record);
  }

  /** A tracked interface was deleted: it frees its place under the cap (its series stay for the grace period). */
  deleted(record: LinkRecord): void {
    if (record.tracked) this.trackedCount--;
  }

  /**
   * A config reload's new include/exclude regexes and cap, applied to every link now. Links are
   * modelled whether they have series or not, so one that gains series starts with its true counts.
   */
  set(include: NameMatcher, exclude: NameMatcher | undefined, maxTracked: number, links: Iterable<LinkRecord>): void {
    this.include = include;
    this.exclude = exclude;
    this.maxTracked = maxTracked;
    const all = [...links];
    for (const record of all) {
      if (record.tracked && !this.wantsSeries(record.name)) {
        record.tracked = false;
        this.trackedCount--;
        record.version++;
      }
    }
    for (const record of all) {
      if (!record.tracked) {
        this.track(record);
        if (record.tracked) record.version++;
      }
    }
  }
}
