// TLS as operators live with it: a silent or trickling handshake is cut by the header timeout
// (not Node's 120 s); a two-step certificate rotation (certificate first, key next, as any
// two-file rotation goes) keeps serving the old pair in between, says why, sets the reload metric,
// and serves the new pair once both files match, without the process ever going down (on a file
// change and on SIGHUP alike); a Kubernetes Secret volume's symlink swap is seen too; at start-up
// a key that does not match its certificate, or a client CA file without a certificate, is a
// clear error naming the files (exit 1), not a stack trace.

import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { httpsGet, pkiFixture, startTlsExporter as startTls, TestPki } from '../helpers/certs';
import { parseExposition, poll, startExporter } from '../helpers/exporter';

/** Replaces a file the way cert-manager and editors do: write beside it, then rename over it. */
function replaceFile(target: string, from: string): void {
  copyFileSync(from, `${target}.tmp`);
  renameSync(`${target}.tmp`, target);
}

/** How long the server kept a raw TCP connection that `feed` writes to; the test gives up at 30 s. */
function heldFor(
  port: number,
  feed: (write: (b: Buffer) => void) => NodeJS.Timeout | undefined,
): Promise<{ closedBy: 'server' | 'test'; ms: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1');
    let timer: NodeJS.Timeout | undefined;
    socket.on('connect', () => (timer = feed((b) => !socket.destroyed && socket.write(b))));
    socket.on('data', () => undefined);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ closedBy: 'server', ms: Date.now() - started });
    });
    setTimeout(() => {
      if (socket.destroyed) return;
      clearInterval(timer);
      socket.destroy();
      resolve({ closedBy: 'test', ms: Date.now() - started });
    }, 30_000).unref();
  });
}

describe('TLS: handshake bound, certificate rotation, start-up errors', { timeout: 180_000 }, () => {
  const fixture = pkiFixture();
  const exporters = fixture.exporters;
  let pki: TestPki;
  before(() => (pki = fixture.pki()));

  test('a silent and a slow TLS handshake are cut by the header timeout, and counted', async () => {
    const file = join(pki.dir, 'handshake.yml');
    writeFileSync(file, `tls_server_config:\n  cert_file: ${pki.serverCert}\n  key_file: ${pki.serverKey}\n`);
    const config = join(pki.dir, 'handshake-config.yml');
    writeFileSync(config, 'web:\n  header_timeout: 1s\n');
    const ca = pki.read(pki.caCert);
    const ex = await startTls(file, { ca }, [`--config.file=${config}`]);
    exporters.push(ex);
    // The test's bound (30 s) is far below Node's default of 120 s and far above the 1 s configured.
    const silent = await heldFor(ex.port, () => undefined);
    assert.equal(silent.closedBy, 'server', `a silent client was held ${silent.ms} ms`);
    // A TLS record header and the start of a ClientHello, then a byte every 100 ms: it would take
    // about 20 s to send the 200 bytes the record announces.
    const hello = Buffer.from('16030100c8010000c40303', 'hex');
    const slow = await heldFor(ex.port, (write) => {
      let i = 0;
      return setInterval(() => write(i < hello.length ? hello.subarray(i, ++i) : Buffer.from([i++ & 0xff])), 100);
    });
    assert.equal(slow.closedBy, 'server', `a slow ClientHello was held ${slow.ms} ms`);
    // Everyone else is served meanwhile and still is; both are counted.
    const answer = await httpsGet(ex.port, '/metrics', { ca });
    assert.equal(answer.status, 200);
    const refused = parseExposition(answer.body).value('netlink_http_refused_total', { reason: 'tls_handshake' }) ?? 0;
    assert.ok(refused >= 2, `netlink_http_refused_total{reason="tls_handshake"} = ${refused}`);
  });

  test('two-step rotation: certificate first (refused, old pair kept, process up), key next (new pair served); SIGHUP in between too', async () => {
    const live = join(pki.dir, 'live');
    const cert = `${live}.crt`;
    const key = `${live}.key`;
    copyFileSync(pki.serverCert, cert);
    copyFileSync(pki.serverKey, key);
    const file = join(pki.dir, 'rotate.yml');
    writeFileSync(file, `tls_server_config:\n  cert_file: ${cert}\n  key_file: ${key}\n`);
    const ca = pki.read(pki.caCert);
    const ex = await startTls(file, { ca });
    exporters.push(ex);
    const [newCert, newKey] = pki.issueServer('rotated');
    const before = await httpsGet(ex.port, '/metrics', { ca });
    assert.equal(parseExposition(before.body).value('netlink_config_last_reload_successful', {}), 1);
    const oldSerial = before.serial;
    const logsBefore = ex.stderr.lines.length;

    // Step one: the new certificate beside the old key.
    replaceFile(cert, newCert);
    await poll('the refused reload in the log', () =>
      ex.stderr.lines
        .slice(logsBefore)
        .some(
          (l) =>
            l.includes('web config not reloaded') &&
            l.includes(cert) &&
            l.includes(key) &&
            l.includes('does not match'),
        )
        ? true
        : 'no log line naming both files yet',
    );
    const between = await httpsGet(ex.port, '/metrics', { ca });
    assert.equal(between.serial, oldSerial, 'the running pair is still served');
    assert.equal(parseExposition(between.body).value('netlink_config_last_reload_successful', {}), 0);
    // SIGHUP on the same half-rotated files: refused again, still up.
    const logsHup = ex.stderr.lines.length;
    ex.child.kill('SIGHUP');
    await poll('the refused SIGHUP reload in the log', () =>
      ex.stderr.lines.slice(logsHup).some((l) => l.includes('web config not reloaded') && l.includes('does not match'))
        ? true
        : 'not yet',
    );
    assert.ok(ex.running, `the exporter must stay up\n${ex.logs()}`);
    assert.equal((await httpsGet(ex.port, '/-/healthy', { ca })).serial, oldSerial);

    // Step two: the matching key. The new pair is served, the metric back to 1.
    replaceFile(key, newKey);
    await poll('the new certificate served', async () => {
      const a = await httpsGet(ex.port, '/metrics', { ca });
      const ok = parseExposition(a.body).value('netlink_config_last_reload_successful', {});
      return a.serial !== oldSerial && ok === 1 ? true : `serial ${a.serial} (old ${oldSerial}), reload metric ${ok}`;
    });
    assert.ok(ex.running);
    assert.ok(!ex.stderr.lines.some((l) => /^\s+at /.test(l)), `no stack trace in the log\n${ex.logs()}`);
  });

  test('a Kubernetes Secret volume rotation (both files swapped at once behind the ..data link) serves the new pair', async () => {
    // The layout kubelet writes: tls.crt -> ..data/tls.crt, ..data -> ..<timestamp>/, swapped by
    // renaming a new ..data_tmp link over ..data; the names tls.crt and tls.key never change.
    const volume = join(pki.dir, 'secret-volume');
    const mount = (version: string, [crt, key]: readonly [string, string]): void => {
      mkdirSync(join(volume, version));
      copyFileSync(crt, join(volume, version, 'tls.crt'));
      copyFileSync(key, join(volume, version, 'tls.key'));
      symlinkSync(version, join(volume, '..data_tmp'));
      renameSync(join(volume, '..data_tmp'), join(volume, '..data'));
    };
    mkdirSync(volume);
    mount('..v1', [pki.serverCert, pki.serverKey]);
    symlinkSync('..data/tls.crt', join(volume, 'tls.crt'));
    symlinkSync('..data/tls.key', join(volume, 'tls.key'));
    const file = join(pki.dir, 'k8s.yml');
    writeFileSync(
      file,
      `tls_server_config:\n  cert_file: ${join(volume, 'tls.crt')}\n  key_file: ${join(volume, 'tls.key')}\n`,
    );
    const ca = pki.read(pki.caCert);
    const ex = await startTls(file, { ca });
    exporters.push(ex);
    const oldSerial = (await httpsGet(ex.port, '/-/healthy', { ca })).serial;
    mount('..v2', pki.issueServer('k8s-rotated'));
    await poll('the new certificate served', async () => {
      const serial = (await httpsGet(ex.port, '/-/healthy', { ca })).serial;
      return serial !== oldSerial ? true : `still serial ${serial}`;
    });
    assert.ok(ex.running);
  });

  test('a client CA file with no certificate is refused on reload, naming the file, and the running CA kept', async () => {
    const caFile = join(pki.dir, 'reload-ca.crt');
    copyFileSync(pki.caCert, caFile);
    const file = join(pki.dir, 'reload-ca.yml');
    writeFileSync(
      file,
      `tls_server_config:\n  cert_file: ${pki.serverCert}\n  key_file: ${pki.serverKey}\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ${caFile}\n`,
    );
    const client = { ca: pki.read(pki.caCert), cert: pki.read(pki.clientCert), key: pki.read(pki.clientKey) };
    const ex = await startTls(file, client);
    exporters.push(ex);
    writeFileSync(caFile, '');
    await poll('the refused reload in the log', () =>
      ex.stderr.lines.some(
        (l) => l.includes('web config not reloaded') && l.includes(caFile) && l.includes('no PEM certificate'),
      )
        ? true
        : 'not yet',
    );
    const answer = await httpsGet(ex.port, '/metrics', client);
    assert.equal(answer.status, 200, 'the client still gets in with the running CA');
    assert.equal(parseExposition(answer.body).value('netlink_config_last_reload_successful', {}), 0);
  });

  for (const [what, write, expected] of [
    // The client's key: a real key, of another certificate.
    [
      'a key that does not match the certificate',
      () => `tls_server_config:\n  cert_file: ${pki.serverCert}\n  key_file: ${pki.clientKey}\n`,
      () => [pki.serverCert, pki.clientKey, 'does not match'],
    ],
    [
      'a client CA file with no certificate',
      (dir: string) => {
        writeFileSync(join(dir, 'empty-ca.crt'), '# nothing here\n');
        return `tls_server_config:\n  cert_file: ${pki.serverCert}\n  key_file: ${pki.serverKey}\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ${join(dir, 'empty-ca.crt')}\n`;
      },
      (f: string) => [join(f, 'empty-ca.crt'), 'no PEM certificate'],
    ],
  ] as const) {
    test(`start-up with ${what}: exit 1 with a clear error naming the files, no stack trace`, async () => {
      const file = join(pki.dir, 'startup.yml');
      writeFileSync(file, write(pki.dir));
      const err = await startExporter({ args: [`--web.config.file=${file}`], waitReady: false }).catch((e: Error) => e);
      assert.ok(err instanceof Error, 'the exporter must not start');
      assert.match(err.message, /exit code 1/);
      for (const part of expected(pki.dir))
        assert.ok(err.message.includes(part), `the error names ${part}:\n${err.message}`);
      assert.ok(!/^\s+at /m.test(err.message), `no stack trace:\n${err.message}`);
    });
  }
});
