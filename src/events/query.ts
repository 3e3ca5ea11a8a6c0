// The query of /api/v1/events, its stream and the /events page: a `since` cursor, a `limit`, and
// filters by kind, interface and namespace. One parser for all three, so a filter means the same
// everywhere. Bad input is a QueryError whose message names the parameter.

import type { DomainEvent, EventKind } from '../state/events';

export const EVENT_KINDS: readonly EventKind[] = [
  'link',
  'flap',
  'address',
  'address_state',
  'route',
  'rule',
  'nexthop',
  'neighbour',
  'vip',
  'bond',
  'netconf',
  'resync',
  'setting',
  'bridge_port',
];

/** The filters: what the /events page takes (it has no cursor or limit of its own). */
export const FILTER_PARAMS: readonly string[] = ['kind', 'interface', 'netns'];
/** Most values one list filter (`kind`, `netns`) may hold, over all its repetitions. */
export const MAX_FILTER_VALUES = 64;
/** Longest `netns` value: as a `netns` entry of the config (a name or a path). */
export const MAX_NETNS_LENGTH = 4096;
/** Longest `interface` value, in bytes: IFNAMSIZ - 1, no interface name is longer. */
export const MAX_INTERFACE_BYTES = 15;

export class QueryError extends Error {}

/** The filters as parsed: undefined where not set. */
export interface EventFilters {
  /** Without repetitions, in the order given. */
  kinds?: readonly EventKind[];
  interface?: string;
  /** "" is the exporter's own namespace. Without repetitions, in the order given. */
  netns?: readonly string[];
}

export interface EventQuery {
  /** Events with seq > since. */
  since: number;
  limit: number;
  /** Undefined when no filter is set. */
  match: ((event: DomainEvent) => boolean) | undefined;
  filters: EventFilters;
}

const PARAMS = ['since', 'limit', ...FILTER_PARAMS];
/** Parameters that may be given more than once (their values add up). */
const REPEATABLE = new Set(['netns']);

/** A cursor: a whole number >= 0 (seq starts at 1; 0 means "from the oldest held"). */
export function parseCursor(name: string, text: string): number {
  const n = /^\d{1,16}$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n))
    throw new QueryError(`${name}: must be a whole number >= 0 (an event seq), is ${JSON.stringify(text)}`);
  return n;
}

/** A value for an error message: quoted, and cut short when long. */
function shown(text: string): string {
  return JSON.stringify(text.length > 64 ? `${text.slice(0, 64)}...` : text);
}

/** The comma-separated values of every repetition of `key`, bounded in count, without repeats. */
function listValues(params: URLSearchParams, key: string): string[] {
  const values: string[] = [];
  for (const text of params.getAll(key)) {
    for (const v of text.split(',')) {
      if (values.length === MAX_FILTER_VALUES) throw new QueryError(`${key}: more than ${MAX_FILTER_VALUES} values`);
      values.push(v);
    }
  }
  return [...new Set(values)];
}

/**
 * Parses the query string of /api/v1/events, its stream or the /events page. `capacity` (the
 * ring's) is the default and the largest `limit`. `allow` restricts which parameters this path
 * takes.
 */
export function parseEventQuery(
  params: URLSearchParams,
  capacity: number,
  allow: readonly string[] = PARAMS,
): EventQuery {
  for (const key of new Set(params.keys())) {
    if (!allow.includes(key)) throw new QueryError(`unknown parameter ${shown(key)}: use ${allow.join(', ')}`);
    if (!REPEATABLE.has(key) && params.getAll(key).length > 1) throw new QueryError(`${key}: given more than once`);
  }
  const sinceText = params.get('since');
  const since = sinceText === null ? 0 : parseCursor('since', sinceText);
  const limitText = params.get('limit');
  let limit = capacity;
  if (limitText !== null) {
    limit = /^\d{1,16}$/.test(limitText) ? Number(limitText) : NaN;
    if (!(limit >= 1 && limit <= capacity))
      throw new QueryError(
        `limit: must be a whole number from 1 to ${capacity} (events.buffer_size), is ${shown(limitText)}`,
      );
  }
  const filters: { kinds?: EventKind[]; interface?: string; netns?: string[] } = {};
  const tests: ((e: DomainEvent) => boolean)[] = [];
  if (params.has('kind')) {
    const kinds = listValues(params, 'kind');
    for (const k of kinds) {
      if (!(EVENT_KINDS as readonly string[]).includes(k)) {
        throw new QueryError(`kind: ${shown(k)} is not one of ${EVENT_KINDS.join(', ')} (several: kind=link,flap)`);
      }
    }
    filters.kinds = kinds as EventKind[];
    const set = new Set<string>(kinds);
    tests.push((e) => set.has(e.kind));
  }
  const iface = params.get('interface');
  if (iface !== null) {
    if (iface === '') throw new QueryError('interface: must not be empty');
    if (Buffer.byteLength(iface, 'utf8') > MAX_INTERFACE_BYTES)
      throw new QueryError(`interface: at most ${MAX_INTERFACE_BYTES} bytes (an interface name), is ${shown(iface)}`);
    filters.interface = iface;
    tests.push((e) => e.interface === iface);
  }
  if (params.has('netns')) {
    const names = listValues(params, 'netns');
    for (const name of names) {
      if (name.length > MAX_NETNS_LENGTH)
        throw new QueryError(`netns: at most ${MAX_NETNS_LENGTH} characters, is ${shown(name)}`);
    }
    filters.netns = names;
    const set = new Set(names);
    tests.push((e) => set.has(e.netns));
  }
  const match = tests.length === 0 ? undefined : (e: DomainEvent) => tests.every((t) => t(e));
  return { since, limit, match, filters };
}

/**
 * The filters in words, for the page: `kind flap, link · netns lab, (own namespace)`; "" when
 * none is set.
 */
export function describeFilters(f: EventFilters): string {
  const parts: string[] = [];
  if (f.kinds) parts.push(`kind ${f.kinds.join(', ')}`);
  if (f.interface !== undefined) parts.push(`interface ${f.interface}`);
  if (f.netns) parts.push(`netns ${f.netns.map((n) => (n === '' ? "(the exporter's own)" : n)).join(', ')}`);
  return parts.join(' \u00b7 ');
}
