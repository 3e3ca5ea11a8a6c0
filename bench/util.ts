// Small helpers shared by the benchmark modules.

import * as http from 'node:http';
import { performance } from 'node:perf_hooks';
import { poll } from '../test/helpers/exporter';

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Nearest-rank percentile of an unsorted list (p in 0..100). */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const rank = Math.min(s.length, Math.max(1, Math.ceil((p / 100) * s.length)));
  return s[rank - 1]!;
}

export function median(values: number[]): number {
  return percentile(values, 50);
}

/** 1234567 -> "1,234,567". */
export function int(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  return Math.round(n).toLocaleString('en-US');
}

export interface GetResult {
  status: number;
  body: string;
  /** Request start to the last byte, ms. */
  ms: number;
}

/** GET without keep-alive; measures the time to the last byte. */
export function httpGet(url: string, timeoutMs = 30_000): Promise<GetResult> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.get(url, { agent: false, headers: { connection: 'close' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        // Timed when the last byte arrived, as a scraper sees it: not our own decoding of 10 MB.
        const ms = performance.now() - t0;
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), ms });
      });
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${url}: no response within ${timeoutMs} ms`)));
    req.on('error', (e) => reject(new Error(`GET ${url}: ${e.message}`)));
  });
}

/** Polls `check` until it returns true; throws with the last string it returned (the tests' poll). */
export function waitUntil(
  what: string,
  check: () => Promise<true | string> | true | string,
  timeoutMs = 30_000,
  intervalMs = 50,
): Promise<void> {
  return poll(what, check, { timeoutMs, intervalMs });
}
