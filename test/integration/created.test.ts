// A counter whose label set is born after start-up (here: the first BGP routes of a table) must
// not hide its first burst from increase(). A real Prometheus scrapes the exporter in
// OpenMetrics; the exporter gives every counter sample a `_created` sample (when the label set
// was first seen).
//  - A Prometheus with created-timestamp zero ingestion for OpenMetrics text (2.55 and later,
//    --enable-feature=created-timestamp-zero-ingestion) puts a 0 at that time, so
//    increase() counts the whole first burst: asserted when the installed one has it.
//  - An older one (Debian bookworm's 2.42) stores `_created` as a series of its own and its
//    increase() misses the first burst: asserted as such, with the query the README gives for it
//    (the whole value of a series born inside the window), which counts the burst.
// Nothing waits by sleeping: every step polls with a deadline.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { createNetns, liveDescribe, Netns, onProcessExit } from '../helpers/netns';
import { Exporter, httpGet, OPENMETRICS_ACCEPT, poll, startExporter } from '../helpers/exporter';

const PROMETHEUS = '/usr/bin/prometheus';
const JOB = 'nle-created';
const BURST = 25;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** [major, minor] of `prometheus --version`. */
function prometheusVersion(): [number, number] {
  const out = spawnSync(PROMETHEUS, ['--version'], { encoding: 'utf8' });
  const m = /version (\d+)\.(\d+)/.exec(`${out.stdout}${out.stderr}`);
  assert.ok(m, `cannot read the version of ${PROMETHEUS}: ${out.stdout}${out.stderr}`);
  return [Number(m[1]), Number(m[2])];
}

liveDescribe('_created: the first burst of a counter born after start-up, in a real Prometheus', { timeout: 120_000 }, () => {
  let ns: Netns;
  let tmp = '';
  let ex: Exporter | undefined;
  let prometheus: ChildProcess | undefined;
  const promOutput: string[] = [];
  let promUrl = '';
  let removeExitHook: (() => void) | undefined;
  const [major, minor] = prometheusVersion();
  /** Created-timestamp zero ingestion of OpenMetrics text came with Prometheus 2.55. */
  const ingestsCreated = major > 2 || (major === 2 && minor >= 55);
  let bornAfter = 0;
  let bornBefore = 0;

  const promLogs = (): string => `prometheus output (last 15 lines):\n${promOutput.slice(-15).join('\n')}`;

  async function query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
    const r = await httpGet(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`, 10_000);
    const body = JSON.parse(r.body) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] }; error?: string };
    if (body.status !== 'success') throw new Error(`${expr}: ${body.error ?? r.body.slice(0, 300)}`);
    return body.data.result;
  }

  const selector = (name: string): string => `${name}{job="${JOB}",netns="${ns.name}",table="main",family="inet",protocol="bgp",action="added"}`;

  before(async () => {
    assert.ok(fs.existsSync(PROMETHEUS), `${PROMETHEUS} is missing: apt-get install -y --no-install-recommends prometheus`);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nle-created-'));
    removeExitHook = onProcessExit(() => {
      try {
        prometheus?.kill('SIGKILL');
      } catch {
        // gone
      }
      fs.rmSync(tmp, { recursive: true, force: true });
    });
    ns = createNetns('created');
    ns.addVeth('cr0', 'cr1', { up: true });
    ns.ip('addr', 'add', '10.70.0.1/24', 'dev', 'cr0');
    ex = await startExporter({ netns: [ns.name] });
    const promPort = await freePort();
    promUrl = `http://127.0.0.1:${promPort}`;
    fs.writeFileSync(
      path.join(tmp, 'prometheus.yml'),
      stringifyYaml({
        global: { scrape_interval: '1s', scrape_timeout: '1s' },
        scrape_configs: [{ job_name: JOB, static_configs: [{ targets: [`127.0.0.1:${ex.port}`] }] }],
      }),
    );
    const prefix = fs.existsSync('/usr/bin/setpriv') ? ['/usr/bin/setpriv', '--pdeathsig', 'KILL', '--'] : [];
    const argv = [
      ...prefix,
      PROMETHEUS,
      `--config.file=${path.join(tmp, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(tmp, 'data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
      ...(ingestsCreated ? ['--enable-feature=created-timestamp-zero-ingestion'] : []),
      '--log.level=warn',
    ];
    prometheus = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer): void => {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) promOutput.push(line);
      if (promOutput.length > 200) promOutput.splice(0, promOutput.length - 200);
    };
    prometheus.stdout!.on('data', keep);
    prometheus.stderr!.on('data', keep);
    // Two scrapes of the exporter before the burst: Prometheus knows the target, not the group.
    await poll(
      'Prometheus scraping the exporter twice (up == 1)',
      async () => {
        if (prometheus!.exitCode !== null) throw new Error(`prometheus exited (${prometheus!.exitCode})`);
        const r = await query(`count_over_time(up{job="${JOB}"}[1m])`);
        return Number(r[0]?.value[1] ?? 0) >= 2 ? true : `up samples: ${r[0]?.value[1] ?? '(none yet)'}`;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${promLogs()}`);
    });
  });

  after(async () => {
    if (prometheus && prometheus.exitCode === null && prometheus.signalCode === null) {
      const exited = new Promise<void>((resolve) => prometheus!.once('exit', () => resolve()));
      prometheus.kill('SIGTERM');
      const timer = setTimeout(() => prometheus?.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    await ex?.stop();
    ns?.delete();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    removeExitHook?.();
  });

  test(`a burst of ${BURST} BGP routes, the first of their group: the exporter gives the group's counters a _created sample`, async () => {
    bornAfter = Date.now() / 1000;
    ns.batch(Array.from({ length: BURST }, (_, i) => `route add 10.71.${i}.0/24 via 10.70.0.2 proto bgp`));
    await ex!.waitForValue('netlink_route_changes_total', { netns: ns.name, table: 'main', family: 'inet', protocol: 'bgp', action: 'added' }, BURST);
    bornBefore = Date.now() / 1000;
    const om = await httpGet(`${ex!.baseUrl}/metrics`, 10_000, { accept: OPENMETRICS_ACCEPT });
    const labels = `{netns="${ns.name}",table="main",family="inet",protocol="bgp",action="added"}`;
    const lines = om.body.split('\n');
    const at = lines.indexOf(`netlink_route_changes_total${labels} ${BURST}`);
    assert.ok(at >= 0, `the counter sample in:\n${lines.filter((l) => l.includes('protocol="bgp"')).join('\n')}`);
    const created = /^netlink_route_changes_created\{[^}]*\} (\S+)$/.exec(lines[at + 1] ?? '');
    assert.ok(created && (lines[at + 1] ?? '').startsWith(`netlink_route_changes_created${labels} `), `right after it, its _created sample: ${lines[at + 1]}`);
    const t = Number(created[1]);
    assert.ok(t >= Math.floor(bornAfter * 1000) / 1000 && t <= bornBefore, `_created ${t} within [${bornAfter}, ${bornBefore}]`);
  });

  test(ingestsCreated ? 'Prometheus (created-timestamp zero ingestion): increase() counts the first burst' : 'Prometheus before 2.55: increase() misses the first burst; the documented query counts it', async () => {
    const counter = selector('netlink_route_changes_total');
    // Enough samples after the burst for increase() to have something to work on.
    await poll(
      'three samples of the counter in Prometheus',
      async () => {
        const r = await query(`count_over_time(${counter}[2m])`);
        return Number(r[0]?.value[1] ?? 0) >= 3 ? true : `samples: ${r[0]?.value[1] ?? '(none yet)'}`;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${promLogs()}`);
    });
    const increase = Number((await query(`increase(${counter}[2m])`))[0]?.value[1] ?? NaN);
    console.log(`# prometheus ${major}.${minor}: increase() over the first burst of ${BURST} = ${increase}`);
    if (ingestsCreated) {
      // The zero at the created time makes the whole burst an increase (extrapolation only adds).
      assert.ok(increase >= BURST, `increase ${increase} >= ${BURST}`);
      return;
    }
    // The first sample already holds the burst: without the zero, increase() sees none of it.
    assert.equal(increase, 0, 'an older Prometheus misses the first burst');
    // It stores _created as a series of its own, with the first-seen time as its value.
    const created = Number((await query(selector('netlink_route_changes_created')))[0]?.value[1] ?? NaN);
    assert.ok(created >= Math.floor(bornAfter * 1000) / 1000 && created <= bornBefore, `netlink_route_changes_created ${created} within [${bornAfter}, ${bornBefore}]`);
    // The README's query for it: a series born inside the window counts whole.
    const window = '2m';
    const documented = `increase(${counter}[${window}]) unless (${selector('netlink_route_changes_created')} > time() - 120) or (${counter} and (${selector('netlink_route_changes_created')} > time() - 120))`;
    const r = await query(documented);
    assert.equal(Number(r[0]?.value[1] ?? NaN), BURST, `${documented}: ${JSON.stringify(r)}`);
  });
});
