// Secrets never reach a log line. Every line the logger writes (src/support/log.ts), every config error
// printed at start-up, and every value a config error quotes passes through redactSecrets(),
// the one place where URLs and credentials are formatted for humans:
// - a URL's userinfo: `https://user:pass@host/` -> `https://user:***@host/` (a lone user name,
//   often a token, becomes `***`);
// - URL query parameters whose name looks like a credential (token, key, secret, password,
//   auth, signature, ...): their value becomes `***`;
// - `Basic <base64>` and `Bearer <token>` credentials anywhere in the text (an Authorization
//   header quoted in an error);
// - every value registered with registerSecret(): the OTLP header values from
//   OTEL_EXPORTER_OTLP_HEADERS, and the decoded userinfo of the endpoint, which an error message
//   may carry in another form than the URL's;
// - every value of a named group set with setSecretGroup(): the basic-auth bcrypt hashes of the
//   web config, replaced as a whole on each reload so the set stays as small as the config (a
//   leaked hash is an offline password-guessing target).
// Errors from libraries (an OTLP export failure) are redacted by the same function because the
// logger applies it to every field, not because each call site remembers to.

export const REDACTED = '***';

/** Registered secrets shorter than this are not replaced: a 1-3 character "secret" protects nothing and would garble every line. */
export const MIN_SECRET_LENGTH = 4;

const secrets = new Set<string>();
/** Secrets that come and go with a config file: group name -> the group's current values. */
const groups = new Map<string, Set<string>>();

/** `value` and its percent-encoded form into `into` (nothing when it is too short to be a secret). */
function addSecret(into: Set<string>, value: string): void {
  if (value.length < MIN_SECRET_LENGTH) return;
  into.add(value);
  const encoded = encodeURIComponent(value);
  if (encoded !== value) into.add(encoded);
}

/** Makes `value` (and its percent-encoded form) disappear from every later log line. */
export function registerSecret(value: string): void {
  addSecret(secrets, value);
}

/**
 * Makes `values` disappear from every later log line in place of the group's previous values:
 * for secrets read from a file that a reload may change (no reload grows the set).
 */
export function setSecretGroup(group: string, values: Iterable<string>): void {
  const next = new Set<string>();
  for (const value of values) addSecret(next, value);
  if (next.size === 0) groups.delete(group);
  else groups.set(group, next);
}

/** For tests: forgets the registered secrets and groups. */
export function clearSecrets(): void {
  secrets.clear();
  groups.clear();
}

function* allSecrets(): Iterable<string> {
  yield* secrets;
  for (const group of groups.values()) yield* group;
}

/** Query parameter names whose values are credentials (AWS X-Amz-Signature, api_key, access_token, sig, ...). */
const SECRET_PARAM = /(token|key|secret|pass|pwd|auth|sig|credential|session|cookie|code)/i;

/** scheme://[userinfo@]rest: a URL in running text, up to whitespace, a double quote, <, > or a backtick (which a URL always escapes). */
const URL_IN_TEXT = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s"<>`]*)/gi;
/** `Basic <base64>` or `Bearer <token>`: a credential is one word with no "=" but trailing padding (so "Basic state=up" is left alone). */
const AUTH_SCHEME = /\b(Basic|Bearer)(\s+)[A-Za-z0-9._~+/-]+=*(?=$|[\s"',;\]})])/g;

function redactQuery(query: string): string {
  return query.replace(/([^&;=]+)=([^&;#]*)/g, (whole, name: string, value: string) =>
    value !== '' && SECRET_PARAM.test(name) ? `${name}=${REDACTED}` : whole,
  );
}

/** One URL's body (after the scheme): userinfo and credential-like query values replaced. */
function redactUrlBody(body: string): string {
  let out = body;
  // userinfo ends at the last "@" before the path (a password may itself hold "@"). A password
  // holding an unescaped "/" makes the URL invalid but is no less a secret: an "@" later on,
  // before any query, with a ":" ahead of it, still ends a userinfo (a port and an "@" in the
  // path are hidden too then: better than a password shown).
  const pathStart = out.search(/[/?#]/);
  const authority = pathStart === -1 ? out : out.slice(0, pathStart);
  let at = authority.lastIndexOf('@');
  if (at === -1) {
    const queryStart = out.search(/[?#]/);
    const beforeQuery = queryStart === -1 ? out : out.slice(0, queryStart);
    const late = beforeQuery.lastIndexOf('@');
    if (late !== -1 && beforeQuery.slice(0, late).includes(':')) at = late;
  }
  if (at !== -1) {
    const userinfo = authority.slice(0, at);
    const colon = userinfo.indexOf(':');
    const shown = colon === -1 ? REDACTED : `${userinfo.slice(0, colon)}:${REDACTED}`;
    out = shown + out.slice(at);
  }
  const q = out.indexOf('?');
  if (q !== -1) {
    const hash = out.indexOf('#', q);
    const query = hash === -1 ? out.slice(q + 1) : out.slice(q + 1, hash);
    out = out.slice(0, q + 1) + redactQuery(query) + (hash === -1 ? '' : out.slice(hash));
  }
  return out;
}

/** Text with every secret this module knows of replaced by `***`. */
export function redactSecrets(text: string): string {
  let out = text;
  if (out.includes('://'))
    out = out.replace(URL_IN_TEXT, (_whole, scheme: string, body: string) => scheme + redactUrlBody(body));
  if (out.includes('Basic') || out.includes('Bearer'))
    out = out.replace(AUTH_SCHEME, (_whole, scheme: string, space: string) => `${scheme}${space}${REDACTED}`);
  for (const secret of allSecrets()) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  return out;
}

/**
 * The secrets a URL carries, decoded as a client would send them: the user name and password of
 * its userinfo and the values of credential-like query parameters.
 */
export function urlSecrets(url: string): string[] {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return [];
  }
  const found: string[] = [];
  const decode = (s: string): string => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  if (parsed.password) {
    found.push(decode(parsed.password));
    // user:password travels base64-encoded in the Authorization header the client derives.
    found.push(Buffer.from(`${decode(parsed.username)}:${decode(parsed.password)}`).toString('base64'));
  } else if (parsed.username) {
    found.push(decode(parsed.username));
  }
  for (const [name, value] of parsed.searchParams) if (value !== '' && SECRET_PARAM.test(name)) found.push(value);
  return found;
}

/** The values of an OTEL_EXPORTER_OTLP_*HEADERS variable ("k1=v1,k2=v2", values percent-encoded). */
export function headerListSecrets(list: string | undefined): string[] {
  if (!list) return [];
  const found: string[] = [];
  for (const pair of list.split(',')) {
    const eq = pair.indexOf('=');
    if (eq === -1) continue;
    const raw = pair.slice(eq + 1).trim();
    if (raw === '') continue;
    found.push(raw);
    try {
      found.push(decodeURIComponent(raw));
    } catch {
      // not percent-encoded: the raw value is the secret
    }
    // "Basic dXNlcjpwYXNz" / "Bearer abc": the credential part alone may be quoted apart.
    const credential = /^\S+\s+(\S+)$/.exec(found[found.length - 1] as string)?.[1];
    if (credential) found.push(credential);
  }
  return found;
}
