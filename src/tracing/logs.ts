// Domain events -> OpenTelemetry log records, in the one event schema (src/state/events.ts):
//
// - event name `netlink.<kind>.<action>` (netlink.link.changed, netlink.flap.down,
//   netlink.address.dadfailed...); body: the event's human line as `events` mode prints it,
//   without the time (src/events/format.ts); timestamp: the event's time.
// - severity WARN (13) for what needs a look: a flap, a failed duplicate address detection, a
//   neighbour whose resolution failed, a VIP held by more than one interface here (split brain),
//   a resync (the kernel's notifications were lost), a bond failover or slave link failure, a
//   bridge port leaving forwarding for blocking or disabled, forwarding turned off; INFO (9) otherwise.
// - attributes: `netlink.netns`, `network.interface.name` (when there is one), `netlink.ifindex`,
//   `netlink.event.seq`, `netlink.event.kind`, `netlink.event.action`, and each kind-specific field
//   as `netlink.event.<field>` in snake case (a link's state as netlink.event.state.oper, ...).
// - trace context: the span the event belongs to (its outage span, or the span it became), so a
//   log backend links the record to its trace. A flap comes just before the link event that opens
//   its outage span: its record waits for that event (same message, same tick) to carry the span.
//
// Every record costs a token of its own rate limiter (opentelemetry.max_log_records_per_second);
// without one it is not built and counts as rate_limited. The bounded processor counts the rest.

import { context as otelContext, trace } from '@opentelemetry/api';
import type { Span } from '@opentelemetry/api';
import type { AnyValue, AnyValueMap, Logger } from '@opentelemetry/api-logs';
import type { Context } from '@opentelemetry/api';
import type { LogRecordProcessor, ReadableLogRecord, SdkLogRecord } from '@opentelemetry/sdk-logs';
import { formatEventLine } from '../events/format';
import type { DomainEvent } from '../state/events';
import { ATTR } from './attributes';
import { BoundedExportQueue } from './processor';
import type { TraceCounters } from './stats';

/** SeverityNumber.INFO and .WARN of @opentelemetry/api-logs (an enum there). */
export const SEVERITY_INFO = 9;
export const SEVERITY_WARN = 13;

/** Flap records waiting for their link event at most; past it the oldest goes out without a span. */
const MAX_PENDING_FLAPS = 1024;

export const LOG_ATTR = {
  seq: 'netlink.event.seq',
  kind: 'netlink.event.kind',
  action: 'netlink.event.action',
} as const;

/** A record's severity: WARN for what needs a look, INFO otherwise. */
export function eventSeverity(e: DomainEvent): number {
  switch (e.kind) {
    case 'flap':
    case 'resync':
      return SEVERITY_WARN;
    case 'address':
      return e.action === 'dadfailed' ? SEVERITY_WARN : SEVERITY_INFO;
    case 'neighbour':
      return e.action === 'failed' ? SEVERITY_WARN : SEVERITY_INFO;
    case 'vip':
      return e.holders.length > 1 ? SEVERITY_WARN : SEVERITY_INFO;
    case 'bond':
      // Traffic moved to another slave, or a slave's link failed: redundancy is at stake.
      return e.action === 'failover' || e.action === 'active_lost' || e.action === 'slave_mii_down'
        ? SEVERITY_WARN
        : SEVERITY_INFO;
    case 'bridge_port':
      // A port that stopped forwarding (STP blocked it, or it was disabled).
      return e.state === 'blocking' || e.state === 'disabled' ? SEVERITY_WARN : SEVERITY_INFO;
    case 'netconf':
      // Forwarding turned off: on a router, an outage.
      return e.setting === 'forwarding' && e.value === 'off' ? SEVERITY_WARN : SEVERITY_INFO;
    default:
      return SEVERITY_INFO;
  }
}

const snake = (name: string): string => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

const COMMON = new Set(['seq', 'time', 'netns', 'kind', 'action', 'interface', 'ifindex']);

/** The record's attributes: the schema's fields, flattened one level. */
export function eventAttributes(e: DomainEvent): AnyValueMap {
  const attributes: AnyValueMap = {
    [ATTR.netns]: e.netns,
    [LOG_ATTR.seq]: e.seq,
    [LOG_ATTR.kind]: e.kind,
    [LOG_ATTR.action]: e.action,
  };
  if (e.interface !== '') attributes[ATTR.interfaceName] = e.interface;
  if (e.kind !== 'vip' && e.kind !== 'resync' && e.kind !== 'rule') attributes[ATTR.ifindex] = e.ifindex;
  for (const [field, value] of Object.entries(e)) {
    if (COMMON.has(field) || value === undefined) continue;
    const key = `netlink.event.${snake(field)}`;
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      for (const [inner, v] of Object.entries(value as Record<string, unknown>))
        attributes[`${key}.${snake(inner)}`] = v as AnyValue;
    } else attributes[key] = value as AnyValue;
  }
  return attributes;
}

export function eventName(e: DomainEvent): string {
  return `netlink.${e.kind}.${e.action}`;
}

/** The bounded processor of log records: BatchLogRecordProcessor's job, with drops counted. */
export class BoundedLogRecordProcessor extends BoundedExportQueue<ReadableLogRecord> implements LogRecordProcessor {
  onEmit(logRecord: SdkLogRecord, _context?: Context): void {
    this.push(logRecord);
  }
}

export interface EventLogsOptions {
  logger: Logger;
  limiter: { tryTake(): boolean };
  counters: TraceCounters;
}

export class EventLogs {
  /** Flap records waiting for the link event that opens their outage span, by (netns, ifindex). */
  private readonly pendingFlaps = new Map<string, DomainEvent>();

  constructor(private readonly o: EventLogsOptions) {}

  /** Flap records held for their span. */
  get pending(): number {
    return this.pendingFlaps.size;
  }

  /**
   * One event, with the span it belongs to (EventSpans.lastSpan after the same event), if any.
   * O(1), never waits.
   */
  onEvent(e: DomainEvent, span: Span | undefined): void {
    const key = `${e.netns}\0${e.ifindex}`;
    if (e.kind === 'flap' && !span) {
      const held = this.pendingFlaps.get(key);
      if (held) this.emit(held, undefined);
      this.pendingFlaps.delete(key);
      this.pendingFlaps.set(key, e);
      if (this.pendingFlaps.size > MAX_PENDING_FLAPS) {
        const [oldestKey, oldest] = this.pendingFlaps.entries().next().value as [string, DomainEvent];
        this.pendingFlaps.delete(oldestKey);
        this.emit(oldest, undefined);
      }
      return;
    }
    const flap = this.pendingFlaps.get(key);
    if (flap) {
      this.pendingFlaps.delete(key);
      this.emit(flap, e.kind === 'link' ? span : undefined);
    }
    this.emit(e, span);
  }

  /** At shutdown: the held flap records go out without a span. */
  flushPending(): void {
    for (const e of this.pendingFlaps.values()) this.emit(e, undefined);
    this.pendingFlaps.clear();
  }

  private emit(e: DomainEvent, span: Span | undefined): void {
    if (!this.o.limiter.tryTake()) {
      this.o.counters.drop('rate_limited');
      return;
    }
    const severityNumber = eventSeverity(e);
    this.o.logger.emit({
      eventName: eventName(e),
      timestamp: Date.parse(e.time),
      severityNumber,
      severityText: severityNumber === SEVERITY_WARN ? 'WARN' : 'INFO',
      body: formatEventLine(e).slice(e.time.length + 1),
      attributes: eventAttributes(e),
      ...(span ? { context: trace.setSpan(otelContext.active(), span) } : {}),
    });
  }
}
