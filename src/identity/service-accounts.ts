/**
 * Local service accounts: SASL/PLAIN with an account name and a secret, checked against a salted
 * scrypt hash from the configuration (`gatehouse hash-secret` makes one). The format is
 * `scrypt$N$r$p$<salt base64url>$<hash base64url>`. The derived hashes are compared in constant
 * time. A login naming no account costs the same: its secret is checked against a dummy hash
 * with the accounts' scrypt parameters, so that timing does not tell which names exist.
 *
 * Every check, real or dummy, goes through one proxy-wide limiter (secret-check-limiter.ts): an
 * attempt beyond it is refused without any scrypt work, for known and unknown names alike, and
 * counted (gatehouse_service_account_checks_refused_total) and logged (at most every 10 s).
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { Logger } from 'pino';
import { serviceAccountChecksRefused } from './metrics.js';
import { SecretCheckLimiter, type RefusedBecause, type SecretCheckLimits } from './secret-check-limiter.js';
import { LOCAL_SOURCE } from './sources.js';
import { TokenRejected, type ValidatedToken } from './token-result.js';

/** The issuer recorded on a service account's principal. */
export const LOCAL_ISSUER = 'local';

export const SECRET_HASH_PATTERN = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9_-]{16,})\$([A-Za-z0-9_-]{32,})$/;

const DEFAULTS = { N: 1 << 15, r: 8, p: 1 };
const KEY_BYTES = 32;

export interface ServiceAccount {
  name: string;
  secretHash: string;
  groups: readonly string[];
}

interface Parsed {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

/** Parses and bounds-checks a hash; the error names what is wrong (never the hash). */
export function parseSecretHash(s: string): Parsed {
  const m = SECRET_HASH_PATTERN.exec(s);
  if (!m) throw new Error('expected scrypt$N$r$p$salt$hash (from `gatehouse hash-secret`)');
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (N < 1024 || N > 1 << 20 || (N & (N - 1)) !== 0) throw new Error('scrypt N must be a power of two from 1024 to 1048576');
  if (r < 1 || r > 32 || p < 1 || p > 16) throw new Error('scrypt r must be 1..32 and p 1..16');
  return { N, r, p, salt: Buffer.from(m[4]!, 'base64url'), hash: Buffer.from(m[5]!, 'base64url') };
}

function scrypt(secret: string, salt: Buffer, keylen: number, o: { N: number; r: number; p: number }): Promise<Buffer> {
  const opts: ScryptOptions = { N: o.N, r: o.r, p: o.p, maxmem: 256 * o.N * o.r + 1024 * 1024 };
  return new Promise((resolve, reject) => scryptCb(secret.normalize('NFC'), salt, keylen, opts, (err, key) => (err ? reject(err) : resolve(key))));
}

/** A new hash of `secret` for the configuration. */
export async function hashSecret(secret: string, params = DEFAULTS): Promise<string> {
  if (!secret) throw new Error('the secret is empty');
  const salt = randomBytes(16);
  const hash = await scrypt(secret, salt, KEY_BYTES, params);
  return `scrypt$${params.N}$${params.r}$${params.p}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

async function verifyParsed(secret: string, h: Parsed): Promise<boolean> {
  const got = await scrypt(secret, h.salt, h.hash.length, h);
  return got.length === h.hash.length && timingSafeEqual(got, h.hash);
}

export async function verifySecret(secret: string, secretHash: string): Promise<boolean> {
  return verifyParsed(secret, parseSecretHash(secretHash));
}

/**
 * A hash no secret matches (random salt and bytes), with the scrypt parameters and length most
 * of the accounts' hashes have, for checking secrets of names that are no account.
 */
function dummyLike(hashes: readonly Parsed[]): Parsed {
  const counts = new Map<string, { n: number; h: Parsed }>();
  for (const h of hashes) {
    const key = `${h.N}/${h.r}/${h.p}/${h.salt.length}/${h.hash.length}`;
    const c = counts.get(key);
    if (c) c.n++;
    else counts.set(key, { n: 1, h });
  }
  let most: { n: number; h: Parsed } | undefined;
  for (const c of counts.values()) if (!most || c.n > most.n) most = c;
  const like = most?.h ?? { ...DEFAULTS, salt: Buffer.alloc(16), hash: Buffer.alloc(KEY_BYTES) };
  return { N: like.N, r: like.r, p: like.p, salt: randomBytes(like.salt.length), hash: randomBytes(like.hash.length) };
}

/** The default bound on scrypt checks (identity.serviceAccountChecks). */
export const DEFAULT_CHECK_LIMITS: SecretCheckLimits = { maxInFlight: 2, perSecond: 20 };

/** How often the log says that checks are being refused (with how many since it last said so). */
const REFUSAL_LOG_MS = 10_000;

export interface ServiceAccountsOptions {
  /** The proxy-wide bound on scrypt checks (default DEFAULT_CHECK_LIMITS). */
  limits?: SecretCheckLimits;
  log?: Logger;
  /** For tests. */
  now?: () => number;
}

export class ServiceAccounts {
  private readonly accounts = new Map<string, ServiceAccount & { parsed: Parsed }>();
  private readonly dummy: Parsed;
  private readonly limiter: SecretCheckLimiter;
  private readonly limits: SecretCheckLimits;
  private refusals = { count: 0, loggedAt: -Infinity };

  constructor(
    accounts: readonly ServiceAccount[],
    private readonly opts: ServiceAccountsOptions = {},
  ) {
    for (const a of accounts) this.accounts.set(a.name, { ...a, parsed: parseSecretHash(a.secretHash) });
    this.dummy = dummyLike([...this.accounts.values()].map((a) => a.parsed));
    this.limits = opts.limits ?? DEFAULT_CHECK_LIMITS;
    this.limiter = new SecretCheckLimiter({ ...this.limits, onRefused: (why) => this.refused(why), ...(opts.now ? { now: opts.now } : {}) });
  }

  has(name: string): boolean {
    return this.accounts.has(name);
  }

  /**
   * The account's principal when the secret matches; TokenRejected('bad secret') otherwise. A
   * name that is no account costs the same scrypt work as a wrong secret before it is refused.
   * TokenRejected('too many logins') without any check when the limiter refuses the attempt.
   */
  async authenticate(name: string, secret: string): Promise<ValidatedToken> {
    const a = this.accounts.get(name);
    const quoted = JSON.stringify(name.slice(0, 100));
    const ok = await this.check(secret, a?.parsed ?? this.dummy);
    if (ok === undefined) throw new TokenRejected('too many logins', `secret for ${quoted} not checked (over identity.serviceAccountChecks: ${this.limits.maxInFlight} at once, ${this.limits.perSecond} per second)`);
    if (!a) throw new TokenRejected('bad secret', `no service account ${quoted}`);
    if (!ok) throw new TokenRejected('bad secret', `wrong secret for service account ${quoted}`);
    return { principal: a.name, groups: [...a.groups], issuer: LOCAL_ISSUER, source: LOCAL_SOURCE, clientId: undefined, expiresAt: Infinity, claims: { sub: a.name, iss: LOCAL_ISSUER } };
  }

  /**
   * The scrypt work of checking `secret` against an account (the dummy hash), for a login that
   * named no account and is being refused: it then takes as long as a wrong secret does.
   */
  async dummyCheck(secret: string): Promise<void> {
    await this.check(secret, this.dummy);
  }

  /** Whether the secret matches, through the limiter; undefined when it refused the attempt (nothing was checked). */
  private check(secret: string, h: Parsed): Promise<boolean> | undefined {
    return this.limiter.run(() => verifyParsed(secret, h));
  }

  private refused(why: RefusedBecause): void {
    serviceAccountChecksRefused.inc({ reason: why });
    const now = (this.opts.now ?? Date.now)();
    this.refusals.count++;
    if (now - this.refusals.loggedAt < REFUSAL_LOG_MS) return;
    this.opts.log?.warn(
      { code: 'GH_AUTH_LIMITED', refused: this.refusals.count, reason: why, ...this.limits },
      'service-account logins over identity.serviceAccountChecks: refused without checking their secrets',
    );
    this.refusals = { count: 0, loggedAt: now };
  }
}
