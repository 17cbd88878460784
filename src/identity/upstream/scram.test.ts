import { describe, expect, it } from 'vitest';
import { ScramClient, ScramError, scramName } from './scram.js';

describe('SCRAM client', () => {
  it('matches the SCRAM-SHA-256 example of RFC 7677 §3', () => {
    const c = new ScramClient('sha256', 'user', 'pencil', 'rOprNGfwEbeRWgbNEkqO');
    expect(c.clientFirst()).toBe('n,,n=user,r=rOprNGfwEbeRWgbNEkqO');
    const final = c.clientFinal('r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096');
    expect(final).toBe('c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=');
    expect(() => c.verifyServerFinal('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=')).not.toThrow();
  });

  it('matches the SCRAM-SHA-1 example of RFC 5802 §5', () => {
    const c = new ScramClient('sha1', 'user', 'pencil', 'fyko+d2lbbFgONRv9qkxdawL');
    expect(c.clientFirst()).toBe('n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL');
    const final = c.clientFinal('r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096');
    expect(final).toBe('c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=');
    expect(() => c.verifyServerFinal('v=rmF9pqV8S7suAoZWja4dJRkFsKQ=')).not.toThrow();
  });

  it('refuses a wrong server signature, a foreign nonce, too few iterations and server errors', () => {
    const first = 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096';
    const c = new ScramClient('sha256', 'user', 'pencil', 'rOprNGfwEbeRWgbNEkqO');
    c.clientFinal(first);
    expect(() => c.verifyServerFinal('v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=')).toThrow(/signature does not verify/);
    expect(() => c.verifyServerFinal('e=invalid-proof')).toThrow(/server refused: invalid-proof/);
    const other = new ScramClient('sha256', 'user', 'pencil', 'abc');
    expect(() => other.clientFinal(first)).toThrow(/nonce/);
    const few = new ScramClient('sha256', 'user', 'pencil', 'rOprNGfwEbeRWgbNEkqO');
    expect(() => few.clientFinal(first.replace('i=4096', 'i=1'))).toThrow(ScramError);
    expect(() => new ScramClient('sha256', 'u', 'p', 'n').verifyServerFinal('v=x')).toThrow(/before client-final/);
  });

  it('escapes = and , in user names', () => {
    expect(scramName('a=b,c')).toBe('a=3Db=2Cc');
    expect(new ScramClient('sha512', 'a,b', 'p', 'N').clientFirst()).toBe('n,,n=a=2Cb,r=N');
  });
});
