// Everything the benchmark creates is registered here and removed on every exit path:
// normal exit, an uncaught error (process 'exit'), SIGINT, SIGTERM and SIGHUP.
// Order: child processes first (an exporter or `ip monitor` watching a namespace keeps it
// alive), then our own netlink sockets, then the namespaces, then temporary files.
//
// Child processes are also started under `setpriv --pdeathsig KILL`, so a SIGKILLed benchmark
// takes them with it; the namespaces of such a run (nle-bench-<dead pid>-<n>) are removed by the
// next run. Only names with the `nle-bench-` prefix and a dead creator pid are touched: never
// another suite's namespaces, never another process.

import { ChildProcess, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { pidAlive } from '../test/helpers/netns';

export const NETNS_DIR = '/run/netns';
export const NS_PREFIX = 'nle-bench-';
const NAME_RE = /^nle-bench-(\d+)-(\d+)$/;
/** Where `ip monitor` output and config files go (tmpfs). */
export const TMP_DIR = fs.existsSync('/dev/shm') ? '/dev/shm' : '/tmp';

interface Closable {
  close(): void;
}

const children = new Set<ChildProcess>();
const sockets = new Set<Closable>();
const namespaces = new Set<string>();
const files = new Set<string>();
let installed = false;

export function trackChild(child: ChildProcess): void {
  install();
  children.add(child);
  child.once('exit', () => children.delete(child));
}

export function trackSocket(sock: Closable): () => void {
  install();
  sockets.add(sock);
  return () => sockets.delete(sock);
}

export function trackNamespace(name: string): void {
  install();
  namespaces.add(name);
}

export function untrackNamespace(name: string): void {
  namespaces.delete(name);
}

export function trackFile(file: string): void {
  install();
  files.add(file);
}

export function untrackFile(file: string): void {
  files.delete(file);
}

function killChildrenSync(): void {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null && c.pid !== undefined) {
      try {
        process.kill(c.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  children.clear();
}

/** Synchronous: safe in 'exit' handlers and signal handlers. */
export function cleanupSync(): void {
  killChildrenSync();
  for (const s of sockets) {
    try {
      s.close();
    } catch {
      // best effort
    }
  }
  sockets.clear();
  for (const name of namespaces) {
    spawnSync('ip', ['netns', 'delete', name], { stdio: 'ignore', timeout: 20_000 });
  }
  namespaces.clear();
  for (const f of files) fs.rmSync(f, { force: true });
  files.clear();
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', cleanupSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      process.stderr.write(`\nbench: ${sig}: removing namespaces and processes\n`);
      cleanupSync();
      // The default action now: the exit status still says "killed by sig".
      process.kill(process.pid, sig);
    });
  }
}

/**
 * Removes namespaces and temporary files that an earlier, killed benchmark run left behind
 * (nle-bench-<pid>-<n> whose pid is dead). Returns what it removed.
 */
export function removeStaleLeftovers(): string[] {
  install();
  const removed: string[] = [];
  let entries: string[] = [];
  try {
    entries = fs.readdirSync(NETNS_DIR);
  } catch {
    // no /run/netns yet
  }
  for (const name of entries) {
    const m = NAME_RE.exec(name);
    if (!m || Number(m[1]) === process.pid || pidAlive(Number(m[1]))) continue;
    spawnSync('ip', ['netns', 'delete', name], { stdio: 'ignore', timeout: 20_000 });
    removed.push(name);
  }
  for (const f of fs.readdirSync(TMP_DIR)) {
    const m = /^nle-bench-(\d+)-/.exec(f);
    if (!m || Number(m[1]) === process.pid || pidAlive(Number(m[1]))) continue;
    fs.rmSync(`${TMP_DIR}/${f}`, { force: true });
    removed.push(`${TMP_DIR}/${f}`);
  }
  return removed;
}
