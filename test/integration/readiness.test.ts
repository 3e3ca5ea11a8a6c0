// /-/ready as the README says: 503 until the initial dumps of our own namespace and of every
// configured namespace present at start-up are in, then 200. A configured namespace that is
// absent does not hold it back (a readiness probe must not fail forever on a namespace that may
// never come): netlink_namespace_ready{netns} = 0 says so instead.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createNetns, liveDescribe, Netns } from '../helpers/netns';
import { Exporter, poll, startExporter } from '../helpers/exporter';

/** Routes in the big namespace: enough that its initial dump takes a while after the exporter listens. */
const ROUTES = 150_000;

liveDescribe('/-/ready', { timeout: 180_000 }, () => {
  let big: Netns;
  let absent: Netns;
  const exporters: Exporter[] = [];

  before(() => {
    big = createNetns('ready');
    big.addVeth('rd0', 'rd1', { up: true });
    big.ip('addr', 'add', '10.80.0.1/24', 'dev', 'rd0');
    const lines: string[] = [];
    for (let i = 0; i < ROUTES; i++)
      lines.push(`route add 10.${96 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32 via 10.80.0.2 proto bird`);
    big.batch(lines);
    // A configured namespace that is not there: made and deleted, so its name is ours and free.
    absent = createNetns('ready');
    absent.delete();
  });

  after(async () => {
    for (const ex of exporters) await ex.stop();
    big?.delete();
  });

  test('503 while a present namespace is being dumped, 200 only once its whole table is in', async () => {
    const ex = await startExporter({ netns: [big.name], waitReady: false });
    exporters.push(ex);
    const answers: number[] = [];
    await poll(
      '/-/ready == 200',
      async () => {
        const r = await ex.get('/-/ready', 5_000);
        answers.push(r.status);
        if (r.status === 503) assert.equal(r.body, 'initial dump in progress\n');
        return r.status === 200 ? true : `HTTP ${r.status}`;
      },
      { timeoutMs: 120_000, intervalMs: 5 },
    );
    console.log(
      `# /-/ready answered 503 ${answers.filter((a) => a === 503).length} times while ${ROUTES} routes were dumped`,
    );
    // Taken at once after the first 200: everything the dump brings is already there.
    const s = await ex.scrape();
    assert.equal(s.value('netlink_namespace_ready', { netns: big.name }), 1);
    assert.equal(
      s.value('netlink_routes', { netns: big.name, table: 'main', family: 'inet', protocol: 'bird' }),
      ROUTES,
      s.show('netlink_routes', { netns: big.name }),
    );
    assert.ok(answers.includes(503), `no 503 seen while ${ROUTES} routes were dumped (answers: ${answers.join(' ')})`);
    assert.ok(
      answers.every((status, i) => status === (i < answers.indexOf(200) ? 503 : 200)),
      `503s, then 200: ${answers.join(' ')}`,
    );
  });

  test('a configured namespace that is absent does not hold readiness back; its netlink_namespace_ready is 0', async () => {
    // startExporter waits for /-/ready 200: it would time out if the absent one held it back.
    const ex = await startExporter({ netns: [big.name, absent.name] });
    exporters.push(ex);
    assert.equal((await ex.get('/-/ready')).status, 200);
    const s = await ex.scrape();
    assert.equal(s.value('netlink_namespace_ready', { netns: absent.name }), 0, s.show('netlink_namespace_ready'));
    assert.equal(s.value('netlink_namespace_ready', { netns: big.name }), 1, s.show('netlink_namespace_ready'));
    assert.equal(s.value('netlink_namespace_ready', { netns: '' }), 1, s.show('netlink_namespace_ready'));
    assert.equal(
      s.value('netlink_routes', { netns: big.name, table: 'main', family: 'inet', protocol: 'bird' }),
      ROUTES,
    );
  });
});
