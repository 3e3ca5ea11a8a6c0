// Lifecycle: SIGTERM and SIGINT stop the exporter with exit code 0 within a bound, even with
// connections open; a scrape in flight is finished, never cut mid-body; SIGHUP re-reads the
// config file (a bad one keeps the running config, says why, and sets the reload metric to 0).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Exporter, parseExposition, poll, startExporter } from '../helpers/exporter';
import { createNetns, liveDescribe, Netns } from '../helpers/netns';

/** The exporter's own deadline (src/runtime/lifecycle.ts) plus room for a loaded machine. */
const EXIT_BOUND_MS = 15_000;

liveDescribe('lifecycle: signals and reload', { timeout: 120_000 }, () => {
  let ns: Netns;
  let dir: string;
  const exporters: Exporter[] = [];

  before(() => {
    ns = createNetns('life');
    ns.batch([
      'link add name lc0 type veth peer name lc1',
      'link add name lx0 type veth peer name lx1',
      'link set lc0 up',
      'link set lc1 up',
    ]);
    dir = mkdtempSync(join(tmpdir(), 'nle-life-'));
  });

  after(async () => {
    for (const ex of exporters) await ex.stop();
    ns?.delete();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    test(`${signal} with an idle keep-alive connection and a scrape in flight: a whole answer, then exit 0`, async () => {
      const ex = await startExporter({ netns: [ns.name] });
      exporters.push(ex);
      // An idle keep-alive connection must not hold the exit up.
      const keepAlive = new http.Agent({ keepAlive: true });
      await new Promise<void>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port: ex.port, path: '/-/healthy', agent: keepAlive }, (res) =>
            res.resume().on('end', resolve),
          )
          .on('error', reject);
      });
      // A scrape sent just before the signal: it gets a complete exposition, or (when the signal
      // won the race to the accept) a refused connection, never a truncated body.
      const scrape = new Promise<string | Error>((resolve) => {
        const req = http.get({ host: '127.0.0.1', port: ex.port, path: '/metrics', agent: false }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
          res.on('error', (err) => resolve(err));
        });
        req.on('error', (err) => resolve(err));
      });
      const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
        ex.child.once('exit', (code, sig) => resolve({ code, signal: sig })),
      );
      ex.child.kill(signal);
      const bound = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), EXIT_BOUND_MS).unref());
      const status = await Promise.race([exited, bound]);
      keepAlive.destroy();
      assert.notEqual(status, 'timeout', `no exit within ${EXIT_BOUND_MS} ms of ${signal}\n${ex.logs()}`);
      assert.deepEqual(status, { code: 0, signal: null }, ex.logs());
      const answer = await scrape;
      if (typeof answer === 'string') {
        assert.ok(answer.endsWith('\n'), 'a complete exposition ends with a newline');
        assert.ok(
          parseExposition(answer).value('netlink_interface_up', { netns: ns.name, interface: 'lc0' }) === 1,
          'a whole, parseable scrape',
        );
      } else {
        assert.match(answer.message, /ECONNREFUSED|ECONNRESET|socket hang up/);
      }
      assert.ok(
        ex.stderr.lines.some((l) => l.includes('shutting down')),
        ex.logs(),
      );
    });
  }

  test('SIGHUP re-reads the config: new include regex and VIP list apply live; a bad file keeps the old one', async () => {
    const file = join(dir, 'config.yml');
    writeFileSync(file, 'interfaces:\n  include: "lc.*"\nvips:\n  - address: 192.0.2.77\n    name: web\n');
    const ex = await startExporter({ netns: [ns.name], configFile: file });
    exporters.push(ex);
    const up = (s: ReturnType<typeof parseExposition>, iface: string) =>
      s.value('netlink_interface_up', { netns: ns.name, interface: iface });
    let s = await ex.scrape();
    assert.equal(up(s, 'lc0'), 1);
    assert.equal(up(s, 'lx0'), undefined, 'lx0 is not included yet');
    assert.equal(s.value('netlink_config_last_reload_successful', {}), 1);
    const startStamp = s.value('netlink_config_last_reload_success_timestamp_seconds', {}) ?? 0;

    // Widen the include regex, swap the VIP, and add the VIP's address: all applied on SIGHUP.
    writeFileSync(file, 'interfaces:\n  include: "l[cx].*"\nvips:\n  - address: 192.0.2.88\n    name: api\n');
    ns.ip('address', 'add', '192.0.2.88/32', 'dev', 'lc0');
    ex.child.kill('SIGHUP');
    s = await ex.waitFor('lx0 series after the reload', (x) =>
      up(x, 'lx0') === 0 ? true : `lx0 up = ${up(x, 'lx0')}`,
    );
    assert.ok((s.value('netlink_config_last_reload_success_timestamp_seconds', {}) ?? 0) >= startStamp);
    assert.equal(
      s.value('netlink_vip_present', { netns: ns.name, vip: '192.0.2.88', name: 'api' }),
      1,
      s.show('netlink_vip_present'),
    );
    assert.equal(s.series('netlink_vip_present', { vip: '192.0.2.77' }).length, 0, 'the old VIP is gone');
    assert.ok(
      ex.stderr.lines.some((l) => l.includes('config reloaded')),
      ex.logs(),
    );

    // A bad file: kept running with the previous config, the key named, the metric at 0.
    writeFileSync(file, 'interfaces:\n  include: "l[cx].*"\n  max_tracked: -1\n');
    ex.child.kill('SIGHUP');
    await poll('the failed reload in the log', () =>
      ex.stderr.lines.some((l) => l.includes('config not reloaded') && l.includes('interfaces.max_tracked'))
        ? true
        : 'not yet',
    );
    s = await ex.waitFor('reload metric 0', (x) =>
      x.value('netlink_config_last_reload_successful', {}) === 0 ? true : 'still 1',
    );
    assert.equal(up(s, 'lx0'), 0, 'the running config stays');
    assert.equal(s.value('netlink_vip_present', { netns: ns.name, vip: '192.0.2.88', name: 'api' }), 1);
    assert.ok(ex.running);

    // A change only a restart can apply is named, the rest applies.
    writeFileSync(file, 'socket:\n  receive_buffer_bytes: 1048576\ninterfaces:\n  include: "lc.*"\n');
    ex.child.kill('SIGHUP');
    await ex.waitFor('lx0 gone again', (x) => (up(x, 'lx0') === undefined ? true : 'lx0 still has series'));
    assert.ok(
      ex.stderr.lines.some(
        (l) => l.includes('takes effect at the next restart') && l.includes('socket.receive_buffer_bytes'),
      ),
      ex.logs(),
    );
    assert.equal((await ex.scrape()).value('netlink_config_last_reload_successful', {}), 1);
  });
});
