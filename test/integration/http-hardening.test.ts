// HTTP hardening: only GET and HEAD on known paths, a slowloris client cut off by the header
// timeout, gzip when asked, 500 concurrent scrapes answered correctly while a netlink burst runs,
// and nothing left open afterwards. Plus the scrape queue's exact semantics (unit).

import assert from 'node:assert/strict';
import { readdirSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { ScrapeGate } from '../../src/http/scrape-gate';
import { BurstSender, routeBurst } from '../helpers/burst';
import { Exporter, parseExposition, poll, startExporter } from '../helpers/exporter';
import { createNetns, groupRoutes, kernelRoutes, liveDescribe, Netns, routeGroupKey } from '../helpers/netns';

const RTPROT_STATIC = 4;

describe('scrape queue', () => {
  test('runs `concurrency` at once, queues up to the bound in order, refuses past it', async () => {
    const gate = new ScrapeGate(2, 2);
    const a = await gate.enter();
    const b = await gate.enter();
    assert.ok(a && b);
    const order: string[] = [];
    const c = gate.enter().then((release) => (order.push('c'), release));
    const d = gate.enter().then((release) => (order.push('d'), release));
    assert.equal(await gate.enter(), undefined, 'the fifth waits nowhere: refused');
    a();
    a(); // a second release is a no-op
    const releaseC = await c;
    assert.deepEqual(order, ['c']);
    b();
    const releaseD = await d;
    assert.deepEqual(order, ['c', 'd']);
    releaseC?.();
    releaseD?.();
    const e = await gate.enter();
    assert.ok(e, 'free again');
  });
});

/** Open file descriptors of a process (sockets included). */
function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

function rawGet(
  port: number,
  path: string,
  agent: http.Agent,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.setTimeout(60_000, () => req.destroy(new Error('no answer within 60 s')));
    req.on('error', reject);
  });
}

function request(port: number, method: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

liveDescribe('HTTP hardening', { timeout: 180_000 }, () => {
  let ns: Netns;
  /** The default configuration. */
  let ex: Exporter | undefined;
  /** A 1 s header timeout, so the slowloris test is quick. */
  let strict: Exporter | undefined;
  let dir: string;

  before(async () => {
    ns = createNetns('http');
    ns.batch(['link add name hh0 type veth peer name hh1', 'link set hh0 up', 'link set hh1 up']);
    dir = mkdtempSync(join(tmpdir(), 'nle-http-'));
    const config = join(dir, 'config.yml');
    writeFileSync(config, 'web:\n  header_timeout: 1s\n');
    ex = await startExporter({ netns: [ns.name] });
    strict = await startExporter({ netns: [ns.name], configFile: config });
  });

  after(async () => {
    await strict?.stop();
    await ex?.stop();
    ns?.delete();
    rmSync(dir, { recursive: true, force: true });
  });

  test('only GET and HEAD, only on known paths', async () => {
    const port = ex!.port;
    assert.equal(await request(port, 'POST', '/metrics'), 405);
    assert.equal(await request(port, 'PUT', '/'), 405);
    assert.equal(await request(port, 'DELETE', '/-/ready'), 405);
    assert.equal(await request(port, 'GET', '/nope'), 404);
    assert.equal(await request(port, 'POST', '/nope'), 404);
    assert.equal(await request(port, 'HEAD', '/metrics'), 200);
  });

  test('gzip when the scraper asks, identity otherwise', async () => {
    const agent = new http.Agent({ keepAlive: false });
    const zipped = await rawGet(ex!.port, '/metrics', agent, { 'accept-encoding': 'gzip' });
    assert.equal(zipped.headers['content-encoding'], 'gzip');
    const text = gunzipSync(zipped.body).toString('utf8');
    assert.ok(parseExposition(text).series('netlink_interface_up', { netns: ns.name, interface: 'hh0' }).length === 1);
    const plain = await rawGet(ex!.port, '/metrics', agent, { 'accept-encoding': 'gzip;q=0' });
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.ok(plain.body.toString('utf8').includes('netlink_interface_up{'));
  });

  test('a slowloris client (headers a byte at a time) is cut off by the header timeout', async () => {
    const port = strict!.port;
    const started = Date.now();
    const outcome = await new Promise<{ closedBy: 'server' | 'test'; sent: number }>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      let sent = 0;
      let timer: NodeJS.Timeout | undefined;
      const header = 'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ' + 'a'.repeat(10_000);
      socket.on('connect', () => {
        // One byte every 100 ms: the headers would take over 15 minutes to arrive.
        timer = setInterval(() => {
          if (sent < header.length && !socket.destroyed) socket.write(header[sent++] as string);
        }, 100);
      });
      socket.on('data', () => undefined);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        clearInterval(timer);
        resolve({ closedBy: 'server', sent });
      });
      // The test's own bound: far past the 1 s timeout plus Node's 1 s check interval.
      setTimeout(() => {
        if (!socket.destroyed) {
          clearInterval(timer);
          socket.destroy();
          resolve({ closedBy: 'test', sent });
        }
      }, 30_000).unref();
    });
    assert.equal(
      outcome.closedBy,
      'server',
      `the server kept a slow client for ${Date.now() - started} ms (${outcome.sent} bytes sent)`,
    );
    // Everyone else was served meanwhile and still is.
    assert.equal((await strict!.get('/-/healthy')).status, 200);
  });

  test('500 concurrent scrapes during a route burst all answer correctly; nothing stays open', async () => {
    const pid = ex!.child.pid!;
    const baselineFds = fdCount(pid);
    const sender = new BurstSender(ns);
    const count = 20_000;
    const { adds, deletes } = routeBurst({
      count,
      second: 60,
      table: 300,
      protocol: RTPROT_STATIC,
      oif: ns.ifindex('hh0'),
      seq: 1,
    });
    const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
    try {
      sender.send(adds);
      const answers = await Promise.all(Array.from({ length: 500 }, () => rawGet(ex!.port, '/metrics', agent)));
      await sender.sync('route adds');
      sender.send(deletes);
      await sender.sync('route deletes');
      for (const [i, a] of answers.entries()) {
        assert.equal(a.status, 200, `scrape ${i}: HTTP ${a.status}`);
        const s = parseExposition(a.body.toString('utf8'));
        assert.deepEqual(s.problems, [], `scrape ${i}: format problems`);
        assert.equal(s.value('netlink_interface_up', { netns: ns.name, interface: 'hh0' }), 1, `scrape ${i}`);
        const routes =
          s.value('netlink_routes', { netns: ns.name, table: '300', family: 'inet', protocol: 'static' }) ?? 0;
        assert.ok(routes >= 0 && routes <= count, `scrape ${i}: ${routes} routes in table 300`);
      }
    } finally {
      sender.close();
      agent.destroy();
    }
    // After the burst the gauges are exact, and every connection the scrapes opened is gone.
    await ex!.waitFor(
      'table 300 empty again',
      (s) => {
        const want = groupRoutes(kernelRoutes(ns)).get(routeGroupKey('300', 'inet', 'static')) ?? 0;
        const got =
          s.value('netlink_routes', { netns: ns.name, table: '300', family: 'inet', protocol: 'static' }) ?? 0;
        return got === want && want === 0 ? true : `exporter ${got}, kernel ${want}`;
      },
      { timeoutMs: 30_000 },
    );
    await poll(
      "the scrapes' sockets to close",
      () => {
        const now = fdCount(pid);
        return now <= baselineFds ? true : `${now} fds open, ${baselineFds} before`;
      },
      { timeoutMs: 20_000 },
    );
    assert.equal(
      parseExposition((await ex!.get('/metrics')).body).value('netlink_socket_overruns_total', { netns: ns.name }),
      0,
    );
  });
});
