// IPv6 address lifetimes on a live kernel, in a private namespace: an address added with
// valid_lft/preferred_lft gets netlink_address_valid_until_timestamp_seconds and
// ..._preferred_until_... at now + its lifetimes (absolute deadlines); the kernel re-announces it
// deprecated when its preferred lifetime runs out (an `address_state deprecated` event); `ip
// addr change ... forever` removes both series; an address added without nodad on a link that
// is up passes DAD (`address_state dadcomplete`), a nodad one never does; and after an overrun
// (the exporter stopped while a storm of addresses with lifetimes, a renewal and a deprecation
// happen) the resync makes every deadline equal the kernel's again and tells the deprecation
// once. The steps build on each other: once one fails, the later ones are skipped.

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createNetns, liveDescribe, Netns, run } from '../helpers/netns';
import { Exporter, poll, Scrape, startExporter } from '../helpers/exporter';
import { overrunAndResync, resumeAndStop } from '../helpers/overrun';
import { formatEventLine } from '../../src/events/format';
import type { DomainEvent } from '../../src/state/events';
import { sequentialSteps } from '../helpers/steps';

const FOREVER = 4294967295;
/** Seconds a deadline may differ from the kernel's remaining lifetime read around it (truncation, the time between reads). */
const TOLERANCE_S = 3;
const STORM = 400;

interface AddrInfo {
  ifname: string;
  addr_info: Array<{
    family: string;
    local: string;
    prefixlen: number;
    valid_life_time: number;
    preferred_life_time: number;
    deprecated?: boolean;
    tentative?: boolean;
  }>;
}

liveDescribe('IPv6 address lifetimes: deadlines, deprecation, DAD, exact after a resync', { timeout: 180_000 }, () => {
  let ns: Netns;
  let ex: Exporter | undefined;
  let dir: string | undefined;
  const step = sequentialSteps();

  const VALID = 'netlink_address_valid_until_timestamp_seconds';
  const PREFERRED = 'netlink_address_preferred_until_timestamp_seconds';
  const id = (address: string, prefix = 64) => ({
    netns: ns.name,
    interface: 'al0',
    family: 'inet6',
    address,
    prefix_length: String(prefix),
  });

  async function events(kind: string): Promise<DomainEvent[]> {
    const res = await ex!.get(`/api/v1/events?kind=${kind}&netns=${encodeURIComponent(ns.name)}&limit=5000`);
    assert.equal(res.status, 200, res.body.slice(0, 300));
    return (JSON.parse(res.body) as { events: DomainEvent[] }).events;
  }

  /** address_state events of one address, as human lines without time, netns and lifetimes. */
  async function stateLines(address: string): Promise<string[]> {
    return (await events('address_state'))
      .filter((e) => e.kind === 'address_state' && e.address === address)
      .map((e) =>
        formatEventLine({ ...e, time: 'T', netns: '' })
          .replace(/^T /, '')
          .replace(/ valid_lft=.*$/, ''),
      );
  }

  /** The kernel's global IPv6 addresses on al0 and their remaining lifetimes. */
  function kernelAddresses(): AddrInfo['addr_info'] {
    const links = ns.ipJson<AddrInfo[]>('-6', 'addr', 'show', 'dev', 'al0', 'scope', 'global');
    return links.flatMap((l) => l.addr_info);
  }

  /**
   * Every deadline series of al0 against the kernel's lifetimes read at `now`: the same
   * addresses, each within TOLERANCE_S of now + the seconds left. The differences, or [].
   */
  function wrongAgainstKernel(s: Scrape, kernel: AddrInfo['addr_info'], now: number): string[] {
    const wrong: string[] = [];
    for (const [name, field] of [
      [VALID, 'valid_life_time'],
      [PREFERRED, 'preferred_life_time'],
    ] as const) {
      const finite = kernel.filter((a) => a[field] !== FOREVER);
      const series = s.series(name, { netns: ns.name, interface: 'al0' });
      if (series.length !== finite.length)
        wrong.push(`${name}: ${series.length} series, kernel ${finite.length} finite`);
      for (const a of finite) {
        const v = s.value(name, id(a.local, a.prefixlen));
        // A lifetime that ran out reads 0 in the kernel: the deadline is in the past then.
        const ok =
          v !== undefined && (a[field] === 0 ? v <= now + TOLERANCE_S : Math.abs(v - (now + a[field])) <= TOLERANCE_S);
        if (!ok) wrong.push(`${name} ${a.local}: ${v}, kernel ${a[field]} s left at ${now.toFixed(1)}`);
      }
    }
    return wrong;
  }

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nle-lifetimes-'));
    const config = path.join(dir, 'config.yml');
    // The kernel's smallest receive buffer: the storm while the exporter is stopped overruns it.
    fs.writeFileSync(config, 'socket:\n  receive_buffer_bytes: 1\nevents:\n  buffer_size: 10000\n');
    ns = createNetns('lifet');
    ns.ip('link', 'set', 'dev', 'lo', 'up');
    ns.addVeth('al0', 'al1', { up: true });
    await poll('al0 operstate UP', () => (ns.link('al0').operstate === 'UP' ? true : ns.link('al0').operstate));
    ex = await startExporter({ netns: [ns.name], configFile: config });
  });

  after(async () => {
    await resumeAndStop(ex);
    ns?.delete();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  step('at start: no deadline series (link-local addresses are permanent, infinite)', async () => {
    const s = await ex!.scrape();
    assert.equal(s.series(VALID, { netns: ns.name }).length, 0, s.show(VALID, { netns: ns.name }));
    assert.equal(s.series(PREFERRED, { netns: ns.name }).length, 0);
  });

  step('valid_lft 120 preferred_lft 3: deadlines at now + 120 and now + 3', async () => {
    const t0 = Date.now() / 1000;
    ns.ip('-6', 'addr', 'add', '2001:db8::1/64', 'dev', 'al0', 'valid_lft', '120', 'preferred_lft', '3', 'nodad');
    const s = await ex!.waitFor('the deadlines of 2001:db8::1', (sc) =>
      sc.value(VALID, id('2001:db8::1')) !== undefined && sc.value(PREFERRED, id('2001:db8::1')) !== undefined
        ? true
        : sc.show(VALID, { netns: ns.name }) || 'no series yet',
    );
    const t1 = Date.now() / 1000;
    const valid = s.value(VALID, id('2001:db8::1'))!;
    const preferred = s.value(PREFERRED, id('2001:db8::1'))!;
    assert.ok(
      valid >= Math.floor(t0) + 120 - TOLERANCE_S && valid <= t1 + 120 + 1,
      `valid ${valid}, added at ${t0}..${t1}`,
    );
    assert.ok(preferred >= Math.floor(t0) + 3 - TOLERANCE_S && preferred <= t1 + 3 + 1, `preferred ${preferred}`);
    assert.equal(Number.isInteger(valid), true, 'whole seconds');
  });

  step(
    'the preferred lifetime runs out: the kernel re-announces it deprecated, one event; the deadlines stay',
    async () => {
      const before = await ex!.scrape();
      await poll(
        'address_state deprecated for 2001:db8::1',
        async () => {
          const lines = await stateLines('2001:db8::1');
          return lines.length > 0 ? true : 'no event yet';
        },
        { timeoutMs: 30_000 },
      );
      assert.ok(kernelAddresses().find((a) => a.local === '2001:db8::1')?.deprecated, 'the kernel says deprecated');
      const s = await ex!.scrape();
      assert.deepEqual(await stateLines('2001:db8::1'), [
        `address_state deprecated al0 ifindex=${ns.ifindex('al0')} inet6 2001:db8::1/64 scope=global flags=nodad,deprecated`,
      ]);
      const event = (await events('address_state')).find(
        (e) => e.kind === 'address_state' && e.address === '2001:db8::1',
      );
      assert.ok(event?.kind === 'address_state' && event.preferredLifetime === 0, JSON.stringify(event));
      assert.ok(event.validLifetime !== undefined && event.validLifetime > 100 && event.validLifetime <= 120);
      assert.equal(
        s.value(VALID, id('2001:db8::1')),
        before.value(VALID, id('2001:db8::1')),
        'the valid deadline did not move',
      );
      assert.equal(s.value(PREFERRED, id('2001:db8::1')), before.value(PREFERRED, id('2001:db8::1')));
      assert.ok(s.value(PREFERRED, id('2001:db8::1'))! <= Date.now() / 1000, 'the preferred deadline is past');
    },
  );

  step('ip addr change ... valid_lft forever preferred_lft forever: both series go, the address stays', async () => {
    ns.ip('-6', 'addr', 'change', '2001:db8::1/64', 'dev', 'al0', 'valid_lft', 'forever', 'preferred_lft', 'forever');
    const s = await ex!.waitFor('no deadline for 2001:db8::1', (sc) =>
      sc.value(VALID, id('2001:db8::1')) === undefined && sc.value(PREFERRED, id('2001:db8::1')) === undefined
        ? true
        : sc.show(VALID, { netns: ns.name }),
    );
    assert.equal(
      s.value('netlink_address_info', { ...id('2001:db8::1'), scope: 'global' }),
      1,
      'the address is still held',
    );
  });

  step(
    'DAD: an address added without nodad on a link that is up completes DAD (one event); a nodad one never',
    async () => {
      ns.ip('-6', 'addr', 'add', '2001:db8:1::2/64', 'dev', 'al0', 'nodad');
      ns.ip('-6', 'addr', 'add', '2001:db8:1::1/64', 'dev', 'al0');
      await poll(
        'address_state dadcomplete for 2001:db8:1::1',
        async () => {
          const lines = await stateLines('2001:db8:1::1');
          return lines.length > 0 ? true : 'no event yet';
        },
        { timeoutMs: 30_000 },
      );
      assert.equal(
        kernelAddresses().find((a) => a.local === '2001:db8:1::1')?.tentative,
        undefined,
        'the kernel says usable',
      );
      assert.deepEqual(await stateLines('2001:db8:1::1'), [
        `address_state dadcomplete al0 ifindex=${ns.ifindex('al0')} inet6 2001:db8:1::1/64 scope=global flags=permanent`,
      ]);
      // Added first, so any event of it would be in the ring by now.
      assert.deepEqual(await stateLines('2001:db8:1::2'), []);
      // The add itself said tentative.
      const added = (await events('address')).find(
        (e) => e.kind === 'address' && e.action === 'added' && e.address === '2001:db8:1::1',
      );
      assert.ok(added?.kind === 'address' && added.flags.includes('tentative'), JSON.stringify(added));
      // Infinite lifetimes: no series for either.
      const s = await ex!.scrape();
      assert.equal(s.value(VALID, id('2001:db8:1::1')), undefined);
      assert.equal(s.value(VALID, id('2001:db8:1::2')), undefined);
    },
  );

  step('lifetimes changed while the socket overran: after the resync every deadline equals the kernel', async () => {
    ns.ip('-6', 'addr', 'add', '2001:db8:2::1/64', 'dev', 'al0', 'valid_lft', '300', 'preferred_lft', '200', 'nodad');
    ns.ip('-6', 'addr', 'add', '2001:db8:2::2/64', 'dev', 'al0', 'valid_lft', '600', 'preferred_lft', '2', 'nodad');
    await ex!.waitFor('both deadlines', (sc) =>
      sc.value(VALID, id('2001:db8:2::2')) !== undefined && sc.value(VALID, id('2001:db8:2::1')) !== undefined
        ? true
        : 'not yet',
    );
    const storm: string[] = [];
    for (let i = 1; i <= STORM; i++)
      storm.push(
        `addr add 2001:db8:3::${i.toString(16)}/128 dev al0 valid_lft ${1000 + i} preferred_lft ${500 + i} nodad`,
      );
    const { scrape: s } = await overrunAndResync(
      ex!,
      ns.name,
      async () => {
        // The storm first: the buffer is full, so the renewal and the deprecation after it are lost
        // too, and only the resync's dump can tell them.
        run('ip', ['-n', ns.name, '-batch', '-'], { input: storm.join('\n') + '\n' });
        // Renewed, and deprecated, while no one listens.
        ns.ip('-6', 'addr', 'change', '2001:db8:2::1/64', 'dev', 'al0', 'valid_lft', '900', 'preferred_lft', '800');
        await poll(
          'kernel: 2001:db8:2::2 deprecated',
          () => (kernelAddresses().find((a) => a.local === '2001:db8:2::2')?.deprecated ? true : 'not yet'),
          { timeoutMs: 30_000 },
        );
      },
      {
        what: 'a resync, then the deadlines equal the kernel',
        until: (sc) => {
          const w = wrongAgainstKernel(sc, kernelAddresses(), Date.now() / 1000);
          return w.length ? w.slice(0, 6).join('; ') : true;
        },
      },
    );
    assert.equal(s.series(VALID, { netns: ns.name }).length, STORM + 2);
    const renewed = s.value(VALID, id('2001:db8:2::1'))!;
    assert.ok(renewed - Date.now() / 1000 > 800, `renewed: ${renewed}`);
    // The deprecation is told once, from the notification or from the resync's dump.
    await poll('address_state deprecated for 2001:db8:2::2', async () =>
      (await stateLines('2001:db8:2::2')).length > 0 ? true : 'no event yet',
    );
    assert.deepEqual(await stateLines('2001:db8:2::2'), [
      `address_state deprecated al0 ifindex=${ns.ifindex('al0')} inet6 2001:db8:2::2/64 scope=global flags=nodad,deprecated`,
    ]);
  });
});
