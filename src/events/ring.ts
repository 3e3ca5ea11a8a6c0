// The last N domain events, for /api/v1/events (with a `since` cursor) and the live /events page.

import type { DomainEvent } from '../state/events';

export class EventRing {
  private readonly slots: (DomainEvent | undefined)[];
  private next = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    this.slots = new Array<DomainEvent | undefined>(capacity);
  }

  push(event: DomainEvent): void {
    this.slots[this.next] = event;
    this.next = (this.next + 1) % this.capacity;
    if (this.size < this.capacity) this.size++;
  }

  /** Events with seq > `since`, oldest first, at most `limit`. */
  since(since: number, limit = this.capacity): DomainEvent[] {
    const out: DomainEvent[] = [];
    for (let i = 0; i < this.size && out.length < limit; i++) {
      const event = this.slots[(this.next - this.size + i + this.capacity) % this.capacity] as DomainEvent;
      if (event.seq > since) out.push(event);
    }
    return out;
  }
}
