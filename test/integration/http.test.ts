// The HTTP side: landing page, health and readiness, 404, a custom telemetry path, and the
// first scrape already showing the dumped state of a namespace prepared before the start.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { createNetns, liveDescribe, Netns } from '../helpers/netns';
import { Exporter, poll, Scrape, startExporter } from '../helpers/exporter';

const DEFAULT_YML = path.resolve(__dirname, '..', '..', '..', 'config', 'default.yml');

liveDescribe('http', { timeout: 90_000 }, () => {
  let ns: Netns;
  let ex: Exporter | undefined;
  let first: Scrape;

  before(async () => {
    ns = createNetns('http');
    ns.addVeth('hd0', 'hd1', { up: true });
    ns.ip('addr', 'add', '10.40.0.1/24', 'dev', 'hd0');
    // Kernel truth first: the link is operationally up before the exporter starts.
    await poll('hd0 operstate UP in the kernel', () => {
      const l = ns.link('hd0');
      return l.operstate === 'UP' ? true : `operstate ${l.operstate}`;
    });
    // The shipped config file, overridden by flags; JSON logs (the harness reads the port from them).
    ex = await startExporter({
      netns: [ns.name],
      configFile: DEFAULT_YML,
      telemetryPath: '/custom',
      logFormat: 'json',
      waitReady: false,
    });
    // The very first request, sent as soon as it listens: it must wait for the initial dump.
    first = await ex.scrape('/custom');
  });

  after(async () => {
    await ex?.stop();
    ns?.delete();
  });

  test('the first scrape already shows the dumped state', () => {
    const l = { netns: ns.name, interface: 'hd0' };
    assert.equal(first.value('netlink_interface_up', l), 1, first.show('netlink_interface_up', { netns: ns.name }));
    assert.equal(
      first.value('netlink_interface_admin_up', l),
      1,
      first.show('netlink_interface_admin_up', { netns: ns.name }),
    );
    assert.equal(
      first.value('netlink_interface_carrier', l),
      1,
      first.show('netlink_interface_carrier', { netns: ns.name }),
    );
    assert.equal(
      first.value('netlink_interface_addresses', { ...l, family: 'inet' }),
      1,
      first.show('netlink_interface_addresses', { netns: ns.name }),
    );
    const hd1 = first.value('netlink_interface_addresses', { netns: ns.name, interface: 'hd1', family: 'inet' });
    assert.ok(
      hd1 === undefined || hd1 === 0,
      `hd1 has no address: ${first.show('netlink_interface_addresses', { netns: ns.name })}`,
    );
    assert.equal(
      first.value('netlink_address_info', {
        ...l,
        family: 'inet',
        address: '10.40.0.1',
        prefix_length: '24',
        scope: 'global',
      }),
      1,
      first.show('netlink_address_info', { netns: ns.name }),
    );
    assert.equal(
      first.value('netlink_interface_flaps_total', l),
      0,
      first.show('netlink_interface_flaps_total', { netns: ns.name }),
    );
  });

  test('netlink_interface_info carries ifindex, kind, mac and operstate from the kernel', () => {
    const k = ns.link('hd0');
    const info = first.series('netlink_interface_info', { netns: ns.name, interface: 'hd0' });
    assert.equal(info.length, 1, first.show('netlink_interface_info', { netns: ns.name }));
    const labels = info[0]!.labels;
    assert.equal(info[0]!.value, 1);
    assert.equal(labels.ifindex, String(k.ifindex), JSON.stringify(labels));
    assert.equal(labels.kind, 'veth', JSON.stringify(labels));
    assert.equal(labels.mac, k.address, JSON.stringify(labels));
    assert.equal(labels.operstate?.toLowerCase(), 'up', JSON.stringify(labels));
  });

  test('the exporter\'s own namespace is watched too, with netns=""', () => {
    assert.equal(
      first.series('netlink_interface_info', { netns: '', interface: 'lo' }).length,
      1,
      first.show('netlink_interface_info', { interface: 'lo' }),
    );
  });

  test('the exposition is well-formed: no duplicates, _total only on counters, per-netns self metrics', () => {
    assert.deepEqual(first.problems, []);
    // Our families only: prom-client's default metrics have their own habits (a
    // nodejs_active_resources_total gauge).
    for (const [family, type] of first.types) {
      if (family.startsWith('netlink_') && family.endsWith('_total'))
        assert.equal(type, 'counter', `${family} has # TYPE ${type}`);
    }
    for (const s of first.samples) {
      if (!s.name.startsWith('netlink_')) continue;
      if (s.name.endsWith('_total')) {
        const t = first.types.get(s.name) ?? first.types.get(s.name.slice(0, -'_total'.length));
        assert.equal(
          t,
          'counter',
          `${s.name} is exported with # TYPE ${t}: kernel-owned counters must be counters, never _total gauges`,
        );
      }
    }
    for (const name of [
      'netlink_interface_flaps_total',
      'netlink_interface_carrier_changes_total',
      'netlink_interface_carrier_up_changes_total',
      'netlink_interface_carrier_down_changes_total',
      'netlink_interface_last_change_timestamp_seconds',
    ]) {
      assert.equal(
        first.series(name, { netns: ns.name, interface: 'hd0' }).length,
        1,
        `${name} for hd0: ${first.show(name, { netns: ns.name })}`,
      );
    }
    for (const name of [
      'netlink_socket_overruns_total',
      'netlink_resyncs_total',
      'netlink_socket_receive_buffer_bytes',
      'netlink_event_queue_depth',
    ]) {
      assert.ok(first.series(name, { netns: ns.name }).length >= 1, `${name}{netns="${ns.name}"}: ${first.show(name)}`);
    }
    const rcvbuf = first.series('netlink_socket_receive_buffer_bytes', { netns: ns.name })[0]!.value;
    assert.ok(rcvbuf > 0, `netlink_socket_receive_buffer_bytes = ${rcvbuf}`);
    const ts = first.value('netlink_interface_last_change_timestamp_seconds', { netns: ns.name, interface: 'hd0' })!;
    assert.ok(Math.abs(ts - Date.now() / 1000) < 600, `last_change_timestamp_seconds = ${ts}: seconds since the epoch`);
  });

  test('/-/healthy and /-/ready answer 200', async () => {
    assert.equal((await ex!.get('/-/healthy')).status, 200);
    assert.equal((await ex!.get('/-/ready')).status, 200);
  });

  test('/ is an HTML page linking to the telemetry path', async () => {
    const r = await ex!.get('/');
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /text\/html/);
    assert.match(r.body, /href=["']?\/custom["'>\s]/, r.body.slice(0, 1000));
  });

  test('unknown paths are 404; /metrics is not served when the path is /custom', async () => {
    assert.equal((await ex!.get('/no/such/path')).status, 404);
    assert.equal((await ex!.get('/metrics')).status, 404);
  });

  test('the telemetry path serves the text format', async () => {
    const r = await ex!.get('/custom');
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^text\/plain/);
  });

  test('SIGTERM stops it cleanly: exit 0 within 5 s', async () => {
    const st = await ex!.stop(5_000);
    assert.deepEqual(
      { code: st.code, signal: st.signal, killed: st.killed },
      { code: 0, signal: null, killed: false },
      ex!.logs(),
    );
  });
});
