/**
 * The client side of SCRAM (RFC 5802, RFC 7677) as Kafka brokers speak it: the proxy logs in to
 * brokers with SCRAM-SHA-256 or SCRAM-SHA-512. No channel binding (`n,,`), no SASLprep of the
 * password (Kafka's own client does none either).
 *
 * The salted password (PBKDF2 over the server's salt and iteration count, thousands of HMACs) is
 * derived on the libuv pool, not the event loop, and kept per salt and iteration count, as RFC
 * 5802 §5.1 allows: the broker hands every login of one user the same salt, so only the first
 * login of the proxy's account pays for it, and logins at the same time share that one derivation.
 */
import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';

export type ScramHash = 'sha1' | 'sha256' | 'sha512';

/** Kafka's clients refuse fewer iterations than this (ScramMechanism.minIterations). */
export const SCRAM_MIN_ITERATIONS = 4096;

export class ScramError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScramError';
  }
}

/** `=` and `,` in a user name are escaped as `=3D` and `=2C` (RFC 5802 §5.1). */
export function scramName(s: string): string {
  return s.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

function attributes(msg: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of msg.split(',')) {
    const eq = part.indexOf('=');
    if (eq !== 1) throw new ScramError(`malformed SCRAM message attribute "${part.slice(0, 20)}"`);
    out.set(part[0]!, part.slice(2));
  }
  return out;
}

/** PBKDF2 as node:crypto's callback form takes it (tests count the calls). */
export type Pbkdf2 = (password: Buffer, salt: Buffer, iterations: number, keylen: number, digest: string) => Promise<Buffer>;

const pbkdf2Async: Pbkdf2 = (password, salt, iterations, keylen, digest) =>
  new Promise((resolve, reject) => pbkdf2(password, salt, iterations, keylen, digest, (err, key) => (err ? reject(err) : resolve(key))));

/** Salted passwords kept at once (one per salt and iteration count a broker hands out; a cluster hands out one). */
const SALTED_KEPT = 8;

/** A SCRAM password and the salted forms derived from it so far, shared by every login with it. */
export class ScramPassword {
  private readonly salted = new Map<string, Promise<Buffer>>();

  constructor(
    readonly hash: ScramHash,
    private readonly password: string,
    private readonly derive: Pbkdf2 = pbkdf2Async,
  ) {}

  /** SaltedPassword := Hi(password, salt, i), derived once per salt and iteration count. */
  saltedPassword(salt: string, iterations: number): Promise<Buffer> {
    const key = `${iterations}:${salt}`;
    let p = this.salted.get(key);
    if (p) return p;
    const hashLen = createHash(this.hash).digest().length;
    p = this.derive(Buffer.from(this.password, 'utf8'), Buffer.from(salt, 'base64'), iterations, hashLen, this.hash);
    p.catch(() => this.salted.delete(key));
    if (this.salted.size >= SALTED_KEPT) this.salted.delete(this.salted.keys().next().value!);
    this.salted.set(key, p);
    return p;
  }
}

/**
 * One SCRAM conversation: clientFirst() → clientFinal(serverFirst) → verifyServerFinal(serverFinal).
 * The nonce is random unless given (tests use the RFCs' nonces).
 */
export class ScramClient {
  private readonly clientNonce: string;
  private readonly firstBare: string;
  private readonly hash: ScramHash;
  private serverSignature: Buffer | null = null;

  constructor(
    private readonly password: ScramPassword,
    username: string,
    nonce?: string,
  ) {
    this.hash = password.hash;
    this.clientNonce = nonce ?? randomBytes(24).toString('base64');
    this.firstBare = `n=${scramName(username)},r=${this.clientNonce}`;
  }

  clientFirst(): string {
    return `n,,${this.firstBare}`;
  }

  async clientFinal(serverFirst: string): Promise<string> {
    const a = attributes(serverFirst);
    if (a.has('e')) throw new ScramError(`server refused: ${a.get('e')}`);
    if (a.has('m')) throw new ScramError('server requires an unsupported SCRAM extension');
    const nonce = a.get('r');
    const salt = a.get('s');
    const iterations = Number(a.get('i'));
    if (!nonce || !salt || !a.has('i')) throw new ScramError('server-first message lacks r, s or i');
    if (!nonce.startsWith(this.clientNonce) || nonce.length <= this.clientNonce.length) {
      throw new ScramError('server nonce does not extend the client nonce');
    }
    if (!Number.isInteger(iterations) || iterations < SCRAM_MIN_ITERATIONS) {
      throw new ScramError(`server asks for ${a.get('i')} iterations, fewer than the minimum ${SCRAM_MIN_ITERATIONS}`);
    }
    const salted = await this.password.saltedPassword(salt, iterations);
    const clientKey = this.hmac(salted, 'Client Key');
    const storedKey = createHash(this.hash).update(clientKey).digest();
    const withoutProof = `c=${Buffer.from('n,,').toString('base64')},r=${nonce}`;
    const authMessage = `${this.firstBare},${serverFirst},${withoutProof}`;
    const clientSignature = this.hmac(storedKey, authMessage);
    const proof = Buffer.alloc(clientKey.length);
    for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i]! ^ clientSignature[i]!;
    this.serverSignature = this.hmac(this.hmac(salted, 'Server Key'), authMessage);
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  /** Throws unless the server proved it knows the password's verifier too. */
  verifyServerFinal(serverFinal: string): void {
    if (!this.serverSignature) throw new ScramError('server-final message before client-final');
    const a = attributes(serverFinal);
    if (a.has('e')) throw new ScramError(`server refused: ${a.get('e')}`);
    const v = Buffer.from(a.get('v') ?? '', 'base64');
    if (v.length !== this.serverSignature.length || !timingSafeEqual(v, this.serverSignature)) {
      throw new ScramError('server signature does not verify');
    }
  }

  private hmac(key: Buffer, text: string): Buffer {
    return createHmac(this.hash, key).update(text, 'utf8').digest();
  }
}
