// Live-kernel tests of the native addon (addon/netlink_socket.cc).
// Every change is made in a private network namespace (nle-addon-<pid>-<n>), deleted on exit;
// the root namespace is never modified.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { AsyncLocalStorage } from 'node:async_hooks';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadNativeSocket } from '../../src/runtime/native';
import type { NativeSocket, NativeSocketOptions } from '../../src/runtime/native';
import { poll } from '../helpers/exporter';
import { startForger } from '../helpers/forge';
import { REPO } from '../helpers/paths';

const NetlinkSocket = loadNativeSocket();
const ADDON_PATH = path.join(REPO, 'build', 'Release', 'netlink_socket.node');

const RTNLGRP_LINK = 1;
const RTNLGRP_IPV4_ROUTE = 7;
const RTNLGRP_NEXTHOP = 32;
const NLMSG_DONE = 3;
const RTM_NEWLINK = 16;
const RTM_GETLINK = 18;
const RTM_NEWNEXTHOP = 104;
const IFLA_IFNAME = 3;
const IFLA_IFALIAS = 20;
const NLM_F_REQUEST_DUMP = 0x301;
const MiB = 1024 * 1024;

const hostLE = os.endianness() === 'LE';
const readU32 = (b: Buffer, o: number): number => (hostLE ? b.readUInt32LE(o) : b.readUInt32BE(o));
const readU16 = (b: Buffer, o: number): number => (hostLE ? b.readUInt16LE(o) : b.readUInt16BE(o));
const align4 = (n: number): number => (n + 3) & ~3;

// ---- namespaces ---------------------------------------------------------------------------

const namespaces = new Set<string>();
let nsCounter = 0;

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function createNamespace(): string {
  const name = `nle-addon-${process.pid}-${nsCounter++}`;
  ip('netns', 'add', name);
  namespaces.add(name);
  return name;
}

function deleteNamespace(name: string): void {
  if (!namespaces.delete(name)) return;
  try {
    ip('netns', 'del', name);
  } catch {
    // already gone
  }
}

function deleteAllNamespaces(): void {
  for (const name of [...namespaces]) deleteNamespace(name);
}
after(deleteAllNamespaces);
process.on('exit', deleteAllNamespaces);

let dummySupported: boolean | undefined;
/** `ip` arguments that create one or two interfaces named after `name` (dummy if the kernel has it, else veth). */
function linkAdd(name: string): string[] {
  if (dummySupported === undefined) {
    const probe = createNamespace();
    try {
      ip('-n', probe, 'link', 'add', 'probe0', 'type', 'dummy');
      dummySupported = true;
    } catch {
      dummySupported = false;
    } finally {
      deleteNamespace(probe);
    }
  }
  return dummySupported
    ? ['link', 'add', name, 'type', 'dummy']
    : ['link', 'add', name, 'type', 'veth', 'peer', 'name', `${name}p`];
}

const tempFiles: string[] = [];
after(() => {
  for (const f of tempFiles) fs.rmSync(f, { force: true });
});

function batchFile(lines: string[]): string {
  const file = path.join(os.tmpdir(), `nle-addon-${process.pid}-${nsCounter++}.batch`);
  fs.writeFileSync(file, lines.join('\n') + '\n');
  tempFiles.push(file);
  return file;
}

/** Bytes in our socket's receive queue, from /proc/net/netlink inside the namespace. */
function socketRmem(ns: string, portId: number): number {
  const table = ip('netns', 'exec', ns, 'cat', '/proc/net/netlink');
  for (const line of table.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 5 && Number(f[1]) === 0 && Number(f[2]) === portId) return Number(f[4]);
  }
  throw new Error(`port ${portId} not in /proc/net/netlink of ${ns}`);
}

/**
 * Runs `ip -batch file` in `ns` and returns only once the reader has drained the socket, all
 * without returning to the event loop: JS takes nothing off the queue meanwhile.
 */
function runBlocked(ns: string, sock: NativeSocket, file: string): void {
  const r = spawnSync('ip', ['-n', ns, '-batch', file]);
  assert.equal(r.status, 0, String(r.stderr));
  const deadline = Date.now() + 10_000;
  const nap = new Int32Array(new SharedArrayBuffer(4));
  while (!(sock.queueDepth() >= 1 && socketRmem(ns, sock.portId) === 0)) {
    assert.ok(Date.now() < deadline, `reader did not drain: depth ${sock.queueDepth()}`);
    Atomics.wait(nap, 0, 0, 5); // blocks this thread: still no event loop
  }
}

// ---- chunks ---------------------------------------------------------------------------------

interface Header {
  len: number;
  type: number;
  flags: number;
  seq: number;
  pid: number;
  body: Buffer;
}

/** Splits a chunk by its framing, asserting the framing is exact: [u32 len][datagram][pad to 4]. */
function datagrams(chunk: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  while (off < chunk.length) {
    assert.ok(off + 4 <= chunk.length, 'frame header fits');
    const len = readU32(chunk, off);
    assert.ok(off + 4 + align4(len) <= chunk.length, `frame of ${len} bytes fits at ${off}`);
    out.push(chunk.subarray(off + 4, off + 4 + len));
    for (let i = off + 4 + len; i < off + 4 + align4(len); i++) assert.equal(chunk[i], 0, 'padding is zero');
    off += 4 + align4(len);
  }
  assert.equal(off, chunk.length, 'frames cover the chunk exactly');
  return out;
}

/** Walks the nlmsghdr of one datagram, checking every length. */
function messages(datagram: Buffer): Header[] {
  const out: Header[] = [];
  let off = 0;
  while (off + 16 <= datagram.length) {
    const len = readU32(datagram, off);
    assert.ok(len >= 16 && off + len <= datagram.length, `nlmsg_len ${len} valid at ${off}`);
    out.push({
      len,
      type: readU16(datagram, off + 4),
      flags: readU16(datagram, off + 6),
      seq: readU32(datagram, off + 8),
      pid: readU32(datagram, off + 12),
      body: datagram.subarray(off + 16, off + len),
    });
    off += align4(len);
  }
  return out;
}

function chunkMessages(chunk: Buffer): Header[] {
  return datagrams(chunk).flatMap(messages);
}

/** A string attribute of an RTM_NEWLINK body (ifinfomsg is 16 bytes, then rtattrs). */
function linkString(body: Buffer, attr: number): string | undefined {
  let off = 16;
  while (off + 4 <= body.length) {
    const len = readU16(body, off);
    const type = readU16(body, off + 2) & 0x3fff;
    if (len < 4 || off + len > body.length) return undefined;
    if (type === attr)
      return body
        .subarray(off + 4, off + len)
        .toString('latin1')
        .replace(/\0+$/, '');
    off += align4(len);
  }
  return undefined;
}
const linkName = (body: Buffer): string | undefined => linkString(body, IFLA_IFNAME);

function dumpLinksRequest(seq: number): Buffer {
  const b = Buffer.alloc(32); // nlmsghdr + ifinfomsg (AF_UNSPEC: all links)
  const w32 = hostLE ? b.writeUInt32LE.bind(b) : b.writeUInt32BE.bind(b);
  const w16 = hostLE ? b.writeUInt16LE.bind(b) : b.writeUInt16BE.bind(b);
  w32(32, 0);
  w16(RTM_GETLINK, 4);
  w16(NLM_F_REQUEST_DUMP, 6);
  w32(seq, 8);
  w32(0, 12);
  return b;
}

// ---- events ---------------------------------------------------------------------------------

interface Ev {
  event: 'data' | 'overrun' | 'foreign' | 'error';
  /** 'data': a copy of the chunk's filled bytes (a pooled slot is refilled once released). */
  payload: Buffer | string | number | NodeJS.ErrnoException;
  count: number;
  index: number;
  /** 'data': the Buffer the addon handed over, as it was (for the pool's identity checks). */
  handed?: Buffer;
  /** 'data': the length argument. */
  length?: number;
}

/** Records events; waitFor resolves on the first recorded event (from `from`) that matches, or rejects at the deadline. */
class Recorder {
  readonly events: Ev[] = [];
  private waiters: Array<() => void> = [];

  readonly handler = (event: Ev['event'], payload: Ev['payload'], count: number, length?: number): void => {
    if (event === 'data' && Buffer.isBuffer(payload)) {
      const copy = Buffer.from(payload.subarray(0, length ?? payload.length));
      this.events.push({ event, payload: copy, count, index: this.events.length, handed: payload, length });
    } else {
      this.events.push({ event, payload, count, index: this.events.length });
    }
    for (const w of this.waiters.slice()) w();
  };

  waitFor(pred: (e: Ev) => boolean, what: string, from = 0, timeoutMs = 5000): Promise<Ev> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const hit = this.events.slice(from).find(pred);
        if (!hit) return false;
        this.waiters = this.waiters.filter((w) => w !== waiter);
        clearTimeout(timer);
        resolve(hit);
        return true;
      };
      const waiter = (): void => void check();
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        const seen = this.events.map((e) => (e.event === 'data' ? 'data' : `${e.event}:${String(e.payload)}`));
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; saw [${seen.join(', ')}]`));
      }, timeoutMs);
      this.waiters.push(waiter);
      check();
    });
  }
}

const isData = (e: Ev): e is Ev & { payload: Buffer } => e.event === 'data' && Buffer.isBuffer(e.payload);
const hasMessage =
  (pred: (h: Header) => boolean) =>
  (e: Ev): boolean =>
    isData(e) && chunkMessages(e.payload).some(pred);

function open(options: NativeSocketOptions, rec: Recorder): NativeSocket {
  return new NetlinkSocket(options, rec.handler);
}

function fdCount(): number {
  return fs.readdirSync('/proc/self/fd').length;
}
function threadCount(): number {
  return fs.readdirSync('/proc/self/task').length;
}

// ---- tests ----------------------------------------------------------------------------------

test("the addon says the byte order it was compiled for, and it is this host's (the loader checks it)", () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { byteOrder } = require(ADDON_PATH) as { byteOrder: unknown };
  assert.equal(byteOrder, os.endianness());
});

describe('NetlinkSocket (live kernel, private namespaces)', () => {
  test('a link notification arrives from a namespace opened by path, correctly framed', async () => {
    const ns = createNamespace();
    const rec = new Recorder();
    const sock = open({ netnsPath: `/run/netns/${ns}`, groups: [RTNLGRP_LINK], receiveBufferBytes: 0 }, rec);
    try {
      assert.ok(sock.portId > 0, 'kernel assigned a port id');
      sock.start();
      ip('-n', ns, ...linkAdd('nle0'));
      const ev = await rec.waitFor(
        hasMessage((h) => h.type === RTM_NEWLINK && linkName(h.body) === 'nle0'),
        'RTM_NEWLINK nle0',
      );
      assert.ok(isData(ev));
      assert.equal(ev.count, datagrams(ev.payload).length, 'count = datagrams in the chunk');
    } finally {
      sock.close();
      deleteNamespace(ns);
    }
  });

  test('a dump request is answered to our port id and ends with NLMSG_DONE; onEvent runs in the async context of start()', async () => {
    const ns = createNamespace();
    ip('-n', ns, ...linkAdd('nle0'));
    const rec = new Recorder();
    const als = new AsyncLocalStorage<string>();
    const stores: Array<string | undefined> = [];
    const sock = new NetlinkSocket(
      { netnsPath: `/run/netns/${ns}`, groups: [], receiveBufferBytes: 0 },
      (event, payload, count) => {
        stores.push(als.getStore());
        rec.handler(event, payload, count);
      },
    );
    try {
      als.run('started-here', () => sock.start());
      sock.send(dumpLinksRequest(1));
      await rec.waitFor(
        hasMessage((h) => h.type === NLMSG_DONE && h.seq === 1),
        'NLMSG_DONE',
      );
      const replies = rec.events.filter(isData).flatMap((e) => chunkMessages(e.payload));
      const links = replies.filter((h) => h.type === RTM_NEWLINK);
      assert.ok(links.length >= 2, 'lo and nle0 at least');
      for (const h of replies) {
        assert.equal(h.pid, sock.portId, 'nlmsg_pid is our port id');
        assert.equal(h.seq, 1);
      }
      assert.ok(
        links.some((h) => linkName(h.body) === 'nle0'),
        'nle0 is in the dump',
      );
      assert.equal(replies[replies.length - 1]!.type, NLMSG_DONE, 'the dump ends with NLMSG_DONE');
      assert.ok(
        stores.length > 0 && stores.every((s) => s === 'started-here'),
        `async context kept: ${stores.join(',')}`,
      );
    } finally {
      sock.close();
      deleteNamespace(ns);
    }
  });

  test('groups >= 32 are joined (RTNLGRP_NEXTHOP)', async () => {
    const ns = createNamespace();
    const rec = new Recorder();
    const sock = open({ netnsPath: `/run/netns/${ns}`, groups: [RTNLGRP_NEXTHOP], receiveBufferBytes: 0 }, rec);
    try {
      sock.start();
      ip('-n', ns, 'link', 'set', 'lo', 'up'); // a nexthop needs a device that is up
      ip('-n', ns, 'nexthop', 'add', 'id', '7', 'blackhole');
      await rec.waitFor(
        hasMessage((h) => h.type === RTM_NEWNEXTHOP),
        'RTM_NEWNEXTHOP',
      );
    } finally {
      sock.close();
      deleteNamespace(ns);
    }
  });

  test('receiveBufferBytes: 4 MiB as root is forced and granted', () => {
    const sock = new NetlinkSocket({ groups: [], receiveBufferBytes: 4 * MiB }, () => {});
    try {
      assert.equal(sock.receiveBufferForced, true);
      assert.ok(sock.receiveBufferBytes >= 4 * MiB, `granted ${sock.receiveBufferBytes}`);
    } finally {
      sock.close();
    }
    const dflt = new NetlinkSocket({ groups: [], receiveBufferBytes: 0 }, () => {});
    try {
      assert.equal(dflt.receiveBufferForced, false, '0 leaves the default');
      assert.ok(dflt.receiveBufferBytes > 0);
    } finally {
      dflt.close();
    }
  });

  test('close() wakes the reader blocked in poll at once, is idempotent, and send/start after close throw', async () => {
    const ns = createNamespace();
    const sock = new NetlinkSocket(
      { netnsPath: `/run/netns/${ns}`, groups: [RTNLGRP_LINK], receiveBufferBytes: 0 },
      () => {},
    );
    sock.start();
    await new Promise((r) => setTimeout(r, 50)); // let the reader reach poll(); not a synchronisation
    const t0 = process.hrtime.bigint();
    sock.close();
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    assert.ok(ms < 1000, `close took ${ms} ms`);
    sock.close();
    assert.throws(() => sock.send(dumpLinksRequest(1)), { code: 'ERR_SOCKET_CLOSED' });
    assert.throws(() => sock.start(), { code: 'ERR_SOCKET_CLOSED' });
    assert.equal(sock.queueDepth(), 0);
    deleteNamespace(ns);
  });

  test('start() twice throws ERR_INVALID_STATE', () => {
    const sock = new NetlinkSocket({ groups: [], receiveBufferBytes: 0 }, () => {});
    try {
      sock.start();
      assert.throws(() => sock.start(), { code: 'ERR_INVALID_STATE' });
    } finally {
      sock.close();
    }
  });

  test('errors are Node-shaped: a bad netns path is ENOENT from open, a non-namespace file EINVAL from setns', () => {
    const missing = `/run/netns/nle-addon-${process.pid}-missing`;
    assert.throws(
      () => new NetlinkSocket({ netnsPath: missing, groups: [], receiveBufferBytes: 0 }, () => {}),
      (err: NodeJS.ErrnoException) => {
        assert.ok(err instanceof Error);
        assert.equal(err.code, 'ENOENT');
        assert.equal(err.syscall, 'open');
        assert.equal(err.errno, -2);
        assert.equal(err.path, missing);
        assert.match(err.message, /^ENOENT: no such file or directory, open '/);
        return true;
      },
    );
    assert.throws(
      () => new NetlinkSocket({ netnsPath: '/proc/self/stat', groups: [], receiveBufferBytes: 0 }, () => {}),
      {
        code: 'EINVAL',
        syscall: 'setns',
      },
    );
    assert.throws(() => new NetlinkSocket({ groups: [0], receiveBufferBytes: 0 }, () => {}), RangeError);
    assert.throws(
      () => new NetlinkSocket({ groups: [], receiveBufferBytes: 0, chunkBytes: 4096 }, () => {}),
      RangeError,
    );
    const sock = new NetlinkSocket({ groups: [], receiveBufferBytes: 0 }, () => {});
    try {
      assert.throws(() => sock.send('x' as unknown as Buffer), TypeError);
    } finally {
      sock.close();
    }
  });

  test("overrun: a tiny buffer flooded before start() gives 'enobufs', then the socket still delivers", async () => {
    const ns = createNamespace();
    const rec = new Recorder();
    const sock = open({ netnsPath: `/run/netns/${ns}`, groups: [RTNLGRP_LINK], receiveBufferBytes: 1 }, rec);
    try {
      assert.ok(sock.receiveBufferBytes < 64 * 1024, `kernel minimum, got ${sock.receiveBufferBytes}`);
      // ~200 interfaces created and deleted while nobody reads.
      const lines: string[] = [];
      const n = linkAdd('x')[4] === 'veth' ? 100 : 200; // veth makes two interfaces a line
      for (let i = 0; i < n; i++) lines.push(linkAdd(`f${i}`).join(' '));
      for (let i = 0; i < n; i++) lines.push(`link del f${i}`);
      ip('-n', ns, '-batch', batchFile(lines));
      sock.start();
      const overrun = await rec.waitFor((e) => e.event === 'overrun', 'overrun');
      assert.equal(overrun.payload, 'enobufs');
      assert.ok(overrun.count >= 1);
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      await rec.waitFor(
        hasMessage((h) => h.type === RTM_NEWLINK && linkName(h.body) === 'lo'),
        'NEWLINK lo after the overrun',
        overrun.index + 1,
      );
    } finally {
      sock.close();
      deleteNamespace(ns);
    }
  });

  test("the queue bound: a blocked JS thread gives a 'queue' overrun, delivered before later data", async () => {
    const ns = createNamespace();
    const rec = new Recorder();
    const sock = open(
      {
        netnsPath: `/run/netns/${ns}`,
        groups: [RTNLGRP_LINK],
        receiveBufferBytes: 16 * MiB,
        chunkBytes: 70000,
        maxQueuedChunks: 1,
      },
      rec,
    );
    try {
      ip('-n', ns, 'link', 'set', 'lo', 'up'); // alias changes are notified only for an up device
      sock.start();
      const lines: string[] = [];
      for (let i = 0; i < 1000; i++) lines.push(`link set dev lo alias nle-alias-${i}`);
      const file = batchFile(lines);
      // Everything below runs without returning to the event loop, so JS takes nothing off the
      // queue: spawnSync blocks while `ip` makes ~1 MB of notifications, then we wait (still
      // blocked) until the reader has drained the socket. That is many 70 KB chunks against a
      // queue of one, so chunks must have been dropped.
      runBlocked(ns, sock, file);
      assert.equal(sock.queueDepth(), 1, 'the queue holds one chunk');
      assert.equal(rec.events.length, 0, 'nothing was delivered while JS was blocked');

      const overrun = await rec.waitFor((e) => e.event === 'overrun', 'overrun');
      assert.equal(overrun.payload, 'queue');
      assert.ok(overrun.count >= 1);
      assert.ok(rec.events.slice(0, overrun.index).every(isData) && overrun.index >= 1, 'the queued chunk came first');
      ip('-n', ns, 'link', 'set', 'lo', 'alias', 'nle-after');
      await rec.waitFor(
        hasMessage((h) => h.type === RTM_NEWLINK),
        'data after the overrun',
        overrun.index + 1,
      );
      assert.ok(
        rec.events.every((e) => e.event !== 'overrun' || e.payload === 'queue'),
        'only queue overruns',
      );
    } finally {
      sock.close();
      deleteNamespace(ns);
    }
  });

  test('explicitRelease: a chunk counts against the bound until release(); the reader waits for it, then goes on', async () => {
    const ns = createNamespace();
    const rec = new Recorder();
    const sock = open(
      {
        netnsPath: `/run/netns/${ns}`,
        groups: [RTNLGRP_LINK],
        receiveBufferBytes: 16 * MiB,
        maxQueuedChunks: 1,
        explicitRelease: true,
      },
      rec,
    );
    try {
      sock.start();
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      const first = await rec.waitFor(isData, 'the first chunk');
      // Received but not released: it still fills the queue of one.
      assert.equal(sock.queueDepth(), 1, 'an unreleased chunk stays counted');
      ip('-n', ns, 'link', 'set', 'lo', 'down');
      await poll('the second notification to be read by the reader and held back', () =>
        socketRmem(ns, sock.portId) === 0 ? true : 'still in the socket',
      );
      assert.equal(rec.events.filter(isData).length, 1, 'nothing more is delivered while the first chunk is held');
      sock.release();
      await rec.waitFor(isData, 'the held-back chunk after release()', first.index + 1);
      sock.release();
      assert.equal(sock.queueDepth(), 0);
      sock.release(); // a release too many is ignored
      assert.equal(sock.queueDepth(), 0);
      assert.ok(
        rec.events.every((e) => e.event === 'data'),
        'no overrun: the reader waited, nothing was dropped',
      );
    } finally {
      sock.close();
      deleteNamespace(ns);
    }
  });

  test('explicitRelease pools chunks: a released slot is filled again in place, each hand-over says how far', async () => {
    const ns = createNamespace();
    const rec = new Recorder();
    const chunkBytes = 128 * 1024;
    // Before the socket subscribes: the kernel announces an alias change only on an up link.
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    const sock = open(
      {
        netnsPath: `/run/netns/${ns}`,
        groups: [RTNLGRP_LINK],
        receiveBufferBytes: 16 * MiB,
        chunkBytes,
        maxQueuedChunks: 4,
        explicitRelease: true,
      },
      rec,
    );
    const aliasOf = (e: Ev): string[] =>
      chunkMessages(e.payload as Buffer)
        .filter((h) => h.type === RTM_NEWLINK)
        .map((h) => linkString(h.body, IFLA_IFALIAS) ?? '');
    try {
      sock.start();
      for (let i = 0; i < 6; i++) {
        ip('-n', ns, 'link', 'set', 'lo', 'alias', `nle-pool-${i}`);
        const e = await rec.waitFor(
          (x) => isData(x) && aliasOf(x).includes(`nle-pool-${i}`),
          `the chunk with alias ${i}`,
        );
        assert.equal(e.handed?.length, chunkBytes, 'the Buffer is the whole slot');
        assert.ok(
          e.length !== undefined && e.length > 0 && e.length <= chunkBytes && e.length === (e.payload as Buffer).length,
          'length is the filled part',
        );
        // Every chunk handed over so far is processed: all given back.
        while (sock.queueDepth() > 0) sock.release();
      }
      const handed = rec.events.filter(isData).map((e) => e.handed);
      // One hand-over at a time, each released before the next: the reader takes the warm slot
      // again, so one Buffer serves every chunk (nothing made per chunk).
      assert.ok(
        new Set(handed).size <= 2,
        `a few slots serve every chunk (${new Set(handed).size} Buffers for ${handed.length} chunks)`,
      );
      assert.ok(
        rec.events.every((e) => e.event === 'data'),
        'no overrun',
      );
    } finally {
      sock.close();
      deleteNamespace(ns);
    }
  });

  test('a burst while JS is busy arrives in a few large chunks, nothing lost', async () => {
    const ns = createNamespace();
    const rec = new Recorder();
    const sock = open({ netnsPath: `/run/netns/${ns}`, groups: [RTNLGRP_LINK], receiveBufferBytes: 16 * MiB }, rec);
    try {
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      sock.start();
      const lines: string[] = [];
      for (let i = 0; i < 1000; i++) lines.push(`link set dev lo alias nle-alias-${i}`);
      runBlocked(ns, sock, batchFile(lines));
      // (lo may also send a late NEWLINK of its own, from linkwatch, for going up.)
      const aliases = (): string[] =>
        rec.events
          .filter(isData)
          .flatMap((e) => chunkMessages(e.payload))
          .filter((h) => h.type === RTM_NEWLINK)
          .map((h) => linkString(h.body, IFLA_IFALIAS) ?? '')
          .filter((a) => a.startsWith('nle-alias-'));
      await rec.waitFor(() => aliases().length >= 1000, '1000 alias notifications');
      assert.deepEqual(
        aliases(),
        lines.map((l) => l.split(' ').pop()),
        'every notification, in order',
      );
      assert.ok(rec.events.every(isData), 'no overrun');
      // The first notification goes alone (JS was idle); the rest coalesce into ~190 KB chunks.
      assert.ok(rec.events.length <= 16, `${rec.events.length} chunks for ~1.5 MB`);
    } finally {
      sock.close();
      deleteNamespace(ns);
    }
  });

  test('a started socket keeps the process alive until close(); a throwing onEvent is an uncaught exception', () => {
    const ns = createNamespace();
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    const script = `
      const { NetlinkSocket } = require(${JSON.stringify(ADDON_PATH)});
      const s = new NetlinkSocket({ netnsPath: ${JSON.stringify(`/run/netns/${ns}`)}, groups: [], receiveBufferBytes: 0 }, () => {
        throw new Error('boom from onEvent');
      });
      process.on('uncaughtException', (err) => { console.log('uncaught:' + err.message); s.close(); });
      s.start();
      // An unref'd timer fires only if something else (the socket) keeps the loop alive.
      setTimeout(() => {
        console.log('alive');
        const req = Buffer.alloc(32);
        req.writeUInt32LE(32, 0); req.writeUInt16LE(${RTM_GETLINK}, 4); req.writeUInt16LE(${NLM_F_REQUEST_DUMP}, 6);
        s.send(req);
      }, 100).unref();
    `;
    try {
      const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 10_000 });
      assert.equal(r.signal, null, 'exited by itself after close()');
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(r.stdout.trim().split('\n'), ['alive', 'uncaught:boom from onEvent']);
    } finally {
      deleteNamespace(ns);
    }
  });

  test('only the kernel is believed: unicast from another process is refused by the kernel, multicast from it is refused unread and counted', async () => {
    const ns = createNamespace();
    const rec = new Recorder();
    const sock = open(
      { netnsPath: `/run/netns/${ns}`, groups: [RTNLGRP_LINK, RTNLGRP_IPV4_ROUTE], receiveBufferBytes: 0 },
      rec,
    );
    const forger = await startForger(['ip', 'netns', 'exec', ns]);
    try {
      sock.start();
      const result = await forger.forge(5, 'forged0');
      // connect()ed to the kernel: the kernel itself turns away unicast from any other port.
      assert.deepEqual(result.ports, [sock.portId]);
      assert.deepEqual(result.unicast, { sent: 0, refused: 10, other_errors: 0 });
      // Multicast is not covered by connect(): the reader checks the sender and refuses it.
      assert.deepEqual(result.multicast, { sent: 10, errors: [] });
      const refused = (): number => rec.events.filter((e) => e.event === 'foreign').reduce((n, e) => n + e.count, 0);
      await poll('10 foreign datagrams refused', () => refused() === 10 || `refused ${refused()} of 10`, {
        timeoutMs: 5000,
      });
      const firstSignal = rec.events.find((e) => e.event === 'foreign');
      assert.equal(firstSignal?.payload, forger.port, "the signal names the sender's port id");
      // A real change still arrives, and nothing forged ever reached JS as data.
      ip('-n', ns, ...linkAdd('real0'));
      await rec.waitFor(
        hasMessage((h) => h.type === RTM_NEWLINK && linkName(h.body) === 'real0'),
        'the real link',
      );
      const forgedData = rec.events
        .filter(isData)
        .flatMap((e) => chunkMessages(e.payload))
        .filter((h) => h.type === 24 || linkName(h.body) === 'forged0');
      assert.deepEqual(forgedData, [], 'no forged message delivered');
      assert.equal(refused(), 10, 'real datagrams are not counted as foreign');
    } finally {
      forger.close();
      sock.close();
      deleteNamespace(ns);
    }
  });

  test('one reader thread serves every socket: 30 namespaces, a constant thread count, each socket its own data, one closed without disturbing the rest', async () => {
    const settle = async (limit: number): Promise<number> => {
      // A thread that has exited can linger in /proc/self/task for a moment (the socket-opening ones).
      const deadline = Date.now() + 2000;
      while (threadCount() > limit && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      return threadCount();
    };
    // libuv starts its thread pool on first use: start it now, not in the middle of the count.
    await fs.promises.readFile('/proc/self/stat');
    const N = 30;
    const names = Array.from({ length: N }, () => createNamespace());
    const recs = names.map(() => new Recorder());
    const socks: NativeSocket[] = [];
    try {
      socks.push(
        open(
          { netnsPath: `/run/netns/${names[0]}`, groups: [RTNLGRP_LINK], receiveBufferBytes: MiB },
          recs[0] as Recorder,
        ),
      );
      (socks[0] as NativeSocket).start();
      const withOne = await settle(threadCount() - 1);
      for (let i = 1; i < N; i++) {
        const sock = open(
          { netnsPath: `/run/netns/${names[i]}`, groups: [RTNLGRP_LINK], receiveBufferBytes: MiB },
          recs[i] as Recorder,
        );
        sock.start();
        socks.push(sock);
      }
      assert.equal(await settle(withOne), withOne, `threads with ${N} sockets equal threads with one`);

      socks[7]?.close(); // closing one must not disturb the others
      for (let i = 0; i < N; i++) if (i !== 7) ip('-n', names[i] as string, ...linkAdd(`own${i}`));
      await Promise.all(
        recs.map((rec, i) =>
          i === 7
            ? Promise.resolve()
            : rec.waitFor(
                hasMessage((h) => h.type === RTM_NEWLINK && linkName(h.body) === `own${i}`),
                `own${i} on socket ${i}`,
              ),
        ),
      );
      for (let i = 0; i < N; i++) {
        const seen = new Set(
          recs[i]?.events
            .filter(isData)
            .flatMap((e) => chunkMessages(e.payload))
            .map((h) => linkName(h.body)),
        );
        for (let j = 0; j < N; j++)
          if (j !== i) assert.ok(!seen.has(`own${j}`), `socket ${i} saw namespace ${j}'s link`);
      }
      assert.equal(recs[7]?.events.length, 0, 'the closed socket delivered nothing');
      assert.equal(await settle(withOne), withOne, 'still one reader thread');
    } finally {
      for (const sock of socks) sock.close();
      for (const ns of names) deleteNamespace(ns);
    }
  });

  test('stress: 200 open/start/close cycles leak no fds and no threads', async () => {
    const ns = createNamespace();
    try {
      const fds = fdCount();
      const threads = threadCount();
      for (let i = 0; i < 200; i++) {
        const sock = new NetlinkSocket(
          {
            netnsPath: i % 2 ? `/run/netns/${ns}` : undefined,
            groups: [RTNLGRP_LINK, RTNLGRP_NEXTHOP],
            receiveBufferBytes: MiB,
          },
          () => {},
        );
        if (i % 4 !== 3) sock.start();
        if (i % 8 === 0) sock.send(dumpLinksRequest(i));
        sock.close();
      }
      // Failed constructions must not leak either.
      for (let i = 0; i < 50; i++) {
        assert.throws(() => new NetlinkSocket({ groups: [RTNLGRP_LINK, 0x7fffffff], receiveBufferBytes: 0 }, () => {}));
      }
      assert.equal(fdCount(), fds, 'fd count back to where it was');
      // A joined thread can linger in /proc/self/task for a moment after join() returns.
      const deadline = Date.now() + 2000;
      while (threadCount() > threads && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.ok(threadCount() <= threads, `threads: ${threadCount()} > ${threads}`);
    } finally {
      deleteNamespace(ns);
    }
  });
});
