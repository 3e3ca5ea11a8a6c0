// The rule set: counts per (family, table), duplicates, the cap, and the resync's mark and sweep.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AF_INET, AF_INET6, RTM_DELRULE, RTM_NEWRULE } from '../../../src/netlink/constants';
import type { RuleMessage } from '../../../src/netlink/types';
import type { PendingEvent } from '../../../src/state/events';
import type { MessageOrigin } from '../../../src/session/sink';
import { RuleSet } from '../../../src/state/rule-set';

function rule(type: number, family: number, priority: number, table: number, src?: string): RuleMessage {
  return {
    type,
    flags: 0,
    seq: 0,
    pid: 0,
    family,
    dstLength: 0,
    srcLength: src === undefined ? 0 : family === AF_INET ? 32 : 128,
    tos: 0,
    table,
    action: 1,
    ruleFlags: 0,
    priority,
    src,
  };
}

function setup(max?: number): { set: RuleSet; events: string[] } {
  const events: string[] = [];
  const outlet = {
    netns: 'ns',
    onEvent: (e: PendingEvent) => void events.push(`${e.action} ${'rule' in e ? e.rule : ''}`),
    routeGate: undefined,
  };
  return { set: new RuleSet(outlet, max), events };
}

const add = (set: RuleSet, m: RuleMessage, origin: MessageOrigin = 'notification') => set.rule(m, origin);

test('the initial dump is quiet; notifications count and tell; an emptied group stays at 0; other families are ignored', () => {
  const { set, events } = setup();
  add(set, rule(RTM_NEWRULE, AF_INET, 0, 255), 'initial-dump');
  add(set, rule(RTM_NEWRULE, AF_INET6, 32766, 254), 'initial-dump');
  add(set, rule(RTM_NEWRULE, 128, 0, 255), 'initial-dump'); // RTNL_FAMILY_IPMR
  assert.deepEqual(
    [...set.counts],
    [
      ['inet|local', 1],
      ['inet6|main', 1],
    ],
  );
  assert.deepEqual(events, []);
  add(set, rule(RTM_NEWRULE, AF_INET, 100, 300, '10.0.0.1'));
  add(set, rule(RTM_DELRULE, AF_INET, 100, 300, '10.0.0.1'));
  add(set, rule(RTM_DELRULE, AF_INET, 100, 300, '10.0.0.1')); // not held: nothing
  assert.equal(set.counts.get('inet|300'), 0);
  assert.deepEqual(set.changes, [
    [1, 1],
    [0, 0],
  ]);
  assert.deepEqual(events, ['added 100: from 10.0.0.1 lookup 300', 'removed 100: from 10.0.0.1 lookup 300']);
});

test('an identical rule added twice (no NLM_F_EXCL) is held twice; a delete removes one', () => {
  const { set } = setup();
  add(set, rule(RTM_NEWRULE, AF_INET, 5, 100));
  add(set, rule(RTM_NEWRULE, AF_INET, 5, 100));
  assert.equal(set.counts.get('inet|100'), 2);
  add(set, rule(RTM_DELRULE, AF_INET, 5, 100));
  assert.equal(set.counts.get('inet|100'), 1);
  assert.equal(set.size, 1);
});

test('past the cap a new rule is dropped and counted', () => {
  const { set } = setup(2);
  for (let p = 1; p <= 3; p++) add(set, rule(RTM_NEWRULE, AF_INET, p, 100));
  assert.equal(set.counts.get('inet|100'), 2);
  assert.equal(set.dropped, 1);
  assert.equal(set.records.size, 2);
});

test('a resync: listed rules stay quiet, new ones are added, unlisted ones (and surplus duplicates) are removed', () => {
  const { set, events } = setup();
  add(set, rule(RTM_NEWRULE, AF_INET, 1, 100), 'initial-dump');
  add(set, rule(RTM_NEWRULE, AF_INET, 2, 100), 'initial-dump');
  add(set, rule(RTM_NEWRULE, AF_INET, 2, 100), 'initial-dump');
  add(set, rule(RTM_NEWRULE, AF_INET6, 3, 100), 'initial-dump');
  set.beginSweep();
  add(set, rule(RTM_NEWRULE, AF_INET, 1, 100), 'resync-dump');
  add(set, rule(RTM_NEWRULE, AF_INET, 2, 100), 'resync-dump');
  add(set, rule(RTM_NEWRULE, AF_INET6, 4, 200), 'resync-dump');
  add(set, rule(RTM_NEWRULE, AF_INET6, 4, 200), 'resync-dump');
  set.sweep();
  assert.deepEqual([...set.counts].sort(), [
    ['inet6|100', 0],
    ['inet6|200', 2],
    ['inet|100', 2],
  ]);
  assert.deepEqual(set.changes, [
    [0, 1],
    [2, 1],
  ]);
  assert.deepEqual(events, [
    'added 4: from all lookup 200',
    'added 4: from all lookup 200',
    'removed 2: from all lookup 100',
    'removed 3: from all lookup 100',
  ]);
});

test('during a resync a notification is the truth of its rule, whether the dump lists it before or after', () => {
  const { set } = setup();
  set.beginSweep();
  // Added after the dump passed its place: the dump never lists it, the sweep keeps it.
  add(set, rule(RTM_NEWRULE, AF_INET, 7, 100));
  // Added before the dump reached it: the notification, then the dump's reply for the same rule.
  add(set, rule(RTM_NEWRULE, AF_INET, 8, 100));
  add(set, rule(RTM_NEWRULE, AF_INET, 8, 100), 'resync-dump');
  set.sweep();
  assert.equal(set.counts.get('inet|100'), 2);
  assert.deepEqual(set.changes[0], [2, 0]);
});
