// The --web.config.file of Prometheus's exporter-toolkit, so the same file (and the same
// `promtool check web-config`) serves this exporter: tls_server_config, http_server_config and
// basic_auth_users. Parsing and validation here; the server applies it (server.ts).

import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import type { SecureContextOptions } from 'node:tls';
import bcrypt from 'bcryptjs';
import { parse as parseYaml } from 'yaml';

export class WebConfigError extends Error {
  override name = 'WebConfigError';
  constructor(file: string, key: string, reason: string) {
    super(`${file}: ${key ? `${key}: ` : ''}${reason}`);
  }
}

/** Go's crypto/tls client auth policies, by their exporter-toolkit names. */
export const CLIENT_AUTH_TYPES = ['NoClientCert', 'RequestClientCert', 'RequireAnyClientCert', 'VerifyClientCertIfGiven', 'RequireAndVerifyClientCert'] as const;
export type ClientAuthType = (typeof CLIENT_AUTH_TYPES)[number];

const TLS_VERSIONS = { TLS10: 'TLSv1', TLS11: 'TLSv1.1', TLS12: 'TLSv1.2', TLS13: 'TLSv1.3' } as const;
type TlsVersionName = keyof typeof TLS_VERSIONS;

/** The response headers exporter-toolkit lets a web config set, with the values it accepts (undefined = any). */
const ALLOWED_HEADERS: Record<string, readonly string[] | undefined> = {
  'strict-transport-security': undefined,
  'x-content-type-options': ['nosniff'],
  'x-frame-options': ['deny', 'sameorigin'],
  'x-xss-protection': undefined,
  'content-security-policy': undefined,
};

export interface TlsSettings {
  /** Key, certificate, client CAs and versions: what tls.createSecureContext takes. */
  context: SecureContextOptions;
  clientAuth: ClientAuthType;
  /** Client certificates must carry one of these SANs (DNS, email, IP or URI); empty = any. */
  clientAllowedSans: string[];
  /** The certificate, key and CA files named (watched for rotation). */
  files: string[];
}

export interface WebConfig {
  tls: TlsSettings | undefined;
  headers: Record<string, string>;
  /** user -> bcrypt hash; empty = no authentication. */
  users: Map<string, string>;
}

export const EMPTY_WEB_CONFIG: WebConfig = { tls: undefined, headers: {}, users: new Map() };

type Raw = Record<string, unknown>;

function mapping(value: unknown, file: string, key: string): Raw {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new WebConfigError(file, key, 'must be a mapping');
  return value as Raw;
}

function onlyKeys(raw: Raw, known: readonly string[], file: string, key: string): void {
  for (const k of Object.keys(raw)) {
    if (!known.includes(k)) throw new WebConfigError(file, key ? `${key}.${k}` : k, `unknown key (known: ${known.join(', ')})`);
  }
}

function text(raw: Raw, k: string, file: string, key: string): string {
  const value = raw[k];
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw new WebConfigError(file, `${key}.${k}`, 'must be a string');
  return value;
}

function readPem(path: string, file: string, key: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new WebConfigError(file, key, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function parseTls(raw: Raw, file: string): TlsSettings | undefined {
  const key = 'tls_server_config';
  onlyKeys(raw, ['cert', 'key', 'client_ca', 'cert_file', 'key_file', 'client_auth_type', 'client_ca_file', 'cipher_suites', 'curve_preferences', 'min_version', 'max_version', 'prefer_server_cipher_suites', 'client_allowed_sans'], file, key);
  // Relative paths are relative to the web config file, as exporter-toolkit resolves them.
  const resolve = (p: string): string => (p === '' || isAbsolute(p) ? p : join(dirname(file), p));
  const certFile = resolve(text(raw, 'cert_file', file, key));
  const keyFile = resolve(text(raw, 'key_file', file, key));
  const caFile = resolve(text(raw, 'client_ca_file', file, key));
  const clientAuthText = text(raw, 'client_auth_type', file, key);
  const inlineCert = text(raw, 'cert', file, key);
  const inlineKey = text(raw, 'key', file, key);
  const inlineCa = text(raw, 'client_ca', file, key);
  // TLS is on when any TLS key is set, as exporter-toolkit decides (then cert and key must be).
  if ([certFile, keyFile, caFile, inlineCert, inlineKey, inlineCa, clientAuthText].every((v) => v === '')) return undefined;
  const cert = certFile !== '' ? readPem(certFile, file, `${key}.cert_file`) : inlineCert;
  const privateKey = keyFile !== '' ? readPem(keyFile, file, `${key}.key_file`) : inlineKey;
  if (cert === '') throw new WebConfigError(file, key, 'missing one of cert or cert_file');
  if (privateKey === '') throw new WebConfigError(file, key, 'missing one of key or key_file');
  try {
    new X509Certificate(cert);
    createPrivateKey(privateKey);
  } catch (err) {
    throw new WebConfigError(file, key, `the certificate or key does not load: ${(err as Error).message}`);
  }
  const ca = caFile !== '' ? readPem(caFile, file, `${key}.client_ca_file`) : inlineCa;
  // exporter-toolkit also accepts the older name RequireClientCert.
  const clientAuth = (clientAuthText === '' ? 'NoClientCert' : clientAuthText === 'RequireClientCert' ? 'RequireAnyClientCert' : clientAuthText) as ClientAuthType;
  if (!CLIENT_AUTH_TYPES.includes(clientAuth)) throw new WebConfigError(file, `${key}.client_auth_type`, `must be one of ${CLIENT_AUTH_TYPES.join(', ')}, not ${JSON.stringify(clientAuthText)}`);
  if (ca !== '' && clientAuth === 'NoClientCert') throw new WebConfigError(file, key, 'client CAs are configured without a client_auth_type');
  if ((clientAuth === 'VerifyClientCertIfGiven' || clientAuth === 'RequireAndVerifyClientCert') && ca === '') {
    throw new WebConfigError(file, `${key}.client_auth_type`, `${clientAuth} needs client_ca_file (or client_ca) to verify against`);
  }
  const version = (k: 'min_version' | 'max_version', fallback: TlsVersionName): string => {
    const name = text(raw, k, file, key) || fallback;
    const v = TLS_VERSIONS[name as TlsVersionName];
    if (!v) throw new WebConfigError(file, `${key}.${k}`, `must be one of ${Object.keys(TLS_VERSIONS).join(', ')}, not ${JSON.stringify(name)}`);
    return v;
  };
  const sans = raw.client_allowed_sans;
  if (sans !== undefined && sans !== null && (!Array.isArray(sans) || !sans.every((s) => typeof s === 'string'))) {
    throw new WebConfigError(file, `${key}.client_allowed_sans`, 'must be a list of strings');
  }
  const clientAllowedSans = (sans as string[] | undefined | null) ?? [];
  if (clientAllowedSans.length > 0 && clientAuth !== 'RequireAnyClientCert' && clientAuth !== 'RequireAndVerifyClientCert') {
    throw new WebConfigError(file, `${key}.client_allowed_sans`, 'needs client_auth_type RequireAnyClientCert or RequireAndVerifyClientCert');
  }
  // cipher_suites and curve_preferences use Go's names: Node's OpenSSL names differ, so they are
  // accepted (the file stays valid for promtool) but OpenSSL's defaults apply; said in the README.
  return {
    context: {
      cert,
      key: privateKey,
      ...(ca !== '' ? { ca } : {}),
      minVersion: version('min_version', 'TLS12') as SecureContextOptions['minVersion'],
      maxVersion: version('max_version', 'TLS13') as SecureContextOptions['maxVersion'],
    },
    clientAuth,
    clientAllowedSans,
    files: [certFile, keyFile, caFile].filter((f) => f !== ''),
  };
}

function parseHeaders(raw: Raw, file: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    const key = `http_server_config.headers.${name}`;
    const lower = name.toLowerCase();
    if (!(lower in ALLOWED_HEADERS)) throw new WebConfigError(file, key, `is not a header a web config may set (allowed: ${Object.keys(ALLOWED_HEADERS).join(', ')})`);
    if (typeof value !== 'string') throw new WebConfigError(file, key, 'must be a string');
    const allowed = ALLOWED_HEADERS[lower];
    if (allowed && !allowed.includes(value.toLowerCase())) throw new WebConfigError(file, key, `must be one of ${allowed.join(', ')}`);
    headers[name] = value;
  }
  return headers;
}

/** Reads and validates a web config file; throws WebConfigError naming the key and the reason. */
export function loadWebConfig(file: string): WebConfig {
  let content: string;
  try {
    content = readFileSync(file, 'utf8');
  } catch (err) {
    throw new WebConfigError(file, '', `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(content, { uniqueKeys: true });
  } catch (err) {
    throw new WebConfigError(file, '', `not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const top = mapping(doc, file, '');
  onlyKeys(top, ['tls_server_config', 'http_server_config', 'basic_auth_users', 'rate_limit'], file, '');
  const http = mapping(top.http_server_config, file, 'http_server_config');
  onlyKeys(http, ['http2', 'headers'], file, 'http_server_config');
  const users = new Map<string, string>();
  for (const [user, hash] of Object.entries(mapping(top.basic_auth_users, file, 'basic_auth_users'))) {
    if (typeof hash !== 'string' || !/^\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{53}$/.test(hash)) {
      throw new WebConfigError(file, `basic_auth_users.${user}`, 'must be a bcrypt hash (for example from `htpasswd -nBC 10 "" | tr -d \':\\n\'`)');
    }
    users.set(user, hash);
  }
  return {
    tls: parseTls(mapping(top.tls_server_config, file, 'tls_server_config'), file),
    headers: parseHeaders(mapping(http.headers, file, 'http_server_config.headers'), file),
    users,
  };
}

/** The SANs of a client certificate as exporter-toolkit compares them: DNS names, emails, IPs, URIs. */
export function certificateSans(subjectAltName: string | undefined): string[] {
  if (!subjectAltName) return [];
  return subjectAltName.split(', ').map((entry) => entry.slice(entry.indexOf(':') + 1));
}

/**
 * Checks `Authorization: Basic ...` against bcrypt hashes. bcrypt is slow on purpose (tens of
 * milliseconds), so a successful check is remembered by a hash of the credentials, as
 * exporter-toolkit does: a scraper that presents the same password every 15 s costs one bcrypt.
 */
export class BasicAuth {
  private readonly good = new Set<string>();
  /** Checked for unknown users too, so a response's timing does not tell which users exist. */
  private static decoy: Promise<string> | undefined;

  constructor(private readonly users: Map<string, string>) {}

  get enabled(): boolean {
    return this.users.size > 0;
  }

  async check(header: string | undefined): Promise<boolean> {
    if (!header?.startsWith('Basic ')) return false;
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return false;
    const user = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    const hash = this.users.get(user);
    const fingerprint = createHash('sha256').update(`${user}\0${password}\0${hash ?? ''}`).digest('hex');
    if (this.good.has(fingerprint)) return true;
    BasicAuth.decoy ??= bcrypt.hash('decoy', 10);
    const ok = await bcrypt.compare(password, hash ?? (await BasicAuth.decoy));
    if (!ok || hash === undefined) return false;
    if (this.good.size > 1000) this.good.clear();
    this.good.add(fingerprint);
    return true;
  }
}
