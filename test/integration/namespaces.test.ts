// Namespaces that come and go while the exporter runs (src/session/namespaces.ts): a --netns name that
// is deleted (log line, series gone, socket closed) and created again (picked up, fresh);
// --netns.all following every name under /run/netns (one created, one deleted, a stale file);
// `--netns=all` being a plain name; a /proc/PID/ns/net namespace closed when its process exits.
//
// "The socket is closed" is checked in the kernel: a veth pair between the namespace and a
// second test namespace disappears from the second one only when nothing holds the first one
// any more (the exporter's netlink socket would).

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createNetns, liveDescribe, Netns, onProcessExit, run } from '../helpers/netns';
import { Exporter, parseLogLine, poll, Scrape, startExporter } from '../helpers/exporter';

/** Interface-level series of a namespace (anything with an interface label). */
function interfaceSeries(s: Scrape, netns: string): string[] {
  return s
    .withLabels({ netns })
    .filter((x) => x.labels.interface !== undefined)
    .map((x) => `${x.name}{interface="${x.labels.interface}"}`);
}

function interfaces(s: Scrape, netns: string): string[] {
  return s
    .series('netlink_interface_info', { netns })
    .map((x) => x.labels.interface!)
    .sort();
}

/** Waits until the peer end of a veth pair has gone from `peer`: its other namespace was destroyed. */
async function peerGone(peer: Netns, iface: string, why: string): Promise<void> {
  await poll(
    `${iface} gone from ${peer.name} (${why})`,
    () =>
      peer.links().some((l) => l.ifname === iface)
        ? `${iface} still in ${peer.name}: the deleted namespace is still held`
        : true,
    { timeoutMs: 20_000 },
  );
}

/** Waits for a log line with this msg (substring) whose fields include `fields`. */
async function logLine(
  ex: Exporter,
  what: string,
  msg: string,
  fields: Record<string, string>,
): Promise<Record<string, unknown>> {
  let found: Record<string, unknown> | undefined;
  await poll(
    what,
    () => {
      for (const line of ex.stderr.lines) {
        const kv = parseLogLine(line);
        if (kv && String(kv.msg).includes(msg) && Object.entries(fields).every(([k, v]) => kv[k] === v)) {
          found = kv;
          return true;
        }
      }
      return `no log line with msg ~ ${JSON.stringify(msg)} and ${JSON.stringify(fields)}\n${ex.logs(10)}`;
    },
    { timeoutMs: 15_000 },
  );
  return found!;
}

/** `ip netns add NAME` for a name a test chose, deleted on every exit path. */
function addNamedNetns(name: string, suite: string): Netns {
  const ns = new Netns(name, suite);
  const remove = onProcessExit(() => spawnSync('ip', ['netns', 'delete', name], { stdio: 'ignore' }));
  run('ip', ['netns', 'add', name]);
  const del = ns.delete.bind(ns);
  ns.delete = () => {
    del();
    remove();
  };
  return ns;
}

liveDescribe('namespaces that come and go', { timeout: 180_000 }, () => {
  const cleanups: (() => void | Promise<unknown>)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  test('--netns NAME deleted while running: log line, series gone, socket closed; created again: picked up afresh', async () => {
    const a = createNetns('nsset');
    const peer = createNetns('nsset');
    cleanups.push(
      () => a.delete(),
      () => peer.delete(),
    );
    a.addVeth('va0', 'vp0', { peerNetns: peer, up: true });
    const ex = await startExporter({ netns: [a.name] });
    cleanups.push(() => ex.stop());

    await ex.waitFor(`va0 in ${a.name}`, (s) =>
      interfaces(s, a.name).includes('va0') ? true : `interfaces ${interfaces(s, a.name).join(',')}`,
    );
    // Some notifications, so the old namespace's counters are not 0.
    a.batch(['link set dev va0 down', 'link set dev va0 up']);
    await ex.waitFor('RTM_NEWLINK counted', (s) =>
      (s.value('netlink_messages_received_total', { netns: a.name, type: 'RTM_NEWLINK' }) ?? 0) > 0
        ? true
        : s.show('netlink_messages_received_total', { netns: a.name, type: 'RTM_NEWLINK' }),
    );

    a.delete();
    await logLine(ex, 'the gone namespace is logged', 'network namespace is gone', { netns: a.name });
    const s = await ex.waitFor(`no interface series for ${a.name}, ready 0`, (sc) => {
      const left = interfaceSeries(sc, a.name);
      const ready = sc.value('netlink_namespace_ready', { netns: a.name });
      return left.length === 0 && ready === 0 ? true : `ready ${ready}; left: ${left.slice(0, 5).join(', ')}`;
    });
    // A configured namespace keeps its ready series (0), so an alert can tell it is missing,
    // and nothing that would claim a socket: no buffer, overrun or queue series.
    assert.equal(s.value('netlink_namespace_ready', { netns: '' }), 1);
    for (const name of [
      'netlink_socket_receive_buffer_bytes',
      'netlink_socket_overruns_total',
      'netlink_event_queue_depth',
    ]) {
      assert.equal(s.value(name, { netns: a.name }), undefined, s.show(name));
    }
    await peerGone(peer, 'vp0', 'the exporter closed its socket in the deleted namespace');

    // Created again under the same name: a new namespace, picked up with fresh series.
    const again = addNamedNetns(a.name, 'nsset');
    cleanups.push(() => again.delete());
    const fresh = await ex.waitFor(`${a.name} watched again`, (sc) =>
      sc.value('netlink_namespace_ready', { netns: a.name }) === 1 && interfaces(sc, a.name).includes('lo')
        ? true
        : `ready ${sc.value('netlink_namespace_ready', { netns: a.name })}, interfaces ${interfaces(sc, a.name).join(',')}`,
    );
    assert.deepEqual(interfaces(fresh, a.name), ['lo'], "only the new namespace's interfaces");
    assert.equal(
      fresh.value('netlink_messages_received_total', { netns: a.name, type: 'RTM_NEWLINK' }),
      0,
      'counters start afresh',
    );
    again.addVeth('fresh0', 'fresh1');
    await ex.waitFor('fresh0 appears', (sc) =>
      interfaces(sc, a.name).includes('fresh0') ? true : interfaces(sc, a.name).join(','),
    );
    assert.deepEqual(fresh.problems, []);
    await ex.stop();
  });

  test('--netns.all: follows names created and deleted while running; a stale file is reported once; --netns=all is a plain name', async () => {
    const n1 = createNetns('nsset');
    const n2 = createNetns('nsset');
    const peer = createNetns('nsset');
    cleanups.push(
      () => n1.delete(),
      () => n2.delete(),
      () => peer.delete(),
    );
    n2.addVeth('vb0', 'vq0', { peerNetns: peer, up: true });
    // A file under /run/netns with no namespace mounted on it.
    const stale = `/run/netns/nle-nsset-${process.pid}-900`;
    const removeStale = onProcessExit(() => fs.rmSync(stale, { force: true }));
    cleanups.push(() => {
      fs.rmSync(stale, { force: true });
      removeStale();
    });

    const ex = await startExporter({ args: ['--netns.all'] });
    cleanups.push(() => ex.stop());
    await ex.waitFor('the test namespaces watched', (s) => {
      const missing = [n1, n2, peer]
        .filter((n) => s.value('netlink_namespace_ready', { netns: n.name }) !== 1)
        .map((n) => n.name);
      return missing.length === 0 ? true : `not ready: ${missing.join(', ')}`;
    });
    assert.ok(interfaces(await ex.scrape(), n2.name).includes('vb0'));

    fs.writeFileSync(stale, '');
    const n3 = createNetns('nsset');
    cleanups.push(() => n3.delete());
    n3.addVeth('new0', 'new1');
    await ex.waitFor(`${n3.name} picked up`, (s) =>
      s.value('netlink_namespace_ready', { netns: n3.name }) === 1 && interfaces(s, n3.name).includes('new0')
        ? true
        : `ready ${s.value('netlink_namespace_ready', { netns: n3.name })}, interfaces ${interfaces(s, n3.name).join(',')}`,
    );

    n2.delete();
    await ex.waitFor(`every series of ${n2.name} gone`, (s) => {
      const left = s.withLabels({ netns: n2.name }).map((x) => x.name);
      return left.length === 0 ? true : `left: ${[...new Set(left)].join(', ')}`;
    });
    await peerGone(peer, 'vq0', 'the exporter closed its socket in the deleted namespace');
    await logLine(ex, 'the gone namespace is logged', 'network namespace is gone', { netns: n2.name });

    await logLine(ex, 'the stale file is reported', 'no network namespace is mounted', { path: stale });
    const s = await ex.scrape();
    assert.deepEqual(s.withLabels({ netns: `nle-nsset-${process.pid}-900` }), [], 'no series for a stale file');
    assert.equal(
      ex.stderr.lines.filter((l) => l.includes('no network namespace is mounted') && l.includes(stale)).length,
      1,
      'said once',
    );
    for (const n of [n1, n3, peer]) assert.equal(s.value('netlink_namespace_ready', { netns: n.name }), 1, n.name);
    assert.deepEqual(s.problems, []);
    await ex.stop();

    // `all` is a valid namespace name: --netns=all watches that name, not every namespace.
    const plain = await startExporter({ args: ['--netns=all'] });
    cleanups.push(() => plain.stop());
    const sp = await plain.scrape();
    assert.equal(sp.value('netlink_namespace_ready', { netns: 'all' }), 0, sp.show('netlink_namespace_ready'));
    assert.deepEqual(sp.withLabels({ netns: n1.name }), []);
    await plain.stop();
  });

  test('/proc/PID/ns/net: the socket is closed when the process exits', async () => {
    const q = createNetns('nsset');
    const peer = createNetns('nsset');
    cleanups.push(
      () => q.delete(),
      () => peer.delete(),
    );
    q.addVeth('vc0', 'vr0', { peerNetns: peer, up: true });
    const holder: ChildProcess = spawn('ip', ['netns', 'exec', q.name, 'sleep', '60'], { stdio: 'ignore' });
    const killHolder = (): void => {
      if (holder.exitCode === null && holder.signalCode === null) holder.kill('SIGKILL');
    };
    const removeHook = onProcessExit(killHolder);
    cleanups.push(() => {
      killHolder();
      removeHook();
    });
    const path = `/proc/${holder.pid}/ns/net`;
    const qIno = fs.statSync(q.path).ino;
    await poll('the holder runs inside the namespace', () => {
      const ino = fs.statSync(path).ino;
      return ino === qIno ? true : `ns inode ${ino}, want ${qIno}`;
    });

    const ex = await startExporter({ netns: [path] });
    cleanups.push(() => ex.stop());
    await ex.waitFor(`vc0 under netns="${path}"`, (s) =>
      interfaces(s, path).includes('vc0') ? true : interfaces(s, path).join(','),
    );

    const exited = new Promise<void>((resolve) => holder.once('exit', () => resolve()));
    holder.kill('SIGKILL');
    await exited;
    await logLine(ex, 'the process exit is logged', 'network namespace is gone', {
      netns: path,
      reason: 'process exited',
    });
    await ex.waitFor(`no interface series for ${path}`, (s) => {
      const left = interfaceSeries(s, path);
      return left.length === 0 && s.value('netlink_namespace_ready', { netns: path }) === 0
        ? true
        : `left: ${left.slice(0, 5).join(', ')}`;
    });
    // Only the name holds it now: deleting that destroys the namespace, if our socket is closed.
    q.delete();
    await peerGone(peer, 'vr0', 'the exporter closed its socket when the process exited');
    await ex.stop();
  });
});
