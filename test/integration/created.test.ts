// A counter whose label set is born after start-up (here: the first BGP routes of a table) must
// not hide its first burst from increase(). A real Prometheus scrapes the exporter in
// OpenMetrics; the exporter gives every counter sample a `_created` sample (when the label set
// was first seen).
//  - A Prometheus with created-timestamp zero ingestion for OpenMetrics text (2.55 and later,
//    --enable-feature=created-timestamp-zero-ingestion) puts a 0 at that time, so
//    increase() counts the whole first burst: asserted when the installed one has it.
//  - An older one (Debian bookworm's 2.42) stores `_created` as a series of its own and its
//    increase() misses the first burst: asserted as such, with the query the README gives for it
//    (the whole value of a series born inside the window), which counts the burst.
// Nothing waits by sleeping: every step polls with a deadline.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createNetns, liveDescribe, Netns } from '../helpers/netns';
import { Exporter, httpGet, OPENMETRICS_ACCEPT, startExporter } from '../helpers/exporter';
import { prometheusVersion, TestPrometheus } from '../helpers/prometheus';

const JOB = 'nle-created';
const BURST = 25;

liveDescribe(
  '_created: the first burst of a counter born after start-up, in a real Prometheus',
  { timeout: 120_000 },
  () => {
    let ns: Netns;
    let ex: Exporter | undefined;
    let prometheus: TestPrometheus | undefined;
    const [major, minor] = prometheusVersion();
    /** Created-timestamp zero ingestion of OpenMetrics text came with Prometheus 2.55. */
    const ingestsCreated = major > 2 || (major === 2 && minor >= 55);
    let bornAfter = 0;
    let bornBefore = 0;

    const selector = (name: string): string =>
      `${name}{job="${JOB}",netns="${ns.name}",table="main",family="inet",protocol="bgp",action="added"}`;

    before(async () => {
      ns = createNetns('created');
      ns.addVeth('cr0', 'cr1', { up: true });
      ns.ip('addr', 'add', '10.70.0.1/24', 'dev', 'cr0');
      ex = await startExporter({ netns: [ns.name] });
      // Two scrapes before the burst: Prometheus knows the target, not the group.
      prometheus = await TestPrometheus.start({
        job: JOB,
        target: `127.0.0.1:${ex.port}`,
        flags: ingestsCreated ? ['--enable-feature=created-timestamp-zero-ingestion'] : [],
        scrapes: 2,
      });
    });

    after(async () => {
      await prometheus?.stop();
      await ex?.stop();
      ns?.delete();
    });

    test(`a burst of ${BURST} BGP routes, the first of their group: the exporter gives the group's counters a _created sample`, async () => {
      bornAfter = Date.now() / 1000;
      ns.batch(Array.from({ length: BURST }, (_, i) => `route add 10.71.${i}.0/24 via 10.70.0.2 proto bgp`));
      await ex!.waitForValue(
        'netlink_route_changes_total',
        { netns: ns.name, table: 'main', family: 'inet', protocol: 'bgp', action: 'added' },
        BURST,
      );
      bornBefore = Date.now() / 1000;
      const om = await httpGet(`${ex!.baseUrl}/metrics`, 10_000, { accept: OPENMETRICS_ACCEPT });
      const labels = `{netns="${ns.name}",table="main",family="inet",protocol="bgp",action="added"}`;
      const lines = om.body.split('\n');
      const at = lines.indexOf(`netlink_route_changes_total${labels} ${BURST}`);
      assert.ok(at >= 0, `the counter sample in:\n${lines.filter((l) => l.includes('protocol="bgp"')).join('\n')}`);
      const created = /^netlink_route_changes_created\{[^}]*\} (\S+)$/.exec(lines[at + 1] ?? '');
      assert.ok(
        created && (lines[at + 1] ?? '').startsWith(`netlink_route_changes_created${labels} `),
        `right after it, its _created sample: ${lines[at + 1]}`,
      );
      const t = Number(created[1]);
      assert.ok(
        t >= Math.floor(bornAfter * 1000) / 1000 && t <= bornBefore,
        `_created ${t} within [${bornAfter}, ${bornBefore}]`,
      );
    });

    test(
      ingestsCreated
        ? 'Prometheus (created-timestamp zero ingestion): increase() counts the first burst'
        : 'Prometheus before 2.55: increase() misses the first burst; the documented query counts it',
      async () => {
        const counter = selector('netlink_route_changes_total');
        // Enough samples after the burst for increase() to have something to work on.
        const prom = prometheus!;
        await prom.poll('three samples of the counter in Prometheus', async () => {
          const r = await prom.query(`count_over_time(${counter}[2m])`);
          return Number(r[0]?.value[1] ?? 0) >= 3 ? true : `samples: ${r[0]?.value[1] ?? '(none yet)'}`;
        });
        const increase = Number((await prom.query(`increase(${counter}[2m])`))[0]?.value[1] ?? NaN);
        console.log(`# prometheus ${major}.${minor}: increase() over the first burst of ${BURST} = ${increase}`);
        if (ingestsCreated) {
          // The zero at the created time makes the whole burst an increase (extrapolation only adds).
          assert.ok(increase >= BURST, `increase ${increase} >= ${BURST}`);
          return;
        }
        // The first sample already holds the burst: without the zero, increase() sees none of it.
        assert.equal(increase, 0, 'an older Prometheus misses the first burst');
        // It stores _created as a series of its own, with the first-seen time as its value.
        const created = Number((await prom.query(selector('netlink_route_changes_created')))[0]?.value[1] ?? NaN);
        assert.ok(
          created >= Math.floor(bornAfter * 1000) / 1000 && created <= bornBefore,
          `netlink_route_changes_created ${created} within [${bornAfter}, ${bornBefore}]`,
        );
        // The README's query for it: a series born inside the window counts whole.
        const window = '2m';
        const born = `${selector('netlink_route_changes_created')} > time() - 120`;
        const documented = `increase(${counter}[${window}]) unless (${born}) or (${counter} and (${born}))`;
        const r = await prom.query(documented);
        assert.equal(Number(r[0]?.value[1] ?? NaN), BURST, `${documented}: ${JSON.stringify(r)}`);
      },
    );
  },
);
