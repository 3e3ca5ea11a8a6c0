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
import { spawnSync } from 'node:child_process';
import { createNetns, liveDescribe, Netns } from '../helpers/netns';
import { Exporter, httpGet, OPENMETRICS_ACCEPT, parseExposition, poll, startExporter } from '../helpers/exporter';
import { OtlpReceiver, startOtlpReceiver } from '../helpers/otlp-receiver';
import { TestPrometheus } from '../helpers/prometheus';

const JOB = 'nle-exemplars';

/** The exposition as Prometheus asks for it. */
async function getOpenMetrics(url: string): Promise<{ status: number; contentType: string; body: string }> {
  const r = await httpGet(url, 10_000, { accept: OPENMETRICS_ACCEPT });
  return { status: r.status, contentType: String(r.headers['content-type'] ?? ''), body: r.body };
}

interface ExemplarResult {
  seriesLabels: Record<string, string>;
  exemplars: { labels: Record<string, string>; value: string; timestamp: number }[];
}

liveDescribe('exemplars: from a flap rate in Prometheus to the outage span', { timeout: 120_000 }, () => {
  let ns: Netns;
  let receiver: OtlpReceiver | undefined;
  let ex: Exporter | undefined;
  let prometheus: TestPrometheus | undefined;

  const promApi = <T>(p: string): Promise<T> => prometheus!.api<T>(p);

  async function exemplarsOf(selector: string): Promise<ExemplarResult[]> {
    const now = Date.now() / 1000;
    return promApi<ExemplarResult[]>(
      `/api/v1/query_exemplars?query=${encodeURIComponent(selector)}&start=${now - 600}&end=${now + 60}`,
    );
  }

  async function waitForExemplar(selector: string, traceId: string): Promise<ExemplarResult['exemplars'][number]> {
    let found: ExemplarResult['exemplars'][number] | undefined;
    await poll(
      `an exemplar with trace_id ${traceId} on ${selector}`,
      async () => {
        const results = await exemplarsOf(selector);
        found = results.flatMap((r) => r.exemplars).find((e) => e.labels.trace_id === traceId);
        return found
          ? true
          : `exemplars: ${JSON.stringify(results.map((r) => r.exemplars.map((e) => e.labels.trace_id)))}`;
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${prometheus!.logs()}`);
    });
    return found!;
  }

  before(async () => {
    ns = createNetns('exemplars');
    ns.addVeth('xe0', 'xe1', { up: true });
    receiver = await startOtlpReceiver({ transport: 'http' });
    const env: NodeJS.ProcessEnv = {};
    for (const key of Object.keys(process.env)) if (key.startsWith('OTEL_')) env[key] = undefined;
    ex = await startExporter({
      netns: [ns.name],
      env: { ...env, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_BSP_SCHEDULE_DELAY: '100' },
    });
    prometheus = await TestPrometheus.start({
      job: JOB,
      target: `127.0.0.1:${ex.port}`,
      flags: ['--enable-feature=exemplar-storage'],
    });
  });

  after(async () => {
    await prometheus?.stop();
    await ex?.stop();
    await receiver?.close();
    ns?.delete();
  });

  test('the OpenMetrics exposition: content type, counter TYPE lines without _total, # EOF, and Prometheus ingests every family of it', async () => {
    const om = await getOpenMetrics(`${ex!.baseUrl}/metrics`);
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
    const createdNames = new Set(
      [...text.types].filter(([, type]) => type === 'counter').map(([name]) => name.replace(/_total$/, '_created')),
    );
    await poll(
      'Prometheus has every metric name of the exposition',
      async () => {
        const r = await promApi<{ result: { metric: { __name__: string } }[] }>(
          `/api/v1/query?query=${encodeURIComponent(`count by (__name__) ({job="${JOB}"})`)}`,
        );
        const got = new Set(
          r.result.map((x) => x.metric.__name__).filter((n) => n !== 'up' && !n.startsWith('scrape_')),
        );
        const missing = [...textNames].filter((n) => !got.has(n));
        const extra = [...got].filter((n) => !textNames.has(n) && !createdNames.has(n));
        return missing.length === 0 && extra.length === 0
          ? true
          : `missing ${missing.join(', ') || '-'}; extra ${extra.join(', ') || '-'}`;
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
    await receiver!.waitFor('the outage span of xe0', () =>
      receiver!.find('interface.outage', { 'network.interface.name': 'xe0' }).length === 1 ? true : 'none yet',
    );
    const [span] = receiver!.find('interface.outage', { 'network.interface.name': 'xe0' });
    // In the exposition first (OpenMetrics only)...
    const om = await getOpenMetrics(`${ex!.baseUrl}/metrics`);
    const line = om.body
      .split('\n')
      .find((l) => l.startsWith(`netlink_interface_flaps_total{netns="${ns.name}",interface="xe0"}`));
    assert.match(
      line ?? '',
      new RegExp(`^\\S+ 1 # \\{trace_id="${span!.traceId}",span_id="${span!.spanId}"\\} 1 \\d+\\.\\d{3}$`),
      `the flap counter line: ${line}`,
    );
    // ...then in Prometheus.
    const exemplar = await waitForExemplar(
      `netlink_interface_flaps_total{netns="${ns.name}",interface="xe0"}`,
      span!.traceId,
    );
    assert.equal(exemplar.labels.span_id, span!.spanId);
    assert.equal(Number(exemplar.value), 1);
    assert.ok(
      Math.abs(exemplar.timestamp * 1000 - span!.startMs) < 2,
      `exemplar time ${exemplar.timestamp} is the outage start ${span!.startMs / 1000}`,
    );
  });

  test('an address added: its span trace id is an exemplar of netlink_address_changes_total{action="added"}', async () => {
    ns.ip('addr', 'add', '10.67.0.1/24', 'dev', 'xe1');
    await receiver!.waitFor('the address span', () =>
      receiver!.find('address.added', { 'netlink.address.ip': '10.67.0.1' }).length === 1 ? true : 'none yet',
    );
    const [span] = receiver!.find('address.added', { 'netlink.address.ip': '10.67.0.1' });
    const exemplar = await waitForExemplar(
      `netlink_address_changes_total{netns="${ns.name}",interface="xe1",family="inet",action="added"}`,
      span!.traceId,
    );
    assert.equal(exemplar.labels.span_id, span!.spanId);
    const none = await exemplarsOf(
      `netlink_address_changes_total{netns="${ns.name}",interface="xe1",action="removed"}`,
    );
    assert.equal(none.flatMap((r) => r.exemplars).length, 0, 'no exemplar on a series no span moved');
  });

  test('the plain text format carries no exemplar and promtool still accepts it (with the trace counters present)', async () => {
    const res = await ex!.get('/metrics');
    assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    assert.ok(!res.body.includes(' # {'), 'no exemplar in the text format');
    assert.ok(
      res.body.includes('netlink_trace_spans_dropped_total{reason="queue_full"} 0\n'),
      'the drop counter, tracing being on',
    );
    const r = spawnSync('promtool', ['check', 'metrics'], { input: res.body, encoding: 'utf8' });
    assert.equal(r.status, 0, `promtool check metrics:\n${r.stdout}${r.stderr}`);
  });
});
