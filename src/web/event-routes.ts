// /api/v1/events (JSON with a `since` cursor), /events (the live page) and its event stream.

import type { EventBus } from '../event-log';
import type { EventRing } from '../events/ring';
import type { Logger } from '../log';
import type { Route } from '../server';

export interface EventRoutesOptions {
  ring: EventRing;
  bus: EventBus;
  maxStreamClients: number;
  logger: Logger;
}

export interface EventRoutes {
  routes: Record<string, Route>;
  /** Ends every open stream (at shutdown, so the server can close). */
  close(): void;
}

export function createEventRoutes(_options: EventRoutesOptions): EventRoutes {
  return { routes: {}, close: () => undefined };
}
