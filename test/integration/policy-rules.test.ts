// Policy routing rules (`ip rule`), both families, in a private namespace: netlink_rules per
// (family, table) equals what the kernel lists, netlink_rule_changes_total counts each add and
// delete, the `rule` events print the rule as `ip rule` does, and after an overrun (the socket's
// smallest buffer and the exporter stopped while hundreds of rules change) the resync makes
// every count exact again.
//
// The steps build on each other: once one fails, the later ones are skipped.

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createNetns, liveDescribe, Netns, run } from '../helpers/netns';
import { Exporter, Scrape, startExporter } from '../helpers/exporter';
import { overrunAndResync, resumeAndStop } from '../helpers/overrun';
import { sequentialSteps } from '../helpers/steps';

type Json = Record<string, unknown>;
interface KernelRule {
  priority: number;
  table?: string;
}

const V4_STORM = 300;
const V6_STORM = 100;

liveDescribe('policy routing rules: gauges, counters, events, exact after a resync', { timeout: 180_000 }, () => {
  let ns: Netns;
  let ex: Exporter | undefined;
  let dir: string | undefined;
  /** netlink_rule_changes_total expected, by "family,action". */
  const changes = new Map<string, number>([
    ['inet,added', 0],
    ['inet,removed', 0],
    ['inet6,added', 0],
    ['inet6,removed', 0],
  ]);
  const bump = (family: string, action: string, n = 1) =>
    changes.set(`${family},${action}`, changes.get(`${family},${action}`)! + n);

  const step = sequentialSteps();

  /** The kernel's rules per "family,table" (a rule that looks no table up is table ""). */
  function kernelGroups(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [flag, family] of [
      ['-4', 'inet'],
      ['-6', 'inet6'],
    ] as const) {
      const text = run('ip', [flag, '-n', ns.name, '-j', 'rule', 'show']).stdout.trim();
      for (const r of (text === '' ? [] : JSON.parse(text)) as KernelRule[]) {
        const key = `${family},${r.table ?? ''}`;
        out.set(key, (out.get(key) ?? 0) + 1);
      }
    }
    return out;
  }

  /** Differences between the scrape and the kernel (groups the kernel no longer has must be at 0), and the expected counters. */
  function wrong(s: Scrape, kernel = kernelGroups()): string[] {
    const problems: string[] = [];
    const scraped = new Map<string, number>();
    for (const sample of s.series('netlink_rules', { netns: ns.name }))
      scraped.set(`${sample.labels.family},${sample.labels.table}`, sample.value);
    for (const [key, n] of kernel)
      if (scraped.get(key) !== n) problems.push(`${key}: ${scraped.get(key)}, kernel ${n}`);
    for (const [key, n] of scraped) if (!kernel.has(key) && n !== 0) problems.push(`${key}: ${n}, kernel has none`);
    for (const [key, n] of changes) {
      const [family, action] = key.split(',') as [string, string];
      const got = s.value('netlink_rule_changes_total', { netns: ns.name, family, action });
      if (got !== n) problems.push(`changes ${key}: ${got}, expected ${n}`);
    }
    return problems;
  }

  const settle = (what: string) =>
    ex!.waitFor(what, (s) => {
      const w = wrong(s);
      return w.length ? w.slice(0, 8).join('; ') : true;
    });

  /** `ip rule show` of the namespace, one line per rule, the tab after the priority as a space. */
  function ipRuleLines(flag: '-4' | '-6'): string[] {
    return run('ip', [flag, '-n', ns.name, 'rule', 'show'])
      .stdout.split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => l.replace('\t', ' ').trimEnd());
  }

  async function ruleEvents(): Promise<Json[]> {
    const res = await ex!.get('/api/v1/events?kind=rule&limit=1000');
    assert.equal(res.status, 200, res.body.slice(0, 300));
    return (JSON.parse(res.body) as { events: Json[] }).events;
  }

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nle-rules-'));
    const config = path.join(dir, 'config.yml');
    // The kernel's smallest receive buffer: the storm while the exporter is stopped overruns it.
    fs.writeFileSync(config, 'socket:\n  receive_buffer_bytes: 1\n');
    ns = createNetns('rules');
    ns.ip('link', 'set', 'dev', 'lo', 'up');
    ns.addVeth('rl0', 'rl1', { up: true });
    ex = await startExporter({ netns: [ns.name], configFile: config });
  });

  after(async () => {
    await resumeAndStop(ex);
    ns?.delete();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  step("at start: the kernel's default rules, counted at their tables; the counters at 0", async () => {
    const s = await settle('the default rules');
    const netns = ns.name;
    assert.equal(s.value('netlink_rules', { netns, family: 'inet', table: 'local' }), 1);
    assert.equal(s.value('netlink_rules', { netns, family: 'inet', table: 'main' }), 1);
    assert.equal(s.value('netlink_rules', { netns, family: 'inet', table: 'default' }), 1);
    assert.equal(s.value('netlink_rules', { netns, family: 'inet6', table: 'local' }), 1);
    assert.equal(s.value('netlink_rules', { netns, family: 'inet6', table: 'main' }), 1);
    assert.equal(s.series('netlink_rules', { netns }).length, 5, s.show('netlink_rules', { netns }));
    assert.equal(s.series('netlink_rule_changes_total', { netns }).length, 4);
    assert.equal(s.value('netlink_rules_dropped_total', { netns }), 0);
    assert.equal((await ruleEvents()).length, 0, 'the initial dump is quiet');
  });

  step('ip rule add, v4 and v6, with from/to/iif/fwmark/table/priority: gauges, counters and events', async () => {
    ns.ip('rule', 'add', 'from', '10.1.0.0/16', 'lookup', '100', 'priority', '32765');
    ns.ip('rule', 'add', 'to', '10.2.0.0/24', 'iif', 'rl0', 'fwmark', '0x1', 'table', '200', 'priority', '100');
    ns.ip('-6', 'rule', 'add', 'from', '2001:db8::/32', 'iif', 'rl0', 'table', '100', 'priority', '200');
    ns.ip('-6', 'rule', 'add', 'to', '2001:db8:5::/48', 'fwmark', '0x20/0xf0', 'table', 'main', 'priority', '300');
    bump('inet', 'added', 2);
    bump('inet6', 'added', 2);
    const s = await settle('four rules added');
    const netns = ns.name;
    assert.equal(s.value('netlink_rules', { netns, family: 'inet', table: '100' }), 1);
    assert.equal(s.value('netlink_rules', { netns, family: 'inet', table: '200' }), 1);
    assert.equal(s.value('netlink_rules', { netns, family: 'inet6', table: '100' }), 1);
    assert.equal(s.value('netlink_rules', { netns, family: 'inet6', table: 'main' }), 2);

    const events = await ruleEvents();
    const got = events.map((e) => `${e.action} ${e.family} ${e.table} ${e.priority} ${e.rule}`);
    assert.deepEqual(got, [
      'added inet 100 32765 32765: from 10.1.0.0/16 lookup 100',
      'added inet 200 100 100: from all to 10.2.0.0/24 fwmark 0x1 iif rl0 lookup 200',
      'added inet6 100 200 200: from 2001:db8::/32 iif rl0 lookup 100',
      'added inet6 main 300 300: from all to 2001:db8:5::/48 fwmark 0x20/0xf0 lookup main',
    ]);
    // Each event's text is the line `ip rule show` prints for it.
    const lines = [...ipRuleLines('-4'), ...ipRuleLines('-6')];
    for (const e of events)
      assert.ok(lines.includes(e.rule as string), `${String(e.rule)} not in:\n${lines.join('\n')}`);
    for (const e of events) {
      assert.equal(e.kind, 'rule');
      assert.equal(e.netns, ns.name);
    }
  });

  step('ip rule del: the counts go down, an emptied table stays at 0, removed events', async () => {
    ns.ip('rule', 'del', 'priority', '32765');
    ns.ip('-6', 'rule', 'del', 'priority', '300');
    bump('inet', 'removed');
    bump('inet6', 'removed');
    const s = await settle('two rules deleted');
    const netns = ns.name;
    assert.equal(s.value('netlink_rules', { netns, family: 'inet', table: '100' }), 0, 'an emptied group stays at 0');
    assert.equal(s.value('netlink_rules', { netns, family: 'inet6', table: 'main' }), 1);
    const removed = (await ruleEvents()).filter((e) => e.action === 'removed').map((e) => `${e.family} ${e.rule}`);
    assert.deepEqual(removed, [
      'inet 32765: from 10.1.0.0/16 lookup 100',
      'inet6 300: from all to 2001:db8:5::/48 fwmark 0x20/0xf0 lookup main',
    ]);
  });

  step('rules changed while the socket overran: after the resync every count equals the kernel', async () => {
    const v4: string[] = [];
    for (let i = 0; i < V4_STORM; i++)
      v4.push(`rule add from 10.9.${i >> 8}.${i & 255} table 300 priority ${1000 + i}`);
    v4.push('rule del priority 100');
    const v6: string[] = [];
    for (let i = 0; i < V6_STORM; i++)
      v6.push(`rule add from 2001:db8:9::${(i + 1).toString(16)} table 301 priority ${2000 + i}`);
    v6.push('rule del priority 200');
    bump('inet', 'added', V4_STORM);
    bump('inet', 'removed');
    bump('inet6', 'added', V6_STORM);
    bump('inet6', 'removed');
    const { scrape: s } = await overrunAndResync(
      ex!,
      ns.name,
      () => {
        run('ip', ['-n', ns.name, '-batch', '-'], { input: v4.join('\n') + '\n' });
        run('ip', ['-6', '-n', ns.name, '-batch', '-'], { input: v6.join('\n') + '\n' });
      },
      {
        what: 'a resync, then the rules equal the kernel',
        until: (sc) => {
          const w = wrong(sc);
          return w.length ? w.slice(0, 8).join('; ') : true;
        },
      },
    );
    const netns = ns.name;
    assert.equal(s.value('netlink_rules', { netns, family: 'inet', table: '300' }), V4_STORM);
    assert.equal(s.value('netlink_rules', { netns, family: 'inet6', table: '301' }), V6_STORM);
    assert.equal(s.value('netlink_rules', { netns, family: 'inet', table: '200' }), 0);
    assert.equal(s.value('netlink_rules', { netns, family: 'inet6', table: '100' }), 0);
    // The deletions the socket may have lost are told by the sweep: one removed event each.
    const removed = (await ruleEvents()).filter((e) => e.action === 'removed').map((e) => e.priority);
    assert.deepEqual(removed.filter((p) => p === 100 || p === 200).sort(), [100, 200]);
  });
});
