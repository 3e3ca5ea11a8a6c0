// Property test of the flap rule (src/state/links.ts countFlaps) against a reference: a small
// simulated kernel device whose true state is known, driven by random actions, emits the
// RTM_NEWLINK/RTM_DELLINK messages the kernel would (immediate messages for admin and
// dormant changes; carrier changes counted at once but reported by linkwatch later, coalesced;
// other notifiers that carry the live carrier with a stale operstate, as a bridge that loses
// its last port does; the carrier bit seen before its counter moved; dev_close before a
// deletion). The reference counts the true outages: times the device left service (admin up,
// carrier, not dormant), a deletion excluded. The model must count exactly as many.
//
// FUZZ_RUNS sets the sequences (default 1000, a few seconds); FUZZ_SEED replays one.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';

import {
  IFF_DORMANT,
  IFF_LOWER_UP,
  IFF_RUNNING,
  IFF_UP,
  RTM_DELLINK,
  RTM_NEWLINK,
} from '../../../src/netlink/constants';
import type { LinkMessage } from '../../../src/netlink/types';
import { NamespaceModel } from '../../../src/state/model';
import { MessageDispatch } from '../../../src/session/dispatch';
import { SessionCounters } from '../../../src/session/session-counters';
import type { LinkRecord } from '../../../src/state/links';

const RUNS = Number(process.env.FUZZ_RUNS ?? 1000);
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
const params = SEED === undefined ? { numRuns: RUNS } : { numRuns: RUNS, seed: SEED };

const OPER_UNKNOWN = 0;
const OPER_DOWN = 2;
const OPER_LOWERLAYERDOWN = 3;
const OPER_DORMANT = 5;
const OPER_UP = 6;
const CHANGE_ALL = 0xffffffff;

/**
 * How the device behaves: `veth` loses its carrier when closed (veth_close) and reports
 * UP/DOWN/LOWERLAYERDOWN; `keep` keeps its carrier when closed (ifb, bridge without ports
 * aside); `unknown` reports operstate UNKNOWN while up (tun, ifb), so it is in service by
 * IFF_LOWER_UP.
 */
type Kind = 'veth' | 'keep' | 'unknown';

type Action =
  | { a: 'carrierOff'; race: boolean }
  | { a: 'carrierOn' }
  | { a: 'linkwatch' }
  | { a: 'other' }
  | { a: 'adminDown' }
  | { a: 'adminUp'; carrier: boolean }
  | { a: 'dormant'; on: boolean }
  | { a: 'close' }
  | { a: 'answer' }
  | { a: 'delete' }
  | { a: 'lose'; messages: number };

class Device {
  admin: boolean;
  carrier: boolean;
  dormant = false;
  downs = 7;
  ups = 7;
  /** operstate as the kernel last computed it (linkwatch lags behind the carrier). */
  oper: number;
  linkwatchPending = false;
  deleted = false;
  /** Messages the socket loses from now on (an overrun). */
  lose = 0;
  /** Whether messages were lost since the last resync; ever. */
  lost = false;
  lostEver = false;
  /** Outages so far, the reference's count. */
  outages = 0;
  /** What the socket delivers, in order; `lost` where an overrun dropped messages. */
  readonly out: (LinkMessage | 'lost')[] = [];

  constructor(
    readonly kind: Kind,
    readonly ifindex: number,
    admin: boolean,
    carrier: boolean,
  ) {
    this.admin = admin;
    // A veth that is down has no carrier (veth_close).
    this.carrier = carrier && (admin || kind !== 'veth');
    this.oper = this.computeOper();
    this.emit(RTM_NEWLINK, CHANGE_ALL);
  }

  inService(): boolean {
    return this.admin && this.carrier && !this.dormant;
  }

  /** rfc2863_policy, roughly: admin down DOWN, no carrier LOWERLAYERDOWN, dormant DORMANT, else UP (UNKNOWN for `unknown`). */
  computeOper(): number {
    if (!this.admin) return OPER_DOWN;
    if (!this.carrier) return this.kind === 'unknown' ? OPER_UNKNOWN : OPER_LOWERLAYERDOWN;
    if (this.dormant) return OPER_DORMANT;
    return this.kind === 'unknown' ? OPER_UNKNOWN : OPER_UP;
  }

  /** The message the current state gives, as a dump reply to port `pid` would carry it too. */
  emit(type: number, change: number, downs = this.downs, pid = 0): void {
    if (pid === 0 && this.lose > 0) {
      this.lose--;
      if (!this.lost) this.out.push('lost');
      this.lost = true;
      this.lostEver = true;
      return;
    }
    const upish = this.oper === OPER_UP || this.oper === OPER_UNKNOWN;
    const ifFlags =
      (this.admin ? IFF_UP : 0) |
      (this.admin && this.carrier ? IFF_LOWER_UP : 0) |
      (this.admin && upish && this.carrier ? IFF_RUNNING : 0) |
      (this.admin && this.dormant ? IFF_DORMANT : 0) |
      0x1000;
    this.out.push({
      type,
      flags: 0,
      seq: 0,
      pid,
      family: 0,
      deviceType: 1,
      ifindex: this.ifindex,
      ifFlags,
      change,
      name: `fz${this.ifindex}`,
      operstate: this.oper,
      carrier: this.carrier ? 1 : 0,
      carrierChanges: downs + this.ups,
      carrierUpCount: this.ups,
      carrierDownCount: downs,
    });
  }

  /** Applies an action; the reference counts the device leaving service, unless it is deleted. */
  apply(x: Action, answerProbes: () => void): void {
    if (this.deleted) return;
    const before = this.inService();
    let deleting = false;
    switch (x.a) {
      case 'lose':
        this.lose = x.messages;
        break;
      case 'carrierOff':
        if (!this.carrier || (this.kind === 'veth' && !this.admin)) break;
        this.carrier = false;
        // The kernel clears the carrier bit, then counts: a message built in between.
        if (x.race) this.emit(RTM_NEWLINK, 0, this.downs);
        this.downs++;
        if (this.admin) this.linkwatchPending = true;
        break;
      case 'carrierOn':
        // A veth gets its carrier only when open (veth_open, with its peer up).
        if (this.carrier || (this.kind === 'veth' && !this.admin)) break;
        this.carrier = true;
        this.ups++;
        if (this.admin) this.linkwatchPending = true;
        break;
      case 'linkwatch':
        if (!this.linkwatchPending || !this.admin) break;
        this.linkwatchPending = false;
        this.oper = this.computeOper();
        this.emit(RTM_NEWLINK, 0);
        break;
      case 'other':
        // Any other notifier (MTU, features, upper device): live flags and carrier, stale operstate.
        this.emit(RTM_NEWLINK, 0);
        break;
      case 'adminDown':
      case 'close':
      case 'delete':
        if (x.a === 'delete') {
          // A probe sent for an earlier close is answered before a later deletion's RTNL section.
          answerProbes();
          // Excluded: a carrier loss that linkwatch has not reported yet when the device is
          // deleted. The close's message cannot tell it from the close's own carrier loss (a
          // veth), and the model takes it as part of the deletion.
          if (this.linkwatchPending && this.admin && !this.carrier) this.apply({ a: 'linkwatch' }, answerProbes);
          deleting = true;
        }
        if (this.admin) {
          this.admin = false;
          if (this.kind === 'veth' && this.carrier) {
            this.carrier = false;
            this.downs++;
          }
          this.oper = OPER_DOWN;
          this.linkwatchPending = false;
          this.emit(RTM_NEWLINK, x.a === 'adminDown' ? IFF_UP : IFF_UP | IFF_RUNNING);
        }
        if (deleting) {
          this.deleted = true;
          this.emit(RTM_DELLINK, CHANGE_ALL);
        }
        break;
      case 'adminUp':
        if (this.admin) break;
        this.admin = true;
        if (x.carrier && !this.carrier) {
          this.carrier = true;
          this.ups++;
        }
        // The admin-up message carries the operstate of before (linkwatch sets it next), except UNKNOWN devices.
        if (this.kind === 'unknown') this.oper = OPER_UNKNOWN;
        this.linkwatchPending = true;
        this.emit(RTM_NEWLINK, IFF_UP);
        break;
      case 'dormant':
        if (!this.admin || this.dormant === x.on) break;
        // Set from userspace (IFLA_OPERSTATE): the operstate moves with its own message at once.
        this.dormant = x.on;
        this.oper = this.computeOper();
        this.emit(RTM_NEWLINK, 0);
        break;
      case 'answer':
        answerProbes();
        break;
    }
    if (before && !this.inService() && !deleting) this.outages++;
  }
}

const arbAction: fc.Arbitrary<Action> = fc.oneof(
  { arbitrary: fc.record({ a: fc.constant('carrierOff' as const), race: fc.boolean() }), weight: 4 },
  { arbitrary: fc.constant({ a: 'carrierOn' as const }), weight: 4 },
  { arbitrary: fc.constant({ a: 'linkwatch' as const }), weight: 4 },
  { arbitrary: fc.constant({ a: 'other' as const }), weight: 2 },
  { arbitrary: fc.constant({ a: 'adminDown' as const }), weight: 2 },
  { arbitrary: fc.record({ a: fc.constant('adminUp' as const), carrier: fc.boolean() }), weight: 2 },
  { arbitrary: fc.record({ a: fc.constant('dormant' as const), on: fc.boolean() }), weight: 1 },
  { arbitrary: fc.constant({ a: 'close' as const }), weight: 1 },
  { arbitrary: fc.constant({ a: 'answer' as const }), weight: 2 },
  { arbitrary: fc.constant({ a: 'delete' as const }), weight: 1 },
);

interface Scenario {
  kind: Kind;
  admin: boolean;
  carrier: boolean;
  actions: Action[];
}

const arbScenario: fc.Arbitrary<Scenario> = fc.record({
  kind: fc.constantFrom<Kind>('veth', 'keep', 'unknown'),
  admin: fc.boolean(),
  carrier: fc.boolean(),
  actions: fc.array(arbAction, { maxLength: 60 }),
});

/** Runs a scenario; returns [model flaps, reference outages, deletions counted]. */
function play(s: Scenario): { flaps: number; outages: number; deletions: number; device: Device } {
  const probes: Array<() => void> = [];
  // No barrier (repairs at once), the link probe answered as the device's actions say.
  const model = new NamespaceModel({
    netns: 'fuzz',
    include: /^(?:.*)$/,
    exclude: undefined,
    maxTracked: 100,
    session: { barrier: (callback) => callback(), linkProbe: (_ifindex, callback) => probes.push(callback) },
  });
  model.onEvent = () => {};
  // The session's side: replies carrying port 4242 are dump replies, applied as the dump mode says.
  const session = new MessageDispatch(new SessionCounters(), model);
  session.portId = 4242;
  const answerProbes = (): void => {
    for (const cb of probes.splice(0)) cb();
  };
  const device = new Device(s.kind, 5, s.admin, s.carrier);
  let fed = 0;
  const feed = (): void => {
    for (; fed < device.out.length; fed++) {
      const m = device.out[fed] as LinkMessage | 'lost';
      // The reader reports the overrun in order with the data: the watcher tells the model.
      if (m === 'lost') model.notificationsLost();
      else session.link(m);
    }
  };
  feed();
  const record = model.links.get(5) as LinkRecord;
  /** After a loss: the watcher tells the model, then resyncs (a dump diffed against the model). */
  const resync = (): void => {
    if (!device.lost) return;
    device.lost = false;
    feed();
    session.dumpMode = 'resync';
    model.beginSweep();
    if (!device.deleted) {
      device.emit(RTM_NEWLINK, 0, device.downs, 4242);
      feed();
    }
    model.sweep();
    session.dumpMode = undefined;
  };
  for (const x of s.actions) {
    device.apply(x, () => {
      feed();
      answerProbes();
    });
    feed();
    if (device.lose === 0) resync();
  }
  device.lose = 0;
  resync();
  // Linkwatch always runs in the end: the kernel's counters reach us.
  device.apply({ a: 'linkwatch' }, answerProbes);
  feed();
  answerProbes();
  return { flaps: record.flaps, outages: device.outages, deletions: model.interfacesDeleted, device };
}

test('flaps equal the outages of a simulated device, whatever the message order (veth, bridge-like, tun-like)', () => {
  fc.assert(
    fc.property(arbScenario, (s) => {
      const r = play(s);
      assert.equal(r.flaps, r.outages, `model flaps ${r.flaps}, reference outages ${r.outages}`);
      assert.equal(r.deletions, r.device.deleted ? 1 : 0, 'deletions counted apart');
    }),
    params,
  );
});

/**
 * After lost notifications (an overrun, then a resync), a veth's flaps still equal its outages:
 * each of its outages is a carrier loss the kernel counts (admin down included), which the
 * counter recovers, and a close lost with its RTM_DELLINK is decided by the resync. (Outages
 * without a carrier loss, such as an ifb's admin down, are lost with their messages: a lower bound.)
 */
test('after lost notifications and a resync, a veth counts every outage', () => {
  const vethScenario: fc.Arbitrary<Scenario> = fc.record({
    kind: fc.constant<Kind>('veth'),
    admin: fc.boolean(),
    carrier: fc.boolean(),
    actions: fc.array(
      fc.oneof(
        { arbitrary: arbAction.filter((x) => x.a !== 'dormant'), weight: 6 },
        {
          arbitrary: fc.record({ a: fc.constant('lose' as const), messages: fc.integer({ min: 1, max: 8 }) }),
          weight: 1,
        },
      ),
      { maxLength: 60 },
    ),
  });
  fc.assert(
    fc.property(vethScenario, (s) => {
      const r = play(s);
      // A device deleted after lost messages takes the outages they held with it (its counters
      // are gone with it): at most the reference then.
      if (r.device.deleted && r.device.lostEver)
        assert.ok(r.flaps <= r.outages, `model flaps ${r.flaps}, reference outages ${r.outages}`);
      else assert.equal(r.flaps, r.outages, `model flaps ${r.flaps}, reference outages ${r.outages}`);
    }),
    params,
  );
});

test('named orderings: bridge loses its port (carrier first, oper next), tun up with no reader, deletion', () => {
  // Bridge: carrier lost, a notifier reports "carrier 0, oper UP", then linkwatch "oper DOWN".
  const bridge = play({
    kind: 'veth',
    admin: true,
    carrier: true,
    actions: [{ a: 'linkwatch' }, { a: 'carrierOff', race: false }, { a: 'other' }, { a: 'other' }, { a: 'linkwatch' }],
  });
  assert.equal(bridge.outages, 1);
  assert.equal(bridge.flaps, 1);
  // tun: created with carrier (its creator attached), detached while down, brought up: never in service.
  const tun = play({
    kind: 'unknown',
    admin: false,
    carrier: true,
    actions: [{ a: 'carrierOff', race: false }, { a: 'adminUp', carrier: false }, { a: 'linkwatch' }],
  });
  assert.equal(tun.flaps, 0);
  // A veth in service deleted: the close (carrier lost, counter moved) then RTM_DELLINK.
  const veth = play({ kind: 'veth', admin: true, carrier: true, actions: [{ a: 'delete' }] });
  assert.equal(veth.flaps, 0);
  assert.equal(veth.deletions, 1);
  // Five carrier losses coalesced into one linkwatch message.
  const burst: Action[] = [];
  for (let i = 0; i < 5; i++) burst.push({ a: 'carrierOff', race: false }, { a: 'carrierOn' });
  const coalesced = play({ kind: 'veth', admin: true, carrier: true, actions: [...burst, { a: 'linkwatch' }] });
  assert.equal(coalesced.flaps, 5);
  // A close that is not a deletion (a stacked device whose lower device closed) counts once the probe is answered.
  const closed = play({ kind: 'keep', admin: true, carrier: true, actions: [{ a: 'close' }, { a: 'answer' }] });
  assert.equal(closed.flaps, 1);
});
