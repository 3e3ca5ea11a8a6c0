// Many interfaces: 500 (250 veth pairs) made before the exporter starts are all there on the
// first scrape after /-/ready; deleting them all leaves no series once the grace period (1s
// here) is over. With interfaces.max_tracked: 100, a second exporter on the same namespace gives
// series to 100 and counts the rest in netlink_series_limit_dropped_total.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createNetns, liveDescribe, Netns } from '../helpers/netns';
import { Exporter, Scrape, startExporter } from '../helpers/exporter';

const PAIRS = 250;
/** `ip link del group N` deletes them all in one batch (one RCU grace period, not 500). */
const GROUP = 7;
const MAX_TRACKED = 100;

liveDescribe('many interfaces', { timeout: 120_000 }, () => {
  let ns: Netns;
  let dir: string | undefined;
  let full: Exporter | undefined;
  let capped: Exporter | undefined;
  const created: string[] = [];
  for (let i = 0; i < PAIRS; i++) created.push(`mi${i}a`, `mi${i}b`);

  const nsl = () => ({ netns: ns.name });
  const infoNames = (s: Scrape): string[] => s.series('netlink_interface_info', nsl()).map((x) => x.labels.interface!);

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nle-many-'));
    const fullConfig = path.join(dir, 'full.yml');
    const cappedConfig = path.join(dir, 'capped.yml');
    fs.writeFileSync(fullConfig, 'interfaces:\n  deleted_grace_period: 1s\n');
    fs.writeFileSync(cappedConfig, `interfaces:\n  deleted_grace_period: 1s\n  max_tracked: ${MAX_TRACKED}\n`);
    ns = createNetns('many');
    const lines: string[] = [];
    for (let i = 0; i < PAIRS; i++)
      lines.push(`link add name mi${i}a group ${GROUP} type veth peer name mi${i}b group ${GROUP}`);
    ns.batch(lines);
    [full, capped] = await Promise.all([
      startExporter({ netns: [ns.name], configFile: fullConfig }),
      startExporter({ netns: [ns.name], configFile: cappedConfig }),
    ]);
  });

  after(async () => {
    await Promise.all([full?.stop(), capped?.stop()]);
    ns?.delete();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test(`the first scrape after ready shows all ${2 * PAIRS} interfaces and lo`, async () => {
    const links = ns.links();
    assert.equal(links.length, 2 * PAIRS + 1, `kernel: ${links.length} links (test setup)`);
    const s = await full!.scrape();
    const info = s.series('netlink_interface_info', nsl());
    const got = info.map((x) => `${x.labels.interface}#${x.labels.ifindex}`).sort();
    const want = links.map((l) => `${l.ifname}#${l.ifindex}`).sort();
    const missing = want.filter((w) => !got.includes(w));
    const extra = got.filter((g) => !want.includes(g));
    assert.equal(
      info.length,
      want.length,
      `netlink_interface_info series: ${info.length}, kernel links ${want.length}; missing ${missing.slice(0, 10).join(', ')}; extra ${extra.slice(0, 10).join(', ')}`,
    );
    assert.deepEqual([missing, extra], [[], []], 'netlink_interface_info names and ifindexes equal to the kernel');
    assert.equal(
      s.value('netlink_tracked_interfaces', nsl()),
      want.length,
      s.show('netlink_tracked_interfaces', nsl()),
    );
    assert.equal(
      s.value('netlink_series_limit_dropped_total', nsl()) ?? 0,
      0,
      s.show('netlink_series_limit_dropped_total', nsl()),
    );
    for (const metric of [
      'netlink_interface_up',
      'netlink_interface_admin_up',
      'netlink_interface_carrier',
      'netlink_interface_flaps_total',
    ]) {
      assert.equal(s.series(metric, nsl()).length, want.length, `${metric}: ${s.series(metric, nsl()).length} series`);
    }
    // All down (never set up), and none flapped.
    assert.equal(s.sum('netlink_interface_admin_up', nsl()), 0, 'admin_up sum');
    assert.equal(s.sum('netlink_interface_flaps_total', nsl()), 0, 'flaps sum');
  });

  test(`interfaces.max_tracked: ${MAX_TRACKED}: ${MAX_TRACKED} tracked, the rest counted as dropped`, async () => {
    const links = ns.links();
    const s = await capped!.scrape();
    const names = infoNames(s);
    assert.equal(names.length, MAX_TRACKED, `netlink_interface_info series: ${names.length}`);
    assert.equal(new Set(names).size, MAX_TRACKED, 'distinct interfaces');
    const kernelNames = new Set(links.map((l) => l.ifname));
    assert.deepEqual(
      names.filter((n) => !kernelNames.has(n)),
      [],
      'every tracked interface exists in the kernel',
    );
    assert.equal(
      s.value('netlink_tracked_interfaces', nsl()),
      MAX_TRACKED,
      s.show('netlink_tracked_interfaces', nsl()),
    );
    // lo counts like any other interface: 501 links, 100 tracked.
    assert.equal(
      s.value('netlink_series_limit_dropped_total', nsl()),
      links.length - MAX_TRACKED,
      s.show('netlink_series_limit_dropped_total', nsl()),
    );
    // No per-interface series for the untracked ones, of any metric.
    const untracked = created.filter((n) => !names.includes(n));
    const leaked = untracked.filter((n) => s.withLabels({ netns: ns.name, interface: n }).length > 0);
    assert.deepEqual(leaked.slice(0, 10), [], `${leaked.length} untracked interfaces with series`);
  });

  test('all deleted: after the grace period no series of them remain; tracked back to lo', async () => {
    const s0 = await capped!.scrape();
    const dropped = s0.value('netlink_series_limit_dropped_total', nsl());
    ns.ip('link', 'del', 'group', String(GROUP));
    assert.deepEqual(
      ns.links().map((l) => l.ifname),
      ['lo'],
      'kernel: only lo left (test setup)',
    );
    const gone = new Set(created);
    for (const [name, ex] of [
      ['exporter', full!],
      ['capped exporter', capped!],
    ] as const) {
      const s = await ex.waitFor(
        `${name}: no series of the deleted interfaces, netlink_tracked_interfaces 1`,
        (sc) => {
          const left = sc.samples.filter(
            (x) => x.labels.netns === ns.name && x.labels.interface !== undefined && gone.has(x.labels.interface),
          );
          const tracked = sc.value('netlink_tracked_interfaces', nsl());
          if (left.length === 0 && tracked === 1) return true;
          const ifaces = [...new Set(left.map((x) => x.labels.interface))];
          return `${left.length} series of ${ifaces.length} deleted interfaces (e.g. ${ifaces.slice(0, 5).join(', ')}); netlink_tracked_interfaces ${tracked}`;
        },
        { timeoutMs: 15_000, intervalMs: 200 },
      );
      assert.deepEqual(infoNames(s), ['lo'], `${name}: netlink_interface_info`);
    }
    const s = await capped!.scrape();
    assert.equal(
      s.value('netlink_series_limit_dropped_total', nsl()),
      dropped,
      'deletions do not move the dropped counter',
    );
  });
});
