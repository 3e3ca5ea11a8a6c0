// OpenTelemetry costs nothing when it is off. Three exporters watch one private namespace and take
// the same scripted changes: one with no OTEL_* variable, one with every signal turned on by the
// config and the variables but OTEL_SDK_DISABLED=true, and the control with all three signals on.
// Asserted, for the two that are off: no @opentelemetry module but the no-op API prom-client loads
// (the require cache at exit), no TCP socket but the listener and its accepted scrapes, nothing
// about OpenTelemetry in the log, netlink_otel_* announced without samples; for the control:
// @opentelemetry/sdk-node and the exporters loaded, and it did connect (a plain HTTP server on
// loopback sees its POSTs). The RSS of each is reported (a diagnostic: sizes belong to the bench).
//
// Nothing waits by sleeping: every step polls a scrape or the server with a deadline.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { createNetns, liveDescribe, Netns, onProcessExit } from '../helpers/netns';
import { Exporter, parseLogLine, poll, startExporterWithConfig } from '../helpers/exporter';
import { modulesPreload, otelEnv, tcpSockets } from '../helpers/otel-process';

function rssMiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 102.4) / 10 : NaN;
}

liveDescribe('opentelemetry off: nothing loaded, no connection', { timeout: 180_000 }, () => {
  let ns: Netns;
  let tmp = '';
  let removeExitHook: (() => void) | undefined;
  const exporters: Exporter[] = [];
  let server: http.Server;
  let port = 0;
  const posts: string[] = [];

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nle-otel-off-'));
    removeExitHook = onProcessExit(() => fs.rmSync(tmp, { recursive: true, force: true }));
    ns = createNetns('oteloff');
    ns.addVeth('oo0', 'oo1', { up: true });
    // Any OTLP/HTTP request is answered 200 with an empty body: only who connected matters here.
    server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        posts.push(`${req.method} ${req.url}`);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    for (const e of exporters) await e.stop();
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    ns?.delete();
    removeExitHook?.();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  async function run(name: string, env: NodeJS.ProcessEnv, config?: string) {
    const recorder = modulesPreload(tmp, name);
    const e = await startExporterWithConfig(
      { netns: [ns.name], env: { ...env, ...recorder.env } },
      config,
      path.join(tmp, `${name}.yml`),
    );
    exporters.push(e);
    return { e, recorder };
  }

  /** One scripted change every exporter must see: an address added to oo1. */
  async function sawAddress(e: Exporter): Promise<void> {
    await e.waitForValue(
      'netlink_address_changes_total',
      { netns: ns.name, interface: 'oo1', family: 'inet', action: 'added' },
      1,
    );
  }

  test('no OTEL_* and OTEL_SDK_DISABLED=true: no SDK module, no connection, nothing logged; the control loads sdk-node and connects', async (t) => {
    const endpoint = `http://127.0.0.1:${port}`;
    const everything =
      'tracing:\n  enabled: true\nopentelemetry:\n  logs: true\n  metrics: true\n  metric_export_interval: 500ms\n';
    const off = await run('off', otelEnv({}));
    const disabled = await run(
      'disabled',
      otelEnv({
        OTEL_SDK_DISABLED: 'true',
        OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      }),
      everything,
    );
    const on = await run(
      'on',
      otelEnv({
        OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_BSP_SCHEDULE_DELAY: '100',
        OTEL_BLRP_SCHEDULE_DELAY: '100',
      }),
      everything,
    );
    ns.ip('addr', 'add', '10.67.0.1/24', 'dev', 'oo1');
    for (const { e } of [off, disabled, on]) await sawAddress(e);
    // The control connects: a metric export every 500 ms, the address's span and log record.
    await poll(
      'the control posted all three signals',
      () => {
        const paths = new Set(posts.map((p) => p.split(' ')[1]));
        return ['/v1/metrics', '/v1/traces', '/v1/logs'].every((p) => paths.has(p))
          ? true
          : `posts so far: ${[...paths].join(', ')}`;
      },
      { timeoutMs: 20_000, intervalMs: 50 },
    );
    t.diagnostic(
      `RSS after the same change: no OTEL_* ${rssMiB(off.e.child.pid!)} MiB, OTEL_SDK_DISABLED ${rssMiB(disabled.e.child.pid!)} MiB, all three signals on ${rssMiB(on.e.child.pid!)} MiB`,
    );

    for (const [what, { e }] of [
      ['no OTEL_*', off],
      ['OTEL_SDK_DISABLED', disabled],
    ] as const) {
      const s = await e.scrape();
      assert.ok(s.text.includes('# TYPE netlink_otel_dropped_total counter\n'), `${what}: the family is announced`);
      assert.equal(s.series('netlink_otel_dropped_total').length, 0, `${what}: no samples when off`);
      assert.equal(s.series('netlink_otel_exported_total').length, 0, `${what}: no samples when off`);
      const sockets = tcpSockets(e.child.pid!);
      const outgoing = sockets.filter((x) => x.state !== '0A' && x.local !== e.port);
      assert.deepEqual(
        outgoing,
        [],
        `${what}: TCP sockets other than the listener and its scrapes: ${JSON.stringify(sockets)}`,
      );
      const otelLogs = e.stderr.lines.filter((l) => /^(trac|opentelemetry)/.test(String(parseLogLine(l)?.msg ?? '')));
      assert.deepEqual(otelLogs, [], `${what}: nothing about OpenTelemetry in the log`);
    }
    const s = await on.e.scrape();
    for (const signal of ['traces', 'logs', 'metrics'])
      assert.equal(s.series('netlink_otel_exported_total', { signal }).length, 1, `the control counts ${signal}`);

    for (const x of [off, disabled, on]) await x.e.stop();
    for (const [what, x] of [
      ['no OTEL_*', off],
      ['OTEL_SDK_DISABLED', disabled],
    ] as const) {
      // prom-client itself requires @opentelemetry/api when it is installed (the no-op API).
      assert.deepEqual(
        x.recorder.read().filter((f) => !f.includes('/@opentelemetry/api/')),
        [],
        `${what}: no OpenTelemetry SDK module was loaded`,
      );
    }
    const loaded = on.recorder.read();
    for (const pkg of ['sdk-node', 'sdk-logs', 'sdk-metrics', 'exporter-logs-otlp-http', 'exporter-metrics-otlp-http'])
      assert.ok(
        loaded.some((f) => f.includes(`/@opentelemetry/${pkg}/`)),
        `the control loaded @opentelemetry/${pkg}`,
      );
  });
});
