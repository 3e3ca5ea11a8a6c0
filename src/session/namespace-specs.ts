// Which namespaces are wanted and what to do with each: the pure decisions of the namespace set
// (namespaces.ts), apart from the file system and the watchers so that they test alone.

/** Where `ip netns` keeps its names. */
export const NETNS_DIR = '/run/netns';

export type NamespaceKind = 'own' | 'file' | 'process';

export interface NamespaceSpec {
  /** The `netns` label: "" (own), the name as given, or the path as given. */
  label: string;
  kind: NamespaceKind;
  /** Namespace file; undefined for our own. */
  path: string | undefined;
  /** For kind 'process': the process whose exit ends the namespace's watch. */
  pid?: number;
}

/**
 * What a --netns value means: a name is /run/netns/NAME (followed through its directory),
 * /proc/PID/ns/net (or /proc/PID/task/TID/ns/net) follows process PID, any other path is a
 * namespace file followed through its directory, as a name is.
 */
export function classifyNamespace(spec: string, netnsDir = NETNS_DIR): NamespaceSpec {
  if (spec === '') return { label: '', kind: 'own', path: undefined };
  if (!spec.includes('/')) return { label: spec, kind: 'file', path: `${netnsDir}/${spec}` };
  const m = /^\/proc\/(\d+)\/(?:task\/\d+\/)?ns\/net$/.exec(spec);
  if (m) return { label: spec, kind: 'process', path: spec, pid: Number(m[1]) };
  return { label: spec, kind: 'file', path: spec };
}

export interface WantedNamespace {
  label: string;
  /** Given by --netns (or our own): keeps an empty source while absent. */
  configured: boolean;
}

/** Own namespace first, then --netns in order, then the --netns.all names not already listed (sorted). */
export function wantedNamespaces(
  netns: readonly string[],
  netnsAll: boolean,
  namesInDir: readonly string[],
): WantedNamespace[] {
  const out: WantedNamespace[] = [{ label: '', configured: true }];
  const seen = new Set<string>(['']);
  for (const label of netns) {
    if (seen.has(label)) continue;
    seen.add(label);
    out.push({ label, configured: true });
  }
  if (netnsAll) {
    for (const name of [...namesInDir].sort()) {
      // `ip netns` makes no names with a slash or a leading dot; skip what is not a name.
      if (seen.has(name) || name.startsWith('.') || name.includes('/')) continue;
      seen.add(name);
      out.push({ label: name, configured: false });
    }
  }
  return out;
}

/** What a namespace file looks like right now. */
export type Probe =
  | { state: 'missing' }
  | { state: 'mounted'; ino: number }
  /** The file exists but no namespace is mounted on it (yet: `ip netns add` mounts after creating). */
  | { state: 'unmounted' }
  /** statfs failed otherwise (EACCES, ...): an open will tell why. */
  | { state: 'unknown'; code: string };

export type Decision = 'keep' | 'open' | 'close' | 'replace' | 'wait' | 'none';

/**
 * What to do with one namespace file, from what is open and what the file is now. `failedIno`
 * is the namespace an open already failed on (reported once, not retried until it changes;
 * -1 for an unknown probe).
 */
export function decide(open: { ino: number } | undefined, failedIno: number | undefined, probe: Probe): Decision {
  switch (probe.state) {
    case 'missing':
      return open ? 'close' : 'none';
    case 'unmounted':
      return open ? 'close' : 'wait';
    case 'mounted':
      if (open) return open.ino === probe.ino ? 'keep' : 'replace';
      return failedIno === probe.ino ? 'none' : 'open';
    case 'unknown':
      if (open) return 'keep';
      return failedIno === -1 ? 'none' : 'open';
  }
}

/**
 * Errors that say the process is short of a resource now (file descriptors, memory), not that the
 * namespace cannot be watched: a client holding every descriptor with idle connections made
 * them. Retried (retryDelay) rather than reported as final.
 */
export const TRANSIENT_ERRORS: ReadonlySet<string> = new Set(['EMFILE', 'ENFILE', 'ENOMEM', 'ENOBUFS']);

/** Delay before the n-th (from 0) retry after a transient failure: 100 ms doubling, at most 5 s. */
export function retryDelay(attempt: number): number {
  return Math.min(5000, 100 * 2 ** Math.min(attempt, 6));
}

/** Delay before the n-th (from 0) check for a namespace mount: 10 ms doubling, at most 500 ms. */
export function mountRetryDelay(attempt: number): number {
  return Math.min(500, 10 * 2 ** Math.min(attempt, 6));
}
