// The event bus (stamps seq and time on the model's domain events and fans them out) and the two
// line formats of `events` mode: one human line per event, or the schema as a JSON line.

import { familyName } from '../state/addresses';
import type { DomainEvent, LinkState, PendingEvent, RouteEvent, RouteGate } from '../state/events';
import { protocolName, routeTypeName, tableName } from '../state/route-events';
import { ROUTE_ACTIONS, splitGroupKey } from '../state/routes';

export type EventListener = (event: DomainEvent) => void;

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

export class EventBus {
  private seq = 0;
  private isoAt = -1;
  private iso = '';
  private readonly listeners: EventListener[] = [];
  /** Open storm windows per netns, by groupKey * 4 + action. */
  private readonly storms = new Map<string, Map<number, StormWindow>>();

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
    // The namespace's map of open windows, registered only while a window is open (closeWindow
    // drops it with its last one), so a namespace that went leaves nothing here.
    let open = new Map<number, StormWindow>();
    return {
      admit: (groupKey, action, routeType) => {
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

function value(text: string): string {
  return text === '' || /[\s"=]/.test(text) ? JSON.stringify(text) : text;
}

/** "up" or "up->down" for one field of a link state. */
function transition(field: keyof LinkState, state: LinkState, previous: LinkState | undefined): string {
  const now = state[field];
  return previous && previous[field] !== now ? `${previous[field]}->${now}` : now;
}

/**
 * One human line: `<time> [netns=<ns> ]<kind> <action> <interface> key=value ...`, e.g.
 * `2026-11-22T22:50:01.123Z link changed veth0 ifindex=5 admin=up oper=up->down carrier=up->down`.
 */
export function formatEventLine(e: DomainEvent): string {
  let line = `${e.time} ${e.netns ? `netns=${value(e.netns)} ` : ''}${e.kind} ${e.action} ${e.interface === '' ? '-' : e.interface}`;
  if (e.kind !== 'resync') line += ` ifindex=${e.ifindex}`;
  switch (e.kind) {
    case 'link':
      if (e.oldName !== undefined) line += ` old_name=${value(e.oldName)}`;
      line += ` admin=${transition('admin', e.state, e.previous)} oper=${transition('oper', e.state, e.previous)} carrier=${transition('carrier', e.state, e.previous)}`;
      if (e.linkKind) line += ` kind=${e.linkKind}`;
      if (e.mac) line += ` mac=${e.mac}`;
      break;
    case 'flap':
      line += ` flaps=${e.flaps} oper=${e.oper}`;
      break;
    case 'address':
      line += ` ${e.family} ${e.address}/${e.prefixLength} scope=${e.scope}`;
      if (e.flags.length > 0) line += ` flags=${e.flags.join(',')}`;
      break;
    case 'route':
      line += ` ${e.family} table=${e.table} protocol=${e.protocol} type=${e.type} ${e.destination}`;
      if (e.gateway !== undefined) line += ` via ${e.gateway}`;
      if (e.count !== undefined) line += ` count=${e.count}`;
      break;
    case 'neighbour':
      line += ` ${e.family} ${e.destination}`;
      if (e.oldLladdr !== undefined) line += ` lladdr=${e.oldLladdr}->${e.lladdr ?? ''}`;
      else if (e.lladdr !== undefined) line += ` lladdr=${e.lladdr}`;
      break;
    case 'vip':
      line += ` vip=${e.vip}${e.name ? ` name=${value(e.name)}` : ''} holders=${e.holders.join(',') || '-'}`;
      break;
    case 'resync':
      line += ` reason=${e.reason}`;
      break;
  }
  return line;
}

/** The event as one JSON object, seq and time first (the bus stamps them last). */
export function formatEventJson(e: DomainEvent): string {
  const { seq, time, ...rest } = e;
  return JSON.stringify({ seq, time, ...rest });
}
