// Giving memory back after a burst. The route table's pages are ArrayBuffers (the socket's
// chunks are not garbage any more: the addon pools them, see src/runtime/native.ts): V8 frees
// them only at a garbage collection, and after a BGP withdrawal nothing
// allocates any more, so none comes and tens of MB stay resident. When enabled (the exporter
// does; tests and libraries need not), released memory is counted and a full collection runs
// soon after enough has piled up (at most one a second), or a second after a release when a few
// MB are pending. Never synchronously: the caller's frame may still hold what it just released. And once the
// burst is over, one more: V8 gives back the young generation a burst grew (to tens of MB) only
// at a collection that finds allocation slow, under 1 MB/s over its last 5 s.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

const COLLECT_AT_BYTES = 16 * 1024 * 1024;
const SETTLE_MS = 1000;
/** Below this, a quiet exporter's few notifications never cost it a collection. */
const SETTLE_AT_BYTES = 4 * 1024 * 1024;
/** The last collection after a burst: this long after the last one that released memory. */
const QUIET_MS = 6000;
/**
 * Collections are at least this far apart. A burst releases garbage fast (a flap burst hundreds
 * of MB of processed chunks, back-to-back scrapes 11 MB each): collected every 16 MB, a third of
 * a flap burst's CPU went to full collections and malloc_trim.
 */
const MIN_INTERVAL_MS = 1000;

let collect: (() => void) | undefined;
let trim: (() => void) | undefined;
let pending = 0;
let timer: NodeJS.Timeout | undefined;
let soon: NodeJS.Immediate | undefined;
let quiet: NodeJS.Timeout | undefined;
let lastRun = -Infinity;

/**
 * Makes released memory trigger collections (V8's gc() through --expose-gc, set at run time),
 * each followed by `trimHeap` (malloc_trim: glibc keeps freed pages mapped otherwise).
 */
export function enableCollectOnRelease(trimHeap?: () => void): void {
  if (collect) return;
  setFlagsFromString('--expose-gc');
  collect = runInNewContext('gc') as () => void;
  trim = trimHeap;
}

function run(): void {
  if (timer) clearTimeout(timer);
  if (soon) clearImmediate(soon);
  timer = undefined;
  soon = undefined;
  pending = 0;
  lastRun = performance.now();
  collect?.();
  trim?.();
  if (quiet) quiet.refresh();
  else {
    quiet = setTimeout(() => {
      quiet = undefined;
      collect?.();
      trim?.();
    }, QUIET_MS);
    quiet.unref();
  }
}

/** Counts bytes that became garbage (dropped pages, a closed namespace, a scrape's text). */
export function released(bytes: number): void {
  if (!collect) return;
  pending += bytes;
  if (soon || pending < SETTLE_AT_BYTES) return;
  const wait = lastRun + MIN_INTERVAL_MS - performance.now();
  if (pending >= COLLECT_AT_BYTES && wait <= 0) {
    soon = setImmediate(run);
  } else if (!timer) {
    timer = setTimeout(run, pending >= COLLECT_AT_BYTES ? wait : SETTLE_MS);
    timer.unref();
  }
}
