// The shipped alerting rules: `promtool check rules` accepts them, `promtool test rules` runs
// their unit tests (config/prometheus/alerts.test.yml), and every rule is shaped as operators
// need it (severity, summary, description, runbook) and covered by a firing and a quiet case.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const RULES = path.join(ROOT, 'config', 'prometheus', 'alerts.yml');
const TESTS = path.join(ROOT, 'config', 'prometheus', 'alerts.test.yml');

/** The alerts the fleet view needs (docs/fleet.md): each must be in the rules file. */
const REQUIRED = [
  'InterfaceFlapping',
  'VipSplitBrain',
  'VipAbsent',
  'VipMacFlapping',
  'DefaultRouteLost',
  'DefaultRouteChanged',
  'RouteChurnHigh',
  'RoutesDropped',
  'RoutesGone',
  'AddressChurnHigh',
  'NetlinkOverruns',
  'NetlinkExporterDown',
  'NeighbourResolutionFailed',
  'BondLostRedundancy',
];

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

function promtool(...args: string[]): { status: number | null; output: string } {
  const r = spawnSync('promtool', args, { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  if (r.error)
    throw new Error(`promtool ${args.join(' ')}: ${r.error.message} (install the Debian package prometheus)`);
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

function rules(): Rule[] {
  const doc = parseYaml(fs.readFileSync(RULES, 'utf8')) as { groups: Array<{ rules: Rule[] }> };
  return doc.groups.flatMap((g) => g.rules);
}

test('promtool check rules accepts config/prometheus/alerts.yml', () => {
  const r = promtool('check', 'rules', RULES);
  assert.equal(r.status, 0, `promtool check rules failed:\n${r.output}`);
  assert.match(r.output, /SUCCESS: \d+ rules found/, r.output);
});

test('promtool test rules passes config/prometheus/alerts.test.yml', () => {
  const r = promtool('test', 'rules', TESTS);
  assert.equal(r.status, 0, `promtool test rules failed:\n${r.output}`);
  assert.match(r.output, /SUCCESS/, r.output);
});

test('every required alert exists, with a severity, a summary, a description and a runbook', () => {
  const all = rules();
  const names = new Set(all.map((r) => r.alert));
  for (const name of REQUIRED) assert.ok(names.has(name), `no rule alerts ${name}`);
  for (const rule of all) {
    const what = rule.alert ?? rule.record ?? rule.expr;
    assert.ok(rule.alert, `${what}: only alerting rules belong in alerts.yml`);
    assert.match(rule.labels?.severity ?? '', /^(critical|warning|info)$/, `${what}: severity label`);
    for (const key of ['summary', 'description', 'runbook']) {
      assert.ok((rule.annotations?.[key] ?? '').trim().length > 0, `${what}: ${key} annotation`);
    }
    // A paragraph: what it means, how to check it with `ip`, what to do.
    assert.ok(rule.annotations!.runbook!.length >= 300, `${what}: the runbook is a paragraph, not a line`);
    assert.match(
      rule.annotations!.runbook!,
      /`(ip|ss) [^`]+`/,
      `${what}: the runbook says how to check it on the host (ip/ss commands)`,
    );
  }
  const flapping = all.find((r) => r.alert === 'InterfaceFlapping')!;
  assert.match(
    flapping.expr,
    /(increase|rate)\(netlink_interface_flaps_total\[/,
    'InterfaceFlapping counts flaps, not gauge samples',
  );
  // Route loss is seen whether the group's series reads 0 or vanished (a restarted exporter), but
  // not when the exporter or the namespace went (other alerts say that).
  for (const name of ['RoutesDropped', 'RoutesGone']) {
    const rule = all.find((r) => r.alert === name)!;
    assert.match(rule.expr, /unless netlink_routes\b/, `${name} treats a vanished netlink_routes series as 0`);
    assert.match(rule.expr, /netlink_namespace_ready == 1/, `${name} needs the namespace watched`);
  }
  const down = all.find((r) => r.alert === 'NetlinkExporterDown')!;
  assert.match(down.expr, /\bup\{[^}]*job=/, "NetlinkExporterDown is about the job's up series");
});

test('the unit tests cover every alert with a firing case and a quiet case', () => {
  const doc = parseYaml(fs.readFileSync(TESTS, 'utf8')) as {
    rule_files: string[];
    tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] }> }>;
  };
  assert.deepEqual(doc.rule_files, ['alerts.yml']);
  const firing = new Set<string>();
  const quiet = new Set<string>();
  for (const t of doc.tests) {
    for (const c of t.alert_rule_test ?? []) {
      ((c.exp_alerts ?? []).length > 0 ? firing : quiet).add(c.alertname);
    }
  }
  for (const name of new Set(rules().map((r) => r.alert!))) {
    assert.ok(firing.has(name), `${name}: no test case where it fires`);
    assert.ok(quiet.has(name), `${name}: no test case where it must not fire`);
  }
});
