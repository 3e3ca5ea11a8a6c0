import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatEventLine } from '../../../src/events/format';

test('human lines', () => {
  const base = { seq: 1, time: '2026-11-22T22:50:01.123Z', netns: 'lab', ifindex: 5, interface: 'veth0' };
  assert.equal(
    formatEventLine({
      ...base,
      kind: 'link',
      action: 'changed',
      state: { admin: 'up', oper: 'down', carrier: 'down' },
      previous: { admin: 'up', oper: 'up', carrier: 'up' },
    }),
    '2026-11-22T22:50:01.123Z netns=lab link changed veth0 ifindex=5 admin=up oper=up->down carrier=up->down',
  );
  assert.equal(
    formatEventLine({
      ...base,
      netns: '',
      kind: 'address',
      action: 'added',
      family: 'inet6',
      address: '2001:db8::1',
      prefixLength: 64,
      scope: 'global',
      flags: ['nodad', 'permanent'],
    }),
    '2026-11-22T22:50:01.123Z address added veth0 ifindex=5 inet6 2001:db8::1/64 scope=global flags=nodad,permanent',
  );
  assert.equal(
    formatEventLine({
      ...base,
      interface: '',
      ifindex: 0,
      kind: 'route',
      action: 'added',
      family: 'inet',
      table: 'main',
      protocol: 'bgp',
      type: 'unicast',
      destination: '*',
      count: 12,
    }),
    '2026-11-22T22:50:01.123Z netns=lab route added - ifindex=0 inet table=main protocol=bgp type=unicast * count=12',
  );
});

test('a DAD failure reads as one, and so does the removal that follows it; an ordinary removal does not', () => {
  const dad = {
    seq: 3,
    time: '2026-12-06T04:56:29.123Z',
    netns: 'lab',
    ifindex: 5,
    interface: 'veth0',
    kind: 'address' as const,
    family: 'inet6' as const,
    address: '2001:db8::1',
    prefixLength: 64,
    scope: 'global',
  };
  assert.equal(
    formatEventLine({ ...dad, action: 'dadfailed', flags: ['dadfailed', 'tentative', 'permanent'] }),
    '2026-12-06T04:56:29.123Z netns=lab address dadfailed veth0 ifindex=5 inet6 2001:db8::1/64 scope=global flags=dadfailed,tentative,permanent dad=failed',
  );
  assert.equal(
    formatEventLine({ ...dad, action: 'removed', flags: ['dadfailed', 'tentative'] }),
    '2026-12-06T04:56:29.123Z netns=lab address removed veth0 ifindex=5 inet6 2001:db8::1/64 scope=global flags=dadfailed,tentative dad=failed',
  );
  assert.equal(
    formatEventLine({ ...dad, action: 'removed', flags: ['permanent'] }),
    '2026-12-06T04:56:29.123Z netns=lab address removed veth0 ifindex=5 inet6 2001:db8::1/64 scope=global flags=permanent',
  );
});

test('a rule event prints the rule as `ip rule` does, without an interface', () => {
  assert.equal(
    formatEventLine({
      seq: 1,
      time: '2026-11-22T22:50:01.123Z',
      netns: 'lab',
      interface: '',
      ifindex: 0,
      kind: 'rule',
      action: 'added',
      family: 'inet',
      table: '100',
      priority: 32765,
      rule: '32765: from 10.1.0.0/16 lookup 100',
    }),
    '2026-11-22T22:50:01.123Z netns=lab rule added - inet 32765: from 10.1.0.0/16 lookup 100',
  );
});

test('a netconf event prints the setting as a transition; the namespace-wide entries print no ifindex', () => {
  const base = {
    seq: 1,
    time: '2026-11-22T22:50:01.123Z',
    netns: 'lab',
    kind: 'netconf',
    action: 'changed',
    family: 'inet',
  } as const;
  assert.equal(
    formatEventLine({ ...base, interface: 'all', ifindex: -1, setting: 'forwarding', oldValue: 'on', value: 'off' }),
    '2026-11-22T22:50:01.123Z netns=lab netconf changed all inet forwarding=on->off',
  );
  assert.equal(
    formatEventLine({ ...base, interface: 'veth0', ifindex: 5, setting: 'rp_filter', oldValue: 'off', value: 'loose' }),
    '2026-11-22T22:50:01.123Z netns=lab netconf changed veth0 ifindex=5 inet rp_filter=off->loose',
  );
});
