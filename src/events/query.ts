// The query of /api/v1/events and its stream: a `since` cursor, a `limit`, and filters by kind,
// interface and namespace. Bad input is a QueryError whose message names the parameter.

import type { DomainEvent, EventKind } from '../state/events';

export const EVENT_KINDS: readonly EventKind[] = [
  'link',
  'flap',
  'address',
  'route',
  'rule',
  'neighbour',
  'vip',
  'resync',
];

export class QueryError extends Error {}

export interface EventQuery {
  /** Events with seq > since. */
  since: number;
  limit: number;
  /** Undefined when no filter is set. */
  match: ((event: DomainEvent) => boolean) | undefined;
}

const PARAMS = ['since', 'limit', 'kind', 'interface', 'netns'];

/** A cursor: a whole number >= 0 (seq starts at 1; 0 means "from the oldest held"). */
export function parseCursor(name: string, text: string): number {
  const n = /^\d{1,16}$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n))
    throw new QueryError(`${name}: must be a whole number >= 0 (an event seq), is ${JSON.stringify(text)}`);
  return n;
}

/**
 * Parses the query string of /api/v1/events or its stream. `capacity` (the ring's) is the
 * default and the largest `limit`. `allow` restricts which parameters this path takes.
 */
export function parseEventQuery(
  params: URLSearchParams,
  capacity: number,
  allow: readonly string[] = PARAMS,
): EventQuery {
  for (const key of new Set(params.keys())) {
    if (!allow.includes(key)) throw new QueryError(`unknown parameter ${JSON.stringify(key)}: use ${allow.join(', ')}`);
    if (params.getAll(key).length > 1) throw new QueryError(`${key}: given more than once`);
  }
  const sinceText = params.get('since');
  const since = sinceText === null ? 0 : parseCursor('since', sinceText);
  const limitText = params.get('limit');
  let limit = capacity;
  if (limitText !== null) {
    limit = /^\d{1,16}$/.test(limitText) ? Number(limitText) : NaN;
    if (!(limit >= 1 && limit <= capacity))
      throw new QueryError(
        `limit: must be a whole number from 1 to ${capacity} (events.buffer_size), is ${JSON.stringify(limitText)}`,
      );
  }
  const tests: ((e: DomainEvent) => boolean)[] = [];
  const kindText = params.get('kind');
  if (kindText !== null) {
    const kinds = kindText.split(',');
    for (const k of kinds) {
      if (!(EVENT_KINDS as readonly string[]).includes(k)) {
        throw new QueryError(
          `kind: ${JSON.stringify(k)} is not one of ${EVENT_KINDS.join(', ')} (several: kind=link,flap)`,
        );
      }
    }
    const set = new Set(kinds);
    tests.push((e) => set.has(e.kind));
  }
  const iface = params.get('interface');
  if (iface !== null) {
    if (iface === '') throw new QueryError('interface: must not be empty');
    tests.push((e) => e.interface === iface);
  }
  const netns = params.get('netns');
  if (netns !== null) tests.push((e) => e.netns === netns);
  const match = tests.length === 0 ? undefined : (e: DomainEvent) => tests.every((t) => t(e));
  return { since, limit, match };
}
