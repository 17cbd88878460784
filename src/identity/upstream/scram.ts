/**
 * The client side of SCRAM (RFC 5802, RFC 7677) as Kafka brokers speak it: the proxy logs in to
 * brokers with SCRAM-SHA-256 or SCRAM-SHA-512. No channel binding (`n,,`), no SASLprep of the
 * password (Kafka's own client does none either).
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

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

/**
 * One SCRAM conversation: clientFirst() → clientFinal(serverFirst) → verifyServerFinal(serverFinal).
 * The nonce is random unless given (tests use the RFCs' nonces).
 */
export class ScramClient {
  private readonly clientNonce: string;
  private readonly firstBare: string;
  private serverSignature: Buffer | null = null;

  constructor(
    private readonly hash: ScramHash,
    username: string,
    private readonly password: string,
    nonce?: string,
  ) {
    this.clientNonce = nonce ?? randomBytes(24).toString('base64');
    this.firstBare = `n=${scramName(username)},r=${this.clientNonce}`;
  }

  clientFirst(): string {
    return `n,,${this.firstBare}`;
  }

  clientFinal(serverFirst: string): string {
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
    const hashLen = createHash(this.hash).digest().length;
    const salted = pbkdf2Sync(Buffer.from(this.password, 'utf8'), Buffer.from(salt, 'base64'), iterations, hashLen, this.hash);
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
