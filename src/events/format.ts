// The two line formats of `events` mode: one human line per event, or the schema as a JSON line
// (also what /api/v1/events and its stream send).

import type { DomainEvent, LinkState } from '../state/events';

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
  // The namespace-wide netconf entries ("all", "default") have no interface index of their own.
  if (e.kind !== 'resync' && e.kind !== 'rule' && !(e.kind === 'netconf' && e.ifindex < 0))
    line += ` ifindex=${e.ifindex}`;
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
      // A failed duplicate address detection (another host holds the address), and the removal
      // that may follow it, say so in words: not an ordinary change.
      if (e.action === 'dadfailed' || e.flags.includes('dadfailed')) line += ' dad=failed';
      break;
    case 'route':
      line += ` ${e.family} table=${e.table} protocol=${e.protocol} type=${e.type} ${e.destination}`;
      if (e.gateway !== undefined) line += ` via ${e.gateway}`;
      if (e.count !== undefined) line += ` count=${e.count}`;
      break;
    case 'nexthop':
      line += ` id ${e.id} ${e.nexthop}`;
      break;
    case 'rule':
      line += ` ${e.family} ${e.rule}`;
      break;
    case 'neighbour':
      line += ` ${e.family} ${e.destination}`;
      if (e.previousState !== undefined) line += ` state=${e.previousState}->failed`;
      if (e.oldLladdr !== undefined) line += ` lladdr=${e.oldLladdr}->${e.lladdr ?? ''}`;
      else if (e.lladdr !== undefined) line += ` lladdr=${e.lladdr}`;
      break;
    case 'vip':
      line += ` vip=${e.vip}${e.name ? ` name=${value(e.name)}` : ''} holders=${e.holders.join(',') || '-'}`;
      break;
    case 'netconf':
      line += ` ${e.family} ${e.setting}=${e.oldValue}->${e.value}`;
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
