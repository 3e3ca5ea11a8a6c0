// Exemplars end to end: the exporter with tracing on (spans to a real OTLP receiver started
// here) is scraped by a real Prometheus running with --enable-feature=exemplar-storage, which
// asks for OpenMetrics. After an interface flap and an address change in a private network
// namespace, Prometheus's /api/v1/query_exemplars returns, on netlink_interface_flaps_total and
// netlink_address_changes_total, the trace ids of the outage and address spans the receiver got:
// what lets Grafana jump from a flap rate to the outage span. Also: the OpenMetrics exposition
// itself (content type, TYPE lines, exemplar syntax, # EOF), that Prometheus ingests every
// family from it, and that the plain text format stays exemplar-free and promtool-clean.
//
// Nothing waits by sleeping: every step polls with a deadline. Everything started here goes on
// every exit path.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { createNetns, liveDescribe, Netns, onProcessExit } from '../helpers/netns';
import { Exporter, httpGet, parseExposition, poll, startExporter } from '../helpers/exporter';
import { OtlpReceiver } from '../helpers/otlp-receiver';

const PROMETHEUS = '/usr/bin/prometheus';
const JOB = 'nle-exemplars';
const OPENMETRICS_ACCEPT = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

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

function getWithAccept(url: string, accept: string): Promise<{ status: number; contentType: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, headers: { accept, connection: 'close' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`GET ${url}: no answer`)));
    req.on('error', reject);
  });
}

interface ExemplarResult {
  seriesLabels: Record<string, string>;
  exemplars: { labels: Record<string, string>; value: string; timestamp: number }[];
}

liveDescribe('exemplars: from a flap rate in Prometheus to the outage span', { timeout: 120_000 }, () => {
  let ns: Netns;
  let tmp = '';
  let receiver: OtlpReceiver | undefined;
  let ex: Exporter | undefined;
  let prometheus: ChildProcess | undefined;
  const promOutput: string[] = [];
  let promUrl = '';
  let removeExitHook: (() => void) | undefined;

  const promLogs = (): string => `prometheus output (last 15 lines):\n${promOutput.slice(-15).join('\n')}`;

  async function promApi<T>(p: string): Promise<T> {
    const r = await httpGet(`${promUrl}${p}`, 10_000);
    const body = JSON.parse(r.body) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`${p}: ${body.error ?? r.body.slice(0, 300)}`);
    return body.data;
  }

  async function exemplarsOf(selector: string): Promise<ExemplarResult[]> {
    const now = Date.now() / 1000;
    return promApi<ExemplarResult[]>(`/api/v1/query_exemplars?query=${encodeURIComponent(selector)}&start=${now - 600}&end=${now + 60}`);
  }

  async function waitForExemplar(selector: string, traceId: string): Promise<ExemplarResult['exemplars'][number]> {
    let found: ExemplarResult['exemplars'][number] | undefined;
    await poll(
      `an exemplar with trace_id ${traceId} on ${selector}`,
      async () => {
        const results = await exemplarsOf(selector);
        found = results.flatMap((r) => r.exemplars).find((e) => e.labels.trace_id === traceId);
        return found ? true : `exemplars: ${JSON.stringify(results.map((r) => r.exemplars.map((e) => e.labels.trace_id)))}`;
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${promLogs()}`);
    });
    return found!;
  }

  before(async () => {
    assert.ok(fs.existsSync(PROMETHEUS), `${PROMETHEUS} is missing: apt-get install -y --no-install-recommends prometheus`);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nle-exemplars-'));
    removeExitHook = onProcessExit(() => {
      try {
        prometheus?.kill('SIGKILL');
      } catch {
        // gone
      }
      fs.rmSync(tmp, { recursive: true, force: true });
    });
    ns = createNetns('exemplars');
    ns.addVeth('xe0', 'xe1', { up: true });
    receiver = new OtlpReceiver();
    await receiver.start();
    const env: NodeJS.ProcessEnv = {};
    for (const key of Object.keys(process.env)) if (key.startsWith('OTEL_')) env[key] = undefined;
    ex = await startExporter({
      netns: [ns.name],
      env: { ...env, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_BSP_SCHEDULE_DELAY: '100' },
    });
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
      '--enable-feature=exemplar-storage',
      '--log.level=warn',
    ];
    prometheus = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer): void => {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) promOutput.push(line);
      if (promOutput.length > 200) promOutput.splice(0, promOutput.length - 200);
    };
    prometheus.stdout!.on('data', keep);
    prometheus.stderr!.on('data', keep);
    await poll(
      'Prometheus scraping the exporter (up == 1)',
      async () => {
        if (prometheus!.exitCode !== null) throw new Error(`prometheus exited (${prometheus!.exitCode})`);
        const r = await promApi<{ result: { value: [number, string] }[] }>(`/api/v1/query?query=${encodeURIComponent(`up{job="${JOB}"}`)}`);
        return r.result[0]?.value[1] === '1' ? true : `up = ${r.result[0]?.value[1] ?? '(no sample yet)'}`;
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
    await receiver?.stop();
    ns?.delete();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    removeExitHook?.();
  });

  test('the OpenMetrics exposition: content type, counter TYPE lines without _total, # EOF, and Prometheus ingests every family of it', async () => {
    const om = await getWithAccept(`${ex!.baseUrl}/metrics`, OPENMETRICS_ACCEPT);
    assert.equal(om.status, 200);
    assert.equal(om.contentType, 'application/openmetrics-text; version=1.0.0; charset=utf-8');
    assert.ok(om.body.endsWith('\n# EOF\n'), `ends with # EOF: ...${JSON.stringify(om.body.slice(-40))}`);
    assert.equal(om.body.split('\n').filter((l) => l === '# EOF').length, 1, 'one # EOF');
    assert.ok(!/\n\n/.test(om.body), 'no blank lines');
    assert.ok(om.body.includes('# TYPE netlink_interface_flaps counter\n'), 'counter family named without _total');
    assert.ok(!om.body.includes('# TYPE netlink_interface_flaps_total'), 'no _total in a TYPE line');
    assert.ok(om.body.includes('# TYPE process_cpu_seconds counter\n'), "prom-client's counters too");
    // Prometheus took all of it: the same metric names as the text format, from the same exporter.
    const text = parseExposition((await ex!.get('/metrics')).body);
    const textNames = new Set(text.samples.map((s) => s.name));
    // OpenMetrics adds each counter sample's `_created` sample; a Prometheus without
    // created-timestamp zero ingestion (this one) stores those as series of their own.
    const createdNames = new Set([...text.types].filter(([, type]) => type === 'counter').map(([name]) => name.replace(/_total$/, '_created')));
    await poll(
      'Prometheus has every metric name of the exposition',
      async () => {
        const r = await promApi<{ result: { metric: { __name__: string } }[] }>(`/api/v1/query?query=${encodeURIComponent(`count by (__name__) ({job="${JOB}"})`)}`);
        const got = new Set(r.result.map((x) => x.metric.__name__).filter((n) => n !== 'up' && !n.startsWith('scrape_')));
        const missing = [...textNames].filter((n) => !got.has(n));
        const extra = [...got].filter((n) => !textNames.has(n) && !createdNames.has(n));
        return missing.length === 0 && extra.length === 0 ? true : `missing ${missing.join(', ') || '-'}; extra ${extra.join(', ') || '-'}`;
      },
      { timeoutMs: 15_000, intervalMs: 200 },
    );
  });

  test('a flap: the outage span trace id is an exemplar of netlink_interface_flaps_total in Prometheus', async () => {
    const labels = { netns: ns.name, interface: 'xe0' };
    ns.ip('link', 'set', 'dev', 'xe0', 'down');
    await ex!.waitForValue('netlink_interface_up', labels, 0);
    ns.ip('link', 'set', 'dev', 'xe0', 'up');
    await ex!.waitForValue('netlink_interface_up', labels, 1);
    await receiver!.waitFor('the outage span of xe0', () => (receiver!.find('interface.outage', { 'network.interface.name': 'xe0' }).length === 1 ? true : 'none yet'));
    const [span] = receiver!.find('interface.outage', { 'network.interface.name': 'xe0' });
    // In the exposition first (OpenMetrics only)...
    const om = await getWithAccept(`${ex!.baseUrl}/metrics`, OPENMETRICS_ACCEPT);
    const line = om.body.split('\n').find((l) => l.startsWith(`netlink_interface_flaps_total{netns="${ns.name}",interface="xe0"}`));
    assert.match(line ?? '', new RegExp(`^\\S+ 1 # \\{trace_id="${span!.traceId}",span_id="${span!.spanId}"\\} 1 \\d+\\.\\d{3}$`), `the flap counter line: ${line}`);
    // ...then in Prometheus.
    const exemplar = await waitForExemplar(`netlink_interface_flaps_total{netns="${ns.name}",interface="xe0"}`, span!.traceId);
    assert.equal(exemplar.labels.span_id, span!.spanId);
    assert.equal(Number(exemplar.value), 1);
    assert.ok(Math.abs(exemplar.timestamp * 1000 - span!.startMs) < 2, `exemplar time ${exemplar.timestamp} is the outage start ${span!.startMs / 1000}`);
  });

  test('an address added: its span trace id is an exemplar of netlink_address_changes_total{action="added"}', async () => {
    ns.ip('addr', 'add', '10.67.0.1/24', 'dev', 'xe1');
    await receiver!.waitFor('the address span', () => (receiver!.find('address.added', { 'netlink.address.ip': '10.67.0.1' }).length === 1 ? true : 'none yet'));
    const [span] = receiver!.find('address.added', { 'netlink.address.ip': '10.67.0.1' });
    const exemplar = await waitForExemplar(`netlink_address_changes_total{netns="${ns.name}",interface="xe1",family="inet",action="added"}`, span!.traceId);
    assert.equal(exemplar.labels.span_id, span!.spanId);
    const none = await exemplarsOf(`netlink_address_changes_total{netns="${ns.name}",interface="xe1",action="removed"}`);
    assert.equal(none.flatMap((r) => r.exemplars).length, 0, 'no exemplar on a series no span moved');
  });

  test('the plain text format carries no exemplar and promtool still accepts it (with the trace counters present)', async () => {
    const res = await ex!.get('/metrics');
    assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    assert.ok(!res.body.includes(' # {'), 'no exemplar in the text format');
    assert.ok(res.body.includes('netlink_trace_spans_dropped_total{reason="queue_full"} 0\n'), 'the drop counter, tracing being on');
    const r = spawnSync('promtool', ['check', 'metrics'], { input: res.body, encoding: 'utf8' });
    assert.equal(r.status, 0, `promtool check metrics:\n${r.stdout}${r.stderr}`);
  });
});
