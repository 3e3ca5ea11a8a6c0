// The namespace manager (src/session/namespaces.ts): its pure parts, and its behaviour against a fake
// file system, fake watchers and a fake process watch. The live kernel is
// test/integration/namespaces.test.ts.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Logger, LogFields } from '../../../src/support/log';
import type { ProcessWatchConstructor } from '../../../src/runtime/process-watch';
import type { NamespaceFs } from '../../../src/session/namespace-fs';
import {
  classifyNamespace,
  decide,
  mountRetryDelay,
  Probe,
  wantedNamespaces,
} from '../../../src/session/namespace-specs';
import { ManagedWatcher, NamespaceSet } from '../../../src/session/namespaces';

test('classifyNamespace: names, /proc/PID paths, other paths', () => {
  assert.deepEqual(classifyNamespace(''), { label: '', kind: 'own', path: undefined });
  assert.deepEqual(classifyNamespace('all'), { label: 'all', kind: 'file', path: '/run/netns/all' });
  assert.deepEqual(classifyNamespace('/proc/42/ns/net'), {
    label: '/proc/42/ns/net',
    kind: 'process',
    path: '/proc/42/ns/net',
    pid: 42,
  });
  assert.deepEqual(classifyNamespace('/proc/42/task/43/ns/net'), {
    label: '/proc/42/task/43/ns/net',
    kind: 'process',
    path: '/proc/42/task/43/ns/net',
    pid: 42,
  });
  assert.deepEqual(classifyNamespace('/proc/self/ns/net'), {
    label: '/proc/self/ns/net',
    kind: 'file',
    path: '/proc/self/ns/net',
  });
  assert.deepEqual(classifyNamespace('/var/run/docker/netns/abc'), {
    label: '/var/run/docker/netns/abc',
    kind: 'file',
    path: '/var/run/docker/netns/abc',
  });
});

test('wantedNamespaces: own first, --netns in order, then --netns.all names sorted, no duplicates', () => {
  assert.deepEqual(wantedNamespaces(['b', '/proc/1/ns/net', 'b'], true, ['c', 'b', 'a', '.tmp']), [
    { label: '', configured: true },
    { label: 'b', configured: true },
    { label: '/proc/1/ns/net', configured: true },
    { label: 'a', configured: false },
    { label: 'c', configured: false },
  ]);
  assert.deepEqual(wantedNamespaces(['all'], false, ['x']), [
    { label: '', configured: true },
    { label: 'all', configured: true },
  ]);
});

test('decide: identity is the namespace inode; an unmounted file waits; a failed namespace is not retried', () => {
  const mounted = (ino: number): Probe => ({ state: 'mounted', ino });
  assert.equal(decide(undefined, undefined, { state: 'missing' }), 'none');
  assert.equal(decide({ ino: 5 }, undefined, { state: 'missing' }), 'close');
  assert.equal(decide(undefined, undefined, mounted(5)), 'open');
  assert.equal(decide({ ino: 5 }, undefined, mounted(5)), 'keep');
  assert.equal(decide({ ino: 5 }, undefined, mounted(6)), 'replace');
  assert.equal(decide(undefined, 5, mounted(5)), 'none');
  assert.equal(decide(undefined, 5, mounted(6)), 'open');
  assert.equal(decide(undefined, undefined, { state: 'unmounted' }), 'wait');
  assert.equal(decide({ ino: 5 }, undefined, { state: 'unmounted' }), 'close');
  assert.equal(decide(undefined, undefined, { state: 'unknown', code: 'EACCES' }), 'open');
  assert.equal(decide(undefined, -1, { state: 'unknown', code: 'EACCES' }), 'none');
});

test('mountRetryDelay: short, doubling, capped', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7, 20].map(mountRetryDelay), [10, 20, 40, 80, 160, 320, 500, 500, 500]);
});

// ---- the manager against fakes ----------------------------------------------------------------

class FakeWatcher implements ManagedWatcher {
  overruns = 0;
  foreignRefused = 0;
  resyncs = 0;
  lastResync = 0;
  receiveBufferBytes = 0;
  queueDepth = 0;
  ready = false;
  closed = false;
  started = false;
  compact = false;
  get opened(): boolean {
    return this.started && !this.failWith;
  }
  constructor(
    readonly label: string,
    readonly path: string | undefined,
    private readonly failWith: NodeJS.ErrnoException | undefined,
  ) {}
  async start(): Promise<void> {
    this.started = true;
    if (this.failWith) throw this.failWith;
    this.ready = true;
  }
  close(): void {
    this.closed = true;
    this.ready = false;
  }
  refreshNeighbourTables(): Promise<unknown> {
    return Promise.resolve();
  }
}

class World implements NamespaceFs {
  files = new Map<string, Probe>();
  dirs = new Map<string, number>([
    ['/run', 1],
    ['/run/netns', 2],
  ]);
  watches = new Map<string, () => void>();
  created: FakeWatcher[] = [];
  fail = new Map<string, NodeJS.ErrnoException>();
  logs: { level: string; msg: string; fields: LogFields }[] = [];
  processes = new Map<number, (err: NodeJS.ErrnoException | null) => void>();

  probe(path: string): Probe {
    return this.files.get(path) ?? { state: 'missing' };
  }
  /** Thrown by list() while set (EMFILE: every descriptor taken). */
  listError: NodeJS.ErrnoException | undefined;
  list(dir: string): string[] | undefined {
    if (this.listError) throw this.listError;
    if (!this.dirs.has(dir)) return undefined;
    return [...this.files.keys()].filter((p) => p.startsWith(dir + '/')).map((p) => p.slice(dir.length + 1));
  }
  dirIno(dir: string): number | undefined {
    return this.dirs.get(dir);
  }
  watch(dir: string, onChange: () => void): { close(): void } {
    this.watches.set(dir, onChange);
    return { close: () => this.watches.delete(dir) };
  }
  /** An inotify event on `dir`. */
  event(dir = '/run/netns'): void {
    const fire = this.watches.get(dir);
    assert.ok(fire, `${dir} is watched (watched: ${[...this.watches.keys()].join(', ')})`);
    fire();
  }
  mount(name: string, ino: number): void {
    this.files.set(`/run/netns/${name}`, { state: 'mounted', ino });
  }
  unlink(name: string): void {
    this.files.delete(`/run/netns/${name}`);
  }
  readonly logger: Logger = {
    debug: (msg, fields = {}) => this.logs.push({ level: 'debug', msg, fields }),
    info: (msg, fields = {}) => this.logs.push({ level: 'info', msg, fields }),
    warn: (msg, fields = {}) => this.logs.push({ level: 'warn', msg, fields }),
    error: (msg, fields = {}) => this.logs.push({ level: 'error', msg, fields }),
    enabled: () => true,
    setLevel: () => undefined,
  };
  readonly ProcessWatch = ((): ProcessWatchConstructor => {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the class below is the fake addon's, and reports to this fake world
    const world = this;
    return class {
      constructor(
        readonly pid: number,
        onExit: (err: NodeJS.ErrnoException | null) => void,
      ) {
        if (pid === 999)
          throw Object.assign(new Error('ESRCH: no such process, pidfd_open'), {
            code: 'ESRCH',
            syscall: 'pidfd_open',
            errno: -3,
          });
        world.processes.set(pid, onExit);
      }
      close(): void {
        world.processes.delete(this.pid);
      }
      unref(): void {}
    };
  })();

  set(options: { mountDeadlineMs?: number } = {}): NamespaceSet<FakeWatcher> {
    return new NamespaceSet({
      logger: this.logger,
      fs: this,
      ProcessWatch: this.ProcessWatch,
      mountDeadlineMs: options.mountDeadlineMs ?? 100,
      createWatcher: (label, path, configured) => {
        const w = new FakeWatcher(label, path, this.fail.get(label));
        w.compact = !configured;
        this.created.push(w);
        return w;
      },
    });
  }
  logged(msg: string, netns?: string): { level: string; msg: string; fields: LogFields }[] {
    return this.logs.filter((l) => l.msg.includes(msg) && (netns === undefined || l.fields.netns === netns));
  }
}

const labels = (set: NamespaceSet<FakeWatcher>): string[] => set.sources.map((s) => (s as FakeWatcher).label);
const readyOf = (set: NamespaceSet<FakeWatcher>): Record<string, boolean> =>
  Object.fromEntries(set.sources.map((s) => [(s as FakeWatcher).label, s.ready]));

/** Lets the set's setImmediate reconcile and the watchers' start promises run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
}

async function until(what: string, check: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('--netns.all: opens the present names, follows one deleted and one created', async () => {
  const w = new World();
  w.mount('a', 10);
  w.mount('b', 11);
  const set = w.set();
  await set.start([], true);
  assert.equal(set.ready, true);
  assert.deepEqual(labels(set), ['', 'a', 'b']);

  const b = w.created.find((x) => x.label === 'b')!;
  w.unlink('b');
  w.mount('c', 12);
  w.event();
  await settle();
  assert.equal(b.closed, true, "the gone namespace's socket is closed");
  assert.deepEqual(labels(set), ['', 'a', 'c']);
  assert.equal(w.logged('network namespace is gone', 'b').length, 1);
  set.close();
  assert.ok(w.created.every((x) => x.closed));
  assert.equal(w.watches.size, 0);
});

test('a name deleted and created again between two events is a new namespace: fresh watcher', async () => {
  const w = new World();
  w.mount('a', 10);
  const set = w.set();
  await set.start(['a'], false);
  const first = set.sources[1] as FakeWatcher;
  w.mount('a', 20);
  w.event();
  await settle();
  const second = set.sources[1] as FakeWatcher;
  assert.notEqual(second, first);
  assert.equal(first.closed, true);
  assert.equal(second.ready, true);
  assert.equal(w.logged('replaced', 'a').length, 1);
  set.close();
});

test('a configured name: absent at start keeps ready 0, appears, goes (ready 0 again, watcher closed)', async () => {
  const w = new World();
  const set = w.set();
  await set.start(['x'], false);
  assert.deepEqual(readyOf(set), { '': true, x: false });
  assert.equal(w.logged('does not exist', 'x').length, 1);
  w.mount('x', 30);
  w.event();
  await settle();
  assert.deepEqual(readyOf(set), { '': true, x: true });
  const x = set.sources[1] as FakeWatcher;
  w.unlink('x');
  w.event();
  await settle();
  assert.equal(x.closed, true);
  assert.deepEqual(readyOf(set), { '': true, x: false });
  const gone = w.logged('network namespace is gone', 'x');
  assert.equal(gone.length, 1);
  assert.equal(gone[0]!.level, 'warn');
  set.close();
});

test('a file not yet mounted is checked again until it is; one never mounted is reported once as stale', async () => {
  const w = new World();
  const set = w.set({ mountDeadlineMs: 150 });
  await set.start([], true);
  w.files.set('/run/netns/new', { state: 'unmounted' });
  w.files.set('/run/netns/stale', { state: 'unmounted' });
  w.event();
  await settle();
  assert.deepEqual(labels(set), ['']);
  w.mount('new', 40); // the bind mount: no inotify event
  await until('the mounted file is opened', () => labels(set).includes('new'));
  await until('the stale file is reported', () => w.logged('no network namespace is mounted').length > 0);
  w.event(); // more events do not repeat it
  await settle();
  assert.equal(w.logged('no network namespace is mounted').length, 1);
  assert.equal(w.logged('no network namespace is mounted')[0]!.fields.netns, 'stale');
  assert.deepEqual(labels(set), ['', 'new']);
  set.close();
});

test('a namespace that cannot be entered: one error naming it, not retried, the others watched', async () => {
  const w = new World();
  w.mount('locked', 50);
  w.mount('fine', 51);
  w.fail.set(
    'locked',
    Object.assign(new Error('EPERM: operation not permitted, setns'), { code: 'EPERM', syscall: 'setns', errno: -1 }),
  );
  const set = w.set();
  await set.start(['locked'], true);
  assert.deepEqual(readyOf(set), { '': true, locked: false, fine: true });
  const errors = w.logs.filter((l) => l.level === 'error');
  assert.equal(errors.length, 1);
  assert.match(errors[0]!.msg, /cannot watch network namespace "?locked"?/);
  assert.equal(errors[0]!.fields.code, 'EPERM');
  w.event();
  await settle();
  assert.equal(
    w.created.filter((x) => x.label === 'locked' && x.started).length,
    1,
    'not retried for the same namespace',
  );
  set.close();
});

const emfile = (syscall: string): NodeJS.ErrnoException =>
  Object.assign(new Error(`EMFILE: too many open files, ${syscall}`), { code: 'EMFILE', syscall, errno: -24 });

test('out of descriptors while listing /run/netns: the watched namespaces stay, the new one is opened once it can be', async () => {
  const w = new World();
  w.mount('a', 60);
  w.mount('b', 61);
  const set = w.set();
  await set.start([], true);
  assert.deepEqual(labels(set), ['', 'a', 'b']);
  // A client holds every descriptor (idle connections) when a namespace is added.
  w.listError = emfile('scandir');
  w.mount('c', 62);
  w.event();
  await settle();
  assert.deepEqual(labels(set), ['', 'a', 'b'], 'a failed listing is no empty directory: nothing is gone');
  assert.ok(
    w.created.filter((x) => x.label !== 'c').every((x) => !x.closed),
    'no watcher closed',
  );
  assert.equal(w.logged('is gone').length, 0);
  const warned = w.logged('cannot list the namespace directory');
  assert.equal(warned.length, 1);
  assert.equal(warned[0]!.fields.code, 'EMFILE');
  // The descriptors come back with no further directory event: a retry finds c.
  w.listError = undefined;
  await until('c opened by a retry', () => readyOf(set).c === true);
  assert.deepEqual(labels(set), ['', 'a', 'b', 'c']);
  assert.equal(w.logged('cannot list the namespace directory').length, 1, 'said once');
  set.close();
});

test('out of descriptors while opening a namespace: said once, retried until it opens (not reported as final)', async () => {
  const w = new World();
  const set = w.set();
  await set.start([], true);
  w.fail.set('d', emfile('socket'));
  w.mount('d', 70);
  w.event();
  await until('two failed tries', () => w.created.filter((x) => x.label === 'd' && x.started).length >= 2);
  assert.equal(w.logged('cannot watch network namespace for now', 'd').length, 1, 'said once');
  assert.equal(w.logs.filter((l) => l.level === 'error').length, 0, 'no final error');
  w.fail.delete('d');
  await until('d opened by a retry', () => readyOf(set).d === true);
  set.close();
});

test('our own namespace failing rejects start', async () => {
  const w = new World();
  w.fail.set('', Object.assign(new Error('EMFILE'), { code: 'EMFILE', syscall: 'socket' }));
  const set = w.set();
  await assert.rejects(set.start([], false), { code: 'EMFILE' });
  set.close();
});

test('/proc/PID/ns/net: closed when the process exits; a pid with no process is one error', async () => {
  const w = new World();
  const set = w.set();
  await set.start(['/proc/77/ns/net', '/proc/999/ns/net'], false);
  assert.deepEqual(readyOf(set), { '': true, '/proc/77/ns/net': true, '/proc/999/ns/net': false });
  assert.equal(w.logged('process 999 does not exist').length, 1);
  const watched = set.sources[1] as FakeWatcher;
  w.processes.get(77)!(null);
  assert.equal(watched.closed, true, 'closed at once, in the callback');
  assert.deepEqual(readyOf(set), { '': true, '/proc/77/ns/net': false, '/proc/999/ns/net': false });
  assert.equal(w.logged('network namespace is gone', '/proc/77/ns/net')[0]!.fields.reason, 'process exited');
  set.close();
});

test('/run/netns missing at start: /run is watched until it appears', async () => {
  const w = new World();
  w.dirs.delete('/run/netns');
  const set = w.set();
  await set.start([], true);
  assert.deepEqual([...w.watches.keys()], ['/run']);
  w.dirs.set('/run/netns', 3);
  w.mount('late', 60);
  w.event('/run');
  await settle();
  assert.deepEqual([...w.watches.keys()], ['/run/netns']);
  assert.deepEqual(labels(set), ['', 'late']);
  set.close();
});

test('setWanted: a reload adds and removes namespaces live', async () => {
  const w = new World();
  w.mount('a', 70);
  w.mount('b', 71);
  const set = w.set();
  await set.start(['a'], false);
  assert.deepEqual(labels(set), ['', 'a']);
  await set.setWanted(['b'], false);
  assert.deepEqual(labels(set), ['', 'b']);
  assert.equal(w.created.find((x) => x.label === 'a')!.closed, true);
  await set.setWanted([], true);
  assert.deepEqual(labels(set), ['', 'a', 'b']);
  await set.setWanted([], false);
  assert.deepEqual(labels(set), ['']);
  assert.equal(w.watches.size, 0, 'no directory watched when no name is wanted');
  set.close();
});

test('a name found by --netns.all has compact series; named by --netns on a reload, it is opened afresh with every series, and back', async () => {
  const w = new World();
  w.mount('pod', 10);
  const set = w.set();
  await set.start([], true);
  const first = set.sources.find((s) => (s as FakeWatcher).label === 'pod') as FakeWatcher;
  assert.equal(first.compact, true);
  assert.equal((set.sources[0] as FakeWatcher).compact, false, 'our own namespace: every series');
  await set.setWanted(['pod'], true);
  await until('pod reopened', () =>
    set.sources.some((s) => (s as FakeWatcher).label === 'pod' && s !== first && s.ready),
  );
  assert.equal(first.closed, true);
  const second = set.sources.find((s) => (s as FakeWatcher).label === 'pod') as FakeWatcher;
  assert.equal(second.compact, false);
  await set.setWanted([], true);
  await until('pod reopened compact', () =>
    set.sources.some((s) => (s as FakeWatcher).label === 'pod' && s !== second && s.ready),
  );
  assert.equal(second.closed, true);
  assert.equal((set.sources.find((s) => (s as FakeWatcher).label === 'pod') as FakeWatcher).compact, true);
  set.close();
});
