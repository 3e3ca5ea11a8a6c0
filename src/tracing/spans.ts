// Domain events -> spans. Spans stand for changes of state, never for raw messages:
//
// - interface.outage: from the link event whose oper state left "up" to the one that brought it
//   back (its duration is the outage), keyed by (netns, ifindex). `netlink.flaps` counts the
//   flaps inside it, the kernel's coalesced ones included. A flap the kernel coalesced entirely
//   (down and up again within one notification: the interface is up when we hear of it) is a
//   zero-length outage span with `netlink.outage.end = "coalesced"`. An interface deleted while
//   down ends its span with status ERROR "interface deleted while down"; at shutdown open spans
//   end with `netlink.outage.end = "shutdown"`. An interface already down when first seen (at
//   start-up, or added down) opens no span.
// - address.added / address.removed / address.dad_failed, vip.acquired / vip.released,
//   neighbour.lladdr_changed, route.default_changed: instantaneous spans (start = end).
// - route.changes: every other route change, coalesced to one span per (netns, family, table,
//   protocol) per second with `netlink.route.count` (the event bus's storm summaries add their
//   count), so a million-route burst is a few spans.
// - netlink.resync: one span per resync, from started to completed.
//
// Every span is a root span (no parent) of kind INTERNAL. Each one costs a token of the rate
// limiter when it starts (a route.changes span when its second closes); without a token it is
// not created and counted as rate_limited. Outage and resync spans open at once are capped
// (maxOpenSpans); past it, queue_full.

import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { Attributes, Span, Tracer } from '@opentelemetry/api';
import type { FamilyName } from '../netlink/family';
import type {
  AddressEvent,
  DomainEvent,
  LinkEvent,
  LinkState,
  NeighbourEvent,
  ResyncEvent,
  RouteEvent,
  VipEvent,
} from '../state/events';
import { ATTR, networkType, SPAN, SPAN_EVENT } from './attributes';
import type { Exemplar, ExemplarStore } from './exemplars';
import type { TraceCounters } from './stats';

/** TraceFlags.SAMPLED. */
const SAMPLED = 1;
export const ROUTE_SPAN_WINDOW_MS = 1000;
const ROUTE_ACTIONS = ['added', 'removed', 'replaced', 'flushed'] as const;
const ROUTE_ACTION_ATTRS = [ATTR.routeAdded, ATTR.routeRemoved, ATTR.routeReplaced, ATTR.routeFlushed] as const;

export interface EventSpansOptions {
  tracer: Tracer;
  limiter: { tryTake(): boolean };
  counters: TraceCounters;
  exemplars: ExemplarStore;
  maxOpenSpans: number;
  routeWindowMs?: number;
}

interface Outage {
  span: Span;
  flaps: number;
}

interface RouteWindow {
  start: number;
  netns: string;
  family: FamilyName;
  table: string;
  protocol: string;
  count: number;
  actions: [number, number, number, number];
  timer: NodeJS.Timeout;
}

/** Operationally up as the exporter's metrics define it: UP, or UNKNOWN with IFF_UP and carrier (lo, tun). */
export function isLinkUp(state: LinkState): boolean {
  return state.oper === 'up' || (state.oper === 'unknown' && state.admin === 'up' && state.carrier === 'up');
}

function interfaceAttributes(e: DomainEvent): Attributes {
  const attributes: Attributes = { [ATTR.netns]: e.netns, [ATTR.ifindex]: e.ifindex };
  if (e.interface !== '') attributes[ATTR.interfaceName] = e.interface;
  return attributes;
}

function stateAttributes(state: LinkState): Attributes {
  return { [ATTR.operState]: state.oper, [ATTR.adminState]: state.admin, [ATTR.carrier]: state.carrier };
}

export class EventSpans {
  private readonly outages = new Map<string, Outage>();
  private readonly resyncs = new Map<string, Span>();
  private readonly windows = new Map<string, RouteWindow>();
  /** Flaps of a flap event, for the link event that always follows it within the same message. */
  private readonly pendingFlaps = new Map<string, number>();
  private readonly routeWindowMs: number;
  /** The span the event in hand started, touched or ended (its log record's trace context). */
  private touched: Span | undefined;

  constructor(private readonly o: EventSpansOptions) {
    this.routeWindowMs = o.routeWindowMs ?? ROUTE_SPAN_WINDOW_MS;
  }

  /** Outage and resync spans open now. */
  get openSpans(): number {
    return this.outages.size + this.resyncs.size;
  }

  /**
   * The span behind the last event given to onEvent: the outage span a link or flap event belongs
   * to (open, or ended by this event), or the span the event became; undefined when none (a
   * route inside a coalesced window, a dropped span, an event no span stands for).
   */
  get lastSpan(): Span | undefined {
    return this.touched;
  }

  onEvent(e: DomainEvent): void {
    this.touched = undefined;
    switch (e.kind) {
      case 'flap': {
        const key = `${e.netns}\0${e.ifindex}`;
        this.pendingFlaps.set(key, (this.pendingFlaps.get(key) ?? 0) + e.flaps);
        this.touched = this.outages.get(key)?.span;
        return;
      }
      case 'link':
        this.link(e);
        return;
      case 'address':
        this.address(e);
        return;
      case 'route':
        this.route(e);
        return;
      case 'neighbour':
        if (e.action === 'lladdr_changed') this.neighbour(e);
        return;
      case 'vip':
        this.vip(e);
        return;
      case 'resync':
        this.resync(e);
        return;
    }
  }

  private exemplar(span: Span, value: number, at: number): Exemplar | undefined {
    const context = span.spanContext();
    if ((context.traceFlags & SAMPLED) === 0) return undefined;
    return { traceId: context.traceId, spanId: context.spanId, value, timestamp: at / 1000 };
  }

  /** Starts a root span if the rate limiter allows; counts it as rate_limited otherwise. */
  private start(name: string, at: number, attributes: Attributes): Span | undefined {
    if (!this.o.limiter.tryTake()) {
      this.o.counters.drop('rate_limited');
      return undefined;
    }
    const span = this.o.tracer.startSpan(name, { root: true, kind: SpanKind.INTERNAL, startTime: at, attributes });
    this.touched = span;
    return span;
  }

  private instant(name: string, at: number, attributes: Attributes, error?: string): Span | undefined {
    const span = this.start(name, at, attributes);
    if (!span) return undefined;
    if (error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: error });
    span.end(at);
    return span;
  }

  /** A span that stays open (outage, resync), within the cap on open spans. */
  private startOpen(name: string, at: number, attributes: Attributes): Span | undefined {
    if (this.openSpans >= this.o.maxOpenSpans) {
      this.o.counters.drop('queue_full');
      return undefined;
    }
    return this.start(name, at, attributes);
  }

  // ---- links -----------------------------------------------------------------------------------

  private link(e: LinkEvent): void {
    const key = `${e.netns}\0${e.ifindex}`;
    const at = Date.parse(e.time);
    const open = this.outages.get(key);
    switch (e.action) {
      case 'changed': {
        const flaps = this.pendingFlaps.get(key) ?? 0;
        this.pendingFlaps.delete(key);
        const up = isLinkUp(e.state);
        const wasUp = e.previous ? isLinkUp(e.previous) : up;
        if (open) {
          this.touched = open.span;
          if (flaps > 0) {
            open.flaps += flaps;
            open.span.setAttribute(ATTR.flaps, open.flaps);
            open.span.addEvent(SPAN_EVENT.flap, { [ATTR.flaps]: flaps }, at);
            this.o.exemplars.setFlap(e.netns, e.ifindex, this.exemplar(open.span, flaps, at));
          }
          if (up) this.endOutage(key, open, at, 'up');
          else open.span.addEvent(SPAN_EVENT.linkChanged, stateAttributes(e.state), at);
          return;
        }
        if (!up && (wasUp || flaps > 0)) this.startOutage(key, e, at, flaps);
        else if (up && flaps > 0) this.coalescedFlaps(e, at, flaps);
        return;
      }
      case 'removed':
        this.pendingFlaps.delete(key);
        this.touched = open?.span;
        if (open) this.endOutage(key, open, at, 'deleted', 'interface deleted while down');
        return;
      case 'renamed':
        this.touched = open?.span;
        if (open) {
          open.span.setAttribute(ATTR.interfaceName, e.interface);
          open.span.addEvent(
            SPAN_EVENT.linkRenamed,
            { [ATTR.interfaceName]: e.interface, [ATTR.oldName]: e.oldName ?? '' },
            at,
          );
        }
        return;
      case 'added':
        return;
    }
  }

  private startOutage(key: string, e: LinkEvent, at: number, flaps: number): void {
    const span = this.startOpen(SPAN.outage, at, {
      ...interfaceAttributes(e),
      ...stateAttributes(e.state),
      [ATTR.flaps]: flaps,
    });
    // The flap counter moved with no span behind it: no exemplar rather than a stale one.
    if (flaps > 0) this.o.exemplars.setFlap(e.netns, e.ifindex, span && this.exemplar(span, flaps, at));
    if (span) this.outages.set(key, { span, flaps });
  }

  private endOutage(
    key: string,
    outage: Outage,
    at: number,
    how: 'up' | 'deleted' | 'shutdown' | 'namespace_gone',
    error?: string,
  ): void {
    this.outages.delete(key);
    outage.span.setAttribute(ATTR.outageEnd, how);
    if (error !== undefined) outage.span.setStatus({ code: SpanStatusCode.ERROR, message: error });
    outage.span.end(at);
  }

  /** The kernel coalesced down and up into one notification: the interface is up already. */
  private coalescedFlaps(e: LinkEvent, at: number, flaps: number): void {
    const span = this.instant(SPAN.outage, at, {
      ...interfaceAttributes(e),
      ...stateAttributes(e.state),
      [ATTR.flaps]: flaps,
      [ATTR.outageEnd]: 'coalesced',
    });
    this.o.exemplars.setFlap(e.netns, e.ifindex, span && this.exemplar(span, flaps, at));
  }

  // ---- addresses, VIPs, neighbours -----------------------------------------------------------

  private address(e: AddressEvent): void {
    const at = Date.parse(e.time);
    const attributes: Attributes = {
      ...interfaceAttributes(e),
      [ATTR.family]: e.family,
      [ATTR.networkType]: networkType(e.family),
      [ATTR.addressIp]: e.address,
      [ATTR.prefixLength]: e.prefixLength,
      [ATTR.addressScope]: e.scope,
      [ATTR.addressFlags]: [...e.flags],
    };
    if (e.action === 'dadfailed') {
      this.instant(
        SPAN.dadFailed,
        at,
        attributes,
        'duplicate address detection failed: another host holds the address',
      );
      return;
    }
    const span = this.instant(e.action === 'added' ? SPAN.addressAdded : SPAN.addressRemoved, at, attributes);
    this.o.exemplars.setAddressChange(e.netns, e.ifindex, e.family, e.action, span && this.exemplar(span, 1, at));
  }

  private vip(e: VipEvent): void {
    const attributes: Attributes = {
      ...interfaceAttributes(e),
      [ATTR.vipAddress]: e.vip,
      [ATTR.vipName]: e.name,
      [ATTR.vipHolders]: e.holders,
    };
    // A VIP event's ifindex is 0: the holders name the interfaces.
    delete attributes[ATTR.ifindex];
    this.instant(e.action === 'acquired' ? SPAN.vipAcquired : SPAN.vipReleased, Date.parse(e.time), attributes);
  }

  private neighbour(e: NeighbourEvent): void {
    const attributes: Attributes = {
      ...interfaceAttributes(e),
      [ATTR.family]: e.family,
      [ATTR.networkType]: networkType(e.family),
      [ATTR.neighbourIp]: e.destination,
    };
    if (e.oldLladdr !== undefined) attributes[ATTR.macOld] = e.oldLladdr;
    if (e.lladdr !== undefined) attributes[ATTR.macNew] = e.lladdr;
    this.instant(SPAN.neighbourMacChanged, Date.parse(e.time), attributes);
  }

  // ---- routes --------------------------------------------------------------------------------

  private route(e: RouteEvent): void {
    const at = Date.parse(e.time);
    if (e.destination === 'default') {
      const attributes: Attributes = {
        ...interfaceAttributes(e),
        [ATTR.family]: e.family,
        [ATTR.networkType]: networkType(e.family),
        [ATTR.routeAction]: e.action,
        [ATTR.routeTable]: e.table,
        [ATTR.routeProtocol]: e.protocol,
        [ATTR.routeType]: e.type,
      };
      if (e.gateway !== undefined) attributes[ATTR.routeGateway] = e.gateway;
      this.instant(SPAN.defaultRouteChanged, at, attributes);
      return;
    }
    const key = `${e.netns}\0${e.family}\0${e.table}\0${e.protocol}`;
    let window = this.windows.get(key);
    if (!window) {
      const timer = setTimeout(() => this.closeWindow(key, Date.now()), this.routeWindowMs);
      timer.unref();
      window = {
        start: at,
        netns: e.netns,
        family: e.family,
        table: e.table,
        protocol: e.protocol,
        count: 0,
        actions: [0, 0, 0, 0],
        timer,
      };
      this.windows.set(key, window);
    }
    const n = e.count ?? 1;
    window.count += n;
    window.actions[ROUTE_ACTIONS.indexOf(e.action)] += n;
  }

  private closeWindow(key: string, at: number): void {
    const w = this.windows.get(key);
    if (!w) return;
    this.windows.delete(key);
    clearTimeout(w.timer);
    const attributes: Attributes = {
      [ATTR.netns]: w.netns,
      [ATTR.family]: w.family,
      [ATTR.networkType]: networkType(w.family),
      [ATTR.routeTable]: w.table,
      [ATTR.routeProtocol]: w.protocol,
      [ATTR.routeCount]: w.count,
    };
    w.actions.forEach((count, i) => {
      if (count > 0) attributes[ROUTE_ACTION_ATTRS[i] as string] = count;
    });
    this.start(SPAN.routeChanges, w.start, attributes)?.end(Math.max(at, w.start));
  }

  // ---- resyncs -------------------------------------------------------------------------------

  private resync(e: ResyncEvent): void {
    const at = Date.parse(e.time);
    const open = this.resyncs.get(e.netns);
    if (open) {
      this.resyncs.delete(e.netns);
      if (e.action === 'started')
        open.setStatus({ code: SpanStatusCode.ERROR, message: 'did not complete: a new resync started' });
      open.end(at);
    }
    if (e.action !== 'started') return;
    const span = this.startOpen(SPAN.resync, at, { [ATTR.netns]: e.netns, [ATTR.resyncReason]: e.reason });
    if (span) this.resyncs.set(e.netns, span);
  }

  /**
   * The namespace was deleted (its socket is closed): its open outages end with an error status,
   * and nothing more will come for them. Otherwise they would stay open until shutdown.
   */
  namespaceGone(netns: string, at: number): void {
    const prefix = `${netns}\0`;
    for (const [key, outage] of [...this.outages]) {
      if (key.startsWith(prefix))
        this.endOutage(key, outage, at, 'namespace_gone', 'network namespace deleted while the interface was down');
    }
    for (const key of [...this.pendingFlaps.keys()]) if (key.startsWith(prefix)) this.pendingFlaps.delete(key);
    const resync = this.resyncs.get(netns);
    if (resync) {
      resync.setStatus({ code: SpanStatusCode.ERROR, message: 'the network namespace was deleted during the resync' });
      resync.end(at);
      this.resyncs.delete(netns);
    }
  }

  /** At shutdown: route windows become spans now, open outages end as "shutdown", open resyncs with an error. */
  closeAll(at: number): void {
    for (const key of [...this.windows.keys()]) this.closeWindow(key, at);
    for (const [key, outage] of [...this.outages]) this.endOutage(key, outage, at, 'shutdown');
    for (const span of this.resyncs.values()) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: 'the exporter shut down during the resync' });
      span.end(at);
    }
    this.resyncs.clear();
    this.pendingFlaps.clear();
  }
}
