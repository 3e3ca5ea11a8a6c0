// Self-tests of the integration harness: the text-format parser, the exporter runner against a
// fake exporter, the events runner, and namespace creation/cleanup on every exit path.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  parseExposition,
  ParseError,
  listeningPort,
  parseLogfmt,
  startExporter,
  startEvents,
  runMain,
  poll,
  Exporter,
} from '../helpers/exporter';
import {
  createNetns,
  liveDescribe,
  listTestNamespaces,
  cleanupStaleNamespaces,
  registeredNamespaces,
  groupRoutes,
  kernelRoutes,
  routeGroupKey,
  run,
  Netns,
} from '../helpers/netns';

describe('text-format parser', () => {
  test('names, labels with escapes, special values, timestamps', () => {
    const s = parseExposition(
      [
        '# HELP netlink_x A help text with \\\\ and \\n.',
        '# TYPE netlink_x gauge',
        'netlink_x{netns="",interface="eth0"} 1',
        'netlink_x{netns="a\\"b",interface="c\\\\d",note="l1\\nl2",}  2.5e3',
        'netlink_nan NaN',
        'netlink_nan2 Nan',
        'netlink_inf{a="1"} +Inf',
        'netlink_ninf -Inf',
        'netlink_ts{a="x"} -0.5 1700000000000',
        'netlink_sp { a = "1" , b="2" } 3',
        '',
        '# a comment',
      ].join('\n'),
    );
    assert.deepEqual(s.problems, []);
    assert.equal(s.types.get('netlink_x'), 'gauge');
    assert.equal(s.value('netlink_x', { netns: '', interface: 'eth0' }), 1);
    assert.equal(s.value('netlink_x', { netns: 'a"b', interface: 'c\\d', note: 'l1\nl2' }), 2500);
    assert.ok(Number.isNaN(s.value('netlink_nan', {})));
    assert.ok(Number.isNaN(s.value('netlink_nan2', {})));
    assert.equal(s.value('netlink_inf', { a: '1' }), Infinity);
    assert.equal(s.value('netlink_ninf', {}), -Infinity);
    assert.equal(s.series('netlink_ts')[0]!.timestamp, 1700000000000);
    assert.equal(s.value('netlink_ts', { a: 'x' }), -0.5);
    assert.equal(s.value('netlink_sp', { a: '1', b: '2' }), 3);
    // exact match: a subset or superset of labels is not the series
    assert.equal(s.value('netlink_x', { interface: 'eth0' }), undefined);
    assert.equal(s.value('netlink_x', { netns: '', interface: 'eth0', x: '' }), undefined);
    assert.equal(s.series('netlink_x', { netns: '' }).length, 1);
    assert.equal(s.series('netlink_x').length, 2);
    assert.equal(s.sum('netlink_x'), 2501);
  });

  test('duplicates are reported, bad lines throw ParseError', () => {
    const s = parseExposition('a{x="1"} 1\na{x="1"} 2\n');
    assert.equal(s.problems.length, 1);
    assert.throws(() => s.value('a', { x: '1' }), /duplicate/);
    for (const bad of ['a{x=1} 1', 'a{x="1} 1', 'a 1 2 3', 'a{x="1"}', 'a', '1a 1', 'a{x="1",x="2"} 1', 'a one']) {
      assert.throws(() => parseExposition(bad), ParseError, bad);
    }
  });

  test('log lines: logfmt and JSON listening lines', () => {
    assert.equal(listeningPort('ts=2026-01-01T00:00:00Z level=info msg=listening address=127.0.0.1:41234'), 41234);
    assert.equal(listeningPort('level=info msg="listening" address="127.0.0.1:5"'), 5);
    assert.equal(listeningPort('{"level":"info","msg":"listening","address":"127.0.0.1:9932"}'), 9932);
    assert.equal(listeningPort('{"level":"info","msg":"listening","address":"[::]:9932"}'), 9932);
    assert.equal(listeningPort('level=info msg=started address=127.0.0.1:1'), undefined);
    assert.deepEqual(parseLogfmt('a=1 b="x \\"y\\"" c='), { a: '1', b: 'x "y"', c: '' });
  });
});

// A stand-in for dist/src/main.js: logs the listening line (logfmt or JSON), becomes ready after
// 300 ms, serves a counter that grows on each scrape, and in `events` mode prints lines.
const FAKE_MAIN = `
const http = require('node:http');
const args = process.argv.slice(2);
const json = args.includes('--log.format=json');
if (args[0] === 'events') {
  let i = 0;
  const t = setInterval(() => { i++; process.stdout.write('line ' + i + '\\n'); if (i === 5) clearInterval(t); }, 20);
  process.on('SIGTERM', () => process.exit(0));
  setInterval(() => {}, 1000);
} else {
  const ignoreTerm = args.includes('--ignore-sigterm');
  let ready = false, scrapes = 0;
  const path = (args.find((a) => a.startsWith('--web.telemetry-path=')) || '=/metrics').split('=')[1];
  const server = http.createServer((req, res) => {
    if (req.url === '/-/ready') { res.statusCode = ready ? 200 : 503; res.end(ready ? 'ok' : 'not yet'); return; }
    if (req.url === path) {
      scrapes++;
      res.setHeader('content-type', 'text/plain; version=0.0.4');
      res.end('# TYPE fake_scrapes_total counter\\nfake_scrapes_total{netns="n\\\\"s"} ' + scrapes + '\\n');
      return;
    }
    res.statusCode = 404; res.end('not found');
  });
  server.listen(0, '127.0.0.1', () => {
    const address = '127.0.0.1:' + server.address().port;
    process.stderr.write('level=info msg="starting"\\n');
    process.stderr.write(json ? JSON.stringify({ level: 'info', msg: 'listening', address }) + '\\n'
                              : 'level=info msg=listening address=' + address + '\\n');
    setTimeout(() => { ready = true; }, 300);
  });
  process.on('SIGTERM', () => { if (!ignoreTerm) server.close(() => process.exit(0)); });
}
`;

describe('exporter runner against a fake exporter', () => {
  let dir: string;
  let fake: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nle-harness-'));
    fake = path.join(dir, 'fake-main.js');
    fs.writeFileSync(fake, FAKE_MAIN);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const logFormat of ['logfmt', 'json'] as const) {
    test(`start (${logFormat} log), ready, scrape, waitFor, stop`, async () => {
      const t0 = Date.now();
      const ex = await startExporter({ main: fake, logFormat, telemetryPath: '/custom' });
      try {
        assert.ok(ex.port > 0);
        assert.ok(Date.now() - t0 >= 250, 'startExporter waited for /-/ready');
        const s = await ex.scrape();
        assert.equal(s.value('fake_scrapes_total', { netns: 'n"s' }), 1);
        const good = await ex.waitFor('three scrapes', (sc) =>
          sc.value('fake_scrapes_total', { netns: 'n"s' })! >= 3 ? true : sc.show('fake_scrapes_total'),
        );
        assert.equal(good.value('fake_scrapes_total', { netns: 'n"s' }), 3);
        assert.equal((await ex.get('/nope')).status, 404);
        await assert.rejects(
          ex.waitForValue('fake_scrapes_total', { netns: 'n"s' }, -1, { timeoutMs: 200 }),
          /timed out after 200 ms waiting for fake_scrapes_total\{netns="n\\"s"\} == -1; last seen: fake_scrapes_total\{netns="n\\"s"\} = \d+/,
        );
      } finally {
        const st = await ex.stop();
        assert.deepEqual(st, { code: 0, signal: null, killed: false });
      }
    });
  }

  test('stop() escalates to SIGKILL when SIGTERM is ignored', async () => {
    const ex: Exporter = await startExporter({ main: fake, args: ['--ignore-sigterm'] });
    const st = await ex.stop(300);
    assert.equal(st.killed, true);
    assert.equal(st.signal, 'SIGKILL');
    assert.equal(ex.running, false);
  });

  test('a start that never listens fails with the stderr tail', async () => {
    const bad = path.join(dir, 'bad-main.js');
    fs.writeFileSync(bad, 'process.stderr.write("level=error msg=\\"boom\\"\\n"); process.exit(3);');
    await assert.rejects(startExporter({ main: bad }), /exited before listening \(exit code 3[\s\S]*msg="boom"/);
    const r = await runMain(['--x'], 5_000, bad);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /boom/);
  });

  test('events runner: nextLine consumes in order and times out with context', async () => {
    const ev = startEvents({ main: fake });
    try {
      assert.equal(await ev.nextLine('line 2', (l) => l === 'line 2'), 'line 2');
      assert.equal(await ev.nextLine('any', () => true), 'line 3');
      await assert.rejects(
        ev.nextLine('line 1 again', (l) => l === 'line 1', 300),
        /no line for line 1 again[\s\S]*line 5/,
      );
    } finally {
      await ev.stop();
    }
  });

  test('poll reports the last value', async () => {
    let n = 0;
    await assert.rejects(
      poll('n == -1', () => `n = ${++n}`, { timeoutMs: 100, intervalMs: 10 }),
      /last seen: n = \d+/,
    );
  });
});

liveDescribe('network namespaces', {}, () => {
  let rootLinksBefore: string;
  before(() => {
    rootLinksBefore = run('ip', ['-j', 'link', 'show']).stdout;
  });
  after(() => {
    // The root namespace's links were not touched by anything above.
    const now = JSON.parse(run('ip', ['-j', 'link', 'show']).stdout) as Array<{ ifname: string; flags: string[] }>;
    const then = JSON.parse(rootLinksBefore) as Array<{ ifname: string; flags: string[] }>;
    assert.deepEqual(
      now.map((l) => `${l.ifname} ${l.flags.join(',')}`),
      then.map((l) => `${l.ifname} ${l.flags.join(',')}`),
    );
  });

  test('create, veth in one and across two namespaces, routes, delete', () => {
    const a = createNetns('harness');
    const b = createNetns('harness');
    try {
      assert.match(a.name, new RegExp(`^nle-harness-${process.pid}-\\d+$`));
      assert.notEqual(a.name, b.name);
      assert.ok(fs.existsSync(`/run/netns/${a.name}`));
      assert.deepEqual(registeredNamespaces().sort(), [a.name, b.name].sort());

      a.addVeth('hv0', 'hv1', { up: true });
      a.addVeth('hx0', 'hx1', { peerNetns: b, up: true });
      assert.deepEqual(
        a
          .links()
          .map((l) => l.ifname)
          .sort(),
        ['hv0', 'hv1', 'hx0', 'lo'],
      );
      assert.deepEqual(
        b
          .links()
          .map((l) => l.ifname)
          .sort(),
        ['hx1', 'lo'],
      );
      assert.equal(a.addresses('hv0').length, 0, 'addrgenmode none: no link-local address');
      const c = a.carrierCounters('hv0');
      assert.ok(c.changes >= 1 && c.up >= 1, JSON.stringify(c));
      assert.equal(a.sysNumber('hv0', 'ifindex'), a.ifindex('hv0'));

      a.ip('addr', 'add', '10.99.0.1/24', 'dev', 'hv0');
      a.ip('route', 'add', '10.98.0.0/24', 'via', '10.99.0.2', 'table', '100', 'proto', 'bird');
      const groups = groupRoutes(kernelRoutes(a));
      assert.equal(groups.get(routeGroupKey('100', 'inet', 'bird')), 1);
      assert.equal(groups.get(routeGroupKey('main', 'inet', 'kernel')), 1);
      assert.equal(groups.get(routeGroupKey('local', 'inet', 'kernel')), 2);

      a.batch(['link set hv1 down', 'link set hv1 up']);
      assert.equal(a.carrierCounters('hv0').down, c.down + 1);

      assert.throws(
        () => a.ip('link', 'set', 'dev', 'nosuchdev', 'up'),
        /ip -n nle-harness-\d+-\d+ link set dev nosuchdev up failed \(exit 1\)\nstderr: .*nosuchdev/,
      );
      assert.throws(
        () => a.batch(['link set hv0 up', 'link set nosuchdev up']),
        /-batch - failed[\s\S]*stdin:[\s\S]*nosuchdev[\s\S]*stderr: .*nosuchdev/,
      );
    } finally {
      a.delete();
      b.delete();
    }
    assert.ok(!fs.existsSync(`/run/netns/${a.name}`));
    assert.ok(!fs.existsSync(`/run/netns/${b.name}`));
    assert.deepEqual(registeredNamespaces(), []);
    a.delete(); // idempotent
  });

  test('stale namespaces of a dead pid are removed (with processes started on them), live ones kept', async () => {
    const dead = spawnSync('true').pid!;
    const stale = `nle-harness-${dead}-1`;
    run('ip', ['netns', 'add', stale]);
    // An orphaned "exporter" still started on it: killed too.
    const orphan = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', '--', '--netns', stale], {
      stdio: 'ignore',
    });
    const orphanExit = new Promise<string | null>((resolve) => orphan.once('exit', (_c, sig) => resolve(sig)));
    const mine: Netns = createNetns('harness');
    try {
      const removed = cleanupStaleNamespaces();
      assert.ok(removed.includes(stale), `removed ${JSON.stringify(removed)}`);
      assert.equal(await orphanExit, 'SIGKILL');
      assert.ok(!listTestNamespaces().includes(stale));
      assert.ok(listTestNamespaces().includes(mine.name));
    } finally {
      mine.delete();
      spawnSync('ip', ['netns', 'delete', stale], { stdio: 'ignore' });
      if (orphan.exitCode === null && orphan.signalCode === null) orphan.kill('SIGKILL');
    }
  });

  // A child process creates a namespace and ends in different ways: the namespace must go.
  const helper = path.resolve(__dirname, '..', 'helpers', 'netns.js');
  for (const how of ['exit', 'throw', 'SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    test(`namespace removed when the process ends by ${how}`, async () => {
      const script = `
        const { createNetns } = require(${JSON.stringify(helper)});
        const ns = createNetns('harnesschild');
        ns.addVeth('cv0', 'cv1', { up: true });
        process.stdout.write(ns.name + '\\n');
        const how = ${JSON.stringify(how)};
        if (how === 'exit') process.exit(0);
        if (how === 'throw') throw new Error('boom');
        setInterval(() => {}, 1000);
      `;
      const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
        child.once('exit', (code, signal) => resolve({ code, signal })),
      );
      await poll('child printed its namespace', () =>
        out.includes('\n') ? true : `stdout=${JSON.stringify(out)} stderr=${err}`,
      );
      const name = out.trim();
      assert.ok(fs.existsSync(`/run/netns/${name}`) || how === 'exit' || how === 'throw');
      if (how.startsWith('SIG')) child.kill(how as NodeJS.Signals);
      const st = await exited;
      if (how.startsWith('SIG')) assert.equal(st.signal, how, `re-raised ${how}; stderr: ${err}`);
      if (how === 'throw') assert.equal(st.code, 1);
      assert.ok(!fs.existsSync(`/run/netns/${name}`), `${name} still exists after ${how}`);
    });
  }
});
