// Identity is the ifindex: a rename moves the series to the new name (counters carry over, the
// old name's series go at once); a deleted interface's series go after the grace period (1s
// here, from a config file); a new interface taking a name in its grace period replaces it;
// interfaces.exclude (anchored) keeps an interface out of the series.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createNetns, liveDescribe, Netns } from '../helpers/netns';
import { Exporter, poll, Scrape, startExporter } from '../helpers/exporter';

liveDescribe('rename and delete', { timeout: 120_000 }, () => {
  let ns: Netns;
  let ex: Exporter | undefined;
  let dir: string;

  const L = (iface: string) => ({ netns: ns.name, interface: iface });
  const names = (s: Scrape, iface: string) => [...new Set(s.withLabels(L(iface)).map((x) => x.name))].sort();
  const infoIfindex = (s: Scrape, iface: string): string[] =>
    s.series('netlink_interface_info', L(iface)).map((x) => x.labels.ifindex!);

  async function kernelUp(iface: string): Promise<void> {
    await poll(`${iface} operstate UP in the kernel`, () => {
      const st = ns.link(iface).operstate;
      return st === 'UP' ? true : `operstate ${st}`;
    });
  }

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nle-rename-'));
    const config = path.join(dir, 'config.yml');
    fs.writeFileSync(config, 'interfaces:\n  deleted_grace_period: 1s\n  exclude: "ex.*"\n');
    ns = createNetns('rename');
    ns.addVeth('rn0', 'rn1', { up: true });
    ns.addVeth('dl0', 'dl1', { up: true });
    ns.addVeth('rp0', 'rp1', { up: true });
    ns.addVeth('ex0', 'ex1', { up: true });
    ns.ip('addr', 'add', '10.70.0.1/24', 'dev', 'ex0');
    ex = await startExporter({ netns: [ns.name], configFile: config });
  });

  after(async () => {
    await ex?.stop();
    ns?.delete();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('rename: series move to the new name at once, the flap counter carries over', async () => {
    await kernelUp('rn0');
    await ex!.waitForValue('netlink_interface_up', L('rn0'), 1);
    const ifindex = String(ns.ifindex('rn0'));
    const base = ns.carrierCounters('rn0').down; // the exporter's baseline: flaps 0 at this value
    let s0 = await ex!.scrape();
    assert.equal(s0.value('netlink_interface_flaps_total', L('rn0')), 0);
    // Two flaps under the old name, counted exactly.
    ns.batch(['link set dev rn1 down', 'link set dev rn1 up', 'link set dev rn1 down', 'link set dev rn1 up']);
    await kernelUp('rn0');
    s0 = await ex!.waitFor('two flaps on rn0', (s) => {
      const want = ns.carrierCounters('rn0').down - base;
      const got = s.value('netlink_interface_flaps_total', L('rn0'));
      return got === want ? true : `flaps_total ${got}, kernel carrier_down_count delta ${want}`;
    });
    const oldNames = names(s0, 'rn0');
    assert.ok(
      oldNames.includes('netlink_interface_up') && oldNames.includes('netlink_interface_info'),
      oldNames.join(', '),
    );

    ns.batch(['link set dev rn0 down', 'link set dev rn0 name rnx0', 'link set dev rnx0 up']);
    assert.equal(String(ns.ifindex('rnx0')), ifindex);
    const both: string[] = [];
    await ex!.waitFor('series under rnx0', (s) => {
      const oldLeft = names(s, 'rn0');
      const now = names(s, 'rnx0');
      if (oldLeft.length && now.length) both.push(`old: ${oldLeft.join(',')} new: ${now.join(',')}`);
      return now.includes('netlink_interface_info')
        ? true
        : `rnx0: ${now.join(',') || '(none)'}; rn0: ${oldLeft.join(',') || '(none)'}`;
    });
    assert.deepEqual(both, [], 'a scrape showed the old and the new name at once');
    await kernelUp('rnx0');
    const s = await ex!.waitFor('rnx0 up with the flaps carried over', (sc) => {
      const want = ns.carrierCounters('rnx0').down - base;
      const got = sc.value('netlink_interface_flaps_total', L('rnx0'));
      const up = sc.value('netlink_interface_up', L('rnx0'));
      return got === want && up === 1
        ? true
        : `rnx0 flaps_total ${got} (kernel carrier_down_count delta since start ${want}), up ${up}`;
    });
    assert.deepEqual(
      names(s, 'rn0'),
      [],
      `old name still has series: ${s
        .withLabels(L('rn0'))
        .map((x) => x.name)
        .join(', ')}`,
    );
    assert.deepEqual(infoIfindex(s, 'rnx0'), [ifindex]);
    assert.deepEqual(names(s, 'rnx0'), oldNames, 'the same series under the new name');
    assert.deepEqual(s.problems, []);
  });

  test('delete: the series stay for the grace period (1s), then go; the deletion is no flap, counted apart', async () => {
    const s0 = await ex!.waitFor('dl0 and dl1 up', (sc) =>
      sc.value('netlink_interface_up', L('dl0')) === 1 && sc.value('netlink_interface_up', L('dl1')) === 1
        ? true
        : `${sc.show('netlink_interface_up', L('dl0'))}; ${sc.show('netlink_interface_up', L('dl1'))}`,
    );
    const flaps0 = ['dl0', 'dl1'].map((i) => s0.value('netlink_interface_flaps_total', L(i)));
    const deletions0 = s0.value('netlink_interface_deletions_total', { netns: ns.name }) ?? NaN;
    const t0 = Date.now();
    ns.ip('link', 'del', 'dev', 'dl0'); // takes dl1 with it
    const early = await ex!.scrape();
    const earlyMs = Date.now() - t0;
    if (earlyMs < 700) {
      assert.ok(
        names(early, 'dl0').length > 0,
        `dl0's series were gone ${earlyMs} ms after the deletion, before the 1s grace period`,
      );
    }
    const counted = await ex!.waitFor('two deletions counted', (sc) =>
      (sc.value('netlink_interface_deletions_total', { netns: ns.name }) ?? NaN) - deletions0 === 2
        ? true
        : sc.show('netlink_interface_deletions_total', { netns: ns.name }),
    );
    if (Date.now() - t0 < 700) {
      // Still in the grace period: the counters as they were before the deletion.
      assert.deepEqual(
        ['dl0', 'dl1'].map((i) => counted.value('netlink_interface_flaps_total', L(i))),
        flaps0,
        'a deletion adds no flap',
      );
    }
    let goneAt = 0;
    await ex!.waitFor(
      'dl0 and dl1 series gone',
      (s) => {
        const left = [...names(s, 'dl0').map((n) => `dl0:${n}`), ...names(s, 'dl1').map((n) => `dl1:${n}`)];
        if (left.length === 0) {
          goneAt = Date.now() - t0;
          return true;
        }
        return `after ${Date.now() - t0} ms still: ${left.join(', ')}`;
      },
      { timeoutMs: 10_000 },
    );
    assert.ok(goneAt >= 900, `gone after ${goneAt} ms: before the 1s grace period`);
  });

  test('a new interface taking a name in its grace period replaces the old series at once', async () => {
    await kernelUp('rp0');
    await ex!.waitForValue('netlink_interface_up', L('rp0'), 1);
    // Give the old rp0 a flap so its counter is not 0.
    ns.batch(['link set dev rp1 down', 'link set dev rp1 up']);
    await ex!.waitForValue('netlink_interface_flaps_total', L('rp0'), 1);
    const oldIfindex = String(ns.ifindex('rp0'));
    ns.batch([
      'link del dev rp0',
      'link add name rp0 type veth peer name rp1',
      'link set dev rp0 addrgenmode none',
      'link set dev rp1 addrgenmode none',
      'link set dev rp0 up',
      'link set dev rp1 up',
    ]);
    const newIfindex = String(ns.ifindex('rp0'));
    assert.notEqual(newIfindex, oldIfindex);
    await kernelUp('rp0');
    const seen: string[] = [];
    const s = await ex!.waitFor('rp0 with the new ifindex, up', (sc) => {
      const infos = infoIfindex(sc, 'rp0');
      if (infos.length > 1 || sc.problems.length)
        seen.push(`info ifindex ${infos.join(',')}; ${sc.problems.join('; ')}`);
      return infos.length === 1 && infos[0] === newIfindex && sc.value('netlink_interface_up', L('rp0')) === 1
        ? true
        : `info ifindex ${infos.join(',') || '(none)'} (new ${newIfindex}, old ${oldIfindex}), up ${sc.value('netlink_interface_up', L('rp0'))}`;
    });
    assert.deepEqual(seen, [], 'two rp0 interfaces were exported at once');
    assert.equal(s.value('netlink_interface_flaps_total', L('rp0')), 0, 'a new ifindex starts afresh');
  });

  test('interfaces.exclude "ex.*": no series for ex0/ex1, other interfaces unaffected; renaming into the pattern drops them', async () => {
    const s = await ex!.waitForValue('netlink_interface_up', L('rp0'), 1);
    for (const i of ['ex0', 'ex1'])
      assert.deepEqual(
        names(s, i),
        [],
        `${i} is excluded: ${s
          .withLabels(L(i))
          .map((x) => x.name)
          .join(', ')}`,
      );
    assert.equal(
      s.series('netlink_address_info', { netns: ns.name, address: '10.70.0.1' }).length,
      0,
      s.show('netlink_address_info', { netns: ns.name }),
    );
    // Anchored: "ex.*" does not match "rex0"; a rename into the pattern removes the series.
    ns.batch(['link set dev rp1 down', 'link set dev rp1 name rex1', 'link set dev rex1 up']);
    const s2 = await ex!.waitFor('rex1 exported (the pattern is anchored)', (sc) =>
      sc.value('netlink_interface_up', L('rex1')) === 1 ? true : sc.show('netlink_interface_up', L('rex1')),
    );
    assert.deepEqual(names(s2, 'rp1'), []);
    ns.batch(['link set dev rex1 down', 'link set dev rex1 name ex9', 'link set dev ex9 up']);
    await ex!.waitFor('no series for rex1 or ex9', (sc) => {
      const left = [...names(sc, 'rex1'), ...names(sc, 'ex9')];
      return left.length === 0
        ? true
        : `still: ${sc
            .withLabels(L('rex1'))
            .concat(sc.withLabels(L('ex9')))
            .map((x) => `${x.name}{interface="${x.labels.interface}"}`)
            .join(', ')}`;
    });
  });

  test('a name that needs escaping in the exposition (quote and backslash) round-trips', async () => {
    const odd = 'q"1\\z'; // q"1\z: valid for the kernel (no '/', ':' or blanks)
    // The label doubles a backslash (README, Security model / Netlink: names that are not UTF-8
    // have their bytes written \xNN, so a literal backslash is escaped too), then the
    // exposition format escapes the label value again; the parser undoes the second step only.
    const label = 'q"1\\\\z';
    ns.ip('link', 'add', 'name', odd, 'type', 'veth', 'peer', 'name', 'qpeer');
    ns.ip('link', 'set', 'dev', odd, 'up');
    ns.ip('link', 'set', 'dev', 'qpeer', 'up');
    const idx = String(ns.ifindex(odd));
    const s = await ex!.waitFor(`series for ${label}`, (sc) => {
      const info = sc.series('netlink_interface_info', L(label));
      return info.length === 1 && info[0]!.labels.ifindex === idx
        ? true
        : sc.show('netlink_interface_info', { netns: ns.name });
    });
    assert.deepEqual(s.problems, []);
  });
});
