// The event bus: stamps seq and time on the model's domain events and fans them out, with the
// route-storm limiter (storm-limiter.ts) in front of route events. The line formats are format.ts.

import type { DomainEvent, PendingEvent, RouteGate } from '../state/events';
import { StormLimiter } from './storm-limiter';

export type EventListener = (event: DomainEvent) => void;

export class EventBus {
  private seq = 0;
  private isoAt = -1;
  private iso = '';
  private readonly listeners: EventListener[] = [];
  /** Summaries of suppressed route events are published like any other event. */
  private readonly storms = new StormLimiter((summary) => this.publish(summary));

  subscribe(listener: EventListener): void {
    this.listeners.push(listener);
  }

  /**
   * Stamps seq and time on the event in place (copying it cost more than the rest of its
   * publication in a flap burst, hundreds of events a millisecond) and hands it to every listener.
   * The event belongs to the bus from then on; formatEventJson writes seq and time first again.
   */
  publish(pending: PendingEvent): void {
    const event = pending as DomainEvent;
    event.seq = ++this.seq;
    event.time = this.isoNow();
    for (const listener of this.listeners) listener(event);
  }

  /** The time as ISO 8601, formatted once per millisecond (a flap burst makes hundreds per ms). */
  private isoNow(): string {
    const now = Date.now();
    if (now !== this.isoAt) {
      this.isoAt = now;
      this.iso = new Date(now).toISOString();
    }
    return this.iso;
  }

  /** The route-storm gate for one namespace's model. */
  routeGate(netns: string): RouteGate {
    return this.storms.routeGate(netns);
  }

  /** Emits the summaries of open storm windows now (at shutdown). */
  flush(): void {
    this.storms.flush();
  }
}
