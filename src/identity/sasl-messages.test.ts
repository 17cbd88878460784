import { describe, expect, it } from 'vitest';
import { parseOAuthBearerClientFirst, parsePlain, SaslMessageError } from './sasl-messages.js';

const b = (s: string) => Buffer.from(s, 'utf8');

describe('OAUTHBEARER client-first message (RFC 7628)', () => {
  it('reads the token, the authzid and SASL extensions', () => {
    expect(parseOAuthBearerClientFirst(b('n,,\x01auth=Bearer abc.def.ghi\x01\x01'))).toEqual({ token: 'abc.def.ghi', authzid: undefined, extensions: {} });
    expect(parseOAuthBearerClientFirst(b('n,a=us=2Cer,\x01auth=Bearer t\x01traceId=42\x01\x01'))).toEqual({ token: 't', authzid: 'us,er', extensions: { traceId: '42' } });
  });
  it.each([
    ['empty', ''],
    ['the error-challenge reply', '\x01'],
    ['no terminator', 'n,,\x01auth=Bearer t\x01'],
    ['no auth', 'n,,\x01host=x\x01\x01'],
    ['not Bearer', 'n,,\x01auth=Basic dXNlcg==\x01\x01'],
    ['channel binding', 'p=tls-unique,,\x01auth=Bearer t\x01\x01'],
    ['bad GS2 header', 'x,,\x01auth=Bearer t\x01\x01'],
  ])('refuses %s', (_n, msg) => {
    expect(() => parseOAuthBearerClientFirst(b(msg))).toThrow(SaslMessageError);
  });
  it('never quotes the message in its errors', () => {
    try {
      parseOAuthBearerClientFirst(b('n,,\x01auth=Basic secret-token-value\x01\x01'));
    } catch (err) {
      expect((err as Error).message).not.toContain('secret-token-value');
    }
  });
});

describe('PLAIN message (RFC 4616)', () => {
  it('reads authzid, user name and password', () => {
    expect(parsePlain(b('\0alice\0tok'))).toEqual({ authzid: '', username: 'alice', password: 'tok' });
    expect(parsePlain(b('alice\0alice\0tok'))).toEqual({ authzid: 'alice', username: 'alice', password: 'tok' });
  });
  it.each([['no separators', 'alice'], ['empty password', '\0alice\0'], ['too many parts', '\0a\0b\0c']])('refuses %s', (_n, msg) => {
    expect(() => parsePlain(b(msg))).toThrow(SaslMessageError);
  });
});
