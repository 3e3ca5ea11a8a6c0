// The route-storm limiter: asked by the model before it builds a route event (through the bus's
// routeGate), it passes the first few of each group a second one by one and sums the rest into
// one summary event per window, so a storm (a BGP full table) costs a counter per route, not an
// object and strings.

import { familyName } from '../netlink/family';
import type { PendingEvent, RouteEvent, RouteGate } from '../state/events';
import { protocolName, routeTypeName, tableName } from '../netlink/format';
import { ROUTE_ACTIONS, splitGroupKey } from '../state/routes';

/** Route events per netns, table, family, protocol and action passed one by one each second; the rest are summed. */
export const ROUTE_EVENTS_PER_SECOND = 20;
const STORM_WINDOW_MS = 1000;

interface StormWindow {
  passed: number;
  suppressed: number;
  /** RTN_* type of the last suppressed route (for the summary's `type`). */
  lastType: number;
  timer: NodeJS.Timeout;
}

export class StormLimiter {
  /** Open storm windows per netns, by groupKey * 4 + action. */
  private readonly storms = new Map<string, Map<number, StormWindow>>();

  /** `publish` takes the summary of a window that suppressed events, when the window closes. */
  constructor(private readonly publish: (summary: PendingEvent) => void) {}

  /** The route-storm gate for one namespace's model (the model's RouteGate). Keys are the model's numeric groupKey. */
  routeGate(netns: string): RouteGate {
    // The namespace's map of open windows, registered only while a window is open (closeWindow
    // drops it with its last one), so a namespace that went leaves nothing here.
    let open = new Map<number, StormWindow>();
    return {
      admit: (groupKey: number, action: number, routeType: number): boolean => {
        const key = groupKey * 4 + action;
        let window = open.get(key);
        if (!window) {
          const registered = this.storms.get(netns);
          if (!registered) this.storms.set(netns, open);
          else if (registered !== open) window = (open = registered).get(key);
        }
        if (!window) {
          const windows = open;
          const timer = setTimeout(() => this.closeWindow(netns, windows, key), STORM_WINDOW_MS);
          timer.unref();
          window = { passed: 0, suppressed: 0, lastType: routeType, timer };
          open.set(key, window);
        }
        if (window.passed < ROUTE_EVENTS_PER_SECOND) {
          window.passed++;
          return true;
        }
        window.suppressed++;
        window.lastType = routeType;
        return false;
      },
    };
  }

  private closeWindow(netns: string, open: Map<number, StormWindow>, key: number): void {
    const window = open.get(key);
    open.delete(key);
    // A namespace's map goes with its last window: pods come and go by the thousand.
    if (open.size === 0 && this.storms.get(netns) === open) this.storms.delete(netns);
    if (!window || window.suppressed === 0) return;
    const action = key % 4;
    const { table, family, protocol } = splitGroupKey((key - action) / 4);
    this.publish({
      netns,
      kind: 'route',
      action: ROUTE_ACTIONS[action] as RouteEvent['action'],
      interface: '',
      ifindex: 0,
      family: familyName(family),
      table: tableName(table),
      protocol: protocolName(protocol),
      destination: '*',
      type: routeTypeName(window.lastType),
      count: window.suppressed,
    });
  }

  /** Emits the summaries of open storm windows now (at shutdown). */
  flush(): void {
    for (const [netns, open] of this.storms) {
      for (const [key, window] of [...open]) {
        clearTimeout(window.timer);
        this.closeWindow(netns, open, key);
      }
    }
  }
}
