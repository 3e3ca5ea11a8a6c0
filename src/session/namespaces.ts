// The set of watched network namespaces, followed as they come and go.
//
// Wanted: our own namespace (always), each --netns NAME|PATH, and with --netns.all every name
// under /run/netns. Each present one gets a NamespaceWatcher (its own socket, its own `netns`
// label). Nothing is rescanned on a timer:
//  - a name (or any namespace file outside /proc) is followed through inotify on its directory
//    (fs.watch; if /run/netns does not exist yet, on /run until it does). Every event starts
//    one reconcile: list the directory, then stat each wanted file. `ip netns add` creates the
//    file and bind-mounts the namespace on it a moment later, and a mount makes no inotify
//    event, so a file that is there but not (yet) an nsfs mount is checked again with a short
//    backoff up to a deadline, then reported once as stale;
//  - identity is the namespace's inode (what `ls -i /run/netns/NAME` shows): a name deleted and
//    re-created, even between two events, is a new namespace and gets a fresh watcher;
//  - a /proc/PID/ns/net namespace lives as long as its process: a pidfd (addon/process_watch.cc)
//    says when it exits.
// A namespace that is gone has its socket closed at once (an open socket keeps the namespace
// and its interfaces alive) and its series removed. A namespace given by --netns that is not
// open (absent, gone, or it could not be entered) keeps one empty source, so
// netlink_namespace_ready{netns} = 0 tells an alert; one found only by --netns.all leaves none.

import { dirname, basename } from 'node:path';
import type { Logger } from '../support/log';
import { loadProcessWatch, ProcessWatch, ProcessWatchConstructor } from '../runtime/process-watch';
import { namespaceOpenFailure } from '../runtime/privileges';
import { realFs, type NamespaceFs } from './namespace-fs';
import {
  classifyNamespace,
  decide,
  mountRetryDelay,
  NETNS_DIR,
  retryDelay,
  TRANSIENT_ERRORS,
  wantedNamespaces,
  type NamespaceSpec,
} from './namespace-specs';

/** How long a new file under /run/netns may wait for its namespace to be mounted on it. */
export const MOUNT_DEADLINE_MS = 5_000;

/** What the set needs of a watcher (NamespaceWatcher is one). */
export interface ManagedWatcher {
  readonly closed: boolean;
  /** Compact series: made for a namespace found only by --netns.all. */
  readonly compact?: boolean;
  start(): Promise<void>;
  close(): void;
  refreshNeighbourTables(): Promise<unknown>;
}

export interface NamespaceSetOptions<W extends ManagedWatcher> {
  logger: Logger;
  /**
   * A watcher for one namespace, not started (path undefined = our own). `configured`: our own
   * or given by --netns; false for a name found only by --netns.all (compact series).
   */
  createWatcher(label: string, path: string | undefined, configured: boolean): W;
  /** Default: the addon's (loaded on first use). */
  ProcessWatch?: ProcessWatchConstructor;
  netnsDir?: string;
  fs?: NamespaceFs;
  mountDeadlineMs?: number;
  /** Called with the new list whenever the sources change (a namespace opened, gone, replaced). */
  onChange?: (sources: readonly W[]) => void;
}

interface Entry<W extends ManagedWatcher> {
  spec: NamespaceSpec;
  configured: boolean;
  watcher: W | undefined;
  /** Namespace inode the watcher was opened on (-1 when unknown). */
  ino: number;
  /** The watcher's initial dump is in: it is a source. */
  live: boolean;
  failedIno: number | undefined;
  placeholder: W | undefined;
  processWatch: ProcessWatch | undefined;
  /** The process exited: its path names nothing any more. */
  processGone: boolean;
  /** Waiting for a mount on a file that exists. */
  mountWait: { deadline: number; attempt: number; timer: NodeJS.Timeout | undefined } | undefined;
  staleReported: boolean;
  absentReported: boolean;
  /** The last open failed for want of a resource (logged once until an open succeeds). */
  transientReported: boolean;
  /** Why our own namespace could not be watched (fatal at start). */
  ownError?: NodeJS.ErrnoException;
}

interface DirWatch {
  /** The directory watched (the wanted one, or its parent while the wanted one is missing). */
  watched: string;
  ino: number;
  handle: { close(): void };
}

/** The watched namespaces; W is what createWatcher makes (main.ts: a NamespaceWatcher feeding a model). */
export class NamespaceSet<W extends ManagedWatcher = ManagedWatcher> {
  private readonly entries = new Map<string, Entry<W>>();
  private readonly dirWatches = new Map<string, DirWatch>();
  private netns: readonly string[] = [];
  private netnsAll = false;
  private current: readonly W[] = [];
  /** Labels in the order the sources are rendered: own, --netns as given, --netns.all names sorted. */
  private order: string[] = [];
  private reconcileQueued = false;
  private started = false;
  private isClosed = false;
  private isReady = false;
  private readonly fs: NamespaceFs;
  private readonly netnsDir: string;
  private readonly mountDeadlineMs: number;
  /** A reconcile again after a transient failure (listing the directory, or an open). */
  private retry: { timer: NodeJS.Timeout | undefined; attempt: number } = { timer: undefined, attempt: 0 };
  /** The failure to list the directory was logged (once until a listing succeeds). */
  private listFailureReported = false;

  constructor(private readonly options: NamespaceSetOptions<W>) {
    this.fs = options.fs ?? realFs;
    this.netnsDir = options.netnsDir ?? NETNS_DIR;
    this.mountDeadlineMs = options.mountDeadlineMs ?? MOUNT_DEADLINE_MS;
  }

  /** What the metrics render, in order: open namespaces, and an empty one per configured namespace not open. */
  get sources(): readonly W[] {
    return this.current;
  }

  /** The initial dumps of the namespaces present at start are in. */
  get ready(): boolean {
    return this.isReady;
  }

  /** Labels of the namespaces open now (initial dump in). */
  get openLabels(): string[] {
    return [...this.entries.values()].filter((e) => e.live).map((e) => e.spec.label);
  }

  /**
   * Opens every wanted namespace present now; resolves once their initial dumps are in. Rejects
   * (with the addon's error) only when our own namespace cannot be watched.
   */
  async start(netns: readonly string[], netnsAll: boolean): Promise<void> {
    this.netns = [...netns];
    this.netnsAll = netnsAll;
    this.started = true;
    await Promise.allSettled(this.reconcile().values());
    const own = this.entries.get('');
    if (own && !own.live && !this.isClosed)
      throw own.ownError ?? new Error('our own network namespace could not be watched');
    this.isReady = true;
  }

  /** A config reload: adds and removes namespaces live; resolves when the new ones are open (or failed). */
  async setWanted(netns: readonly string[], netnsAll: boolean): Promise<void> {
    this.netns = [...netns];
    this.netnsAll = netnsAll;
    if (!this.started || this.isClosed) return;
    await Promise.allSettled(this.reconcile().values());
  }

  /** Closes every socket, process watch and directory watch. Idempotent. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    for (const e of this.entries.values()) this.release(e);
    this.entries.clear();
    for (const d of this.dirWatches.values()) d.handle.close();
    this.dirWatches.clear();
    if (this.retry.timer) clearTimeout(this.retry.timer);
    this.current = [];
    this.options.onChange?.([]);
  }

  // -------------------------------------------------------------------------------------------

  private scheduleReconcile(): void {
    if (this.reconcileQueued || this.isClosed) return;
    this.reconcileQueued = true;
    setImmediate(() => {
      this.reconcileQueued = false;
      this.reconcile();
    });
  }

  /** One reconcile after the next backoff delay (at most one waiting). */
  private scheduleRetry(): void {
    if (this.retry.timer || this.isClosed) return;
    this.retry.timer = setTimeout(() => {
      this.retry.timer = undefined;
      this.scheduleReconcile();
    }, retryDelay(this.retry.attempt++));
    this.retry.timer.unref();
  }

  /**
   * The names under the namespace directory; when it cannot be listed for another reason than
   * being absent, the --netns.all names watched now (an empty list would have closed them all as
   * gone and dropped their series), and a retry.
   */
  private listNames(): string[] {
    try {
      const names = this.fs.list(this.netnsDir) ?? [];
      this.listFailureReported = false;
      return names;
    } catch (err) {
      if (!this.listFailureReported) {
        this.listFailureReported = true;
        this.options.logger.warn(
          'cannot list the namespace directory; keeping the namespaces watched and trying again',
          {
            dir: this.netnsDir,
            code: (err as NodeJS.ErrnoException).code ?? (err as Error).message,
          },
        );
      }
      this.scheduleRetry();
      return [...this.entries.values()].filter((e) => !e.configured && e.spec.kind === 'file').map((e) => e.spec.label);
    }
  }

  /** Brings the open set in line with what is wanted and present; returns the starts it began. */
  private reconcile(): Map<W, Promise<void>> {
    const starts = new Map<W, Promise<void>>();
    if (this.isClosed) return starts;
    // Watch first, list second: a file created in between is both listed and reported.
    this.ensureDirWatches();
    const names = this.netnsAll ? this.listNames() : [];
    const wanted = wantedNamespaces(this.netns, this.netnsAll, names);
    const wantedLabels = new Set(wanted.map((w) => w.label));
    this.order = wanted.map((w) => w.label);
    for (const [label, e] of this.entries) {
      if (wantedLabels.has(label)) continue;
      // A --netns.all name that left the directory is gone; anything else left the configuration.
      if (this.netnsAll && !e.configured && e.spec.kind === 'file') this.gone(e, 'gone');
      else if (e.watcher) this.options.logger.info('no longer watching network namespace', { netns: label });
      this.release(e);
      this.entries.delete(label);
    }
    for (const w of wanted) {
      let e = this.entries.get(w.label);
      if (!e) {
        e = this.newEntry(classifyNamespace(w.label, this.netnsDir), w.configured);
        this.entries.set(w.label, e);
      }
      // A name moved between --netns and --netns.all alone (a reload) changes its series'
      // detail (compact or not): its watcher is opened afresh, its counters start again.
      if (e.watcher && e.configured !== w.configured && (e.watcher.compact ?? false) === w.configured) {
        this.options.logger.info(
          'network namespace is now watched with ' + (w.configured ? 'every series' : 'compact series'),
          { netns: w.label },
        );
        this.closeWatcher(e);
      }
      e.configured = w.configured;
      this.check(e, starts);
    }
    // A directory may have been created or replaced while we looked: watch the new one.
    this.ensureDirWatches();
    this.rebuild();
    return starts;
  }

  private newEntry(spec: NamespaceSpec, configured: boolean): Entry<W> {
    return {
      spec,
      configured,
      watcher: undefined,
      ino: -1,
      live: false,
      failedIno: undefined,
      placeholder: undefined,
      processWatch: undefined,
      processGone: false,
      mountWait: undefined,
      staleReported: false,
      absentReported: false,
      transientReported: false,
    };
  }

  private check(e: Entry<W>, starts: Map<W, Promise<void>>): void {
    const { spec } = e;
    const { logger } = this.options;
    if (spec.kind === 'own') {
      if (!e.watcher && e.failedIno === undefined) this.open(e, -1, starts);
      return;
    }
    if (spec.kind === 'process') {
      if (!e.watcher && !e.processGone && e.failedIno === undefined) this.open(e, -1, starts);
      return;
    }
    const path = spec.path as string;
    const probe = this.fs.probe(path);
    const open = e.watcher ? { ino: e.ino } : undefined;
    const decision = decide(open, e.failedIno, probe);
    if (probe.state !== 'unmounted') this.stopMountWait(e);
    if (probe.state === 'missing') e.failedIno = undefined;
    switch (decision) {
      case 'keep':
      case 'none':
        break;
      case 'open':
        this.open(e, probe.state === 'mounted' ? probe.ino : -1, starts);
        break;
      case 'replace':
        logger.info(
          'network namespace was replaced (deleted and created again under the same name); watching the new one',
          { netns: spec.label },
        );
        this.closeWatcher(e);
        this.open(e, probe.state === 'mounted' ? probe.ino : -1, starts);
        break;
      case 'close':
        this.gone(e, probe.state === 'missing' ? 'gone' : 'unmounted');
        if (probe.state === 'unmounted') this.waitForMount(e);
        break;
      case 'wait':
        this.waitForMount(e);
        break;
    }
    if (probe.state === 'missing' && !e.watcher && e.configured && !e.absentReported) {
      e.absentReported = true;
      logger.warn('network namespace does not exist (yet); it is watched once it appears', { netns: spec.label, path });
    }
  }

  /** A file exists with nothing mounted on it: look again shortly, until the deadline; then say so once. */
  private waitForMount(e: Entry<W>): void {
    if (e.mountWait?.timer || e.staleReported) return;
    const now = Date.now();
    e.mountWait ??= { deadline: now + this.mountDeadlineMs, attempt: 0, timer: undefined };
    const wait = e.mountWait;
    if (now >= wait.deadline) {
      e.staleReported = true;
      e.mountWait = undefined;
      this.options.logger.warn(
        'a namespace file exists but no network namespace is mounted on it (a stale file?); not watched until it is mounted and the directory changes',
        {
          netns: e.spec.label,
          path: e.spec.path,
        },
      );
      return;
    }
    wait.timer = setTimeout(
      () => {
        wait.timer = undefined;
        if (this.isClosed || this.entries.get(e.spec.label) !== e) return;
        const starts = new Map<W, Promise<void>>();
        this.check(e, starts);
        this.rebuild();
      },
      Math.min(mountRetryDelay(wait.attempt++), Math.max(0, wait.deadline - now)),
    );
    wait.timer.unref();
  }

  private stopMountWait(e: Entry<W>): void {
    if (e.mountWait?.timer) clearTimeout(e.mountWait.timer);
    e.mountWait = undefined;
    e.staleReported = false;
  }

  private open(e: Entry<W>, ino: number, starts: Map<W, Promise<void>>): void {
    const { spec } = e;
    const { logger } = this.options;
    if (spec.kind === 'process' && !e.processWatch && !this.watchProcess(e)) return;
    const watcher = this.options.createWatcher(spec.label, spec.path, e.configured);
    e.watcher = watcher;
    e.ino = ino;
    e.live = false;
    if (this.isReady) logger.info('watching network namespace', { netns: spec.label, path: spec.path });
    const started = watcher.start().then(
      () => {
        if (e.watcher !== watcher || watcher.closed) return;
        e.live = true;
        e.failedIno = undefined;
        e.absentReported = false;
        e.transientReported = false;
        this.retry.attempt = 0;
        this.rebuild();
      },
      (err: NodeJS.ErrnoException) => {
        watcher.close();
        if (e.watcher !== watcher) return;
        e.watcher = undefined;
        e.processWatch?.close();
        e.processWatch = undefined;
        if (err.code !== undefined && TRANSIENT_ERRORS.has(err.code) && spec.kind !== 'own') {
          // Out of descriptors or memory for now: not this namespace's fault. Tried again (the
          // namespace is not marked failed), said once.
          if (!e.transientReported) {
            e.transientReported = true;
            logger.warn('cannot watch network namespace for now; trying again', { netns: spec.label, code: err.code });
          }
          this.scheduleRetry();
          this.rebuild();
          return;
        }
        e.failedIno = ino;
        if (spec.kind === 'own') {
          e.ownError = err;
        } else {
          const failure = namespaceOpenFailure(spec.label, err);
          logger.error(failure.msg, failure.fields);
          // A namespace that vanished between the look and the open: the directory's event follows.
        }
        this.rebuild();
      },
    );
    starts.set(watcher, started);
  }

  /** Watches a /proc/PID namespace's process; false when there is nothing to watch (it has exited). */
  private watchProcess(e: Entry<W>): boolean {
    const pid = e.spec.pid as number;
    try {
      const Watch = this.options.ProcessWatch ?? loadProcessWatch();
      const pw = new Watch(pid, (err) => {
        if (e.processWatch !== pw) return;
        e.processWatch = undefined;
        e.processGone = true;
        if (err)
          this.options.logger.warn("lost track of a namespace's process; closing its socket", {
            netns: e.spec.label,
            pid,
            code: err.code,
            error: err.message,
          });
        this.gone(e, 'process exited');
        this.rebuild();
      });
      pw.unref();
      e.processWatch = pw;
      return true;
    } catch (err) {
      const error = err as NodeJS.ErrnoException;
      if (error.code === 'ESRCH') {
        e.processGone = true;
        this.options.logger.error(
          `cannot watch network namespace ${JSON.stringify(e.spec.label)}: process ${pid} does not exist`,
          {
            netns: e.spec.label,
            code: error.code,
            syscall: error.syscall,
          },
        );
        return false;
      }
      // No pidfd (a thread id, an old kernel): watch the namespace anyway, without following the process.
      this.options.logger.warn(
        'cannot follow the process of a network namespace; its socket stays open after the process exits',
        {
          netns: e.spec.label,
          pid,
          code: error.code,
          error: error.message,
        },
      );
      return true;
    }
  }

  /** Closes a namespace that is gone (its socket at once) and drops its series. */
  private gone(e: Entry<W>, why: 'gone' | 'unmounted' | 'process exited'): void {
    if (!e.watcher) return;
    const fields = { netns: e.spec.label, reason: why };
    const msg = 'network namespace is gone; closed its socket and dropped its series';
    if (e.configured) this.options.logger.warn(msg, fields);
    else this.options.logger.info(msg, fields);
    e.absentReported = true;
    this.closeWatcher(e);
  }

  private closeWatcher(e: Entry<W>): void {
    e.watcher?.close();
    e.watcher = undefined;
    e.live = false;
    e.ino = -1;
  }

  private release(e: Entry<W>): void {
    this.closeWatcher(e);
    e.processWatch?.close();
    e.processWatch = undefined;
    if (e.mountWait?.timer) clearTimeout(e.mountWait.timer);
    e.mountWait = undefined;
  }

  private rebuild(): void {
    const out: W[] = [];
    for (const label of this.order) {
      const e = this.entries.get(label);
      if (!e) continue;
      if (e.watcher && e.live) out.push(e.watcher);
      else if (e.configured && e.spec.kind !== 'own')
        out.push((e.placeholder ??= this.options.createWatcher(e.spec.label, e.spec.path, true)));
    }
    const changed = out.length !== this.current.length || out.some((w, i) => w !== this.current[i]);
    this.current = out;
    if (changed) this.options.onChange?.(out);
  }

  // ---- directory watches ---------------------------------------------------------------------

  /** Directories whose entries decide what is watched: /run/netns for names, each file path's own. */
  private wantedDirs(): Set<string> {
    const dirs = new Set<string>();
    if (this.netnsAll) dirs.add(this.netnsDir);
    for (const label of this.netns) {
      const spec = classifyNamespace(label, this.netnsDir);
      if (spec.kind === 'file') dirs.add(dirname(spec.path as string));
    }
    return dirs;
  }

  /**
   * Watches each wanted directory; one that does not exist yet is waited for through its
   * parent's watch (/run for /run/netns). A watch on a directory since deleted or replaced is
   * renewed.
   */
  private ensureDirWatches(): void {
    const wanted = this.wantedDirs();
    for (const [dir, d] of this.dirWatches) {
      if (!wanted.has(dir)) {
        d.handle.close();
        this.dirWatches.delete(dir);
      }
    }
    for (const dir of wanted) {
      const ino = this.fs.dirIno(dir);
      const target = ino !== undefined ? dir : dirname(dir);
      const targetIno = ino ?? this.fs.dirIno(target);
      const d = this.dirWatches.get(dir);
      if (d && d.watched === target && d.ino === targetIno) continue;
      d?.handle.close();
      this.dirWatches.delete(dir);
      if (targetIno === undefined) continue;
      try {
        const handle = this.fs.watch(
          target,
          () => this.scheduleReconcile(),
          () => {
            if (this.dirWatches.get(dir)?.handle === handle) this.dirWatches.delete(dir);
            this.scheduleReconcile();
          },
        );
        this.dirWatches.set(dir, { watched: target, ino: targetIno, handle });
        if (target !== dir)
          this.options.logger.debug('waiting for a namespace directory to be created', {
            dir,
            watching: target,
            name: basename(dir),
          });
      } catch (err) {
        this.options.logger.warn(
          'cannot watch a namespace directory; namespaces appearing or going there are not followed',
          {
            dir: target,
            code: (err as NodeJS.ErrnoException).code,
            error: (err as Error).message,
          },
        );
      }
    }
  }
}
