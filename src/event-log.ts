// The event bus (stamps seq and time on the model's domain events and fans them out) and the two
// line formats of `events` mode: one human line per event, or the schema as a JSON line.

import type { DomainEvent, LinkState, PendingEvent, RouteEvent } from './state/events';

export type EventListener = (event: DomainEvent) => void;

/** Route events per table, protocol and action printed one by one each second; the rest are summed. */
export const ROUTE_EVENTS_PER_SECOND = 20;
const STORM_WINDOW_MS = 1000;

interface StormWindow {
  passed: number;
  suppressed: number;
  last: RouteEvent | undefined;
  timer: NodeJS.Timeout;
}

export class EventBus {
  private seq = 0;
  private readonly listeners: EventListener[] = [];
  /** Route storms are coalesced (a BGP full table must not become a million lines or spans). */
  private readonly storms = new Map<string, StormWindow>();

  subscribe(listener: EventListener): void {
    this.listeners.push(listener);
  }

  publish(pending: PendingEvent): void {
    if (pending.kind === 'route' && !this.admitRoute(pending)) return;
    this.emit(pending);
  }

  private emit(pending: PendingEvent): void {
    const event = { seq: ++this.seq, time: new Date().toISOString(), ...pending } as DomainEvent;
    for (const listener of this.listeners) listener(event);
  }

  /** Whether a route event goes out now; past the per-second allowance it is counted for the summary. */
  private admitRoute(e: Omit<RouteEvent, 'seq' | 'time'>): boolean {
    const key = `${e.netns}|${e.family}|${e.table}|${e.protocol}|${e.action}`;
    let window = this.storms.get(key);
    if (!window) {
      const timer = setTimeout(() => this.closeWindow(key), STORM_WINDOW_MS);
      timer.unref();
      window = { passed: 0, suppressed: 0, last: undefined, timer };
      this.storms.set(key, window);
    }
    if (window.passed < ROUTE_EVENTS_PER_SECOND) {
      window.passed++;
      return true;
    }
    window.suppressed++;
    window.last = e as RouteEvent;
    return false;
  }

  private closeWindow(key: string): void {
    const window = this.storms.get(key);
    this.storms.delete(key);
    if (!window?.last || window.suppressed === 0) return;
    const { seq: _seq, time: _time, gateway: _gateway, ...last } = window.last;
    this.emit({ ...last, interface: '', ifindex: 0, destination: '*', count: window.suppressed });
  }

  /** Emits the summaries of open storm windows now (at shutdown). */
  flush(): void {
    for (const [key, window] of [...this.storms]) {
      clearTimeout(window.timer);
      this.closeWindow(key);
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

export function formatEventJson(e: DomainEvent): string {
  return JSON.stringify(e);
}
