/**
 * The SCRAM client against the RFCs' examples, its refusals, and the salted password kept per
 * salt and iteration count (PBKDF2 calls counted).
 */
import { pbkdf2Sync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ScramClient, ScramError, ScramPassword, scramName, type Pbkdf2 } from './scram.js';

/** A PBKDF2 that counts its calls (computing with the real one). */
function counting(): Pbkdf2 & { calls: number } {
  const f = Object.assign(
    async (password: Buffer, salt: Buffer, iterations: number, keylen: number, digest: string) => {
      f.calls++;
      return pbkdf2Sync(password, salt, iterations, keylen, digest);
    },
    { calls: 0 },
  );
  return f;
}

const RFC7677_FIRST = 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096';

describe('SCRAM client', () => {
  it('matches the SCRAM-SHA-256 example of RFC 7677 §3', async () => {
    const c = new ScramClient(new ScramPassword('sha256', 'pencil'), 'user', 'rOprNGfwEbeRWgbNEkqO');
    expect(c.clientFirst()).toBe('n,,n=user,r=rOprNGfwEbeRWgbNEkqO');
    const final = await c.clientFinal(RFC7677_FIRST);
    expect(final).toBe('c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=');
    expect(() => c.verifyServerFinal('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=')).not.toThrow();
  });

  it('matches the SCRAM-SHA-1 example of RFC 5802 §5', async () => {
    const c = new ScramClient(new ScramPassword('sha1', 'pencil'), 'user', 'fyko+d2lbbFgONRv9qkxdawL');
    expect(c.clientFirst()).toBe('n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL');
    const final = await c.clientFinal('r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096');
    expect(final).toBe('c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=');
    expect(() => c.verifyServerFinal('v=rmF9pqV8S7suAoZWja4dJRkFsKQ=')).not.toThrow();
  });

  it('refuses a wrong server signature, a foreign nonce, too few iterations and server errors', async () => {
    const password = new ScramPassword('sha256', 'pencil');
    const c = new ScramClient(password, 'user', 'rOprNGfwEbeRWgbNEkqO');
    await c.clientFinal(RFC7677_FIRST);
    expect(() => c.verifyServerFinal('v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=')).toThrow(/signature does not verify/);
    expect(() => c.verifyServerFinal('e=invalid-proof')).toThrow(/server refused: invalid-proof/);
    const other = new ScramClient(password, 'user', 'abc');
    await expect(other.clientFinal(RFC7677_FIRST)).rejects.toThrow(/nonce/);
    const few = new ScramClient(password, 'user', 'rOprNGfwEbeRWgbNEkqO');
    await expect(few.clientFinal(RFC7677_FIRST.replace('i=4096', 'i=1'))).rejects.toThrow(ScramError);
    expect(() => new ScramClient(password, 'u', 'n').verifyServerFinal('v=x')).toThrow(/before client-final/);
  });

  it('escapes = and , in user names', () => {
    expect(scramName('a=b,c')).toBe('a=3Db=2Cc');
    expect(new ScramClient(new ScramPassword('sha512', 'p'), 'a,b', 'N').clientFirst()).toBe('n,,n=a=2Cb,r=N');
  });

  it('derives the salted password once per salt and iteration count: later logins, and logins at the same time, cost no PBKDF2', async () => {
    const derive = counting();
    const password = new ScramPassword('sha256', 'pencil', derive);
    const login = async () => new ScramClient(password, 'user', 'rOprNGfwEbeRWgbNEkqO').clientFinal(RFC7677_FIRST);
    const expected = 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=';
    expect(await login()).toBe(expected);
    expect(derive.calls).toBe(1);
    expect(await login()).toBe(expected); // the same proof from the kept salted password
    expect(await Promise.all(Array.from({ length: 20 }, login))).toEqual(Array(20).fill(expected));
    expect(derive.calls).toBe(1);
    // Another salt or iteration count is another salted password.
    await login().then(() => new ScramClient(password, 'user', 'rOprNGfwEbeRWgbNEkqO').clientFinal(RFC7677_FIRST.replace('i=4096', 'i=8192')));
    expect(derive.calls).toBe(2);
  });

  it('does not keep a failed derivation', async () => {
    let fail = true;
    const password = new ScramPassword('sha256', 'pencil', async (...args) => {
      if (fail) throw new Error('out of memory');
      return pbkdf2Sync(...args);
    });
    await expect(new ScramClient(password, 'user', 'rOprNGfwEbeRWgbNEkqO').clientFinal(RFC7677_FIRST)).rejects.toThrow('out of memory');
    fail = false;
    await expect(new ScramClient(password, 'user', 'rOprNGfwEbeRWgbNEkqO').clientFinal(RFC7677_FIRST)).resolves.toMatch(/p=dHzbZapW/);
  });
});
