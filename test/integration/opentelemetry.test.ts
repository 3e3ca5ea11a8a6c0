// OpenTelemetry end to end, all three signals: three exporters watch one private namespace, each
// sending to a real OTLP receiver of its own (test/helpers/otlp-receiver.ts) over one protocol:
// http/protobuf, http/json and grpc. Scripted kernel changes (an admin flap, an address added and
// removed, a route, a policy rule) must arrive as
// - spans, as the tracing tests check them (the outage span here);
// - log records, one per domain event: the event name, severity (the flap WARN), the schema's
//   attributes, the resource, and the outage span's trace context on the flap's record;
// - metric data points equal to /metrics scraped at the same point: after the changes have
//   settled, a scrape, then the first export newer than it, and the flap and address counters
//   compared exactly.
// Then a collector that is down (503, then refusing connections) or slow costs nothing but
// counted drops: /metrics answers, netlink_otel_dropped_total rises per signal, and the log
// queue never holds more than its bound (queue_full counted instead); over grpc, a collector
// answering UNAVAILABLE and then refusing connections costs export_failed for all three signals.
//
// Nothing waits by sleeping: every step polls a scrape or waits on the receiver with a deadline.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createNetns, liveDescribe, Netns, onProcessExit } from '../helpers/netns';
import { Exporter, poll, exporterStarter } from '../helpers/exporter';
import { otelEnv } from '../helpers/otel-process';
import { startOtlpReceiver } from '../helpers/otlp-receiver';
import type { OtlpReceiver, Transport } from '../helpers/otlp-receiver';

const SERVICE = 'nle-otel-test';

interface Leg {
  protocol: 'http/protobuf' | 'http/json' | 'grpc';
  transport: Transport;
  receiver: OtlpReceiver;
  exporter: Exporter;
}

liveDescribe('opentelemetry: spans, log records and metrics over OTLP, three protocols', { timeout: 300_000 }, () => {
  let ns: Netns;
  let tmp = '';
  let removeExitHook: (() => void) | undefined;
  const receivers: OtlpReceiver[] = [];
  const exporters: Exporter[] = [];
  const legs: Leg[] = [];

  const newExporter = exporterStarter(
    exporters,
    () => ns.name,
    () => tmp,
  );

  const signalsEnv = (r: OtlpReceiver, protocol: string, more: Record<string, string> = {}): NodeJS.ProcessEnv =>
    otelEnv({
      OTEL_EXPORTER_OTLP_ENDPOINT: r.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_BLRP_SCHEDULE_DELAY: '100',
      OTEL_METRIC_EXPORT_INTERVAL: '500',
      OTEL_METRIC_EXPORT_TIMEOUT: '500',
      OTEL_EXPORTER_OTLP_TIMEOUT: '2000',
      OTEL_SERVICE_NAME: SERVICE,
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=test',
      ...more,
    });

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nle-otel-'));
    removeExitHook = onProcessExit(() => fs.rmSync(tmp, { recursive: true, force: true }));
    ns = createNetns('otel');
    ns.addVeth('oe0', 'oe1', { up: true });
    ns.addVeth('of0', 'of1', { up: true });
    for (const [protocol, transport] of [
      ['http/protobuf', 'http'],
      ['http/json', 'http'],
      ['grpc', 'grpc'],
    ] as const) {
      const receiver = await startOtlpReceiver({ transport });
      receivers.push(receiver);
      legs.push({ protocol, transport, receiver, exporter: await newExporter(signalsEnv(receiver, protocol)) });
    }
  });

  after(async () => {
    for (const e of exporters) await e.stop();
    for (const r of receivers) await r.close();
    ns?.delete();
    removeExitHook?.();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  const oe1 = (): Record<string, string> => ({ netns: ns.name, interface: 'oe1' });

  test('scripted changes: spans, a log record for each event kind, metrics equal to /metrics', async (t) => {
    // An admin flap, seen by all three before the next step.
    ns.ip('link', 'set', 'dev', 'oe1', 'down');
    for (const { exporter } of legs) await exporter.waitForValue('netlink_interface_up', oe1(), 0);
    ns.ip('link', 'set', 'dev', 'oe1', 'up');
    for (const { exporter } of legs) await exporter.waitForValue('netlink_interface_up', oe1(), 1);
    ns.ip('addr', 'add', '10.68.0.1/24', 'dev', 'oe1');
    ns.ip('route', 'add', '10.69.0.0/16', 'via', '10.68.0.254', 'dev', 'oe1');
    ns.ip('rule', 'add', 'from', '10.70.0.0/16', 'lookup', '100', 'priority', '1000');
    ns.ip('addr', 'del', '10.68.0.1/24', 'dev', 'oe1');
    for (const { exporter } of legs)
      await exporter.waitForValue('netlink_address_changes_total', { ...oe1(), family: 'inet', action: 'removed' }, 1);

    for (const leg of legs) {
      const { receiver, protocol } = leg;
      const where = `${protocol}`;
      const wanted: [string, Record<string, string | number>][] = [
        ['netlink.flap.down', { 'network.interface.name': 'oe1' }],
        ['netlink.link.changed', { 'network.interface.name': 'oe1', 'netlink.event.state.oper': 'down' }],
        ['netlink.address.added', { 'network.interface.name': 'oe1', 'netlink.event.address': '10.68.0.1' }],
        [
          'netlink.route.added',
          { 'netlink.event.destination': '10.69.0.0/16', 'netlink.event.gateway': '10.68.0.254' },
        ],
        ['netlink.rule.added', { 'netlink.event.priority': 1000, 'netlink.event.table': '100' }],
        ['netlink.address.removed', { 'network.interface.name': 'oe1', 'netlink.event.address': '10.68.0.1' }],
      ];
      await receiver.waitFor(
        `${where}: a log record for each scripted change`,
        (r) => {
          const missing = wanted
            .filter(([name, attrs]) => r.findLogRecords(name, { 'netlink.netns': ns.name, ...attrs }).length === 0)
            .map(([name]) => name);
          return missing.length === 0 ? true : `missing ${missing.join(', ')}`;
        },
        30_000,
      );
      await receiver.waitFor(
        `${where}: the outage span`,
        (r) => r.findSpans('interface.outage', { 'network.interface.name': 'oe1' }).length > 0,
        30_000,
      );
      const outage = receiver.findSpans('interface.outage', { 'network.interface.name': 'oe1' })[0]!;
      const flap = receiver.findLogRecords('netlink.flap.down', { 'netlink.netns': ns.name })[0]!;
      assert.equal(flap.severityText, 'WARN', `${where}: a flap is a warning`);
      assert.equal(flap.severityNumber, 13, where);
      assert.equal(flap.attributes['netlink.event.flaps'], 1, where);
      assert.match(String(flap.body), /flap down oe1 ifindex=\d+ flaps=1 oper=down/, where);
      assert.equal(flap.traceId, outage.traceId, `${where}: the flap's record carries its outage span's trace`);
      assert.equal(flap.spanId, outage.spanId, where);
      assert.equal(flap.resource['service.name'], SERVICE, where);
      assert.equal(flap.resource['deployment.environment.name'], 'test', where);
      const added = receiver.findLogRecords('netlink.address.added', { 'netlink.netns': ns.name })[0]!;
      assert.equal(added.severityText, 'INFO', where);
      assert.equal(added.attributes['netlink.event.prefix_length'], 24, where);
      assert.equal(added.attributes['netlink.event.family'], 'inet', where);
      assert.ok(Math.abs(added.timeMs - Date.now()) < 120_000, `${where}: the record has the event's time`);
      for (const rec of receiver.logRecords) assert.equal(rec.transport, leg.transport, where);
      assert.deepEqual(receiver.problems, [], `${where}: the receiver had no problem with what it got`);
    }

    // Metrics: after everything settled, one scrape; then the first export that is newer than it
    // must say the same numbers.
    for (const { receiver, exporter, protocol } of legs) {
      const scrapedAt = Date.now();
      const s = await exporter.scrape();
      const series: [string, Record<string, string>][] = [
        ['netlink_interface_flaps_total', oe1()],
        ['netlink_address_changes_total', { ...oe1(), family: 'inet', action: 'added' }],
        ['netlink_address_changes_total', { ...oe1(), family: 'inet', action: 'removed' }],
        ['netlink_interface_up', oe1()],
      ];
      await receiver.waitFor(
        `${protocol}: an export newer than the scrape`,
        (r) => {
          const stale = series.filter(([name, labels]) => !((r.latestPoint(name, labels)?.timeMs ?? 0) > scrapedAt));
          return stale.length === 0 ? true : `not yet newer: ${stale.map(([n]) => n).join(', ')}`;
        },
        20_000,
      );
      for (const [name, labels] of series) {
        const point = receiver.latestPoint(name, labels)!;
        assert.equal(point.value, s.value(name, labels), `${protocol}: ${name}${JSON.stringify(labels)}`);
        if (name.endsWith('_total')) {
          assert.equal(point.type, 'sum', `${protocol}: ${name} is a sum`);
          assert.equal(point.monotonic, true, `${protocol}: ${name} is monotonic`);
          assert.equal(point.temporality, 2, `${protocol}: ${name} is cumulative`);
        }
      }
      assert.equal(s.value('netlink_interface_flaps_total', oe1()), 1);
      assert.equal(s.value('netlink_address_changes_total', { ...oe1(), family: 'inet', action: 'added' }), 1);
      const resource = receiver.latestPoint('netlink_interface_flaps_total', oe1())!.resource;
      assert.equal(resource['service.name'], SERVICE, protocol);
      // Every signal on and counted; nothing dropped on a healthy path.
      const after = await exporter.scrape();
      for (const signal of ['traces', 'logs', 'metrics']) {
        assert.ok((after.value('netlink_otel_exported_total', { signal }) ?? 0) > 0, `${protocol}: ${signal} exported`);
        for (const reason of ['queue_full', 'rate_limited', 'export_failed'])
          assert.equal(
            after.value('netlink_otel_dropped_total', { signal, reason }),
            0,
            `${protocol}: ${signal} ${reason}`,
          );
      }
      t.diagnostic(
        `${protocol}: ${receiver.spans.length} spans, ${receiver.logRecords.length} log records, ${receiver.points.length} data points received`,
      );
    }
  });

  test('a collector that is down or slow: /metrics still answers, drops are counted per signal, the log queue stays within its bound', async () => {
    const receiver = await startOtlpReceiver({ transport: 'http', slowMs: 120_000 });
    receivers.push(receiver);
    const e = await newExporter(
      signalsEnv(receiver, 'http/protobuf', {
        OTEL_EXPORTER_OTLP_TIMEOUT: '1000',
        OTEL_BLRP_EXPORT_TIMEOUT: '1000',
        OTEL_BSP_EXPORT_TIMEOUT: '1000',
      }),
      'opentelemetry:\n  max_log_queue_size: 8\n  max_log_records_per_second: 100000\n',
    );
    const dropped = async (signal: string, reason: string): Promise<number> =>
      (await e.scrape()).value('netlink_otel_dropped_total', { signal, reason }) ?? 0;
    let next = 1;
    const addresses = (n: number): void => {
      for (let i = 0; i < n; i++, next++) ns.ip('addr', 'add', `10.71.${next >> 8}.${next & 255}/32`, 'dev', 'of1');
    };

    // Down: 503 for everything.
    await receiver.setMode('unavailable');
    addresses(3);
    await poll(
      'export_failed for all three signals while the collector answers 503',
      async () => {
        const s = await e.scrape();
        const zero = ['traces', 'logs', 'metrics'].filter(
          (signal) => !((s.value('netlink_otel_dropped_total', { signal, reason: 'export_failed' }) ?? 0) > 0),
        );
        return zero.length === 0 ? true : `still 0: ${zero.join(', ')}`;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );

    // Refusing connections: still counted, still scraped.
    await receiver.setMode('refuse');
    const before = await dropped('metrics', 'export_failed');
    await poll(
      'metrics export_failed rises while connections are refused',
      async () => ((await dropped('metrics', 'export_failed')) > before ? true : 'not yet'),
      { timeoutMs: 30_000, intervalMs: 100 },
    );

    // Slow: answers are held; a burst of events fills the log queue, which stays at its bound
    // and counts the rest as queue_full.
    await receiver.setMode('slow');
    const full = await dropped('logs', 'queue_full');
    addresses(40);
    await e.waitForValue(
      'netlink_address_changes_total',
      { netns: ns.name, interface: 'of1', family: 'inet', action: 'added' },
      next - 1,
    );
    await poll(
      'queue_full counted for log records while the collector is slow',
      async () => ((await dropped('logs', 'queue_full')) > full ? true : 'not yet'),
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    const s = await e.scrape();
    const logs = {
      exported: s.value('netlink_otel_exported_total', { signal: 'logs' }) ?? 0,
      dropped: ['queue_full', 'rate_limited', 'export_failed'].map(
        (reason) => s.value('netlink_otel_dropped_total', { signal: 'logs', reason }) ?? 0,
      ),
    };
    // Every address record is exported, dropped, or still within the bound: at most the queue
    // (8) plus one batch in flight (at most the queue) can be unaccounted for.
    const accounted = logs.exported + logs.dropped.reduce((a, b) => a + b, 0);
    const events = next - 1;
    assert.ok(
      accounted >= events - 16,
      `log records accounted for ${accounted} (${JSON.stringify(logs)}) of at least ${events} address events: the rest would be past the bound`,
    );
    await receiver.setMode('ok');
    await e.stop();
  });

  test('grpc: a collector answering UNAVAILABLE, then refusing connections, costs counted drops for all three signals', async () => {
    const receiver = await startOtlpReceiver({ transport: 'grpc' });
    receivers.push(receiver);
    const e = await newExporter(
      signalsEnv(receiver, 'grpc', {
        OTEL_EXPORTER_OTLP_TIMEOUT: '1000',
        OTEL_BLRP_EXPORT_TIMEOUT: '1000',
        OTEL_BSP_EXPORT_TIMEOUT: '1000',
      }),
    );
    const failed = async (): Promise<Record<string, number>> => {
      const s = await e.scrape();
      const out: Record<string, number> = {};
      for (const signal of ['traces', 'logs', 'metrics'])
        out[signal] = s.value('netlink_otel_dropped_total', { signal, reason: 'export_failed' }) ?? 0;
      return out;
    };
    let n = 0;
    for (const mode of ['unavailable', 'refuse'] as const) {
      const before = await failed();
      await receiver.setMode(mode);
      // An address change makes a span and a log record; the metric reader exports on its own.
      ns.ip('addr', 'add', `10.72.0.${++n}/32`, 'dev', 'of1');
      await poll(
        `grpc ${mode}: export_failed rises for all three signals`,
        async () => {
          const now = await failed();
          const flat = Object.keys(now).filter((k) => !(now[k]! > before[k]!));
          return flat.length === 0 ? true : `not yet: ${flat.join(', ')} (${JSON.stringify(now)})`;
        },
        { timeoutMs: 30_000, intervalMs: 100 },
      );
    }
    await receiver.setMode('ok');
    await e.stop();
  });
});
