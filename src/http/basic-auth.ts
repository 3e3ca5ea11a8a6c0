// `Authorization: Basic ...` checked against the web config's bcrypt hashes, so that no client
// can buy the exporter's CPU with wrong passwords:
// - bcrypt runs on a worker thread with a bounded queue (bcrypt-pool.ts): a flood costs at most
//   one core, the event loop stays free, and past the bound a check is refused at once ('busy');
//   one client address may hold only a few of those places, so a flood from one host leaves the
//   rest to everyone else (a scraper whose password is not cached yet still gets checked);
// - results are remembered by a SHA-256 of user, password and stored hash (the password is never
//   kept in clear), as exporter-toolkit does: a scraper presenting the same password every 15 s
//   pays one bcrypt, and an attacker repeating a wrong one pays one too. Successes and failures
//   are kept apart, so a flood of wrong passwords cannot push the scraper's entry out;
// - an unknown user is checked against a decoy hash of the configured users' cost, so known and
//   unknown users take the same time whatever the cost (a fixed cost-10 decoy against cost-12
//   users took 77 ms against 300).

import { createHash, randomInt } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { bcryptCost } from './web-config';

export type AuthOutcome = 'ok' | 'unauthorized' | 'busy';

/** What runs bcrypt (BcryptPool): the result, or undefined at once when too many checks wait. */
export interface PasswordChecker {
  compare(password: string, hash: string): Promise<boolean> | undefined;
}

/** Password checks one client address may have waiting or running at once. */
export const MAX_CHECKS_PER_SOURCE = 2;
/** Remembered outcomes of each kind, at most; the oldest go first. */
const CACHE_ENTRIES = 1024;
const BCRYPT_ALPHABET = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A well-formed bcrypt hash of the given cost that no password matches in practice (random salt and digest). */
export function decoyHash(cost: number): string {
  let digest = '';
  for (let i = 0; i < 31; i++) digest += BCRYPT_ALPHABET[randomInt(BCRYPT_ALPHABET.length)];
  return bcrypt.genSaltSync(cost) + digest;
}

/** Splits the header into user and password; undefined when it is not Basic credentials. */
export function parseBasicAuthorization(header: string | undefined): { user: string; password: string } | undefined {
  if (header === undefined || !/^basic /i.test(header)) return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

class BoundedSet {
  private readonly keys = new Set<string>();
  has(key: string): boolean {
    return this.keys.has(key);
  }
  add(key: string): void {
    if (this.keys.size >= CACHE_ENTRIES) this.keys.delete(this.keys.values().next().value as string);
    this.keys.add(key);
  }
}

export class BasicAuth {
  private readonly good = new BoundedSet();
  private readonly bad = new BoundedSet();
  private readonly decoy: string;
  /** Checks waiting or running, by client address (entries only while some are). */
  private readonly perSource = new Map<string, number>();

  constructor(
    private readonly users: Map<string, string>,
    private readonly pool: PasswordChecker,
  ) {
    const costs = [...users.values()].map(bcryptCost);
    this.decoy = decoyHash(costs.length > 0 ? Math.max(...costs) : 10);
  }

  get enabled(): boolean {
    return this.users.size > 0;
  }

  /** `source` is the client's address: it bounds how much of the check queue one client holds. */
  async check(header: string | undefined, source = ''): Promise<AuthOutcome> {
    const credentials = parseBasicAuthorization(header);
    if (!credentials) return 'unauthorized';
    const { user, password } = credentials;
    const stored = this.users.get(user);
    const hash = stored ?? this.decoy;
    const fingerprint = createHash('sha256')
      .update(user)
      .update('\0')
      .update(password)
      .update('\0')
      .update(hash)
      .digest('base64');
    if (this.good.has(fingerprint)) return 'ok';
    if (this.bad.has(fingerprint)) return 'unauthorized';
    const held = this.perSource.get(source) ?? 0;
    if (held >= MAX_CHECKS_PER_SOURCE) return 'busy';
    const pending = this.pool.compare(password, hash);
    if (!pending) return 'busy';
    this.perSource.set(source, held + 1);
    let matched: boolean;
    try {
      matched = await pending;
    } finally {
      const left = (this.perSource.get(source) ?? 1) - 1;
      if (left > 0) this.perSource.set(source, left);
      else this.perSource.delete(source);
    }
    const ok = matched && stored !== undefined;
    (ok ? this.good : this.bad).add(fingerprint);
    return ok ? 'ok' : 'unauthorized';
  }
}
