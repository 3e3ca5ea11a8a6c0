// What the parts of the namespace's model (model.ts) share: where their domain events go, and
// which messages change state quietly. NamespaceModel is the outlet; each part holds it.

import type { MessageOrigin } from '../session/sink';
import type { PendingEvent, RouteGate } from './events';

/** The model's event outlet, read at each event: a listener may come or go at any time. */
export interface EventOutlet {
  /** The `netns` label. */
  readonly netns: string;
  /** Domain events go here when someone listens; none are built otherwise. */
  readonly onEvent: ((event: PendingEvent) => void) | undefined;
  /** Asked before a route event is built: past a storm's allowance the event is only counted. */
  readonly routeGate: RouteGate | undefined;
}

/** Initial dump replies change state without counting or telling anyone. */
export function isQuiet(origin: MessageOrigin): boolean {
  return origin === 'initial-dump';
}
