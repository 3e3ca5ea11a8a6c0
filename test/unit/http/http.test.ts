// The HTTP side's pieces without a server: exact request paths, the rate limit's bucket, basic
// auth's cache, decoy and bound (with a fake bcrypt), the bcrypt thread itself, one request at a
// time per connection, and the web config checks (rate_limit, bcrypt cost, key/cert pair, client CA).

import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { BasicAuth, decoyHash, parseBasicAuthorization, PasswordChecker } from '../../../src/http/basic-auth';
import { BcryptPool } from '../../../src/http/bcrypt-pool';
import { ConnectionQueue } from '../../../src/http/connection-queue';
import { TokenBucket } from '../../../src/http/rate-limit';
import { bcryptCost, loadWebConfig } from '../../../src/http/web-config';
import { createLogger } from '../../../src/support/log';
import { clearSecrets, redactSecrets } from '../../../src/support/redact';
import { requestPath } from '../../../src/http/request';
import { ExporterServer } from '../../../src/http/server';
import { createTestPki, TestPki } from '../../helpers/certs';

const basic = (credentials: string): string => `Basic ${Buffer.from(credentials).toString('base64')}`;

test('requestPath: exact, query and fragment cut, nothing that is not a path', () => {
  assert.equal(requestPath('/metrics'), '/metrics');
  assert.equal(requestPath('/metrics?x=1'), '/metrics');
  assert.equal(requestPath('/metrics#top'), '/metrics');
  assert.equal(requestPath('//x/metrics'), '//x/metrics');
  assert.equal(requestPath('http://127.0.0.1/metrics'), undefined);
  assert.equal(requestPath('*'), undefined);
  assert.equal(requestPath(undefined), undefined);
});

test('TokenBucket: the burst, then one token per interval, never more than the burst', () => {
  let now = 0;
  const bucket = new TokenBucket({ intervalMs: 100, burst: 3 }, () => now);
  assert.deepEqual(
    [1, 2, 3, 4].map(() => bucket.take()),
    [true, true, true, false],
  );
  now = 99;
  assert.equal(bucket.take(), false);
  now = 100;
  assert.equal(bucket.take(), true);
  assert.equal(bucket.take(), false);
  now = 100_000;
  assert.deepEqual(
    [1, 2, 3, 4].map(() => bucket.take()),
    [true, true, true, false],
  );
});

/** A bcrypt stand-in that records what it was asked and answers when told. */
class FakeChecker implements PasswordChecker {
  readonly asked: { password: string; hash: string; answer: (ok: boolean) => void }[] = [];
  constructor(private readonly bound = Infinity) {}
  compare(password: string, hash: string): Promise<boolean> | undefined {
    if (this.asked.filter((a) => a.hash !== '').length >= this.bound) return undefined;
    return new Promise((resolve) => {
      const entry = { password, hash, answer: (ok: boolean) => ((entry.hash = ''), resolve(ok)) };
      this.asked.push(entry);
    });
  }
}

describe('BasicAuth', () => {
  const aliceHash = '$2b$12$' + 'a'.repeat(53);
  const bobHash = '$2b$07$' + 'b'.repeat(53);

  test('parses Basic credentials only', () => {
    assert.deepEqual(parseBasicAuthorization(basic('alice:pa:ss')), { user: 'alice', password: 'pa:ss' });
    assert.deepEqual(parseBasicAuthorization(`basic ${Buffer.from('a:b').toString('base64')}`), {
      user: 'a',
      password: 'b',
    });
    assert.equal(parseBasicAuthorization(basic('no-colon')), undefined);
    assert.equal(parseBasicAuthorization('Bearer x'), undefined);
    assert.equal(parseBasicAuthorization(undefined), undefined);
  });

  test('an unknown user is checked against a decoy of the highest configured cost, never skipped', async () => {
    const fake = new FakeChecker();
    const auth = new BasicAuth(
      new Map([
        ['alice', aliceHash],
        ['bob', bobHash],
      ]),
      fake,
    );
    const pending = auth.check(basic('mallory:x'));
    assert.equal(fake.asked.length, 1);
    const decoy = fake.asked[0]!.hash;
    assert.equal(bcryptCost(decoy), 12, `decoy ${decoy}`);
    assert.match(decoy, /^\$2[aby]\$12\$[./A-Za-z0-9]{53}$/);
    fake.asked[0]!.answer(true); // even a "match" against the decoy lets nobody in
    assert.equal(await pending, 'unauthorized');
  });

  test('outcomes are cached by credentials (success and failure apart); a full queue is busy, not a pass', async () => {
    const fake = new FakeChecker(1);
    // All from one address ('' by default), below its own bound: the queue's bound of 1 is what refuses here.
    const auth = new BasicAuth(new Map([['alice', aliceHash]]), fake);
    const first = auth.check(basic('alice:right'));
    assert.equal(await auth.check(basic('alice:other')), 'busy', 'the one check slot is taken');
    fake.asked[0]!.answer(true);
    assert.equal(await first, 'ok');
    assert.equal(await auth.check(basic('alice:right')), 'ok');
    assert.equal(fake.asked.length, 1, 'the second success came from the cache');
    const wrong = auth.check(basic('alice:wrong'));
    fake.asked[1]!.answer(false);
    assert.equal(await wrong, 'unauthorized');
    assert.equal(await auth.check(basic('alice:wrong')), 'unauthorized');
    assert.equal(fake.asked.length, 2, 'a repeated wrong password costs no second check');
    // A flood of distinct wrong passwords cannot push the good entry out.
    for (let i = 0; i < 2000; i++) {
      const p = auth.check(basic(`alice:guess-${i}`));
      fake.asked.at(-1)!.answer(false);
      await p;
    }
    const before = fake.asked.length;
    assert.equal(await auth.check(basic('alice:right')), 'ok');
    assert.equal(fake.asked.length, before);
  });

  test('one client address holds at most a few places in the check queue; others still get checked', async () => {
    const fake = new FakeChecker(8);
    const auth = new BasicAuth(new Map([['alice', aliceHash]]), fake);
    const flood = [1, 2, 3].map((i) => auth.check(basic(`alice:guess-${i}`), '192.0.2.66'));
    assert.equal(await flood[2], 'busy', 'the third check from one address waits nowhere');
    const scraper = auth.check(basic('alice:right'), '192.0.2.10');
    assert.equal(fake.asked.length, 3, "the scraper's check is queued");
    fake.asked[2]!.answer(true);
    assert.equal(await scraper, 'ok');
    fake.asked[0]!.answer(false);
    assert.equal(await flood[0], 'unauthorized');
    const again = auth.check(basic('alice:guess-4'), '192.0.2.66');
    assert.equal(fake.asked.length, 4, 'a place freed is a place again');
    fake.asked[1]!.answer(false);
    fake.asked[3]!.answer(false);
    assert.deepEqual([await flood[1], await again], ['unauthorized', 'unauthorized']);
  });

  test('the bcrypt thread: real hashes, in order, bounded', async () => {
    const pool = new BcryptPool(2);
    try {
      const hash = bcrypt.hashSync('secret', 4);
      const a = pool.compare('secret', hash);
      const b = pool.compare('nope', hash);
      assert.equal(pool.compare('third', hash), undefined, 'past the bound: refused at once');
      assert.deepEqual(await Promise.all([a, b]), [true, false]);
      assert.equal(await pool.compare('x', 'not a hash'), false, 'a bad hash is a failed check');
      assert.equal(await pool.compare('x', decoyHash(4)), false);
    } finally {
      pool.close();
    }
  });
});

describe('ConnectionQueue', () => {
  /** A stand-in socket and response pair: enough of each for the queue. */
  function fakeRequest(
    socket: EventEmitter & { destroyed: boolean; destroy(): void },
  ): [IncomingMessage, ServerResponse & EventEmitter] {
    const res = new EventEmitter() as ServerResponse & EventEmitter;
    return [{ socket } as unknown as IncomingMessage, res];
  }
  function fakeSocket(): EventEmitter & { destroyed: boolean; destroy(): void } {
    const s = Object.assign(new EventEmitter(), {
      destroyed: false,
      destroy: () => ((s.destroyed = true), s.emit('close')),
    });
    return s;
  }

  test('one request at a time per connection, in order; past the bound the connection is cut; a close releases all', () => {
    const started: ServerResponse[] = [];
    const q = new ConnectionQueue(2, (_req, res) => started.push(res));
    const socket = fakeSocket();
    const reqs = [1, 2, 3].map(() => fakeRequest(socket));
    for (const [req, res] of reqs) q.accept(req, res);
    assert.deepEqual(started, [reqs[0]![1]], 'only the first runs');
    assert.equal(q.requestsInFlight, 3);
    reqs[0]![1].emit('finish');
    reqs[0]![1].emit('close');
    assert.deepEqual(started, [reqs[0]![1], reqs[1]![1]], 'the next starts when the first is finished');
    assert.equal(q.requestsInFlight, 2);
    const more = [1, 2, 3].map(() => fakeRequest(socket));
    for (const [req, res] of more) q.accept(req, res);
    assert.equal(q.pipelineRefusals, 1, 'the third waiting request is one too many');
    assert.ok(socket.destroyed);
    assert.equal(q.requestsInFlight, 0, 'the close released the running and the waiting ones');
    reqs[1]![1].emit('close');
    assert.equal(q.requestsInFlight, 0, 'a late close of a released answer counts nothing twice');
  });
});

describe('web config checks', () => {
  let pki: TestPki;
  before(() => {
    pki = createTestPki();
  });
  after(() => pki?.remove());

  const load = (name: string, text: string): (() => unknown) => {
    const file = join(pki.dir, name);
    writeFileSync(file, text);
    return () => loadWebConfig(file);
  };

  test('rate_limit: interval and burst as exporter-toolkit reads them, bounded', () => {
    assert.deepEqual(
      (load('r1.yml', 'rate_limit:\n  interval: 100ms\n  burst: 5\n')() as { rateLimit: unknown }).rateLimit,
      { intervalMs: 100, burst: 5 },
    );
    assert.equal((load('r2.yml', 'rate_limit:\n  interval: 0s\n')() as { rateLimit: unknown }).rateLimit, undefined);
    assert.throws(load('r3.yml', 'rate_limit:\n  interval: 1s\n'), /rate_limit\.burst: must be an integer from 1/);
    assert.throws(
      load('r4.yml', 'rate_limit:\n  interval: soon\n  burst: 1\n'),
      /rate_limit\.interval: must be a duration/,
    );
    assert.throws(
      load('r5.yml', 'rate_limit:\n  interval: 1s\n  burst: 1\n  per_ip: true\n'),
      /rate_limit\.per_ip: unknown key/,
    );
  });

  test('basic-auth hashes are secrets: in use, after a good reload, and from a refused file', async () => {
    clearSecrets();
    const hashA = bcrypt.hashSync('alice-password', 4);
    const hashB = bcrypt.hashSync('bob-password', 4);
    const file = join(pki.dir, 'secrets.yml');
    writeFileSync(file, `basic_auth_users:\n  alice: "${hashA}"\n`);
    const lines: string[] = [];
    const server = new ExporterServer({
      listenAddress: '127.0.0.1:0',
      telemetryPath: '/metrics',
      version: 'test',
      logger: createLogger('debug', 'logfmt', (line) => lines.push(line)),
      isReady: () => true,
      waitReady: async () => {},
      scrapeReadyTimeoutMs: 1000,
      scrape: async () => ({ contentType: 'text/plain', body: [] }),
      webConfigFile: file,
      maxConcurrentScrapes: 1,
      maxQueuedScrapes: 1,
      headerTimeoutMs: 1000,
      idleTimeoutMs: 1000,
    });
    try {
      /** Whether a log line quoting `text` would still show `secret` (by default all of `text`). */
      const shown = (text: string, secret = text): boolean => redactSecrets(`x ${text} y`).includes(secret);
      assert.ok(!shown(hashA), 'the hash in use at start-up');
      assert.ok(
        !shown(`$2y$${hashA.slice(4)}`, hashA.slice(-53)),
        'the same salt and digest under another version prefix',
      );
      assert.ok(!shown(encodeURIComponent(hashA)), 'percent-encoded');
      writeFileSync(file, `basic_auth_users:\n  bob: "${hashB}"\n`);
      assert.equal(server.reloadWebConfig(), true);
      assert.ok(!shown(hashB), 'the hash of a reloaded file');
      // A refused file (a plaintext password pasted where a hash belongs) keeps bob's hash in use:
      // both stay hidden.
      writeFileSync(file, `basic_auth_users:\n  carol: "carol-plaintext-password"\n`);
      assert.equal(server.reloadWebConfig(), false);
      assert.ok(!shown(hashB), 'the hash still in use after a refused reload');
      assert.ok(!shown('carol-plaintext-password'), 'a value refused as no hash');
      assert.ok(lines.some((l) => l.includes('web config not reloaded')));
    } finally {
      await server.close(0);
      clearSecrets();
    }
  });

  test('a web config, certificate or key that is no small regular file is refused, naming the key', () => {
    // Past the bound first (before the bound, a 2 MB file was read whole and judged as PEM).
    const big = join(pki.dir, 'big.pem');
    writeFileSync(big, Buffer.alloc(2 * 1024 * 1024, 0x41));
    assert.throws(
      load('big.yml', `tls_server_config:\n  cert_file: ${big}\n  key_file: ${big}\n`),
      /tls_server_config\.cert_file: cannot read .*big\.pem: larger than 1048576 bytes/,
    );
    assert.throws(() => loadWebConfig(big), /big\.pem: cannot read: larger than 1048576 bytes/);
    // A FIFO with no writer: open(2) without O_NONBLOCK waited forever.
    const fifo = join(pki.dir, 'fifo.pem');
    execFileSync('mkfifo', [fifo]);
    assert.throws(
      load('fifo.yml', `tls_server_config:\n  cert_file: ${pki.serverCert}\n  key_file: ${fifo}\n`),
      /tls_server_config\.key_file: cannot read .*fifo\.pem: not a regular file/,
    );
    // /dev/zero: read until memory ran out (16.8 GB in 74 s), then the process died.
    assert.throws(
      load('zero.yml', 'tls_server_config:\n  cert_file: /dev/zero\n  key_file: /dev/zero\n'),
      /cert_file: cannot read \/dev\/zero: not a regular file/,
    );
    assert.throws(() => loadWebConfig('/dev/zero'), /cannot read: not a regular file/);
  });

  test('bcrypt cost bounded', () => {
    assert.throws(
      load('c1.yml', `basic_auth_users:\n  alice: "$2b$20$${'a'.repeat(53)}"\n`),
      /basic_auth_users\.alice: bcrypt cost 20 is outside 4\.\.16/,
    );
  });

  test('key/cert pair and client CA: named in the error', () => {
    assert.throws(
      load('p1.yml', `tls_server_config:\n  cert_file: ${pki.serverCert}\n  key_file: ${pki.clientKey}\n`),
      (err: Error) =>
        err.message.includes(pki.serverCert) &&
        err.message.includes(pki.clientKey) &&
        err.message.includes('does not match'),
    );
    assert.throws(
      load('p2.yml', `tls_server_config:\n  cert_file: ${pki.serverKey}\n  key_file: ${pki.serverKey}\n`),
      new RegExp(`${pki.serverKey.replace(/[.]/g, '\\.')} holds no certificate that loads`),
    );
    const ca = join(pki.dir, 'not-a-ca.pem');
    writeFileSync(ca, 'garbage\n');
    assert.throws(
      load(
        'p3.yml',
        `tls_server_config:\n  cert_file: ${pki.serverCert}\n  key_file: ${pki.serverKey}\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ${ca}\n`,
      ),
      /client_ca_file: .*not-a-ca\.pem holds no PEM certificate/,
    );
    assert.doesNotThrow(
      load(
        'p4.yml',
        `tls_server_config:\n  cert_file: ${pki.serverCert}\n  key_file: ${pki.serverKey}\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ${pki.caCert}\n`,
      ),
    );
  });
});
