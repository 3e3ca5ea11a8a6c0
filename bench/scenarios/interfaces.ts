// Scenario 6: many interfaces. 5,000 interfaces (2,500 veth pairs) exist before a fresh
// exporter starts: time from start to /-/ready 200, the time of one /metrics scrape (median
// of 10; then of 5 asking for gzip, as Prometheus does), then all deleted: no series of theirs
// may remain after the grace period (2 s here, from a config file).

import * as fs from 'node:fs';
import * as http from 'node:http';
import { performance } from 'node:perf_hooks';
import { gunzipSync } from 'node:zlib';
import { parseExposition } from '../../test/helpers/exporter';
import { TMP_DIR, trackFile, untrackFile } from '../cleanup';
import { createNetns } from '../netns';
import { ExporterProc, memory } from '../procs';
import type { Row } from '../table';
import { int, median, sleep } from '../util';
import type { Context } from './context';

const GRACE_S = 2;

/** GET /metrics with Accept-Encoding: gzip, as Prometheus sends it: ms to the last byte, and the bytes. */
function gzipScrape(port: number): Promise<{ ms: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.get(
      `http://127.0.0.1:${port}/metrics`,
      { agent: false, headers: { connection: 'close', 'accept-encoding': 'gzip' } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const ms = performance.now() - t0;
          if (res.statusCode !== 200 || res.headers['content-encoding'] !== 'gzip')
            reject(new Error(`gzip scrape: HTTP ${res.statusCode}, ${res.headers['content-encoding']}`));
          else resolve({ ms, body: Buffer.concat(chunks) });
        });
        res.on('error', reject);
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error('gzip scrape: no response within 30 s')));
    req.on('error', reject);
  });
}

export async function interfacesScenario(ctx: Context): Promise<Row[]> {
  const pairs = ctx.size(2_500, 1);
  const ns = createNetns();
  const config = `${TMP_DIR}/nle-bench-${process.pid}-grace.yml`;
  let exporter: ExporterProc | undefined;
  const notes: string[] = [];
  const failures: string[] = [];
  try {
    ctx.log(`interfaces: creating ${pairs} veth pairs`);
    let t = performance.now();
    const lines: string[] = [];
    // Group 77: one `ip link del group 77` removes them all in one batched unregister (their
    // peers go with them), as fast as the kernel can; one by one takes ~15 ms each.
    for (let i = 0; i < pairs; i++) lines.push(`link add mA${i} group 77 type veth peer name mB${i}`);
    ns.batch(lines);
    const createS = (performance.now() - t) / 1000;
    const expected = 2 * pairs;

    trackFile(config);
    fs.writeFileSync(config, `# netlink-exporter benchmark\ninterfaces:\n  deleted_grace_period: ${GRACE_S}s\n`);
    ctx.log('interfaces: starting the exporter');
    const t0 = performance.now();
    exporter = await ExporterProc.spawn([ns.name], [`--config.file=${config}`]);
    const readyAt = await exporter.waitReady(60_000, 5);
    const startupMs = readyAt - t0;
    const ex = exporter;
    const memReady = memory(ex.pid);

    const times: number[] = [];
    let body = '';
    for (let i = 0; i < 10; i++) {
      const r = await ex.metrics();
      times.push(r.ms);
      body = r.body;
    }
    const memScraped = memory(ex.pid);
    const gzipTimes: number[] = [];
    let gzipped: Buffer = Buffer.alloc(0);
    for (let i = 0; i < 5; i++) {
      const r = await gzipScrape(ex.port);
      gzipTimes.push(r.ms);
      gzipped = r.body;
    }
    const unzipped = gunzipSync(gzipped).length;
    const s = parseExposition(body);
    const series = s.samples.length;
    const up = s
      .series('netlink_interface_up', { netns: ns.name })
      .filter((x) => /^m[AB]\d+$/.test(x.labels.interface ?? '')).length;
    if (up !== expected) failures.push(`netlink_interface_up has ${up} series for the ${expected} interfaces`);
    const med = median(times);
    notes.push(
      `${int(expected)} interfaces (created in ${createS.toFixed(1)} s with ip -batch) before the exporter started; ` +
        `start to /-/ready 200: ${startupMs.toFixed(0)} ms (goal < 2 s${startupMs >= 2000 ? ': OVER' : ''}, includes node start-up)`,
    );
    notes.push(
      `/metrics: median of 10 ${med.toFixed(1)} ms, min ${Math.min(...times).toFixed(1)}, max ${Math.max(...times).toFixed(1)} ms ` +
        `(goal < 100 ms${med >= 100 ? ': OVER' : ''}); ${int(series)} series, ${(body.length / 1024 / 1024).toFixed(1)} MB; ` +
        `context: node_exporter netclass+netdev took 4.2 s on the same host`,
    );
    const gzipMed = median(gzipTimes);
    notes.push(
      `/metrics with Accept-Encoding: gzip (as Prometheus asks): median of 5 ${gzipMed.toFixed(1)} ms, max ${Math.max(...gzipTimes).toFixed(1)} ms ` +
        `(goal < 100 ms${gzipMed >= 100 ? ': OVER' : ''}); ${(gzipped.length / 1024).toFixed(0)} KiB for ${(unzipped / 1024 / 1024).toFixed(1)} MB`,
    );

    ctx.log(`interfaces: deleting ${pairs} veth pairs`);
    t = performance.now();
    ns.ip('link', 'del', 'group', '77');
    const deletedAt = performance.now();
    const deleteS = (deletedAt - t) / 1000;
    // Poll until no series of a deleted interface remains; give it the grace period plus 30 s.
    let stale = -1;
    let goneAt = 0;
    const deadline = deletedAt + (GRACE_S + 30) * 1000;
    for (;;) {
      const sc = parseExposition((await ex.metrics()).body);
      stale = sc.withLabels({ netns: ns.name }).filter((x) => /^m[AB]\d+$/.test(x.labels.interface ?? '')).length;
      if (stale === 0) {
        goneAt = performance.now();
        break;
      }
      if (performance.now() > deadline) break;
      await sleep(250);
    }
    if (stale === 0) {
      notes.push(
        `deleted all in ${deleteS.toFixed(1)} s; their series were gone ${((goneAt - deletedAt) / 1000).toFixed(1)} s after the last delete ` +
          `(grace period ${GRACE_S} s); no stale series`,
      );
    } else {
      failures.push(
        `${stale} series of deleted interfaces still there ${GRACE_S + 30} s after the deletion (grace period ${GRACE_S} s)`,
      );
    }
    const tracked = parseExposition((await ex.metrics()).body).sum('netlink_tracked_interfaces', { netns: ns.name });
    const memEnd = memory(ex.pid);
    const mbs = (k: number): string => (k / 1024).toFixed(1);
    notes.push(
      `netlink_tracked_interfaces after: ${tracked} (lo); exporter RSS: ${mbs(memReady.rssKiB)} MB at ready (peak ${mbs(memReady.hwmKiB)}), ` +
        `${mbs(memScraped.rssKiB)} MB after the 10 scrapes (peak ${mbs(memScraped.hwmKiB)}), ${mbs(memEnd.rssKiB)} MB at the end (peak ${mbs(memEnd.hwmKiB)})`,
    );
    return [{ scenario: `6 interfaces ${int(expected)}`, notes, failures }];
  } finally {
    await exporter?.stop();
    ns.delete();
    fs.rmSync(config, { force: true });
    untrackFile(config);
  }
}
