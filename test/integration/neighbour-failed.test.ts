// A neighbour going FAILED: an address in a connected subnet that no one holds, resolved from
// inside a private namespace (a UDP datagram to it makes the kernel send ARP requests that no
// one answers). netlink_neighbour_failures_total{interface,family} exists at 0 from the start,
// counts each move INTO FAILED once (the kernel re-sending FAILED after a re-probe of an entry
// already FAILED is the same failure), and entries a process deletes (the kernel first re-sends
// them FAILED) are not failures. Each failure is a `neighbour failed` event with the state
// before. The steps build on each other: once one fails, the later ones are skipped.

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createNetns, liveDescribe, Netns } from '../helpers/netns';
import { Exporter, poll, startExporter } from '../helpers/exporter';
import { formatEventLine } from '../../src/events/format';
import type { DomainEvent } from '../../src/state/events';
import { sequentialSteps } from '../helpers/steps';

const GONE = '10.61.0.99';

liveDescribe('neighbours going FAILED: counter and events', { timeout: 120_000 }, () => {
  let ns: Netns;
  let ex: Exporter | undefined;
  const expectedLines: string[] = [];

  const step = sequentialSteps();

  /** Makes the kernel resolve `address` on nf0: a UDP datagram to it from inside the namespace. */
  function probe(address: string): void {
    ns.exec('bash', '-c', `echo x > /dev/udp/${address}/9`);
  }

  /** The kernel's NUD state of `address` on nf0 ("" when it has no entry). */
  function kernelState(address: string): string {
    const entries = ns.ipJson<Array<{ dst: string; state?: string[] }>>('neigh', 'show', 'dev', 'nf0');
    return entries.find((e) => e.dst === address)?.state?.join(',') ?? '';
  }

  const failures = (family = 'inet') => ({ netns: ns.name, interface: 'nf0', family });

  /** Our namespace's `neighbour failed` events as human lines, without the time and netns. */
  async function failedLines(): Promise<string[]> {
    const res = await ex!.get(`/api/v1/events?kind=neighbour&netns=${encodeURIComponent(ns.name)}`);
    assert.equal(res.status, 200, res.body);
    const events = (JSON.parse(res.body) as { events: DomainEvent[] }).events;
    return events
      .filter((e) => e.action === 'failed')
      .map((e) => formatEventLine({ ...e, time: 'T', netns: '' }).replace(/^T /, ''));
  }

  async function settle(what: string, count: number): Promise<void> {
    await ex!.waitForValue('netlink_neighbour_failures_total', failures(), count);
    let lines: string[] = [];
    await poll(`${what}: the events`, async () => {
      lines = await failedLines();
      return lines.length >= expectedLines.length ? true : `${lines.length} failed events: ${lines.join(' | ')}`;
    });
    assert.deepEqual(lines, expectedLines, what);
    const s = await ex!.scrape();
    assert.equal(s.value('netlink_neighbour_failures_total', failures()), count, `${what}: still ${count}`);
  }

  /** RTM_NEWNEIGH notifications the exporter has received from the namespace. */
  async function newNeighMessages(): Promise<number> {
    return (await ex!.scrape()).value('netlink_messages_received_total', { netns: ns.name, type: 'RTM_NEWNEIGH' }) ?? 0;
  }

  before(async () => {
    ns = createNetns('nfail');
    ns.ip('link', 'set', 'dev', 'lo', 'up');
    ns.addVeth('nf0', 'nf1', { up: true });
    ns.ip('addr', 'add', '10.61.0.1/24', 'dev', 'nf0');
    // A STALE entry is probed after 1 s instead of 5 (this namespace's table only).
    ns.exec('sysctl', '-q', 'net.ipv4.neigh.nf0.delay_first_probe_time=1');
    await poll('nf0 operstate UP', () => (ns.link('nf0').operstate === 'UP' ? true : ns.link('nf0').operstate));
    ex = await startExporter({ netns: [ns.name] });
  });

  after(async () => {
    await ex?.stop();
    ns?.delete();
  });

  step('at start: the counter exists at 0 for every tracked interface and both families', async () => {
    const s = await ex!.waitForValue('netlink_neighbour_failures_total', failures(), 0);
    for (const iface of ['lo', 'nf0', 'nf1'])
      for (const family of ['inet', 'inet6'])
        assert.equal(
          s.value('netlink_neighbour_failures_total', { netns: ns.name, interface: iface, family }),
          0,
          `${iface} ${family}`,
        );
  });

  step('an address no one holds: the kernel marks it FAILED; counted once, with an event', async () => {
    probe(GONE);
    await poll(`kernel: ${GONE} FAILED`, () => (kernelState(GONE) === 'FAILED' ? true : kernelState(GONE)));
    expectedLines.push(`neighbour failed nf0 ifindex=${ns.ifindex('nf0')} inet ${GONE} state=none->failed`);
    await settle('first failure', 1);
  });

  step('re-probed while FAILED: the kernel re-sends FAILED; the same failure, not counted again', async () => {
    const before = await newNeighMessages();
    probe(GONE);
    await ex!.waitFor('the FAILED entry re-sent after its re-probe', (s) => {
      const n = s.value('netlink_messages_received_total', { netns: ns.name, type: 'RTM_NEWNEIGH' }) ?? 0;
      return n > before ? true : `RTM_NEWNEIGH ${n}, was ${before}`;
    });
    assert.equal(kernelState(GONE), 'FAILED');
    await settle('after the re-probe', 1);
  });

  step('moved out of FAILED (set STALE), probed again and FAILED again: counted again', async () => {
    ns.ip('neigh', 'replace', GONE, 'lladdr', '02:00:00:00:00:99', 'dev', 'nf0', 'nud', 'stale');
    await poll(`kernel: ${GONE} STALE`, () => (kernelState(GONE) === 'STALE' ? true : kernelState(GONE)));
    probe(GONE);
    await poll(`kernel: ${GONE} FAILED again`, () => (kernelState(GONE) === 'FAILED' ? true : kernelState(GONE)));
    expectedLines.push(`neighbour failed nf0 ifindex=${ns.ifindex('nf0')} inet ${GONE} state=probe->failed`);
    await settle('second failure', 2);
  });

  step('entries a process deletes (sent FAILED first) are not failures', async () => {
    ns.ip('neigh', 'add', '10.61.0.77', 'lladdr', '02:00:00:00:00:77', 'dev', 'nf0');
    ns.ip('neigh', 'del', '10.61.0.77', 'dev', 'nf0');
    ns.ip('neigh', 'del', GONE, 'dev', 'nf0');
    await poll('both removals seen', async () => {
      const res = await ex!.get(`/api/v1/events?kind=neighbour&netns=${encodeURIComponent(ns.name)}`);
      const events = (JSON.parse(res.body) as { events: DomainEvent[] }).events;
      const removed = events
        .filter((e) => e.kind === 'neighbour' && e.action === 'removed')
        .map((e) => (e.kind === 'neighbour' ? e.destination : ''));
      return removed.includes('10.61.0.77') && removed.includes(GONE) ? true : `removed: ${removed.join(',')}`;
    });
    await settle('after the deletions', 2);
  });
});
