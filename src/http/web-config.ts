// The --web.config.file of Prometheus's exporter-toolkit, so the same file (and the same
// `promtool check web-config`) serves this exporter: tls_server_config, http_server_config and
// basic_auth_users and rate_limit. Parsing and validation here; the server applies it (server.ts).
// Everything a running server would trip over later (a key that does not match its certificate,
// a CA file with no certificate) is refused here, naming the files, so that start-up fails
// clearly and a reload keeps the running settings.

import { createPrivateKey, KeyObject, X509Certificate } from 'node:crypto';
import { dirname, isAbsolute, join } from 'node:path';
import { createSecureContext, SecureContextOptions } from 'node:tls';
import { parse as parseYaml } from 'yaml';
import { parseDuration } from '../config/config';
import { setSecretGroup } from '../support/redact';
import { readSmallFile } from '../support/small-file';

export class WebConfigError extends Error {
  override name = 'WebConfigError';
  constructor(file: string, key: string, reason: string) {
    super(`${file}: ${key ? `${key}: ` : ''}${reason}`);
  }
}

/** Go's crypto/tls client auth policies, by their exporter-toolkit names. */
export const CLIENT_AUTH_TYPES = [
  'NoClientCert',
  'RequestClientCert',
  'RequireAnyClientCert',
  'VerifyClientCertIfGiven',
  'RequireAndVerifyClientCert',
] as const;
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

/** exporter-toolkit's rate_limit: one token bucket for every request, refilled one token per interval. */
export interface RateLimitSettings {
  intervalMs: number;
  burst: number;
}

export interface WebConfig {
  tls: TlsSettings | undefined;
  headers: Record<string, string>;
  /** user -> bcrypt hash; empty = no authentication. */
  users: Map<string, string>;
  /** undefined = no limit (rate_limit absent, or its interval 0). */
  rateLimit: RateLimitSettings | undefined;
}

export const EMPTY_WEB_CONFIG: WebConfig = { tls: undefined, headers: {}, users: new Map(), rateLimit: undefined };

/** The work factor a bcrypt hash names ($2b$10$... -> 10). */
export function bcryptCost(hash: string): number {
  return Number(hash.slice(4, 6));
}

/** The shape of a bcrypt hash: $2b$ (or $2a$, $2x$, $2y$, $2$), a two-digit cost, then 22 characters of salt and 31 of digest. */
const BCRYPT_HASH = /^\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{53}$/;

/**
 * What of basic_auth_users values no log line may show: each value, and a hash's salt and digest
 * alone (the same hash under another version prefix, as some tools rewrite it). A hash is an
 * offline password-guessing target; a value that is no hash may be a password pasted by mistake.
 */
export function basicAuthSecrets(values: Iterable<unknown>): string[] {
  const found: string[] = [];
  for (const value of values) {
    if (typeof value !== 'string') continue;
    found.push(value);
    if (BCRYPT_HASH.test(value)) found.push(value.slice(-53));
  }
  return found;
}

/** The secret group (setSecretGroup in src/support/redact.ts) of the web config last read, good or bad; the server keeps the group in use apart. */
const LAST_READ_SECRETS = 'web config last read';

/** bcrypt refuses costs outside 4..31; 31 would take hours a check. Past 16 (seconds a check) is a typo or an attack on ourselves. */
const BCRYPT_COST = { min: 4, max: 16 };
/** A burst beyond this is no limit at all; the bound keeps the bucket's arithmetic exact. */
const MAX_BURST = 1_000_000;

function parseRateLimit(raw: Raw, file: string): RateLimitSettings | undefined {
  const key = 'rate_limit';
  onlyKeys(raw, ['interval', 'burst'], file, key);
  const intervalText = raw.interval === undefined || raw.interval === null ? '0s' : raw.interval;
  const seconds = typeof intervalText === 'string' ? parseDuration(intervalText) : undefined;
  if (seconds === undefined)
    throw new WebConfigError(
      file,
      `${key}.interval`,
      `must be a duration such as 100ms or 1s, not ${JSON.stringify(intervalText)}`,
    );
  if (seconds === 0) return undefined;
  if (seconds > 86_400)
    throw new WebConfigError(file, `${key}.interval`, 'must be at most 1d (one request a day is no exporter)');
  const burst = raw.burst;
  if (typeof burst !== 'number' || !Number.isInteger(burst) || burst < 1 || burst > MAX_BURST) {
    throw new WebConfigError(
      file,
      `${key}.burst`,
      `must be an integer from 1 to ${MAX_BURST} when an interval is set (0 would refuse every request), not ${JSON.stringify(burst)}`,
    );
  }
  return { intervalMs: seconds * 1000, burst };
}

type Raw = Record<string, unknown>;

function mapping(value: unknown, file: string, key: string): Raw {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new WebConfigError(file, key, 'must be a mapping');
  return value as Raw;
}

function onlyKeys(raw: Raw, known: readonly string[], file: string, key: string): void {
  for (const k of Object.keys(raw)) {
    if (!known.includes(k))
      throw new WebConfigError(file, key ? `${key}.${k}` : k, `unknown key (known: ${known.join(', ')})`);
  }
}

function text(raw: Raw, k: string, file: string, key: string): string {
  const value = raw[k];
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw new WebConfigError(file, `${key}.${k}`, 'must be a string');
  return value;
}

/** A web config, certificate, key or CA bundle is kilobytes (a full public CA bundle about 200 KB); past this it is a mistake such as /dev/zero. */
export const MAX_WEB_FILE_BYTES = 1024 * 1024;

function readPem(path: string, file: string, key: string): string {
  try {
    return readSmallFile(path, MAX_WEB_FILE_BYTES);
  } catch (err) {
    throw new WebConfigError(file, key, `cannot read ${path}: ${(err as Error).message}`);
  }
}

function parseTls(raw: Raw, file: string): TlsSettings | undefined {
  const key = 'tls_server_config';
  onlyKeys(
    raw,
    [
      'cert',
      'key',
      'client_ca',
      'cert_file',
      'key_file',
      'client_auth_type',
      'client_ca_file',
      'cipher_suites',
      'curve_preferences',
      'min_version',
      'max_version',
      'prefer_server_cipher_suites',
      'client_allowed_sans',
    ],
    file,
    key,
  );
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
  if ([certFile, keyFile, caFile, inlineCert, inlineKey, inlineCa, clientAuthText].every((v) => v === ''))
    return undefined;
  const cert = certFile !== '' ? readPem(certFile, file, `${key}.cert_file`) : inlineCert;
  const privateKey = keyFile !== '' ? readPem(keyFile, file, `${key}.key_file`) : inlineKey;
  if (cert === '') throw new WebConfigError(file, key, 'missing one of cert or cert_file');
  if (privateKey === '') throw new WebConfigError(file, key, 'missing one of key or key_file');
  checkPair(cert, privateKey, certFile || 'the inline cert', keyFile || 'the inline key', file, key);
  const ca = caFile !== '' ? readPem(caFile, file, `${key}.client_ca_file`) : inlineCa;
  // A named CA file must hold a certificate, even when it is empty (an empty one would refuse every client).
  if (caFile !== '') checkCertificates(ca, caFile, file, `${key}.client_ca_file`);
  else if (ca !== '') checkCertificates(ca, 'the inline client_ca', file, `${key}.client_ca`);
  // exporter-toolkit also accepts the older name RequireClientCert.
  const clientAuth = (
    clientAuthText === ''
      ? 'NoClientCert'
      : clientAuthText === 'RequireClientCert'
        ? 'RequireAnyClientCert'
        : clientAuthText
  ) as ClientAuthType;
  if (!CLIENT_AUTH_TYPES.includes(clientAuth))
    throw new WebConfigError(
      file,
      `${key}.client_auth_type`,
      `must be one of ${CLIENT_AUTH_TYPES.join(', ')}, not ${JSON.stringify(clientAuthText)}`,
    );
  if (ca !== '' && clientAuth === 'NoClientCert')
    throw new WebConfigError(file, key, 'client CAs are configured without a client_auth_type');
  if ((clientAuth === 'VerifyClientCertIfGiven' || clientAuth === 'RequireAndVerifyClientCert') && ca === '') {
    throw new WebConfigError(
      file,
      `${key}.client_auth_type`,
      `${clientAuth} needs client_ca_file (or client_ca) to verify against`,
    );
  }
  const version = (k: 'min_version' | 'max_version', fallback: TlsVersionName): string => {
    const name = text(raw, k, file, key) || fallback;
    const v = TLS_VERSIONS[name as TlsVersionName];
    if (!v)
      throw new WebConfigError(
        file,
        `${key}.${k}`,
        `must be one of ${Object.keys(TLS_VERSIONS).join(', ')}, not ${JSON.stringify(name)}`,
      );
    return v;
  };
  const sans = raw.client_allowed_sans;
  if (sans !== undefined && sans !== null && (!Array.isArray(sans) || !sans.every((s) => typeof s === 'string'))) {
    throw new WebConfigError(file, `${key}.client_allowed_sans`, 'must be a list of strings');
  }
  const clientAllowedSans = (sans as string[] | undefined | null) ?? [];
  if (
    clientAllowedSans.length > 0 &&
    clientAuth !== 'RequireAnyClientCert' &&
    clientAuth !== 'RequireAndVerifyClientCert'
  ) {
    throw new WebConfigError(
      file,
      `${key}.client_allowed_sans`,
      'needs client_auth_type RequireAnyClientCert or RequireAndVerifyClientCert',
    );
  }
  // cipher_suites and curve_preferences use Go's names: Node's OpenSSL names differ, so they are
  // accepted (the file stays valid for promtool) but OpenSSL's defaults apply; said in the README.
  const settings: TlsSettings = {
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
  // What the server will do with it, tried once here: anything OpenSSL still refuses (a version
  // range it does not take, say) is a bad file, not an exception in the middle of a reload.
  try {
    createSecureContext(settings.context);
  } catch (err) {
    throw new WebConfigError(
      file,
      key,
      `OpenSSL refuses these settings (${settings.files.join(', ') || 'inline PEM'}): ${(err as Error).message}`,
    );
  }
  return settings;
}

/**
 * The certificate and key each load, and belong together. A two-file rotation passes through a
 * moment where one file is new and the other old: that must read as "they do not match", naming
 * both files, so the reload is refused and the running pair kept.
 */
function checkPair(
  certPem: string,
  keyPem: string,
  certName: string,
  keyName: string,
  file: string,
  key: string,
): void {
  let certificate: X509Certificate;
  let privateKey: KeyObject;
  try {
    certificate = new X509Certificate(certPem);
  } catch (err) {
    throw new WebConfigError(file, key, `${certName} holds no certificate that loads: ${(err as Error).message}`);
  }
  try {
    privateKey = createPrivateKey(keyPem);
  } catch (err) {
    throw new WebConfigError(file, key, `${keyName} holds no private key that loads: ${(err as Error).message}`);
  }
  if (!certificate.checkPrivateKey(privateKey)) {
    throw new WebConfigError(
      file,
      key,
      `the key in ${keyName} does not match the certificate in ${certName} (a rotation half done?)`,
    );
  }
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** A CA bundle must hold at least one certificate, each of which loads: an empty one would refuse every client. */
function checkCertificates(pem: string, name: string, file: string, key: string): void {
  const blocks = pem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0)
    throw new WebConfigError(file, key, `${name} holds no PEM certificate (every client would be refused)`);
  for (const [i, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch (err) {
      throw new WebConfigError(file, key, `certificate ${i + 1} in ${name} does not load: ${(err as Error).message}`);
    }
  }
}

function parseHeaders(raw: Raw, file: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    const key = `http_server_config.headers.${name}`;
    const lower = name.toLowerCase();
    if (!(lower in ALLOWED_HEADERS))
      throw new WebConfigError(
        file,
        key,
        `is not a header a web config may set (allowed: ${Object.keys(ALLOWED_HEADERS).join(', ')})`,
      );
    if (typeof value !== 'string') throw new WebConfigError(file, key, 'must be a string');
    const allowed = ALLOWED_HEADERS[lower];
    if (allowed && !allowed.includes(value.toLowerCase()))
      throw new WebConfigError(file, key, `must be one of ${allowed.join(', ')}`);
    headers[name] = value;
  }
  return headers;
}

/** Reads and validates a web config file; throws WebConfigError naming the key and the reason. */
export function loadWebConfig(file: string): WebConfig {
  let content: string;
  try {
    content = readSmallFile(file, MAX_WEB_FILE_BYTES);
  } catch (err) {
    throw new WebConfigError(file, '', `cannot read: ${(err as Error).message}`);
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
  const userEntries = Object.entries(mapping(top.basic_auth_users, file, 'basic_auth_users'));
  // Before any check can refuse the file: a refused file's values are no less secret.
  setSecretGroup(LAST_READ_SECRETS, basicAuthSecrets(userEntries.map(([, hash]) => hash)));
  for (const [user, hash] of userEntries) {
    if (typeof hash !== 'string' || !BCRYPT_HASH.test(hash)) {
      throw new WebConfigError(
        file,
        `basic_auth_users.${user}`,
        'must be a bcrypt hash (for example from `htpasswd -nBC 10 "" | tr -d \':\\n\'`)',
      );
    }
    const cost = bcryptCost(hash);
    if (cost < BCRYPT_COST.min || cost > BCRYPT_COST.max) {
      throw new WebConfigError(
        file,
        `basic_auth_users.${user}`,
        `bcrypt cost ${cost} is outside ${BCRYPT_COST.min}..${BCRYPT_COST.max} (10 to 12 is usual)`,
      );
    }
    users.set(user, hash);
  }
  return {
    tls: parseTls(mapping(top.tls_server_config, file, 'tls_server_config'), file),
    headers: parseHeaders(mapping(http.headers, file, 'http_server_config.headers'), file),
    users,
    rateLimit: parseRateLimit(mapping(top.rate_limit, file, 'rate_limit'), file),
  };
}

/** The SANs of a client certificate as exporter-toolkit compares them: DNS names, emails, IPs, URIs. */
export function certificateSans(subjectAltName: string | undefined): string[] {
  if (!subjectAltName) return [];
  return subjectAltName.split(', ').map((entry) => entry.slice(entry.indexOf(':') + 1));
}
