// A throwaway PKI for TLS tests, made with openssl: a CA, a server certificate for 127.0.0.1,
// a client certificate the CA signed, and a self-signed client certificate it did not; more
// server certificates on demand (for rotation tests); and a small HTTPS client.

import { execFileSync } from 'node:child_process';
import * as https from 'node:https';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { Exporter, poll, startExporter } from './exporter';

export interface TestPki {
  dir: string;
  /** Paths of the PEM files. */
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  rogueCert: string;
  rogueKey: string;
  read(path: string): Buffer;
  /** A further server certificate for 127.0.0.1 with a fresh key, signed by the CA: [cert, key] paths. */
  issueServer(name: string): [string, string];
  remove(): void;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function signed(dir: string, name: string, subject: string, extensions: string): void {
  openssl(dir, ['req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject]);
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    '-extfile',
    `${name}.ext`,
  ]);
}

export function createTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'nle-pki-'));
  openssl(dir, [
    'req',
    '-x509',
    ...EC,
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '2',
    '-subj',
    '/CN=netlink-exporter test CA',
  ]);
  const serverExtensions = 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n';
  signed(dir, 'server', '/CN=127.0.0.1', serverExtensions);
  signed(dir, 'client', '/CN=prometheus', 'subjectAltName=DNS:prometheus.example\nextendedKeyUsage=clientAuth\n');
  openssl(dir, [
    'req',
    '-x509',
    ...EC,
    '-keyout',
    'rogue.key',
    '-out',
    'rogue.crt',
    '-days',
    '2',
    '-subj',
    '/CN=rogue',
    '-addext',
    'extendedKeyUsage=clientAuth',
  ]);
  const at = (f: string): string => join(dir, f);
  return {
    dir,
    caCert: at('ca.crt'),
    serverCert: at('server.crt'),
    serverKey: at('server.key'),
    clientCert: at('client.crt'),
    clientKey: at('client.key'),
    rogueCert: at('rogue.crt'),
    rogueKey: at('rogue.key'),
    read: (path) => readFileSync(path),
    issueServer: (name) => {
      signed(dir, name, '/CN=127.0.0.1', serverExtensions);
      return [at(`${name}.crt`), at(`${name}.key`)];
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface TlsClient {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  user?: string;
  password?: string;
}

export interface HttpsAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** The certificate the server presented. */
  serial: string;
}

/** One GET over HTTPS on a fresh connection, with optional CA, client certificate and basic auth. */
export function httpsGet(port: number, path: string, client: TlsClient): Promise<HttpsAnswer> {
  return new Promise((resolvePromise, reject) => {
    const headers: Record<string, string> = { connection: 'close' };
    if (client.user !== undefined)
      headers.authorization = `Basic ${Buffer.from(`${client.user}:${client.password ?? ''}`).toString('base64')}`;
    const req = https.get(
      {
        host: '127.0.0.1',
        port,
        path,
        agent: false,
        headers,
        ...(client.ca ? { ca: client.ca } : {}),
        ...(client.cert ? { cert: client.cert, key: client.key } : {}),
      },
      (res) => {
        const serial = (res.socket as import('node:tls').TLSSocket).getPeerCertificate().serialNumber;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolvePromise({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            serial,
          }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', reject);
  });
}

/** Starts the exporter on TLS with `--web.config.file`, readiness asked over HTTPS with the given client. */
export async function startTlsExporter(webConfig: string, client: TlsClient, extra: string[] = []): Promise<Exporter> {
  const ex = await startExporter({ args: [`--web.config.file=${webConfig}`, ...extra], waitReady: false });
  await poll('/-/ready over HTTPS', async () =>
    (await httpsGet(ex.port, '/-/ready', client)).status === 200 ? true : 'not ready',
  );
  return ex;
}

/**
 * For a describe block: a PKI made before its tests and removed after them, once the exporters
 * they pushed to `exporters` are stopped.
 */
export function pkiFixture(): { pki: () => TestPki; exporters: Exporter[] } {
  let pki: TestPki | undefined;
  const exporters: Exporter[] = [];
  before(() => {
    pki = createTestPki();
  });
  after(async () => {
    for (const ex of exporters) await ex.stop();
    pki?.remove();
  });
  return { pki: () => pki!, exporters };
}
