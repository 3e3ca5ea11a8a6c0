// OpenTelemetry trace events end to end: the real exporter, watching a private network
// namespace, sends its spans to a real OTLP/HTTP receiver started by this test (protobuf decoded
// with the proto definitions, JSON as the OTLP/JSON mapping). Asserted: span names, attributes,
// the resource, that every span is a root, that an outage span starts and ends within a stated
// tolerance of this test's own clock readings around an admin down and up, that the flaps the
// kernel coalesced add up to the flap counter, that a 20,000-route burst is a handful of
// route.changes spans whose counts add up exactly; with the collector stopped or hung the
// exporter keeps counting and netlink_trace_spans_dropped_total rises; the rate limit drops and
// counts; and with no configuration the SDK is never loaded and no connection is made.
//
// Nothing waits by sleeping: every step polls the receiver or a scrape with a deadline.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createNetns, liveDescribe, Netns, onProcessExit } from '../helpers/netns';
import { Exporter, parseLogLine, poll, exporterStarter } from '../helpers/exporter';
import { modulesPreload, otelEnv, tcpSockets } from '../helpers/otel-process';
import { BurstSender, routeBurst } from '../helpers/burst';
import { OtlpReceiver, ReceivedSpan, startOtlpReceiver } from '../helpers/otlp-receiver';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const VERSION = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const SERVICE = 'nle-tracing-test';

/**
 * How far a span's start or end may be from this test's own clock readings around the command
 * that caused it: the exporter reads the notification, then stamps it. An admin change is
 * notified synchronously, but operstate UP after an admin up comes from the kernel's linkwatch,
 * which runs at most once a second: an outage ends up to a second late.
 */
const EARLY_MS = 5;
const LATE_MS = 750;
const LINKWATCH_MS = 1000;

const ROUTES = 20_000;
const ROUTE_TABLE = 100;
const RTPROT_STATIC = 4;

function within(what: string, value: number, from: number, to: number): void {
  assert.ok(
    value >= from && value <= to,
    `${what}: ${new Date(value).toISOString()} is not within [${new Date(from).toISOString()}, ${new Date(to).toISOString()}] (${value - from} ms after the lower bound)`,
  );
}

function assertRoot(s: ReceivedSpan): void {
  assert.equal(s.parentSpanId, '', `${s.name}: a root span (no parent)`);
  assert.match(s.traceId, /^[0-9a-f]{32}$/, `${s.name}: trace id`);
  assert.match(s.spanId, /^[0-9a-f]{16}$/, `${s.name}: span id`);
  assert.equal(s.kind, 1, `${s.name}: kind INTERNAL`);
}

liveDescribe('tracing: spans for domain events over OTLP/HTTP', { timeout: 240_000 }, () => {
  let ns: Netns;
  let tmp = '';
  const receivers: OtlpReceiver[] = [];
  const exporters: Exporter[] = [];
  let removeExitHook: (() => void) | undefined;
  // The main exporter: protobuf, with the module recorder as a positive control.
  let receiver: OtlpReceiver;
  let ex: Exporter;
  let modulesOn: { read: () => string[] };

  async function newReceiver(): Promise<OtlpReceiver> {
    const r = await startOtlpReceiver({ transport: 'http' });
    receivers.push(r);
    return r;
  }

  const newExporter = exporterStarter(
    exporters,
    () => ns.name,
    () => tmp,
  );

  const traceEnv = (r: OtlpReceiver, protocol: string, more: Record<string, string> = {}): NodeJS.ProcessEnv =>
    otelEnv({
      OTEL_EXPORTER_OTLP_ENDPOINT: r.endpoint,
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: protocol,
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_SERVICE_NAME: SERVICE,
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=test,team=netops',
      // The endpoint variable turns every signal on: these tests are about the spans alone.
      OTEL_LOGS_EXPORTER: 'none',
      OTEL_METRICS_EXPORTER: 'none',
      ...more,
    });

  /** Admin down, wait until the exporter sees it, admin up: the test's clock readings around each. */
  async function adminFlap(e: Exporter, iface: string): Promise<{ down: [number, number]; up: [number, number] }> {
    const d0 = Date.now();
    ns.ip('link', 'set', 'dev', iface, 'down');
    const d1 = Date.now();
    await e.waitForValue('netlink_interface_up', { netns: ns.name, interface: iface }, 0);
    const u0 = Date.now();
    ns.ip('link', 'set', 'dev', iface, 'up');
    const u1 = Date.now();
    await e.waitForValue('netlink_interface_up', { netns: ns.name, interface: iface }, 1);
    return { down: [d0, d1], up: [u0, u1] };
  }

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nle-tracing-'));
    removeExitHook = onProcessExit(() => fs.rmSync(tmp, { recursive: true, force: true }));
    ns = createNetns('tracing');
    ns.addVeth('tr0', 'tr1', { up: true });
    ns.addVeth('td0', 'td1', { up: true });
    ns.addVeth('tj0', 'tj1', { up: true });
    ns.addVeth('tq0', 'tq1', { up: true });
    ns.addVeth('trr0', 'trr1', { up: true });
    receiver = await newReceiver();
    const recorder = modulesPreload(tmp);
    modulesOn = recorder;
    ex = await newExporter({ ...traceEnv(receiver, 'http/protobuf'), ...recorder.env });
  });

  after(async () => {
    for (const e of exporters) await e.stop();
    for (const r of receivers) await r.close();
    ns?.delete();
    removeExitHook?.();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('an admin down and up is one interface.outage span, timed by the test clock, with semantic-convention attributes and the resource', async () => {
    const t = await adminFlap(ex, 'tr0');
    const ifindex = ns.ifindex('tr0');
    await receiver.waitFor('the outage span of tr0', () =>
      receiver.find('interface.outage', { 'network.interface.name': 'tr0' }).length === 1 ? true : 'none yet',
    );
    const [span] = receiver.find('interface.outage', { 'network.interface.name': 'tr0' });
    assert.ok(span);
    assertRoot(span);
    assert.equal(span.format, 'protobuf');
    within('outage start (admin down)', span.startMs, t.down[0] - EARLY_MS, t.down[1] + LATE_MS);
    within(
      'outage end (operstate UP after admin up)',
      span.endMs,
      t.up[0] - EARLY_MS,
      t.up[1] + LINKWATCH_MS + LATE_MS,
    );
    assert.ok(
      span.endMs - span.startMs >= t.up[0] - t.down[1] - 2 * EARLY_MS,
      `duration ${span.endMs - span.startMs} ms covers the time the test kept it down`,
    );
    assert.deepEqual(
      {
        iface: span.attributes['network.interface.name'],
        ifindex: span.attributes['netlink.ifindex'],
        netns: span.attributes['netlink.netns'],
        flaps: span.attributes['netlink.flaps'],
        admin: span.attributes['netlink.link.admin_state'],
        oper: span.attributes['netlink.link.oper_state'],
        end: span.attributes['netlink.outage.end'],
      },
      { iface: 'tr0', ifindex, netns: ns.name, flaps: 1, admin: 'down', oper: 'down', end: 'up' },
    );
    assert.equal(span.status.code, 0, 'status unset');
    // The resource: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES honoured, the rest ours.
    assert.equal(span.resource['service.name'], SERVICE);
    assert.equal(span.resource['service.version'], VERSION);
    assert.equal(span.resource['host.name'], os.hostname());
    assert.match(String(span.resource['service.instance.id']), /^[0-9a-f-]{36}$/);
    assert.equal(span.resource['deployment.environment.name'], 'test');
    assert.equal(span.resource['team'], 'netops');
    assert.equal(span.scope.name, 'netlink-exporter');
    // The peer lost its carrier: its own outage (lowerlayerdown), ended when the carrier came back.
    await receiver.waitFor('the outage span of tr1', () =>
      receiver.find('interface.outage', { 'network.interface.name': 'tr1' }).length === 1 ? true : 'none yet',
    );
    const [peer] = receiver.find('interface.outage', { 'network.interface.name': 'tr1' });
    assert.equal(peer!.attributes['netlink.link.oper_state'], 'lowerlayerdown');
    assert.equal(peer!.attributes['netlink.link.admin_state'], 'up');
    assertRoot(peer!);
  });

  test('flaps the kernel coalesced: netlink.flaps over the outage spans adds up to the flap counter, on both ends', async () => {
    const ends = ['tq0', 'tq1'];
    const labels = (iface: string) => ({ netns: ns.name, interface: iface });
    const s0 = await ex.waitFor('tq0 and tq1 up', (s) =>
      ends.every((i) => s.value('netlink_interface_up', labels(i)) === 1) ? true : 'not up yet',
    );
    const base = new Map(
      ends.map((i) => [
        i,
        { flaps: s0.value('netlink_interface_flaps_total', labels(i))!, down: ns.carrierCounters(i).down },
      ]),
    );
    const before = new Set(receiver.spans);
    const lines: string[] = [];
    for (let i = 0; i < 5; i++) lines.push('link set dev tq1 down', 'link set dev tq1 up');
    ns.batch(lines);
    for (const i of ends)
      await poll(`${i} UP in the kernel`, () => (ns.link(i).operstate === 'UP' ? true : ns.link(i).operstate));
    const deltas = new Map(ends.map((i) => [i, ns.carrierCounters(i).down - base.get(i)!.down]));
    await ex.waitFor('the flap counters moved by the kernel deltas', (s) => {
      const wrong = ends.filter(
        (i) => s.value('netlink_interface_flaps_total', labels(i))! - base.get(i)!.flaps !== deltas.get(i),
      );
      return wrong.length === 0
        ? true
        : wrong
            .map((i) => `${i}: ${s.show('netlink_interface_flaps_total', labels(i))}, kernel delta ${deltas.get(i)}`)
            .join('; ');
    });
    for (const i of ends) {
      await receiver.waitFor(`netlink.flaps of ${i}'s outage spans adding up to ${deltas.get(i)}`, () => {
        const spans = receiver.find('interface.outage', { 'network.interface.name': i }).filter((s) => !before.has(s));
        const sum = spans.reduce((a, s) => a + Number(s.attributes['netlink.flaps']), 0);
        return sum === deltas.get(i)
          ? true
          : `${spans.length} spans, flaps ${spans.map((s) => `${s.attributes['netlink.flaps']}(${s.attributes['netlink.outage.end']})`).join('+')} = ${sum}`;
      });
      for (const s of receiver
        .find('interface.outage', { 'network.interface.name': i })
        .filter((x) => !before.has(x))) {
        assertRoot(s);
        assert.ok(
          ['up', 'coalesced'].includes(String(s.attributes['netlink.outage.end'])),
          `${i}: ended by ${s.attributes['netlink.outage.end']}`,
        );
        if (s.attributes['netlink.outage.end'] === 'coalesced')
          assert.equal(s.endMs, s.startMs, 'a coalesced flap is a zero-length outage');
      }
    }
  });

  test('an interface deleted while down ends its outage span with an error status', async () => {
    ns.ip('link', 'set', 'dev', 'td0', 'down');
    await ex.waitForValue('netlink_interface_up', { netns: ns.name, interface: 'td0' }, 0);
    const t0 = Date.now();
    ns.ip('link', 'del', 'dev', 'td0');
    const t1 = Date.now();
    await receiver.waitFor('the outage span of td0', () =>
      receiver.find('interface.outage', { 'network.interface.name': 'td0' }).length === 1 ? true : 'none yet',
    );
    const [span] = receiver.find('interface.outage', { 'network.interface.name': 'td0' });
    assert.equal(span!.status.code, 2, 'status ERROR');
    assert.equal(span!.status.message, 'interface deleted while down');
    assert.equal(span!.attributes['netlink.outage.end'], 'deleted');
    within('end (deletion)', span!.endMs, t0 - EARLY_MS, t1 + LATE_MS);
  });

  test('address added and removed, and a default route change: instantaneous root spans', async () => {
    const ifindex = ns.ifindex('tj0');
    const t0 = Date.now();
    ns.batch([
      'addr add 10.61.0.1/24 dev tj0',
      'addr add 2001:db8:61::1/64 dev tj0 nodad',
      'route add default via 10.61.0.254 proto static',
      'addr del 10.61.0.1/24 dev tj0',
    ]);
    const t1 = Date.now();
    await receiver.waitFor('address and default route spans', () => {
      const want = [
        receiver.find('address.added', { 'netlink.address.ip': '10.61.0.1' }).length,
        receiver.find('address.added', { 'netlink.address.ip': '2001:db8:61::1' }).length,
        receiver.find('address.removed', { 'netlink.address.ip': '10.61.0.1' }).length,
        receiver.find('route.default_changed', { 'netlink.netns': ns.name, 'netlink.route.action': 'added' }).length,
      ];
      return want.every((n) => n === 1) ? true : `counts ${want.join(',')}`;
    });
    const [v4] = receiver.find('address.added', { 'netlink.address.ip': '10.61.0.1' });
    assert.deepEqual(v4!.attributes, {
      'netlink.netns': ns.name,
      'netlink.ifindex': ifindex,
      'network.interface.name': 'tj0',
      'netlink.family': 'inet',
      'network.type': 'ipv4',
      'netlink.address.ip': '10.61.0.1',
      'netlink.address.prefix_length': 24,
      'netlink.address.scope': 'global',
      'netlink.address.flags': ['permanent'],
    });
    const [v6] = receiver.find('address.added', { 'netlink.address.ip': '2001:db8:61::1' });
    assert.equal(v6!.attributes['network.type'], 'ipv6');
    assert.equal(v6!.attributes['netlink.address.prefix_length'], 64);
    const [route] = receiver.find('route.default_changed', {
      'netlink.netns': ns.name,
      'netlink.route.action': 'added',
    });
    assert.equal(route!.attributes['netlink.route.gateway'], '10.61.0.254');
    assert.equal(route!.attributes['netlink.route.protocol'], 'static');
    assert.equal(route!.attributes['netlink.route.table'], 'main');
    assert.equal(route!.attributes['network.interface.name'], 'tj0');
    for (const s of [v4!, v6!, route!, ...receiver.find('address.removed', { 'netlink.address.ip': '10.61.0.1' })]) {
      assertRoot(s);
      assert.equal(s.endMs, s.startMs, `${s.name}: instantaneous`);
      within(`${s.name} time`, s.startMs, t0 - EARLY_MS, t1 + LATE_MS);
    }
  });

  test(`a ${ROUTES}-route burst (adds, then deletes) is a handful of route.changes spans whose counts add up exactly`, async (t) => {
    const sender = new BurstSender(ns);
    const before = new Set(receiver.spans);
    const routeSpans = () =>
      receiver
        .find('route.changes', {
          'netlink.netns': ns.name,
          'netlink.route.table': String(ROUTE_TABLE),
          'netlink.route.protocol': 'static',
        })
        .filter((s) => !before.has(s));
    const t0 = Date.now();
    try {
      const { adds, deletes } = routeBurst({
        count: ROUTES,
        second: 61,
        table: ROUTE_TABLE,
        protocol: RTPROT_STATIC,
        oif: ns.ifindex('trr0'),
        seq: 1,
      });
      sender.send(adds);
      await sender.sync('route adds');
      sender.send(deletes);
      await sender.sync('route deletes');
    } finally {
      sender.close();
    }
    await ex.waitFor(
      'every route change counted',
      (s) => {
        const group = { netns: ns.name, table: String(ROUTE_TABLE), family: 'inet', protocol: 'static' };
        const added = s.value('netlink_route_changes_total', { ...group, action: 'added' });
        const removed = s.value('netlink_route_changes_total', { ...group, action: 'removed' });
        return added === ROUTES && removed === ROUTES ? true : `added ${added}, removed ${removed}`;
      },
      { timeoutMs: 30_000 },
    );
    const counted = (attr: string) => routeSpans().reduce((a, s) => a + Number(s.attributes[attr] ?? 0), 0);
    await receiver.waitFor('route.changes counts adding up', () =>
      counted('netlink.route.added') === ROUTES && counted('netlink.route.removed') === ROUTES
        ? true
        : `added ${counted('netlink.route.added')}, removed ${counted('netlink.route.removed')}`,
    );
    const elapsedS = (Date.now() - t0) / 1000;
    const spans = routeSpans();
    t.diagnostic(`${2 * ROUTES} route changes in ${elapsedS.toFixed(1)} s became ${spans.length} route.changes spans`);
    // One span per (table, protocol, family) per second, plus one for a window the bus's storm summary reopened.
    assert.ok(spans.length <= 2 * (Math.ceil(elapsedS) + 2), `${spans.length} spans in ${elapsedS} s`);
    assert.equal(counted('netlink.route.count'), 2 * ROUTES);
    for (const s of spans) {
      assertRoot(s);
      assert.equal(s.attributes['netlink.family'], 'inet');
      assert.ok(
        s.endMs >= s.startMs && s.endMs - s.startMs <= 1500,
        `${s.name}: about a second long (${s.endMs - s.startMs} ms)`,
      );
    }
    assert.equal(
      receiver.find('route.default_changed', { 'netlink.route.table': String(ROUTE_TABLE) }).length,
      0,
      'no default route in the burst',
    );
    assert.equal(receiver.problems.length, 0, receiver.problems.join('; '));
  });

  test('http/json: the same spans, as OTLP/JSON', async () => {
    const r = await newReceiver();
    const e = await newExporter(traceEnv(r, 'http/json'));
    await adminFlap(e, 'tj1');
    ns.ip('addr', 'add', '10.62.0.1/24', 'dev', 'tj1');
    await r.waitFor('the outage and address spans as JSON', () =>
      r.find('interface.outage', { 'network.interface.name': 'tj1' }).length >= 1 &&
      r.find('address.added', { 'netlink.address.ip': '10.62.0.1' }).length === 1
        ? true
        : 'not yet',
    );
    assert.ok(
      r.requests.length > 0 && r.requests.every((q) => q.contentType.startsWith('application/json')),
      JSON.stringify(r.requests),
    );
    const spans = [
      ...r.find('interface.outage', { 'network.interface.name': 'tj1' }),
      ...r.find('address.added', { 'netlink.address.ip': '10.62.0.1' }),
    ];
    for (const s of spans) {
      assert.equal(s.format, 'json');
      assertRoot(s);
      assert.equal(s.resource['service.name'], SERVICE);
    }
    const outage = spans.find(
      (s) => s.name === 'interface.outage' && s.attributes['netlink.link.admin_state'] === 'down',
    );
    assert.ok(outage, 'the admin-down outage of tj1');
    assert.equal(outage.attributes['netlink.flaps'], 1);
    assert.equal(outage.attributes['netlink.ifindex'], ns.ifindex('tj1'));
    await e.stop();
  });

  test('collector stopped: the exporter keeps counting, and export_failed rises', async () => {
    const r = await newReceiver();
    const e = await newExporter(
      traceEnv(r, 'http/protobuf', { OTEL_EXPORTER_OTLP_TIMEOUT: '500', OTEL_BSP_EXPORT_TIMEOUT: '2000' }),
    );
    const labels = { netns: ns.name, interface: 'tr0' };
    ns.ip('addr', 'add', '10.63.0.1/24', 'dev', 'tr0');
    await r.waitFor('a span while the collector runs', () =>
      r.find('address.added', { 'netlink.address.ip': '10.63.0.1' }).length === 1 ? true : 'none yet',
    );
    await e.waitFor('exported_total counts it', (s) =>
      (s.value('netlink_trace_spans_exported_total', {}) ?? 0) >= 1
        ? true
        : s.show('netlink_trace_spans_exported_total'),
    );
    await r.setMode('refuse');
    const s0 = await e.scrape();
    const flaps0 = s0.value('netlink_interface_flaps_total', labels)!;
    for (let i = 0; i < 3; i++) await adminFlap(e, 'tr0');
    ns.ip('addr', 'add', '10.63.0.2/24', 'dev', 'tr0');
    const added = { ...labels, family: 'inet', action: 'added' };
    const added0 = s0.value('netlink_address_changes_total', added)!;
    // Waits for the address too: its notification may still be on its way when the flaps and the
    // failed export already show (the reader gathers a burst's notifications for a few ms).
    const s1 = await e.waitFor(
      'flaps and the address counted, export_failed rising with the collector down',
      (s) => {
        const flaps = s.value('netlink_interface_flaps_total', labels)! - flaps0;
        const addresses = s.value('netlink_address_changes_total', added)! - added0;
        const failed = s.value('netlink_trace_spans_dropped_total', { reason: 'export_failed' }) ?? 0;
        return flaps === 3 && addresses >= 1 && failed >= 1
          ? true
          : `flaps +${flaps}, addresses +${addresses}, ${s.show('netlink_trace_spans_dropped_total')}`;
      },
      { timeoutMs: 20_000 },
    );
    assert.equal(s1.value('netlink_interface_flaps_total', labels)! - flaps0, 3);
    assert.equal(s1.value('netlink_address_changes_total', added), added0 + 1);
    assert.equal((await e.get('/-/ready')).status, 200);
    assert.ok(e.running);
    await e.stop();
  });

  test('collector hung: the export queue fills, queue_full is counted, and the netlink path does not wait', async () => {
    const r = await newReceiver();
    await r.setMode('slow');
    const e = await newExporter(
      traceEnv(r, 'http/protobuf', {
        OTEL_EXPORTER_OTLP_TIMEOUT: '60000',
        OTEL_BSP_EXPORT_TIMEOUT: '60000',
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '1',
      }),
      'tracing:\n  max_queue_size: 4\n',
    );
    const n = 30;
    const lines = Array.from({ length: n }, (_, i) => `addr add 10.64.0.${i + 1}/32 dev tq0`);
    ns.batch(lines);
    const labels = { netns: ns.name, interface: 'tq0', family: 'inet', action: 'added' };
    const s = await e.waitFor(`${n} address changes counted while the collector hangs`, (sc) => {
      const added = sc.value('netlink_address_changes_total', labels) ?? 0;
      const full = sc.value('netlink_trace_spans_dropped_total', { reason: 'queue_full' }) ?? 0;
      return added >= n && full >= n - 4 - 1 ? true : `added ${added}, ${sc.show('netlink_trace_spans_dropped_total')}`;
    });
    // One batch of one in flight (hung) and four queued, or four queued when the burst came in
    // one read (the export starts after it): the rest dropped and counted.
    const full = s.value('netlink_trace_spans_dropped_total', { reason: 'queue_full' })!;
    assert.ok(full === n - 5 || full === n - 4, `queue_full ${full}, expected ${n - 5} or ${n - 4}`);
    assert.equal(s.value('netlink_trace_spans_dropped_total', { reason: 'rate_limited' }), 0);
    assert.equal(s.value('netlink_trace_spans_exported_total', {}), 0);
    await e.stop();
    await r.close();
  });

  test('rate limit: spans over tracing.max_spans_per_second are dropped and counted, exactly', async () => {
    const r = await newReceiver();
    const e = await newExporter(traceEnv(r, 'http/protobuf'), 'tracing:\n  max_spans_per_second: 5\n');
    const n = 40;
    ns.batch(Array.from({ length: n }, (_, i) => `addr add 10.65.0.${i + 1}/32 dev tq1`));
    const labels = { netns: ns.name, interface: 'tq1', family: 'inet', action: 'added' };
    await e.waitForValue('netlink_address_changes_total', labels, n);
    const received = () =>
      r.spans.filter(
        (x) => x.name === 'address.added' && String(x.attributes['netlink.address.ip']).startsWith('10.65.0.'),
      ).length;
    await e.waitFor('every address span either exported or counted as rate_limited', (s) => {
      const limited = s.value('netlink_trace_spans_dropped_total', { reason: 'rate_limited' }) ?? 0;
      return limited + received() === n ? true : `rate_limited ${limited} + received ${received()} != ${n}`;
    });
    assert.ok(received() >= 5 && received() < n, `${received()} of ${n} got through a limit of 5 a second`);
    await e.stop();
  });

  test('no configuration: tracing off, the SDK never loaded, no connection made (and the positive control: loaded when on)', async () => {
    const recorder = modulesPreload(tmp);
    const e = await newExporter({ ...otelEnv({}), ...recorder.env });
    await adminFlap(e, 'tr1');
    ns.ip('addr', 'add', '10.66.0.1/24', 'dev', 'tr1');
    await e.waitForValue(
      'netlink_address_changes_total',
      { netns: ns.name, interface: 'tr1', family: 'inet', action: 'added' },
      1,
    );
    const s = await e.scrape();
    assert.equal(
      s.series('netlink_trace_spans_dropped_total').length,
      0,
      'no drop counter samples when tracing is off',
    );
    assert.ok(s.text.includes('# TYPE netlink_trace_spans_dropped_total counter\n'), 'the family is still announced');
    // Every TCP socket of the process: the listener and the scrapes it accepted, nothing else.
    const pid = e.child.pid!;
    const sockets = tcpSockets(pid);
    const outgoing = sockets.filter((x) => x.state !== '0A' && x.local !== e.port);
    assert.deepEqual(
      outgoing,
      [],
      `TCP sockets other than the listener and its accepted scrapes: ${JSON.stringify(sockets)}`,
    );
    const traceLogs = e.stderr.lines.filter((l) => /^trac/.test(String(parseLogLine(l)?.msg ?? '')));
    assert.deepEqual(traceLogs, [], 'nothing about tracing in the log');
    await e.stop();
    // prom-client itself requires @opentelemetry/api when it is installed (the no-op API, for its
    // own exemplars); the SDK, the exporters and the resources must not be loaded.
    assert.deepEqual(
      recorder.read().filter((f) => !f.includes('/@opentelemetry/api/')),
      [],
      'no OpenTelemetry SDK module was loaded',
    );
    // The control: the exporter with tracing on did load the SDK, and says so in its log.
    assert.ok(
      ex.stderr.lines.some((l) => parseLogLine(l)?.msg === 'tracing on'),
      ex.logs(),
    );
    await ex.stop();
    const loaded = modulesOn.read();
    assert.ok(
      loaded.some((f) => f.includes('/@opentelemetry/sdk-trace-base/')),
      `the control loaded the SDK: ${loaded.slice(0, 5).join(', ')}`,
    );
    assert.ok(
      loaded.some((f) => f.includes('/@opentelemetry/sdk-node/')),
      'through @opentelemetry/sdk-node',
    );
    assert.ok(
      loaded.some((f) => f.includes('/@opentelemetry/exporter-trace-otlp-proto/')),
      'and the protobuf exporter',
    );
  });
});
