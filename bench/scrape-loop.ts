// A scraper in its own process: the benchmark's sender blocks its own event loop in sendmsg
// while a burst goes out, which would make every scrape it timed look slow. This one only
// scrapes: every INTERVAL ms, one at a time, and prints one JSON line per scrape on stdout.
// usage: node scrape-loop.js URL NETNS INTERVAL_MS

import * as http from 'node:http';
import { performance } from 'node:perf_hooks';
import { parseExposition } from '../test/helpers/exporter';

const [url = '', netns = '', intervalText = '200'] = process.argv.slice(2);
const interval = Number(intervalText);

/** The body, and the milliseconds until its last byte arrived (before we decode it). */
function get(t0: number): Promise<{ body: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const ms = performance.now() - t0;
        if (res.statusCode === 200) resolve({ body: Buffer.concat(chunks).toString('utf8'), ms });
        else reject(new Error(`HTTP ${res.statusCode}`));
      });
      res.on('error', reject);
    });
    req.setTimeout(30_000, () => req.destroy(new Error('no answer within 30 s')));
    req.on('error', reject);
  });
}

async function loop(): Promise<void> {
  for (;;) {
    const t0 = performance.now();
    const at = Date.now();
    try {
      const { body, ms } = await get(t0);
      const s = parseExposition(body);
      const routes = s.sum('netlink_routes', { netns, table: 'main', family: 'inet' });
      const lag = s.sum('nodejs_eventloop_lag_max_seconds', {});
      process.stdout.write(JSON.stringify({ at, ms, routes, lag }) + '\n');
    } catch (err) {
      process.stdout.write(JSON.stringify({ at, ms: performance.now() - t0, error: (err as Error).message }) + '\n');
    }
    const wait = interval - (performance.now() - t0);
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

void loop();
