import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventRing } from '../../../src/events/ring';
import { parseEventQuery, QueryError } from '../../../src/events/query';
import type { DomainEvent } from '../../../src/state/events';

function flap(seq: number, iface = 'eth0', netns = ''): DomainEvent {
  return {
    seq,
    time: '2026-11-22T22:50:01.123Z',
    netns,
    kind: 'flap',
    action: 'down',
    interface: iface,
    ifindex: 2,
    flaps: 1,
    oper: 'down',
  };
}

function address(seq: number, iface = 'eth0'): DomainEvent {
  return {
    seq,
    time: '2026-11-22T22:50:01.123Z',
    netns: 'lab',
    kind: 'address',
    action: 'added',
    interface: iface,
    ifindex: 3,
    family: 'inet',
    address: '192.0.2.1',
    prefixLength: 24,
    scope: 'global',
    flags: ['permanent'],
  };
}

const seqs = (events: DomainEvent[]): number[] => events.map((e) => e.seq);
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

test('an empty ring: nothing held, oldest is the first seq to come', () => {
  const ring = new EventRing(4);
  assert.equal(ring.size, 0);
  assert.equal(ring.latest, 0);
  assert.equal(ring.oldest, 1);
  assert.deepEqual(ring.since(0), []);
  assert.deepEqual(ring.scan(0), { events: [], next: 0, more: false });
});

test('before it fills, since returns the events after the cursor, oldest first', () => {
  const ring = new EventRing(5);
  for (let s = 1; s <= 3; s++) ring.push(flap(s));
  assert.deepEqual(seqs(ring.since(0)), [1, 2, 3]);
  assert.deepEqual(seqs(ring.since(1)), [2, 3]);
  assert.deepEqual(seqs(ring.since(3)), []);
  assert.deepEqual(seqs(ring.since(99)), []);
  assert.equal(ring.oldest, 1);
  assert.equal(ring.latest, 3);
  assert.equal(ring.size, 3);
});

test('once full, the oldest events are overwritten and the cursor still finds its place', () => {
  const ring = new EventRing(4);
  for (let s = 1; s <= 10; s++) {
    ring.push(flap(s));
    assert.equal(ring.latest, s);
    assert.equal(ring.oldest, Math.max(1, s - 3));
    assert.equal(ring.size, Math.min(s, 4));
    // Every cursor from before the oldest to past the newest.
    for (let since = 0; since <= s + 1; since++) {
      assert.deepEqual(
        seqs(ring.since(since)),
        range(Math.max(since + 1, ring.oldest), s),
        `since=${since} after ${s} pushes`,
      );
    }
  }
});

test('the limit cuts from the oldest side, and next continues where it stopped', () => {
  const ring = new EventRing(8);
  for (let s = 1; s <= 12; s++) ring.push(flap(s));
  let page = ring.scan(0, 3);
  assert.deepEqual(seqs(page.events), [5, 6, 7]);
  assert.equal(page.more, true);
  assert.equal(page.next, 7);
  page = ring.scan(page.next, 3);
  assert.deepEqual(seqs(page.events), [8, 9, 10]);
  page = ring.scan(page.next, 3);
  assert.deepEqual(seqs(page.events), [11, 12]);
  assert.equal(page.more, false);
  assert.equal(page.next, 12);
  assert.deepEqual(ring.scan(12, 3), { events: [], next: 12, more: false });
});

test('a filter: the limit counts matches, next skips past events that do not match', () => {
  const ring = new EventRing(10);
  // 1 flap eth0, 2 address eth0, 3 flap eth1, 4 address eth1, ... 10 address eth1
  for (let s = 1; s <= 10; s++)
    ring.push(s % 2 ? flap(s, s % 4 === 1 ? 'eth0' : 'eth1') : address(s, s % 4 === 2 ? 'eth0' : 'eth1'));
  const flaps = (e: DomainEvent): boolean => e.kind === 'flap';
  assert.deepEqual(seqs(ring.since(0, 10, flaps)), [1, 3, 5, 7, 9]);
  let page = ring.scan(0, 2, flaps);
  assert.deepEqual([seqs(page.events), page.next, page.more], [[1, 3], 3, true]);
  page = ring.scan(page.next, 3, flaps);
  assert.deepEqual(
    [seqs(page.events), page.next, page.more],
    [[5, 7, 9], 10, false],
    'nothing left to match: next is the newest seq',
  );
  // The last match exactly at the limit, with non-matching events after it: no more.
  page = ring.scan(0, 5, flaps);
  assert.deepEqual([page.events.length, page.next, page.more], [5, 10, false]);
  assert.deepEqual(
    ring.scan(0, 5, () => false),
    { events: [], next: 10, more: false },
  );
});

test('pushing a seq that does not increase is a programming error', () => {
  const ring = new EventRing(3);
  ring.push(flap(5));
  assert.throws(() => ring.push(flap(5)), RangeError);
  assert.throws(() => ring.push(flap(4)), RangeError);
  assert.throws(() => new EventRing(0), RangeError);
  assert.throws(() => new EventRing(1.5), RangeError);
});

test('a ring of one keeps the newest event', () => {
  const ring = new EventRing(1);
  ring.push(flap(1));
  ring.push(flap(2));
  assert.deepEqual(seqs(ring.since(0)), [2]);
  assert.equal(ring.oldest, 2);
});

test('holds a large buffer without scanning it all for a recent cursor', () => {
  const ring = new EventRing(100_000);
  for (let s = 1; s <= 250_000; s++) ring.push(flap(s));
  assert.equal(ring.oldest, 150_001);
  assert.deepEqual(seqs(ring.since(249_998)), [249_999, 250_000]);
  assert.equal(ring.since(0).length, 100_000);
});

// ---------------------------------------------------------------------------------------------
// The query of /api/v1/events

const parse = (q: string, capacity = 100) => parseEventQuery(new URLSearchParams(q), capacity);

test('query defaults: since 0, limit = capacity, no filter', () => {
  const q = parse('');
  assert.equal(q.since, 0);
  assert.equal(q.limit, 100);
  assert.equal(q.match, undefined);
  assert.equal(parse('since=42&limit=7').since, 42);
  assert.equal(parse('since=42&limit=7').limit, 7);
  assert.equal(parse('limit=100').limit, 100);
});

test('query filters: kind (one or several), exact interface, netns ("" is our own)', () => {
  const match = (q: string, e: DomainEvent): boolean => parse(q).match!(e);
  assert.equal(match('kind=flap', flap(1)), true);
  assert.equal(match('kind=flap', address(1)), false);
  assert.equal(match('kind=address,flap', address(1)), true);
  assert.equal(match('interface=eth0', flap(1, 'eth0')), true);
  assert.equal(match('interface=eth', flap(1, 'eth0')), false);
  assert.equal(match('interface=v%C3%A9th%200', flap(1, 'véth 0')), true);
  assert.equal(match('netns=', flap(1, 'eth0', '')), true);
  assert.equal(match('netns=', flap(1, 'eth0', 'lab')), false);
  assert.equal(match('netns=lab&kind=flap&interface=eth0', flap(1, 'eth0', 'lab')), true);
  assert.equal(match('netns=lab&kind=flap&interface=eth1', flap(1, 'eth0', 'lab')), false);
});

for (const [q, why] of [
  ['since=-1', /^since: must be a whole number >= 0/],
  ['since=abc', /^since: .*"abc"/],
  ['since=1.5', /^since:/],
  ['since=99999999999999999', /^since:/],
  ['since=', /^since:/],
  ['limit=0', /^limit: must be a whole number from 1 to 100/],
  ['limit=101', /^limit: .*"101"/],
  ['limit=ten', /^limit:/],
  [
    'kind=flop',
    /^kind: "flop" is not one of link, flap, address, address_state, route, rule, nexthop, neighbour, vip, bond, netconf, resync, setting, bridge_port/,
  ],
  ['kind=', /^kind: "" is not one of/],
  ['kind=link,', /^kind: "" is not one of/],
  ['interface=', /^interface: must not be empty/],
  ['since=1&since=2', /^since: given more than once/],
  ['sinse=1', /^unknown parameter "sinse": use since, limit, kind, interface, netns/],
] as const) {
  test(`a bad query is refused with the reason: ${q}`, () => {
    assert.throws(
      () => parse(q),
      (err: unknown) => err instanceof QueryError && why.test(err.message),
    );
  });
}
