// IPv6 (and IPv4) address lifetimes from IFA_CACHEINFO: absolute deadlines kept from the seconds
// the kernel reports as left, steady across re-announces, gone with infinite lifetimes; the
// `address_state` events for DAD passing and for deprecation; the series under the bounds of
// netlink_address_info; and a resync dump that brings the lifetimes and flags back exact.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AF_INET,
  AF_INET6,
  IFA_F_DADFAILED,
  IFA_F_DEPRECATED,
  IFA_F_NODAD,
  IFA_F_PERMANENT,
  IFA_F_TENTATIVE,
  RTM_DELADDR,
  RTM_NEWADDR,
} from '../../../src/netlink/constants';
import type { AddressMessage } from '../../../src/netlink/types';
import { renderNetlinkMetrics } from '../../../src/metrics/render';
import { formatEventLine } from '../../../src/events/format';
import { INFINITE_LIFETIME, NO_DEADLINE } from '../../../src/state/address-lifetimes';
import type { DomainEvent, PendingEvent } from '../../../src/state/events';
import { NamespaceModel } from '../../../src/state/model';
import { namespaceSource, upLink } from '../../helpers/model-source';

const T0 = 1_800_000_000;

function setup(): { model: NamespaceModel; events: PendingEvent[]; clock: { now: number } } {
  const clock = { now: T0 + 0.4 };
  const events: PendingEvent[] = [];
  const model = new NamespaceModel({
    netns: 'lab',
    include: /^.*$/,
    exclude: undefined,
    maxTracked: 100,
    now: () => clock.now,
    onEvent: (e) => events.push(e),
  });
  model.link(upLink(1, 'lo'), 'initial-dump');
  model.link(upLink(2, 'eth0'), 'initial-dump');
  return { model, events, clock };
}

function addr(
  address: string,
  flags: number,
  valid: number | undefined,
  preferred: number | undefined,
  over: Partial<AddressMessage> = {},
): AddressMessage {
  const v6 = address.includes(':');
  return {
    type: RTM_NEWADDR,
    flags: 0,
    seq: 0,
    pid: 0,
    family: v6 ? AF_INET6 : AF_INET,
    prefixLength: v6 ? 64 : 24,
    addressFlags: flags,
    scope: 0,
    ifindex: 2,
    address,
    peer: undefined,
    label: undefined,
    broadcast: undefined,
    preferredLifetime: preferred,
    validLifetime: valid,
    protocol: undefined,
    ...over,
  };
}

const record = (model: NamespaceModel, key: string) => {
  const r = model.addresses.get(key);
  assert.ok(r, `no address ${key}`);
  return r;
};

/** The event as a human line without its time. */
const line = (e: PendingEvent): string =>
  formatEventLine({ ...(e as DomainEvent), seq: 1, time: 'T' }).replace(/^T /, '');

function lifetimeSeries(model: NamespaceModel, options = { addressInfo: true, addressInfoLinkLocal: false }): string[] {
  return Buffer.concat(renderNetlinkMetrics([namespaceSource(model)], options, '0.0.0'))
    .toString()
    .split('\n')
    .filter((l) => /^netlink_address_(valid|preferred)_until_timestamp_seconds\{/.test(l));
}

test('finite lifetimes are kept as absolute deadlines; re-announces within a second or two do not move them', () => {
  const { model, events, clock } = setup();
  model.address(addr('2001:db8::1', IFA_F_PERMANENT, 120, 3));
  const key = '2|2001:db8::1/64';
  assert.equal(record(model, key).validUntil, T0 + 120);
  assert.equal(record(model, key).preferredUntil, T0 + 3);
  assert.equal(events.length, 1);
  assert.equal(
    line(events[0]!),
    'netns=lab address added eth0 ifindex=2 inet6 2001:db8::1/64 scope=global flags=permanent valid_lft=120s preferred_lft=3s',
  );
  // Read 1.7 s later, the kernel says 119 left (it truncates): the same deadline.
  clock.now = T0 + 2.1;
  model.address(addr('2001:db8::1', IFA_F_PERMANENT, 119, 1));
  assert.equal(record(model, key).validUntil, T0 + 120);
  assert.equal(record(model, key).preferredUntil, T0 + 3);
  // Renewed (`ip addr change ... valid_lft 600`): the deadline moves.
  model.address(addr('2001:db8::1', IFA_F_PERMANENT, 600, 300));
  assert.equal(record(model, key).validUntil, T0 + 2 + 600);
  assert.equal(record(model, key).preferredUntil, T0 + 2 + 300);
  assert.deepEqual(lifetimeSeries(model), [
    `netlink_address_valid_until_timestamp_seconds{netns="lab",interface="eth0",family="inet6",address="2001:db8::1",prefix_length="64"} ${T0 + 602}`,
    `netlink_address_preferred_until_timestamp_seconds{netns="lab",interface="eth0",family="inet6",address="2001:db8::1",prefix_length="64"} ${T0 + 302}`,
  ]);
  // `valid_lft forever`: no deadline, no series; the change is no event (no add, no state change).
  model.address(addr('2001:db8::1', IFA_F_PERMANENT, INFINITE_LIFETIME, INFINITE_LIFETIME));
  assert.equal(record(model, key).validUntil, NO_DEADLINE);
  assert.equal(record(model, key).preferredUntil, NO_DEADLINE);
  assert.deepEqual(lifetimeSeries(model), []);
  assert.equal(events.length, 1);
  // Without IFA_CACHEINFO the deadlines known stay.
  model.address(addr('2001:db8::1', IFA_F_PERMANENT, 60, INFINITE_LIFETIME));
  model.address(addr('2001:db8::1', IFA_F_PERMANENT, undefined, undefined));
  assert.equal(record(model, key).validUntil, Math.floor(clock.now) + 60);
  assert.equal(record(model, key).preferredUntil, NO_DEADLINE);
  assert.equal(lifetimeSeries(model).length, 1);
});

test('deprecation and DAD completion are address_state events; a DAD failure stays an address dadfailed', () => {
  const { model, events, clock } = setup();
  model.address(addr('2001:db8::2', IFA_F_PERMANENT | IFA_F_TENTATIVE, 120, 3));
  model.address(addr('2001:db8::3', IFA_F_PERMANENT | IFA_F_NODAD, 120, 3));
  model.address(addr('2001:db8::4', IFA_F_PERMANENT | IFA_F_TENTATIVE, INFINITE_LIFETIME, INFINITE_LIFETIME));
  events.length = 0;
  clock.now = T0 + 1.5;
  // DAD passes on ::2; ::4 fails (another host holds it).
  model.address(addr('2001:db8::2', IFA_F_PERMANENT, 119, 2));
  model.address(
    addr('2001:db8::4', IFA_F_PERMANENT | IFA_F_TENTATIVE | IFA_F_DADFAILED, INFINITE_LIFETIME, INFINITE_LIFETIME),
  );
  clock.now = T0 + 3.6;
  // Preferred lifetime over: the kernel re-announces both with IFA_F_DEPRECATED.
  model.address(addr('2001:db8::2', IFA_F_PERMANENT | IFA_F_DEPRECATED, 117, 0));
  model.address(addr('2001:db8::3', IFA_F_PERMANENT | IFA_F_NODAD | IFA_F_DEPRECATED, 117, 0));
  // Repeats of the same state are no new events.
  model.address(addr('2001:db8::2', IFA_F_PERMANENT | IFA_F_DEPRECATED, 116, 0));
  model.address(addr('2001:db8::3', IFA_F_PERMANENT | IFA_F_NODAD | IFA_F_DEPRECATED, 116, 0));
  assert.deepEqual(events.map(line), [
    'netns=lab address_state dadcomplete eth0 ifindex=2 inet6 2001:db8::2/64 scope=global flags=permanent valid_lft=119s preferred_lft=2s',
    'netns=lab address dadfailed eth0 ifindex=2 inet6 2001:db8::4/64 scope=global flags=dadfailed,tentative,permanent dad=failed',
    'netns=lab address_state deprecated eth0 ifindex=2 inet6 2001:db8::2/64 scope=global flags=deprecated,permanent valid_lft=116s preferred_lft=0s',
    'netns=lab address_state deprecated eth0 ifindex=2 inet6 2001:db8::3/64 scope=global flags=nodad,deprecated,permanent valid_lft=116s preferred_lft=0s',
  ]);
  const e = events[0]!;
  assert.equal(e.kind, 'address_state');
  assert.deepEqual(
    {
      validLifetime: e.kind === 'address_state' ? e.validLifetime : -1,
      preferredLifetime: e.kind === 'address_state' ? e.preferredLifetime : -1,
    },
    { validLifetime: 119, preferredLifetime: 2 },
  );
});

test('the initial dump is quiet; a resync dump brings the flags and deadlines back and tells what changed', () => {
  const { model, events, clock } = setup();
  model.address(addr('2001:db8::5', IFA_F_PERMANENT | IFA_F_TENTATIVE, 300, 100), 'initial-dump');
  model.address(addr('10.9.0.1', IFA_F_PERMANENT, 200, 50), 'initial-dump');
  assert.equal(events.length, 0);
  assert.equal(lifetimeSeries(model).length, 4, 'IPv4 lifetimes too');
  // Lost in an overrun: DAD passed, the lifetimes were renewed, 10.9.0.1 went.
  clock.now = T0 + 40;
  model.beginSweep();
  model.link(upLink(1, 'lo'), 'resync-dump');
  model.link(upLink(2, 'eth0'), 'resync-dump');
  model.address(addr('2001:db8::5', IFA_F_PERMANENT, 900, 400), 'resync-dump');
  model.sweep();
  assert.equal(record(model, '2|2001:db8::5/64').validUntil, T0 + 40 + 900);
  assert.equal(record(model, '2|2001:db8::5/64').preferredUntil, T0 + 40 + 400);
  assert.equal(model.addresses.has('2|10.9.0.1/24'), false);
  assert.deepEqual(events.map(line), [
    'netns=lab address_state dadcomplete eth0 ifindex=2 inet6 2001:db8::5/64 scope=global flags=permanent valid_lft=900s preferred_lft=400s',
    'netns=lab address removed eth0 ifindex=2 inet 10.9.0.1/24 scope=global flags=permanent valid_lft=160s preferred_lft=10s',
  ]);
  assert.equal(lifetimeSeries(model).length, 2);
  // A removal takes the series with it.
  model.address(addr('2001:db8::5', IFA_F_PERMANENT, 900, 400, { type: RTM_DELADDR }));
  assert.deepEqual(lifetimeSeries(model), []);
});

test('the series keep the bounds of netlink_address_info: off with it, link-local only with its switch', () => {
  const { model } = setup();
  model.address(addr('2001:db8::6', IFA_F_PERMANENT, 100, 50));
  model.address(addr('fe80::6', IFA_F_PERMANENT, 100, 50));
  // A plain pod's addresses: permanent with infinite lifetimes: no series.
  model.address(addr('10.1.2.3', IFA_F_PERMANENT, INFINITE_LIFETIME, INFINITE_LIFETIME, { prefixLength: 32 }));
  model.address(addr('fe80::1', IFA_F_PERMANENT, INFINITE_LIFETIME, INFINITE_LIFETIME));
  assert.equal(lifetimeSeries(model).length, 2);
  assert.equal(lifetimeSeries(model, { addressInfo: true, addressInfoLinkLocal: true }).length, 4);
  assert.equal(lifetimeSeries(model, { addressInfo: false, addressInfoLinkLocal: true }).length, 0);
});
