// --web.config.file end to end: real TLS (a CA made by openssl), basic auth with bcrypt hashes,
// mutual TLS, response headers, reload on change and on SIGHUP, and the shipped example checked
// by promtool. The exporter watches only its own namespace here (reading needs no privilege).

import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { httpsGet, pkiFixture, startTlsExporter as startTls, TestPki } from '../helpers/certs';
import { parseExposition, poll, startExporter } from '../helpers/exporter';
import { haveCommand, run } from '../helpers/netns';

const EXAMPLE = resolve(__dirname, '..', '..', '..', 'config', 'web-config.example.yml');

function hash(password: string): string {
  // Cost 4 keeps the test quick; the exporter checks whatever cost the hash names.
  return bcrypt.hashSync(password, 4);
}

describe('--web.config.file: TLS, basic auth, mTLS, reload', { timeout: 120_000 }, () => {
  const fixture = pkiFixture();
  const exporters = fixture.exporters;
  let pki: TestPki;
  before(() => (pki = fixture.pki()));

  test('the shipped example passes promtool check web-config, and serves mTLS + basic auth as written', async (t) => {
    if (!haveCommand('promtool')) {
      if (process.env.CI === 'true') assert.fail('promtool is missing (apt-get install prometheus)');
      t.skip('promtool is missing');
      return;
    }
    // The example names tls/server.crt etc. relative to itself: give it those files.
    const dir = join(pki.dir, 'example');
    mkdirSync(join(dir, 'tls'), { recursive: true });
    copyFileSync(pki.serverCert, join(dir, 'tls', 'server.crt'));
    copyFileSync(pki.serverKey, join(dir, 'tls', 'server.key'));
    copyFileSync(pki.caCert, join(dir, 'tls', 'ca.crt'));
    copyFileSync(EXAMPLE, join(dir, 'web.yml'));
    const checked = run('promtool', ['check', 'web-config', join(dir, 'web.yml')]);
    assert.match(checked.stdout + checked.stderr, /SUCCESS/);

    const client = {
      ca: pki.read(pki.caCert),
      cert: pki.read(pki.clientCert),
      key: pki.read(pki.clientKey),
      user: 'prometheus',
      password: 'example-password',
    };
    const ex = await startTls(join(dir, 'web.yml'), client);
    exporters.push(ex);
    const ok = await httpsGet(ex.port, '/metrics', client);
    assert.equal(ok.status, 200);
    assert.ok(parseExposition(ok.body).series('netlink_interface_up').length > 0, 'metrics over mTLS');
    assert.equal(ok.headers['x-frame-options'], 'deny');
    assert.equal(ok.headers['x-content-type-options'], 'nosniff');
    assert.equal(ok.headers['strict-transport-security'], 'max-age=31536000');

    // mTLS: no client certificate, or one the CA did not sign: the connection is refused.
    await assert.rejects(
      httpsGet(ex.port, '/metrics', { ca: client.ca, user: 'prometheus', password: 'example-password' }),
      'no client certificate',
    );
    await assert.rejects(
      httpsGet(ex.port, '/metrics', {
        ca: client.ca,
        cert: pki.read(pki.rogueCert),
        key: pki.read(pki.rogueKey),
        user: 'prometheus',
        password: 'example-password',
      }),
      'a self-signed client certificate',
    );
    // A good certificate and a wrong password: 401.
    assert.equal((await httpsGet(ex.port, '/metrics', { ...client, password: 'wrong' })).status, 401);
    await ex.stop();
  });

  test('TLS with basic auth: no CA fails, the CA succeeds, a wrong password is 401; plain HTTP gets nothing', async () => {
    const file = join(pki.dir, 'tls-auth.yml');
    writeFileSync(
      file,
      `tls_server_config:\n  cert_file: ${pki.serverCert}\n  key_file: ${pki.serverKey}\nbasic_auth_users:\n  alice: ${hash('s3cret')}\n`,
    );
    const ca = pki.read(pki.caCert);
    const ex = await startTls(file, { ca, user: 'alice', password: 's3cret' });
    exporters.push(ex);

    await assert.rejects(
      httpsGet(ex.port, '/metrics', { user: 'alice', password: 's3cret' }),
      /self.signed|unable to verify|certificate/i,
      'a client without the CA must not trust the server',
    );
    const noAuth = await httpsGet(ex.port, '/metrics', { ca });
    assert.equal(noAuth.status, 401);
    assert.match(String(noAuth.headers['www-authenticate']), /^Basic realm=/);
    assert.equal((await httpsGet(ex.port, '/metrics', { ca, user: 'alice', password: 'wrong' })).status, 401);
    assert.equal(
      (await httpsGet(ex.port, '/metrics', { ca, user: 'mallory', password: 's3cret' })).status,
      401,
      'an unknown user',
    );
    const good = await httpsGet(ex.port, '/metrics', { ca, user: 'alice', password: 's3cret' });
    assert.equal(good.status, 200);
    assert.ok(parseExposition(good.body).series('netlink_exporter_build_info').length === 1);
    // Every path is behind the password, the health endpoints too (as exporter-toolkit does).
    assert.equal((await httpsGet(ex.port, '/-/healthy', { ca })).status, 401);
    // Plain HTTP to the TLS port gets no metrics.
    const plain = await ex.get('/metrics').catch((err: Error) => err);
    assert.ok(
      plain instanceof Error || plain.status === 400,
      `plain HTTP answered ${plain instanceof Error ? plain.message : plain.status}`,
    );
    await ex.stop();
  });

  test('reload: a changed file applies without restart; a bad one (on change or SIGHUP) keeps the old and says so', async () => {
    const file = join(pki.dir, 'reload.yml');
    const config = (users: string): string =>
      `tls_server_config:\n  cert_file: ${pki.serverCert}\n  key_file: ${pki.serverKey}\nbasic_auth_users:\n${users}`;
    writeFileSync(file, config(`  alice: ${hash('one')}\n`));
    const ca = pki.read(pki.caCert);
    const ex = await startTls(file, { ca, user: 'alice', password: 'one' });
    exporters.push(ex);
    const reloadOk = async (password: string): Promise<number | undefined> =>
      parseExposition((await httpsGet(ex.port, '/metrics', { ca, user: 'alice', password })).body).value(
        'netlink_config_last_reload_successful',
        {},
      );
    assert.equal(await reloadOk('one'), 1);

    // Rotate the password by rewriting the file: no signal, no restart.
    writeFileSync(file, config(`  alice: ${hash('two')}\n`));
    await poll('the new password to work', async () =>
      (await httpsGet(ex.port, '/metrics', { ca, user: 'alice', password: 'two' })).status === 200 ? true : 'still 401',
    );
    assert.equal(
      (await httpsGet(ex.port, '/metrics', { ca, user: 'alice', password: 'one' })).status,
      401,
      'the old password is gone',
    );

    // A broken file: the running config stays, the log names the key, the metric says 0.
    writeFileSync(file, config(`  alice: not-a-bcrypt-hash\n`));
    ex.child.kill('SIGHUP');
    await poll('the failed reload in the log', () =>
      ex.stderr.lines.some((l) => l.includes('web config not reloaded') && l.includes('basic_auth_users.alice'))
        ? true
        : 'no log line yet',
    );
    await poll('netlink_config_last_reload_successful 0', async () =>
      (await reloadOk('two')) === 0 ? true : 'still 1',
    );
    assert.ok(ex.running, 'a bad reload must not stop the exporter');

    // Fixed again: back to 1.
    writeFileSync(file, config(`  alice: ${hash('three')}\n`));
    await poll('the fixed file to load', async () => ((await reloadOk('three')) === 1 ? true : 'not yet'));
    await ex.stop();
  });

  test('a bad web config at start-up: exit 1, naming the key and the reason', async () => {
    const file = join(pki.dir, 'bad.yml');
    writeFileSync(file, 'http_server_config:\n  headers:\n    X-Frame-Options: allowall\n');
    const ex = await startExporter({ args: [`--web.config.file=${file}`], waitReady: false }).catch(
      (err: Error) => err,
    );
    assert.ok(ex instanceof Error, 'the exporter must not start');
    // startExporter's error carries the exit status and the log lines the exporter printed.
    assert.match(ex.message, /exit code 1/);
    assert.match(ex.message, /http_server_config\.headers\.X-Frame-Options: must be one of deny, sameorigin/);
  });
});
