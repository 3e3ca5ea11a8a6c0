// The start-up warm-up (src/warmup) leaves no trace: the real exporter, watching a private
// namespace, reports that it ran, and then shows nothing of its synthetic namespace (no series,
// no label value, no event, no counted message or error), while a real change right after is
// counted exactly. NETLINK_EXPORTER_WARMUP=0 skips it.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createNetns, liveDescribe, Netns } from '../helpers/netns';
import { Exporter, parseLogLine, startExporter } from '../helpers/exporter';

/** Interface names of the warm-up's corpus (src/warmup/corpus.ts). */
const CORPUS_INTERFACES = /^(wa\d+|wb\d+|wx\d+|br0)$/;

liveDescribe('start-up warm-up', { timeout: 90_000 }, () => {
  let ns: Netns;
  let ex: Exporter | undefined;

  before(async () => {
    ns = createNetns('warmup');
    ns.ip('link', 'set', 'dev', 'lo', 'up');
    ns.addVeth('v0', 'v1', { up: true });
    ex = await startExporter({ netns: [ns.name] });
  });

  after(async () => {
    await ex?.stop();
    ns?.delete();
  });

  test('it runs before the namespaces are opened and says so', () => {
    const lines = ex!.stderr.lines.map((l) => parseLogLine(l)).filter((kv) => kv !== undefined);
    const done = lines.findIndex((kv) => kv.msg === 'warm-up done');
    assert.ok(done >= 0, `no "warm-up done" line\n${ex!.logs()}`);
    assert.ok(Number(lines[done]!.messages) > 10_000, `warm-up ran ${String(lines[done]!.messages)} messages`);
    const ready = lines.findIndex((kv) => kv.msg === 'namespace ready');
    assert.ok(ready > done, `a namespace was ready before the warm-up ended\n${ex!.logs()}`);
  });

  test('nothing of its synthetic namespace reaches /metrics or the events API', async () => {
    const s = await ex!.scrape();
    for (const sample of s.samples) {
      const netns = sample.labels.netns;
      assert.ok(
        netns === undefined || netns === '' || netns === ns.name,
        `series of another namespace: ${sample.name}{netns="${netns}"}`,
      );
      const iface = sample.labels.interface;
      assert.ok(
        iface === undefined || !CORPUS_INTERFACES.test(iface) || ns.links().some((l) => l.ifname === iface),
        `series of a corpus interface: ${sample.name}{interface="${iface}"}`,
      );
    }
    const L = { netns: ns.name };
    // Nothing happened in the watched namespace since its dump: every counter of it is 0.
    for (const name of [
      'netlink_messages_received_total',
      'netlink_decode_errors_total',
      'netlink_route_changes_total',
      'netlink_address_changes_total',
      'netlink_interface_flaps_total',
    ]) {
      assert.equal(s.sum(name, L), 0, `${name}{netns="${ns.name}"} sums to ${s.sum(name, L)}`);
    }
    const r = await ex!.get('/api/v1/events');
    assert.equal(r.status, 200);
    const events = (JSON.parse(r.body) as { events: { netns: string }[] }).events;
    assert.deepEqual(
      events.filter((e) => e.netns !== ns.name && e.netns !== ''),
      [],
      'events of the warm-up',
    );
    assert.deepEqual(
      events.filter((e) => e.netns === ns.name),
      [],
      'events in a namespace where nothing changed',
    );
  });

  test('a real change right after is counted exactly', async () => {
    ns.ip('address', 'add', '192.0.2.7/32', 'dev', 'v0');
    const L = { netns: ns.name, interface: 'v0', family: 'inet' };
    await ex!.waitForValue('netlink_address_changes_total', { ...L, action: 'added' }, 1);
    await ex!.waitForValue('netlink_interface_addresses', L, 1);
    const s = await ex!.scrape();
    assert.equal(s.value('netlink_address_changes_total', { ...L, action: 'removed' }), 0);
  });

  test('NETLINK_EXPORTER_WARMUP=0 skips it', async () => {
    const plain = await startExporter({ netns: [ns.name], env: { NETLINK_EXPORTER_WARMUP: '0' } });
    try {
      const msgs = plain.stderr.lines.map((l) => parseLogLine(l)?.msg);
      assert.ok(msgs.includes('warm-up skipped (NETLINK_EXPORTER_WARMUP=0)'), plain.logs());
      assert.ok(!msgs.includes('warm-up done'), plain.logs());
    } finally {
      await plain.stop();
    }
  });
});
