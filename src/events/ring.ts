// The last N domain events, for /api/v1/events (with a `since` cursor) and the live /events page.
//
// A fixed array used as a circular buffer: push is O(1) and allocates nothing, and the oldest
// event is overwritten once the ring is full. Events arrive from the event bus in seq order, so
// the held events are sorted by seq and `since` finds its start by binary search.

import type { DomainEvent } from '../state/events';

export class EventRing {
  private readonly slots: (DomainEvent | undefined)[];
  /** Index of the slot the next push writes. */
  private head = 0;
  private count = 0;
  /** Seq of the newest event pushed, 0 before the first. */
  private newest = 0;

  constructor(readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1)
      throw new RangeError(`event ring capacity must be a whole number >= 1, is ${capacity}`);
    this.slots = new Array<DomainEvent | undefined>(capacity);
  }

  /** Keeps `event`, overwriting the oldest when full. Events must come in increasing seq order. */
  push(event: DomainEvent): void {
    if (event.seq <= this.newest)
      throw new RangeError(`event seq ${event.seq} after ${this.newest}: the ring needs increasing seq`);
    this.slots[this.head] = event;
    this.head = (this.head + 1) % this.capacity;
    if (this.count < this.capacity) this.count++;
    this.newest = event.seq;
  }

  /** Events held. */
  get size(): number {
    return this.count;
  }

  /** Seq of the newest event pushed; 0 before the first. */
  get latest(): number {
    return this.newest;
  }

  /**
   * Seq of the oldest event held; when none is held yet, the seq after `latest` (the first event
   * a reader can still get). A cursor `since` missed events when `since < oldest - 1`.
   */
  get oldest(): number {
    return this.count === 0 ? this.newest + 1 : this.at(0).seq;
  }

  /** The i-th held event, 0 = oldest. */
  private at(i: number): DomainEvent {
    return this.slots[(this.head - this.count + i + this.capacity) % this.capacity] as DomainEvent;
  }

  /** Position (0 = oldest held) of the first event with seq > `since`; `size` when none. */
  private firstAfter(since: number): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.at(mid).seq > since) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /**
   * Events with seq > `since`, oldest first, at most `limit` of them; with `match`, only those it
   * accepts (the limit counts matches).
   */
  since(since: number, limit = this.capacity, match?: (event: DomainEvent) => boolean): DomainEvent[] {
    return this.scan(since, limit, match).events;
  }

  /**
   * As `since`, with the cursor to continue from: `next` is the seq of the last event returned
   * when the limit cut the answer short (`more`), else the newest seq looked at (events skipped
   * by `match` need not be scanned again), never less than `since`.
   */
  scan(
    since: number,
    limit = this.capacity,
    match?: (event: DomainEvent) => boolean,
  ): { events: DomainEvent[]; next: number; more: boolean } {
    const events: DomainEvent[] = [];
    let i = this.firstAfter(since);
    for (; i < this.count && events.length < limit; i++) {
      const event = this.at(i);
      if (!match || match(event)) events.push(event);
    }
    // More is held past the limit when an event that matches remains.
    let more = false;
    for (; i < this.count && !more; i++) more = !match || match(this.at(i));
    const next = more ? (events.at(-1) as DomainEvent).seq : Math.max(since, this.newest);
    return { events, next, more };
  }
}
