import { describe, expect, it } from 'vitest';
import { principalFromCertificate } from './mtls.js';
import { rfc2253 } from '../proxy/tls.js';

const tls = {
  protocol: 'TLSv1.3',
  cipher: 'TLS_AES_256_GCM_SHA384',
  peerSubject: 'CN=payments-app,OU=payments-team,OU=ops,O=Example\\, Inc.',
  peerIssuer: 'CN=Example CA,O=Example',
  peerCertFingerprint: 'AA:BB',
  peerSerial: '0A',
  peerValidTo: Date.UTC(2030, 0, 1),
};

describe('mTLS principal', () => {
  it('takes the CN as the name and the OU values as groups', () => {
    const p = principalFromCertificate(tls, { principalFrom: 'CN', groupsFrom: 'OU' }, 1000);
    expect(p).toMatchObject({
      name: 'payments-app',
      groups: ['payments-team', 'ops'],
      issuer: 'CN=Example CA,O=Example',
      mechanism: 'MTLS',
      expiresAt: Date.UTC(2030, 0, 1),
      authenticatedAt: 1000,
      claims: { subject: tls.peerSubject, fingerprint: 'AA:BB', serial: '0A' },
    });
  });

  it('is source mtls, its name mtls:<CN> where the config has several identity sources', () => {
    expect(principalFromCertificate(tls, { principalFrom: 'CN', groupsFrom: 'OU' }, 0)).toMatchObject({ name: 'payments-app', source: 'mtls', qualifiedName: 'mtls:payments-app' });
    expect(principalFromCertificate(tls, { principalFrom: 'CN', groupsFrom: 'OU' }, 0, true)).toMatchObject({ name: 'mtls:payments-app', source: 'mtls', qualifiedName: 'mtls:payments-app' });
  });

  it('can take the whole subject, O values (escaped commas kept) or no groups', () => {
    expect(principalFromCertificate(tls, { principalFrom: 'subject', groupsFrom: 'O' }, 0)).toMatchObject({ name: tls.peerSubject, groups: ['Example, Inc.'] });
    expect(principalFromCertificate(tls, { principalFrom: 'CN', groupsFrom: 'none' }, 0)).toMatchObject({ groups: [] });
  });

  it('names no principal without a verified certificate or without a CN', () => {
    expect(principalFromCertificate({ protocol: 'TLSv1.3', cipher: 'x' }, { principalFrom: 'CN', groupsFrom: 'OU' }, 0)).toBe('no verified client certificate');
    expect(principalFromCertificate({ ...tls, peerSubject: 'O=Example' }, { principalFrom: 'CN', groupsFrom: 'OU' }, 0)).toMatch(/has no CN/);
  });

  it("turns Node's multi-line names into RFC 2253 order", () => {
    expect(rfc2253('C=DE\nO=Example\nOU=a\nCN=app')).toBe('CN=app,OU=a,O=Example,C=DE');
  });
});
