// Nexthop objects as `ip nexthop` shows them: events (added, replaced, removed, flushed) printed
// as `ip nexthop` prints the object, netlink_nexthop_objects equal to what the kernel lists, and
// netlink_nexthop_changes_total exact, in a private namespace (veth nx0/nx1). An object there
// before the exporter starts is held quietly (no event, no count). The steps build on each
// other: once one fails, the later ones are skipped (the first failure is the one to read).

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createNetns, liveDescribe, Netns } from '../helpers/netns';
import { Exporter, poll, Scrape, startExporter } from '../helpers/exporter';
import { formatEventLine } from '../../src/events/format';
import type { DomainEvent } from '../../src/state/events';
import { sequentialSteps } from '../helpers/steps';

const ACTIONS = ['added', 'replaced', 'removed', 'flushed'] as const;

liveDescribe('nexthop objects: events, gauge and change counter', { timeout: 120_000 }, () => {
  let ns: Netns;
  let ex: Exporter | undefined;
  const expectedChanges: Record<string, number> = { added: 0, replaced: 0, removed: 0, flushed: 0 };
  /** Every nexthop event line expected so far, without the time and netns. */
  const expectedLines: string[] = [];

  const step = sequentialSteps();

  const kernelCount = (): number => ns.ipJson<unknown[]>('nexthop', 'show').length;

  /** Our namespace's nexthop events as human lines, without the time and the netns. */
  async function eventLines(): Promise<string[]> {
    const res = await ex!.get(`/api/v1/events?kind=nexthop&netns=${encodeURIComponent(ns.name)}`);
    assert.equal(res.status, 200, res.body);
    const events = (JSON.parse(res.body) as { events: DomainEvent[] }).events;
    return events.map((e) => formatEventLine({ ...e, time: 'T', netns: '' }).replace(/^T /, ''));
  }

  /** Waits until the gauge equals the kernel's count, the counters the expected ones, and the events the expected lines. */
  async function settle(what: string): Promise<Scrape> {
    const kernel = kernelCount();
    const s = await ex!.waitFor(what, (scrape) => {
      const wrong: string[] = [];
      const gauge = scrape.value('netlink_nexthop_objects', { netns: ns.name });
      if (gauge !== kernel) wrong.push(`netlink_nexthop_objects ${gauge}, kernel lists ${kernel}`);
      for (const action of ACTIONS) {
        const got = scrape.value('netlink_nexthop_changes_total', { netns: ns.name, action });
        if (got !== expectedChanges[action])
          wrong.push(`netlink_nexthop_changes_total{action="${action}"} ${got}, expected ${expectedChanges[action]}`);
      }
      return wrong.length ? wrong.join('; ') : true;
    });
    let lines: string[] = [];
    await poll(`${what}: the events`, async () => {
      lines = await eventLines();
      return lines.length >= expectedLines.length ? true : `${lines.length} events: ${lines.join(' | ')}`;
    });
    assert.deepEqual(lines, expectedLines);
    return s;
  }

  function expect(action: (typeof ACTIONS)[number], line: string): void {
    expectedChanges[action]!++;
    expectedLines.push(line);
  }

  before(async () => {
    ns = createNetns('nhev');
    ns.ip('link', 'set', 'dev', 'lo', 'up'); // a blackhole nexthop sits on lo
    ns.addVeth('nx0', 'nx1', { up: true });
    ns.ip('addr', 'add', '10.50.0.1/24', 'dev', 'nx0');
    await poll('nx0 operstate UP', () => (ns.link('nx0').operstate === 'UP' ? true : ns.link('nx0').operstate));
    // Held from the initial dump: quietly.
    ns.ip('nexthop', 'add', 'id', '5', 'via', '10.50.0.5', 'dev', 'nx0');
    ex = await startExporter({ netns: [ns.name] });
  });

  after(async () => {
    await ex?.stop();
    ns?.delete();
  });

  step('at start: the object of the initial dump is held, every counter exists at 0, no event', async () => {
    await settle('start');
  });

  const ifx = (): string => `nx0 ifindex=${ns.ifindex('nx0')}`;

  step('ip nexthop add: added, printed as ip nexthop prints it', async () => {
    ns.ip('nexthop', 'add', 'id', '1', 'via', '10.50.0.2', 'dev', 'nx0');
    expect('added', `nexthop added ${ifx()} id 1 via 10.50.0.2 dev nx0`);
    await settle('after add id 1');
  });

  step('ip nexthop replace with another gateway: replaced; with the same: nothing', async () => {
    ns.ip('nexthop', 'replace', 'id', '1', 'via', '10.50.0.3', 'dev', 'nx0');
    expect('replaced', `nexthop replaced ${ifx()} id 1 via 10.50.0.3 dev nx0`);
    await settle('after replace id 1');
    ns.ip('nexthop', 'replace', 'id', '1', 'via', '10.50.0.3', 'dev', 'nx0');
    // A marker after it: when its event is in, the replace before it was seen too.
    ns.ip('nexthop', 'add', 'id', '2', 'via', '10.50.0.4', 'dev', 'nx0');
    expect('added', `nexthop added ${ifx()} id 2 via 10.50.0.4 dev nx0`);
    await settle('after the same replace and add id 2');
  });

  step('a weighted group and a blackhole: added, interface "-"', async () => {
    ns.ip('nexthop', 'add', 'id', '10', 'group', '1/2,3');
    expect('added', 'nexthop added - ifindex=0 id 10 group 1/2,3');
    ns.ip('nexthop', 'add', 'id', '30', 'blackhole');
    expect('added', 'nexthop added - ifindex=0 id 30 blackhole');
    await settle('after the group and the blackhole');
  });

  step('ip nexthop del: removed', async () => {
    ns.ip('nexthop', 'del', 'id', '10');
    expect('removed', 'nexthop removed - ifindex=0 id 10 group 1/2,3');
    ns.ip('nexthop', 'del', 'id', '30');
    expect('removed', 'nexthop removed - ifindex=0 id 30 blackhole');
    await settle('after deleting the group and the blackhole');
  });

  step('the device goes admin down: the kernel drops its objects without a notification (flushed)', async () => {
    const line = ifx();
    ns.ip('link', 'set', 'dev', 'nx0', 'down');
    await poll('kernel: no nexthop left', () => (kernelCount() === 0 ? true : `${kernelCount()} left`));
    // In the order the model holds them: 5 (initial dump), 1, 2.
    expect('flushed', `nexthop flushed ${line} id 5 via 10.50.0.5 dev nx0`);
    expect('flushed', `nexthop flushed ${line} id 1 via 10.50.0.3 dev nx0`);
    expect('flushed', `nexthop flushed ${line} id 2 via 10.50.0.4 dev nx0`);
    const s = await settle('after nx0 down');
    assert.equal(s.value('netlink_nexthop_objects', { netns: ns.name }), 0, 'the gauge is 0, not absent');
  });
});
