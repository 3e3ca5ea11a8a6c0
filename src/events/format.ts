// The two line formats of `events` mode: one human line per event, or the schema as a JSON line
// (also what /api/v1/events and its stream send).

import type { BondEvent, DomainEvent, LinkState, RouteEvent, SettingEvent } from '../state/events';

function value(text: string): string {
  return text === '' || /[\s"=]/.test(text) ? JSON.stringify(text) : text;
}

/** "up" or "up->down" for one field of a link state. */
function transition(field: keyof LinkState, state: LinkState, previous: LinkState | undefined): string {
  const now = state[field];
  return previous && previous[field] !== now ? `${previous[field]}->${now}` : now;
}

/** A `setting` event's fields: ` master=br0 master_kind=bridge`, ` mtu=1500->9000`, ` promisc=off->on`, ... */
function settingText(e: SettingEvent): string {
  switch (e.action) {
    case 'enslaved':
    case 'released':
      return ` master=${value(e.master ?? '')}${e.masterKind ? ` master_kind=${value(e.masterKind)}` : ''}`;
    case 'mtu':
      return ` mtu=${e.oldMtu ?? ''}->${e.mtu ?? ''}`;
    case 'alias':
      // Always quoted: an alias is free text ("->" in it would read as the arrow).
      return ` alias=${JSON.stringify(e.oldAlias ?? '')}->${JSON.stringify(e.alias ?? '')}`;
    case 'altname_added':
    case 'altname_removed':
      return ` altname=${value(e.altname ?? '')}`;
    case 'flag':
      return ` ${e.flag ?? ''}=${e.enabled ? 'off->on' : 'on->off'}`;
  }
}

/** Lifetimes left, as `ip addr` prints them: ` valid_lft=120s preferred_lft=3s` (nothing when forever). */
function lifetimes(e: { validLifetime?: number; preferredLifetime?: number }): string {
  let text = '';
  if (e.validLifetime !== undefined) text += ` valid_lft=${e.validLifetime}s`;
  if (e.preferredLifetime !== undefined) text += ` preferred_lft=${e.preferredLifetime}s`;
  return text;
}

/**
 * The rest of a route as `ip route` prints it: `nhid 5`, `scope link`, `src 10.0.0.1`, `metric
 * 100`, `mtu 1400`, then each nexthop of a multipath route, `nexthop via 10.0.0.2 dev veth1
 * weight 1`, and `more_nexthops=K` past the ones the event lists.
 */
function routeText(e: RouteEvent): string {
  let text = '';
  if (e.nhid !== undefined) text += ` nhid ${e.nhid}`;
  if (e.gateway !== undefined) text += ` via ${e.gateway}`;
  if (e.scope !== undefined) text += ` scope ${e.scope}`;
  if (e.prefsrc !== undefined) text += ` src ${e.prefsrc}`;
  if (e.metric !== undefined) text += ` metric ${e.metric}`;
  if (e.mtu !== undefined) text += ` mtu ${e.mtu}`;
  for (const nh of e.nexthops ?? []) {
    text += ' nexthop';
    if (nh.gateway !== undefined) text += ` via ${nh.gateway}`;
    if (nh.interface !== '') text += ` dev ${nh.interface}`;
    text += ` weight ${nh.weight}`;
    if (nh.flags) text += ` ${nh.flags.join(' ')}`;
  }
  if (e.moreNexthops !== undefined) text += ` more_nexthops=${e.moreNexthops}`;
  return text;
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
      line += lifetimes(e);
      break;
    case 'address_state':
      line += ` ${e.family} ${e.address}/${e.prefixLength} scope=${e.scope}`;
      if (e.flags.length > 0) line += ` flags=${e.flags.join(',')}`;
      line += lifetimes(e);
      break;
    case 'route':
      line += ` ${e.family} table=${e.table} protocol=${e.protocol} type=${e.type} ${e.destination}${routeText(e)}`;
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
    case 'bond':
      line += formatBond(e);
      break;
    case 'netconf':
      line += ` ${e.family} ${e.setting}=${e.oldValue}->${e.value}`;
      break;
    case 'resync':
      line += ` reason=${e.reason}`;
      break;
    case 'setting':
      line += settingText(e);
      break;
    case 'bridge_port':
      line += ` bridge=${e.bridge} state=${e.previousState}->${e.state}`;
      break;
  }
  return line;
}

/**
 * A bond event's fields: `active=eth0->eth1` on failover and active_lost ("none" for no slave),
 * `bond=bond0 state=backup mii=up->down link_failures=3` on slave events.
 */
function formatBond(e: BondEvent): string {
  if (e.action === 'failover' || e.action === 'active_lost')
    return ` active=${value(e.previousActive || 'none')}->${value(e.active || 'none')}`;
  let line = ` bond=${value(e.bond)}`;
  if (e.state !== undefined) line += ` state=${e.state}`;
  if (e.mii !== undefined) line += ` mii=${e.previousMii !== undefined ? `${e.previousMii}->` : ''}${e.mii}`;
  if (e.linkFailures !== undefined) line += ` link_failures=${e.linkFailures}`;
  return line;
}

/** The event as one JSON object, seq and time first (the bus stamps them last). */
export function formatEventJson(e: DomainEvent): string {
  const { seq, time, ...rest } = e;
  return JSON.stringify({ seq, time, ...rest });
}
