// The one parser of the event filters (src/events/query.ts), shared by /api/v1/events, its
// stream and the /events page: the netns filter (repeated, comma-separated, "" for our own), the
// bounds on counts and lengths, the parsed filters the page shows, and the allow list a path
// passes. The cursor, limit and the other filters are in ring.test.ts.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  describeFilters,
  FILTER_PARAMS,
  MAX_FILTER_VALUES,
  MAX_NETNS_LENGTH,
  parseEventQuery,
  QueryError,
} from '../../../src/events/query';
import type { DomainEvent } from '../../../src/state/events';

function flap(netns: string, iface = 'eth0'): DomainEvent {
  return {
    seq: 1,
    time: '2026-12-06T04:56:29.123Z',
    netns,
    kind: 'flap',
    action: 'down',
    interface: iface,
    ifindex: 2,
    flaps: 1,
    oper: 'down',
  };
}

const parse = (q: string, allow?: readonly string[]) => parseEventQuery(new URLSearchParams(q), 100, allow);
/** parse(q) throws a QueryError whose message matches `why`. */
function refused(q: string, why: RegExp, allow?: readonly string[]): void {
  assert.throws(
    () => parse(q, allow),
    (err: unknown) => err instanceof QueryError && why.test(err.message),
    `${q.slice(0, 80)}: ${why}`,
  );
}

const matches = (q: string, e: DomainEvent): boolean => parse(q).match!(e);

test('netns: one, comma-separated, repeated, or both; "" is the exporter\'s own', () => {
  assert.equal(matches('netns=lab', flap('lab')), true);
  assert.equal(matches('netns=lab', flap('lab2')), false, 'exact, not a prefix');
  assert.equal(matches('netns=la', flap('lab')), false, 'exact, not a substring');
  assert.equal(matches('netns=lab,pod-1', flap('pod-1')), true);
  assert.equal(matches('netns=lab&netns=pod-1', flap('pod-1')), true);
  assert.equal(matches('netns=lab&netns=pod-1,pod-2', flap('pod-2')), true);
  assert.equal(matches('netns=lab&netns=pod-1', flap('pod-3')), false);
  assert.equal(matches('netns=', flap('')), true);
  assert.equal(matches('netns=', flap('lab')), false);
  assert.equal(matches('netns=,lab', flap('')), true);
  assert.equal(matches('netns=,lab', flap('lab')), true);
  assert.equal(matches('netns=%2Frun%2Fnetns%2Flab', flap('/run/netns/lab')), true, 'a --netns path');
  assert.equal(matches('netns=lab&kind=flap&interface=eth1', flap('lab')), false, 'every filter must match');
  assert.deepEqual(parse('netns=lab&netns=lab,pod-1').filters, { netns: ['lab', 'pod-1'] }, 'repeats once');
});

test('the parsed filters, and in words for the page', () => {
  const q = parse('kind=flap,link&interface=eth0&netns=,lab');
  assert.deepEqual(q.filters, { kinds: ['flap', 'link'], interface: 'eth0', netns: ['', 'lab'] });
  assert.equal(
    describeFilters(q.filters),
    "kind flap, link \u00b7 interface eth0 \u00b7 netns (the exporter's own), lab",
  );
  assert.deepEqual(parse('').filters, {});
  assert.equal(describeFilters({}), '');
});

test("bounds: at most 64 values per list, netns names and interface names not longer than the kernel's", () => {
  const many = Array.from({ length: MAX_FILTER_VALUES }, (_, i) => `ns${i}`);
  assert.equal(parse(`netns=${many.join(',')}`).filters.netns!.length, MAX_FILTER_VALUES);
  refused(`netns=${[...many, 'one-more'].join(',')}`, /^netns: more than 64 values$/);
  refused(`${many.map((n) => `netns=${n}`).join('&')}&netns=x`, /^netns: more than 64 values$/);
  refused(
    `kind=${Array(MAX_FILTER_VALUES + 1)
      .fill('link')
      .join(',')}`,
    /^kind: more than 64/,
  );
  assert.equal(parse(`netns=${'n'.repeat(MAX_NETNS_LENGTH)}`).filters.netns![0]!.length, MAX_NETNS_LENGTH);
  assert.throws(
    () => parse(`netns=${'n'.repeat(MAX_NETNS_LENGTH + 1)}`),
    (err: unknown) =>
      err instanceof QueryError && /^netns: at most 4096 characters, is "n{64}\.\.\."$/.test(err.message),
    'the message quotes a long value cut short',
  );
  assert.equal(parse('interface=abcdefghijklmno').filters.interface, 'abcdefghijklmno');
  refused('interface=abcdefghijklmnop', /^interface: at most 15 bytes/);
  refused('interface=%C3%A9abcdefghijklmn', /^interface: at most 15 bytes/);
});

test('only netns may repeat; the page takes the filters and nothing else', () => {
  refused('kind=flap&kind=link', /^kind: given more than once$/);
  refused('interface=a&interface=b', /^interface: given more than once$/);
  assert.deepEqual(FILTER_PARAMS, ['kind', 'interface', 'netns']);
  assert.deepEqual(parse('kind=flap&netns=lab', FILTER_PARAMS).filters, { kinds: ['flap'], netns: ['lab'] });
  refused('since=5', /^unknown parameter "since": use kind, interface, netns$/, FILTER_PARAMS);
  refused('kind=flop', /^kind: "flop" is not one of/, FILTER_PARAMS);
});
