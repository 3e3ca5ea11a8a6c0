// Config that cannot crash it or leak, against the real exporter watching a private
// namespace:
// - a SIGHUP reload with each out-of-range value that used to be accepted (and fail the next
//   restart) is refused: the process keeps running with what it had, logs the key and the
//   range, and netlink_config_last_reload_successful goes to 0, then back to 1 on a good file;
// - a catastrophic backtracking include pattern does not stall the exporter when an interface
//   whose name nearly matches appears: the scrape answers and the right interfaces have series;
// - with tracing on towards a closed loopback port, an endpoint with credentials and an OTLP
//   header secret, the "tracing on" and "trace export failed" lines appear and stderr never
//   holds a secret in any form.
// Nothing sleeps: every step polls a scrape or the log with a deadline.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Exporter, poll, startExporter } from '../helpers/exporter';
import { createNetns, liveDescribe, Netns } from '../helpers/netns';
import { otelEnv } from '../helpers/otel-process';

/** A loopback port nobody listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

liveDescribe(
  'config safety: bounded reloads, linear-time patterns, no secret in the logs',
  { timeout: 180_000 },
  () => {
    let ns: Netns;
    let dir: string;
    const exporters: Exporter[] = [];

    before(() => {
      ns = createNetns('cfgsafe');
      ns.batch(['link add name cs0 type veth peer name cs1', 'link set cs0 up', 'link set cs1 up']);
      dir = mkdtempSync(join(tmpdir(), 'nle-cfgsafe-'));
    });

    after(async () => {
      for (const ex of exporters) await ex.stop();
      ns?.delete();
      rmSync(dir, { recursive: true, force: true });
    });

    test('a reload with an out-of-range value keeps the running config, names the key, sets the metric, never exits', async () => {
      const file = join(dir, 'reload.yml');
      const good = 'interfaces:\n  include: "cs.*"\n';
      writeFileSync(file, good);
      const ex = await startExporter({ netns: [ns.name], configFile: file });
      exporters.push(ex);
      const up = (x: Awaited<ReturnType<Exporter['scrape']>>): number | undefined =>
        x.value('netlink_interface_up', { netns: ns.name, interface: 'cs0' });
      assert.equal(up(await ex.scrape()), 1);
      // Whole files: the good include, plus one bad value each.
      const bad: [yaml: string, key: string, range: string][] = [
        [`${good}web:\n  header_timeout: 99999999d\n`, 'web.header_timeout', 'from 1s to 10m'],
        [`${good}web:\n  header_timeout: 0s\n`, 'web.header_timeout', '0 would turn the guard off'],
        [`${good}socket:\n  receive_buffer_bytes: 1e14\n`, 'socket.receive_buffer_bytes', 'from 0 to 1073741823 bytes'],
        [`${good}events:\n  buffer_size: 1e11\n`, 'events.buffer_size', 'from 1 to 100000'],
        [`${good}web:\n  telemetry_path: /events\n`, 'web.telemetry_path', 'other paths'],
        ['interfaces:\n  include: "(?=cs).*"\n', 'interfaces.include', 'RE2'],
      ];
      for (const [yaml, key, range] of bad) {
        const seen = ex.stderr.lines.length;
        writeFileSync(file, yaml);
        ex.child.kill('SIGHUP');
        await poll(`the refused reload of ${key} in the log`, () =>
          ex.stderr.lines
            .slice(seen)
            .some((l) => l.includes('config not reloaded') && l.includes(key) && l.includes(range))
            ? true
            : `not yet:\n${ex.stderr.lines.slice(seen).join('\n')}`,
        );
        const s = await ex.waitFor('the reload metric at 0', (x) =>
          x.value('netlink_config_last_reload_successful', {}) === 0 ? true : 'still 1',
        );
        assert.equal(up(s), 1, 'the running config stays');
        assert.ok(ex.running, ex.logs());
        // Back to good: the metric says so, and the next bad one is seen afresh.
        writeFileSync(file, good);
        ex.child.kill('SIGHUP');
        await ex.waitFor('the reload metric back at 1', (x) =>
          x.value('netlink_config_last_reload_successful', {}) === 1 ? true : 'still 0',
        );
      }
      assert.ok(!ex.stderr.lines.some((l) => /^\s+at /.test(l)), `no stack trace\n${ex.logs()}`);
    });

    test('a catastrophic include pattern: a nearly matching interface appears, the exporter does not stall', async () => {
      const file = join(dir, 'pattern.yml');
      // Against a 14-character run of "a" and one other character, a backtracking engine tries
      // every way of splitting the run between four nested loops before it fails.
      writeFileSync(file, 'interfaces:\n  include: "(((a+)+)+)+$|cs.*"\n');
      const ex = await startExporter({ netns: [ns.name], configFile: file });
      exporters.push(ex);
      const near = `${'a'.repeat(14)}-`;
      const full = 'a'.repeat(15);
      ns.batch([`link add name ${near} type veth peer name ${full}`]);
      const s = await ex.waitFor(
        'the matching interface has series, the near miss none',
        (x) => {
          const fullUp = x.value('netlink_interface_up', { netns: ns.name, interface: full });
          const nearSeries = x.series('netlink_interface_up', { netns: ns.name, interface: near }).length;
          return fullUp === 0 && nearSeries === 0 ? true : `${full} up=${fullUp}, ${near} series=${nearSeries}`;
        },
        { timeoutMs: 30_000 },
      );
      assert.equal(s.value('netlink_interface_up', { netns: ns.name, interface: 'cs0' }), 1);
      assert.equal((await ex.get('/-/healthy')).status, 200);
      ns.ip('link', 'del', near);
    });

    test('tracing to a closed port with credentials and a header secret: no secret reaches stderr', async () => {
      const port = await closedPort();
      const password = 'endpoint-pass-4711';
      const headerSecret = 'header-secret-0815';
      const file = join(dir, 'tracing.yml');
      writeFileSync(
        file,
        `tracing:\n  enabled: true\n  endpoint: "http://alice:${password}@127.0.0.1:${port}/?api_key=query-secret-42"\n`,
      );
      const ex = await startExporter({
        netns: [ns.name],
        configFile: file,
        logLevel: 'debug',
        env: otelEnv({
          OTEL_EXPORTER_OTLP_HEADERS: `authorization=Bearer%20${headerSecret}`,
          OTEL_EXPORTER_OTLP_TIMEOUT: '500',
          OTEL_BSP_SCHEDULE_DELAY: '50',
          OTEL_BSP_EXPORT_TIMEOUT: '2000',
        }),
      });
      exporters.push(ex);
      ns.ip('address', 'add', '10.77.0.1/24', 'dev', 'cs0');
      await poll(
        'the export failure in the log',
        () => (ex.stderr.lines.some((l) => l.includes('trace export failed')) ? true : 'not yet'),
        { timeoutMs: 30_000 },
      );
      const tracingOn = ex.stderr.lines.find((l) => l.includes('tracing on'));
      assert.ok(tracingOn, ex.logs());
      assert.ok(tracingOn.includes(`alice:***@127.0.0.1:${port}`), tracingOn);
      assert.ok(tracingOn.includes('api_key=***'), tracingOn);
      const stderr = ex.stderr.lines.join('\n');
      const forms = [
        password,
        headerSecret,
        'query-secret-42',
        Buffer.from(`alice:${password}`).toString('base64'),
        encodeURIComponent(password),
      ];
      for (const secret of forms) assert.ok(!stderr.includes(secret), `${secret} in stderr:\n${stderr}`);
      assert.ok(ex.running);
    });
  },
);
