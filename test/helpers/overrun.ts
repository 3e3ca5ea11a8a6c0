// How the integration tests make the exporter miss notifications and then wait for it to catch
// up: the exporter stopped (SIGSTOP, every thread of it, so that it reads nothing and the
// kernel's socket buffer fills), changes made unheard, the exporter resumed, a resync waited for.
// And when events mode is ready to be read.

import assert from 'node:assert/strict';
import { poll, type EventsProcess, type Exporter, type Scrape } from './exporter';
import type { Netns } from './netns';

/** The exporter's resync count of `netns` in a scrape (0 before the first). */
export function resyncsIn(s: Scrape, netns: string): number {
  return s.value('netlink_resyncs_total', { netns }) ?? 0;
}

export interface OverrunOptions {
  /** What is waited for, in the failure message (default 'a resync'). */
  what?: string;
  /** Checked on each scrape once the resync is in; the wait ends when it returns true. */
  until?: (s: Scrape) => true | string;
  /** Default 60 s. */
  timeoutMs?: number;
}

/**
 * Runs `unheard` with the exporter stopped, resumes it (even if `unheard` throws), waits for a
 * resync of `netns` after the ones before the stop (and then for `until`), and asserts that the
 * socket overran. Returns that scrape and the resync count before the stop.
 */
export async function overrunAndResync(
  ex: Exporter,
  netns: string,
  unheard: () => void | Promise<void>,
  opts: OverrunOptions = {},
): Promise<{ scrape: Scrape; resyncsBefore: number }> {
  const resyncsBefore = resyncsIn(await ex.scrape(), netns);
  const pid = ex.child.pid!;
  process.kill(pid, 'SIGSTOP');
  try {
    await unheard();
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  const scrape = await ex.waitFor(
    opts.what ?? 'a resync',
    (s) => {
      const r = resyncsIn(s, netns);
      if (r <= resyncsBefore) return `netlink_resyncs_total ${r}: no resync yet`;
      return opts.until ? opts.until(s) : true;
    },
    { timeoutMs: opts.timeoutMs ?? 60_000 },
  );
  assert.ok((scrape.value('netlink_socket_overruns_total', { netns }) ?? 0) >= 1, 'the storm overran the socket');
  return { scrape, resyncsBefore };
}

/** For an after() hook: resumes the exporter if a failed step left it stopped, then stops it. */
export async function resumeAndStop(ex: Exporter | undefined): Promise<void> {
  if (ex?.child.pid && ex.running) process.kill(ex.child.pid, 'SIGCONT');
  await ex?.stop();
}

/**
 * Waits until events mode reports changes in `ns` (it subscribes before it dumps, so a line for
 * a probe link means every later change is told): a probe link added until its line comes,
 * then removed, and its line read.
 */
export async function eventsModeReady(ev: EventsProcess, ns: Netns, timeoutMs = 30_000): Promise<void> {
  let probe = '';
  await poll(
    'events mode reporting a probe link',
    async () => {
      if (!ev.running) throw new Error(`events mode exited: ${ev.stderr.tail(20)}`);
      if (probe) ns.ip('link', 'del', 'dev', probe);
      probe = `pr${Date.now() % 100000}`;
      ns.ip('link', 'add', 'name', probe, 'type', 'ifb');
      try {
        await ev.nextLine(`link added ${probe}`, (l) => l.includes(` link added ${probe} `), 1_000);
        return true;
      } catch {
        return `no event for ${probe} yet`;
      }
    },
    { timeoutMs, intervalMs: 1 },
  );
  ns.ip('link', 'del', 'dev', probe);
  await ev.nextLine(`link removed ${probe}`, (l) => l.includes(` link removed ${probe} `));
}
