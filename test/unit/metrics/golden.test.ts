// A golden /metrics, as node_exporter's e2e test keeps one (collector/fixtures/e2e-output.txt):
// every captured kernel fixture (test/fixtures/NN-*.json, in capture order) goes through the codec
// into one model with a fixed clock, and the exposition is rendered by the function the server
// scrapes with (renderNetlinkMetrics), with the default config's options, in both formats the
// server speaks. Diffed against test/fixtures/golden/, so a change to any series shows in review.
//
//   UPDATE_GOLDEN=1 node --test dist/test/unit/metrics/golden.test.js    # rewrites the files
//
// What is not the server's, so that the output is the same on every machine and every run:
// - the model is replayed by test/helpers/fixture-model.ts (replayFixtureSource), which fixes:
//   - the clock: the model's starts at FIXTURE_EPOCH and moves one second per fixture (`_created`,
//     last-change timestamps); deleted interfaces therefore stay within their grace period;
//   - two VIPs (the default config has none), so that the VIP families have samples: one held at
//     the end, one added and removed on the way;
//   - the session's numbers (overruns, resyncs, the granted receive buffer, the queue): stand-ins,
//     as no socket is open; every message counts as a notification;
// - netlink_collector_duration_seconds (a measured time) and the nodejs_version label of
//   netlink_exporter_build_info are replaced by `<varies>`; the version is GOLDEN_VERSION;
// - of the registry prom-client serves, only the contract's families (config reloads, event
//   stream, HTTP), registered as main.ts registers them, from fixed numbers: the process_* and
//   nodejs_* default metrics vary by machine and run, and are not ours.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';

import { DEFAULT_CONFIG } from '../../../src/config/config';
import { registerEventStreamMetrics } from '../../../src/http/event-stream-metrics';
import { registerHttpMetrics } from '../../../src/http/http-metrics';
import { collectorOptionsFrom, renderNetlinkMetrics, type NamespaceSource } from '../../../src/metrics/render';
import { DiscoveredTotals } from '../../../src/metrics/discovered';
import { OPENMETRICS_EOF, textToOpenMetrics } from '../../../src/metrics/openmetrics';
import { registerReloadMetrics } from '../../../src/metrics/registry';
import { FIXTURE_EPOCH, replayFixtureSource } from '../../helpers/fixture-model';
import { FIXTURE_DIR } from '../../helpers/paths';

const GOLDEN_DIR = join(FIXTURE_DIR, 'golden');
/** 2026-01-01T00:00:00Z (the replayed model's clock starts here). */
const GOLDEN_EPOCH = FIXTURE_EPOCH;
const GOLDEN_VERSION = '0.0.0-golden';

/** The registry's owners' numbers (no server here); the namespace's are fixture-model.ts's. */
const STAND_IN = {
  reloads: { successful: true, lastSuccess: GOLDEN_EPOCH },
  eventStream: { clients: 1, refused: 0, tooSlow: 0, stalled: 0 },
  http: {
    requestsInFlight: 1,
    refused: { unauthorized: 0, rate_limited: 0, auth_busy: 0, pipelined: 0, tls_handshake: 0, connections: 0 },
  },
};

/** What varies by machine and run, replaced (see the top of this file). */
function normalize(text: string): string {
  return text
    .replace(/^(netlink_collector_duration_seconds\{[^}]*\}) \S+$/gm, '$1 <varies>')
    .replace(/^(netlink_exporter_build_info\{.*nodejs_version=)"[^"]*"/gm, '$1"<varies>"');
}

/** The contract's families that prom-client serves, registered in main.ts's order, from STAND_IN. */
async function registryText(): Promise<string> {
  const registry = new Registry();
  registerReloadMetrics(registry, STAND_IN.reloads);
  registerEventStreamMetrics(registry, () => STAND_IN.eventStream);
  registerHttpMetrics(registry, () => STAND_IN.http);
  return registry.metrics();
}

/** The body of a scrape, assembled as main.ts's scrape() does: the netlink families, then the registry's. */
async function scrape(source: NamespaceSource, openMetrics: boolean): Promise<string> {
  const discovered = new DiscoveredTotals();
  discovered.enabled = DEFAULT_CONFIG.netnsAll;
  const options = { ...collectorOptionsFrom(DEFAULT_CONFIG), openMetrics, discovered };
  const errors: string[] = [];
  const netlink = Buffer.concat(
    renderNetlinkMetrics([source], options, GOLDEN_VERSION, (name, err) =>
      errors.push(`${name}: ${err.stack ?? err.message}`),
    ),
  ).toString();
  assert.deepEqual(errors, [], 'no collector fails');
  const registry = await registryText();
  return normalize(
    openMetrics ? netlink + textToOpenMetrics(registry, GOLDEN_EPOCH) + OPENMETRICS_EOF : netlink + registry,
  );
}

/** A scrape of a model fed the fixtures afresh. */
async function scrapeFixtures(openMetrics: boolean): Promise<string> {
  const fed = replayFixtureSource();
  try {
    return await scrape(fed, openMetrics);
  } finally {
    fed.model.close();
  }
}

/**
 * Where `actual` departs from `expected`: the first differing line with a little context, then
 * the lines only one side has (a moved or added series shifts every line after it).
 */
function describeDiff(expected: string, actual: string, file: string): string {
  const want = expected.split('\n');
  const got = actual.split('\n');
  let at = 0;
  while (at < want.length && at < got.length && want[at] === got[at]) at++;
  const out = [
    `${file} differs from the rendered /metrics at line ${at + 1} (UPDATE_GOLDEN=1 rewrites it; review the change):`,
  ];
  for (let i = Math.max(0, at - 3); i < at; i++) out.push(`  ${i + 1}: ${want[i]}`);
  for (let i = at; i < Math.min(at + 3, want.length); i++) out.push(`- ${i + 1}: ${want[i]}`);
  for (let i = at; i < Math.min(at + 3, got.length); i++) out.push(`+ ${i + 1}: ${got[i]}`);
  const wantSet = new Set(want);
  const gotSet = new Set(got);
  const onlyWant = want.filter((l) => !gotSet.has(l));
  const onlyGot = got.filter((l) => !wantSet.has(l));
  const list = (title: string, lines: string[]): void => {
    if (lines.length === 0) return;
    out.push(`${title} (${lines.length}${lines.length > 20 ? ', first 20' : ''}):`);
    for (const l of lines.slice(0, 20)) out.push(`    ${l}`);
  };
  list('only in the golden file', onlyWant);
  list('only in the rendered /metrics', onlyGot);
  return out.join('\n');
}

function checkGolden(name: string, actual: string): void {
  const file = join(GOLDEN_DIR, name);
  const shown = `test/fixtures/golden/${name}`;
  if (process.env.UPDATE_GOLDEN === '1') {
    mkdirSync(GOLDEN_DIR, { recursive: true });
    writeFileSync(file, actual);
    return;
  }
  assert.ok(existsSync(file), `${shown} is missing: UPDATE_GOLDEN=1 writes it`);
  const expected = readFileSync(file, 'utf8');
  if (expected !== actual) assert.fail(describeDiff(expected, actual, shown));
}

test('golden /metrics, Prometheus text format (test/fixtures/golden/metrics.prom)', async () => {
  checkGolden('metrics.prom', await scrapeFixtures(false));
});

test('golden /metrics, OpenMetrics (test/fixtures/golden/metrics.openmetrics.txt)', async () => {
  checkGolden('metrics.openmetrics.txt', await scrapeFixtures(true));
});

test('a second scrape of the same model (from the cached link text) and of a model fed afresh render the same', async () => {
  const fed = replayFixtureSource();
  try {
    const first = await scrape(fed, false);
    assert.equal(await scrape(fed, true), await scrapeFixtures(true), 'OpenMetrics after text');
    assert.equal(await scrape(fed, false), first, 'text again');
    assert.equal(await scrapeFixtures(false), first, 'a model fed afresh');
  } finally {
    fed.model.close();
  }
});

test(
  'promtool check metrics accepts the golden text format',
  { skip: spawnSync('promtool', ['--version']).error ? 'promtool not installed' : false },
  () => {
    const text = readFileSync(join(GOLDEN_DIR, 'metrics.prom'), 'utf8').replace(/<varies>/g, '0');
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.equal(r.status, 0, `promtool check metrics failed:\n${r.stdout}${r.stderr}`);
  },
);
